"""python -m pix2pix_tf.export: write a trained generator as a TF Serving SavedModel and as TFLite models,
and prove each one computes what the Keras generator computes before it is kept.

A thin command over ``pix2pix_tf.export.export``: flags in, the verification table out. A new output
format adds its flags in ``add_arguments`` and its lines in ``print_result``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pix2pix_tf.core import cli
from pix2pix_tf.core.errors import print_error
from pix2pix_tf.deploy import web_demo
from pix2pix_tf.deploy.export import ExportOptions, ExportResult, VerificationError, export
from pix2pix_tf.deploy.export.settings import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MODEL_NAME,
    FORMATS,
    QUANTIZATIONS,
    SIGNATURE_BYTES,
    SIGNATURE_FLOAT,
    SIGNATURE_METADATA,
    SIGNATURE_SEEDED,
    TFLITE_NOISE_SIGNATURE,
    TFLITE_SIGNATURE,
    Row,
    mode_meaning,
)


def format_table(rows: list[Row]) -> str:
    """artefact | size | max abs diff | mean abs diff | PSNR | latency, differences on the [-1, 1] scale."""
    header = ("artefact", "size", "max |diff|", "mean |diff|", "PSNR dB", "latency ms", "note")
    lines = [header]
    for r in rows:
        psnr = "inf" if r.psnr_db is not None and np.isinf(r.psnr_db) else _num(r.psnr_db, "{:.1f}")
        lines.append((r.artefact, human_size(r.size_bytes) if r.size_bytes else "-", _num(r.max_abs, "{:.2e}"),
                      _num(r.mean_abs, "{:.2e}"), psnr, _num(r.latency_ms, "{:.1f}"), r.note))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i in (0, len(header) - 1) else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def _num(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def build_parser() -> argparse.ArgumentParser:
    parser = cli.OneLineParser(
        prog="python -m pix2pix_tf.export", description=__doc__.splitlines()[0],
        epilog="Architecture, channels, size and direction come from the run's config.json. Differences in the "
               "table are on the generator's [-1, 1] output scale, against the Keras generator on images of the "
               "run's training data.")
    cli.add_run_dir(parser, help="the training run to export", type=Path)
    cli.add_checkpoint(parser)
    cli.add_weights(parser)
    parser.add_argument("--out", required=True, type=Path, help="export directory (TF Serving layout inside)")
    cli.add_inference(parser, dest="mode")
    add_arguments(parser)
    web_demo.add_arguments(parser)
    cli.add_verbose(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The export's own flags; each becomes the ``ExportOptions`` field of its ``dest``."""
    parser.add_argument("--formats", default=",".join(FORMATS), type=cli.csv_list,
                        help=f"comma-separated, from {','.join(FORMATS)} (default: all)")
    parser.add_argument("--tflite-quant", dest="quantizations", default=",".join(QUANTIZATIONS), type=cli.csv_list,
                        help=f"TFLite variants, from {','.join(QUANTIZATIONS)} (default: all)")
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME,
                        help=f"TF Serving model name (default: {DEFAULT_MODEL_NAME})")
    parser.add_argument("--version", type=int, default=None, help="SavedModel version number (default: next free)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty --out (other versions are kept; the same version is replaced)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"largest image (height x width) the SavedModel accepts, checked from the file header "
                             f"before decoding (default: {DEFAULT_MAX_PIXELS} = 2048x2048)")
    parser.add_argument("--data", default=None, help="images to verify on if the run's training data has moved")
    parser.add_argument("--verify-images", type=int, default=4, help="training images compared (default: 4)")
    parser.add_argument("--calibration-images", type=int, default=16,
                        help="training images for int8 calibration (default: 16)")


WEIGHTS_MEANING = {"ema": "ema (the moving average of the generator's weights, --ema)",
                   "raw": "raw (the trained generator's weights)"}


def print_result(result: ExportResult) -> None:
    print(format_table(result.rows))
    print(f"\ninference mode: {result.mode} ({mode_meaning(result.mode)}); weights: {WEIGHTS_MEANING[result.weights]}")
    if result.saved_model:
        print(f"SavedModel: {result.saved_model} (signatures {SIGNATURE_FLOAT}, {SIGNATURE_BYTES}"
              f"{', ' + SIGNATURE_SEEDED if result.mode == 'paper' else ''}, {SIGNATURE_METADATA})")
        print(f"TF Serving: tensorflow_model_server --rest_api_port=8501 --port=8500 "
              f"--model_config_file={(result.out / 'saved_model' / 'models.config').resolve()}")
    for path in result.tflite:
        print(f"TFLite: {path} (+ {path.with_suffix('.json').name})")
    if result.keras:
        print(f"Keras: {result.keras} (import pix2pix_tf, keras; keras.saving.load_model(path))")
    if result.mode == "paper" and result.tflite:
        print(f"TFLite paper mode: '{TFLITE_SIGNATURE}' draws dropout noise with the builtin RANDOM_UNIFORM op; "
              f"'{TFLITE_NOISE_SIGNATURE}' takes it as inputs (verified exactly against Keras through that one)")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    web = web_demo.pop_request(args)
    values = vars(args)
    del values["verbose"]  # acted on at import (pix2pix_tf.core.tf_logs)
    options = ExportOptions(**values)
    print(f"exporting {options.run_dir} ({options.checkpoint}) in {options.mode} mode to {options.out}", flush=True)
    try:
        result = export(options)
    except VerificationError as err:
        print_error(f"export verification failed, nothing was kept: {err}")
        sys.exit(1)
    print_result(result)
    if web is not None:
        print(web_demo.write_for_export(web, result, options))

if __name__ == "__main__":
    cli.run_cli(main, "python -m pix2pix_tf.export")
