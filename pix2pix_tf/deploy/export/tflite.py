"""TFLite (LiteRT) models for phones and browsers: fixed-size endpoints (paper mode with a second
signature whose dropout noise is an input), conversion with builtin ops only, one file per
quantisation, each verified in ai-edge-litert against Keras before it is kept, with a JSON beside it
saying how to feed it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf.core.errors import reason
from pix2pix_tf.deploy.export.serving import (
    SampledDropout,
    noise_from,
    seeded_samplers,
    serving_network,
    untracked_archive,
)
from pix2pix_tf.deploy.export.settings import (
    EXPORT_FORMAT_VERSION,
    MIN_PSNR_DB,
    TFLITE_FLOAT32_MEAN_ABS,
    TFLITE_INPUT,
    TFLITE_NOISE_SIGNATURE,
    TFLITE_OUTPUT,
    TFLITE_SIGNATURE,
    ExportSettings,
    Row,
    VerificationError,
    finite,
    mode_meaning,
)
from pix2pix_tf.deploy.export.verify import differences, keras_reference, median_latency
from pix2pix_tf.deploy.inference import TrainedGenerator


def tflite_archive(trained: TrainedGenerator, settings: ExportSettings) -> tuple[keras.export.ExportArchive, list]:
    """Fixed-size endpoints for conversion (a phone app runs one size). Paper mode gets a second signature
    whose dropout noise is an input, so the same file can be checked exactly against Keras."""
    network, dropouts = serving_network(trained)
    height, width = settings.crop_hw
    image_spec = tf.TensorSpec([1, height, width, settings.input_nc], tf.float32, name=TFLITE_INPUT)
    archive = untracked_archive(network)
    archive.add_endpoint(TFLITE_SIGNATURE, lambda image: {TFLITE_OUTPUT: network(image, training=False)},
                         [image_spec])
    shapes = noise_shapes(network, dropouts, image_spec.shape)
    if dropouts:
        def with_noise(image, *noise):
            with noise_from(dropouts, [lambda shape, dtype, n=n: n for n in noise]):
                return {TFLITE_OUTPUT: network(image, training=False)}

        specs = [tf.TensorSpec(shape, tf.float32, name=f"noise_{k + 1}") for k, shape in enumerate(shapes)]
        archive.add_endpoint(TFLITE_NOISE_SIGNATURE, with_noise, [image_spec, *specs])
    return archive, shapes


def noise_shapes(network: keras.Model, dropouts: list[SampledDropout], image_shape) -> list[tuple[int, ...]]:
    """The shape of each dropout layer's noise at the fixed TFLite size, found by one probe run."""
    if not dropouts:
        return []
    shapes = []

    def recorder(shape, dtype):
        shapes.append(tuple(int(s) for s in shape))
        return tf.random.uniform(shape, dtype=dtype)

    with noise_from(dropouts, [recorder] * len(dropouts)):
        network(tf.zeros(image_shape), training=False)
    return shapes


def seeded_noise(shapes: list[tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """The noise Keras' dropout layers draw at seed ``seed`` (see ``seed_keras_dropout``)."""
    samplers = seeded_samplers(len(shapes), seed)
    return {f"noise_{k + 1}": samplers[k](shape, tf.float32).numpy() for k, shape in enumerate(shapes)}


def tflite_converter(saved_model: Path, signatures: list[str], quant: str, calibration: np.ndarray,
                     shapes: list) -> tf.lite.TFLiteConverter:
    """One converter per variant. Builtin ops only (no Flex): what a stock LiteRT runtime on a phone has."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=signatures)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quant in ("float16", "dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quant == "int8":
        converter.representative_dataset = lambda: representative_samples(calibration, signatures, shapes)
        # Integer kernels everywhere they exist; float I/O so an app feeds the same [-1, 1] floats as for
        # the other variants. Paper mode's RANDOM_UNIFORM has no integer kernel and stays float.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def representative_samples(calibration: np.ndarray, signatures: list[str], shapes: list):
    """Training inputs for int8 calibration, fed through every signature of the file."""
    rng = np.random.default_rng(0)
    for image in calibration:
        for signature in signatures:
            sample = {TFLITE_INPUT: image[None].astype(np.float32)}
            if signature == TFLITE_NOISE_SIGNATURE:
                sample.update({f"noise_{k + 1}": rng.random(s, dtype=np.float32) for k, s in enumerate(shapes)})
            yield signature, sample


def convert_tflite(saved_model: Path, signatures: list[str], quant: str, calibration: np.ndarray,
                   shapes: list) -> bytes:
    converter = tflite_converter(saved_model, signatures, quant, calibration, shapes)
    try:
        with warnings.catch_warnings():  # int8 calibration runs the converter's own (deprecated) interpreter
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
            return converter.convert()
    except Exception as err:  # the converter raises several unrelated types; all mean "cannot convert"
        raise VerificationError(f"TFLite conversion ({quant}) failed: {reason(err)}") from None


def litert_interpreter(model_path: Path):
    """The ai-edge-litert interpreter (XNNPACK applied by default); tf.lite.Interpreter is deprecated."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(model_path), num_threads=os.cpu_count() or 1)


def builtin_op_names(interpreter) -> set[str]:
    return {op["op_name"] for op in interpreter._get_ops_details()}


def verify_tflite(path: Path, quant: str, trained: TrainedGenerator, images: np.ndarray,
                  shapes: list, seed: int = 1234) -> Row:
    """Run the file in ai-edge-litert and compare with Keras on the same inputs (paper mode: the same
    dropout noise, through ``generate_with_noise``). float32 must match to 1e-4 mean absolute difference;
    quantised variants are held to a minimum PSNR and the PSNR is reported."""
    interpreter = litert_interpreter(path)
    ops = builtin_op_names(interpreter)
    if any(op in ("DELEGATE", "CUSTOM") or op.startswith("Flex") for op in ops):
        raise VerificationError(f"{path}: uses non-builtin ops ({', '.join(sorted(ops))})")
    paper = trained.mode == "paper"
    runner = interpreter.get_signature_runner(TFLITE_NOISE_SIGNATURE if paper else TFLITE_SIGNATURE)
    outputs = []
    for image in images:
        feeds = {TFLITE_INPUT: image[None].astype(np.float32)}
        if paper:
            feeds.update(seeded_noise(shapes, seed))
        outputs.append(runner(**feeds)[TFLITE_OUTPUT][0])
    reference = keras_reference(trained, images, seed if paper else None)
    max_abs, mean_abs, psnr = differences(reference, np.stack(outputs))
    check_tolerance(path, quant, mean_abs, psnr)
    generate = interpreter.get_signature_runner(TFLITE_SIGNATURE)
    sample = {TFLITE_INPUT: images[:1].astype(np.float32)}
    if paper and np.array_equal(generate(**sample)[TFLITE_OUTPUT], generate(**sample)[TFLITE_OUTPUT]):
        raise VerificationError(f"{path}: paper mode gave identical outputs on two calls; dropout is not active")
    latency = median_latency(lambda: generate(**sample))
    note = ("via generate_with_noise; " if paper else "") + "builtin ops, XNNPACK"
    return Row(f"tflite {quant} ({trained.mode})", str(path), path.stat().st_size, max_abs, mean_abs, psnr,
               latency, note)


def check_tolerance(path: Path, quant: str, mean_abs: float, psnr: float) -> None:
    if quant == "float32":
        if not mean_abs <= TFLITE_FLOAT32_MEAN_ABS:
            raise VerificationError(f"{path}: float32 TFLite differs from Keras by {mean_abs:.3g} mean absolute "
                                    f"(tolerance {TFLITE_FLOAT32_MEAN_ABS})")
    elif not psnr >= MIN_PSNR_DB[quant]:
        raise VerificationError(f"{path}: {quant} TFLite reaches only {psnr:.1f} dB PSNR against Keras "
                                f"(minimum {MIN_PSNR_DB[quant]:.0f} dB)")


def tflite_metadata(settings: ExportSettings, quant: str, shapes: list, row: Row | None) -> dict:
    """The JSON beside each .tflite: what a mobile app needs to feed it and read it back."""
    height, width = settings.crop_hw
    meta = {
        "format": "pix2pix_tf.tflite", "version": EXPORT_FORMAT_VERSION, "model_name": settings.model_name,
        "model_version": settings.version, "quantization": quant, "signature": TFLITE_SIGNATURE,
        "input": {"name": TFLITE_INPUT, "shape": [1, height, width, settings.input_nc], "dtype": "float32",
                  "range": [-1.0, 1.0], "from_8bit": "pixel / 127.5 - 1"},
        "output": {"name": TFLITE_OUTPUT, "shape": [1, height, width, settings.output_nc], "dtype": "float32",
                   "range": [-1.0, 1.0], "to_8bit": "round((value + 1) * 127.5)"},
        "height": height, "width": width, "input_channels": settings.input_nc,
        "output_channels": settings.output_nc, "channel_order": "RGB" if settings.input_nc == 3 else "grey",
        "direction": settings.direction, "inference_mode": settings.mode,
        "inference_mode_meaning": mode_meaning(settings.mode),
        "resize": f"the model runs at exactly {height}x{width} (HxW); resize or pad other images to it",
        "checkpoint": settings.checkpoint, "step": settings.step, "weights": settings.weights,
    }
    if settings.mode == "paper":
        meta["noise_signature"] = {
            "name": TFLITE_NOISE_SIGNATURE,
            "inputs": {f"noise_{k + 1}": list(s) for k, s in enumerate(shapes)},
            "meaning": "uniform [0, 1) noise per dropout layer (kept where noise >= rate): reproducible paper-mode "
                       "outputs and exact verification; 'generate' draws it with the builtin RANDOM_UNIFORM op"}
    if row is not None:
        meta["verification"] = {"max_abs_diff": row.max_abs, "mean_abs_diff": row.mean_abs,
                                "psnr_db_vs_keras": finite(row.psnr_db), "latency_ms": row.latency_ms,
                                "interpreter": "ai-edge-litert (XNNPACK)"}
    return meta


def export_tflite(trained: TrainedGenerator, settings: ExportSettings, quants: list[str], folder: Path,
                  work: Path, images: np.ndarray, calibration: np.ndarray) -> list[Row]:
    """Convert and verify every requested variant into ``folder``."""
    archive, shapes = tflite_archive(trained, settings)
    source = work / "tflite_source"
    with contextlib.redirect_stdout(io.StringIO()):
        archive.write_out(str(source), verbose=False)
    signatures = [TFLITE_SIGNATURE] + ([TFLITE_NOISE_SIGNATURE] if shapes else [])
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for quant in quants:
        path = folder / f"{settings.model_name}_{quant}.tflite"
        path.write_bytes(convert_tflite(source, signatures, quant, calibration, shapes))
        row = verify_tflite(path, quant, trained, images, shapes)
        path.with_suffix(".json").write_text(json.dumps(tflite_metadata(settings, quant, shapes, row), indent=2) + "\n")
        rows.append(row)
    shutil.rmtree(source, ignore_errors=True)
    return rows
