"""Browser latency of exported generators: each TFLite variant of an export, run by the web demo page
(LiteRT.js) in headless Chromium, next to its file size and its PSNR against the float32 Keras generator.

    python benchmarks/web_latency.py EXPORT_DIR [EXPORT_DIR ...] [--accelerator wasm] [--runs 5] [--results FILE]

Each EXPORT_DIR is an ``--out`` of ``python -m pix2pix_tf.export``; its newest ``tflite/<version>/`` is
used, and the run it came from (export.json) provides the demo's example inputs. The PSNR is the export's
own verification figure (on images of the run's training data). Latency is the median wall time of
``window.pix2pix.translate`` on one input, timed inside the page after one warm-up run. Prints a markdown
table, the CPU, the browser and the load average: the figures mean little on a busy machine. ``--results``
also writes them as JSON, each row keyed by the generator's architecture (``generator_key``), which is
what ``frontier.py`` reads its browser column from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import numpy as np  # noqa: E402
from throughput import cpu_description  # noqa: E402

from pix2pix_tf.core.config import load_config  # noqa: E402
from pix2pix_tf.deploy import web_demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
TIMING_JS = """async ([values, runs]) => {
  await pix2pix.translate(values);
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    await pix2pix.translate(values);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exports", nargs="+", type=Path, help="export directories (--out of pix2pix_tf.export)")
    parser.add_argument("--accelerator", default="wasm", choices=("wasm", "webgpu", "auto"),
                        help="what the page is asked to run on (default: wasm)")
    parser.add_argument("--runs", type=int, default=5, help="timed translations per variant (default: 5)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser binary (default: {CHROMIUM})")
    parser.add_argument("--results", type=Path, default=None,
                        help="also write the rows, CPU, browser and load average to this JSON file")
    return parser.parse_args(argv)


def generator_key(config) -> str:
    """What decides a generator's graph, and so its file size and latency: width, upsampling, image size."""
    return f"ngf{config.ngf}-{config.upsample}-{config.image_size}px"


def newest_tflite_dir(export_dir: Path) -> Path:
    versions = sorted((int(p.name), p) for p in (export_dir / "tflite").iterdir() if p.name.isdigit())
    if not versions:
        sys.exit(f"error: {export_dir}: no tflite/<version>/ folder; is it an export directory?")
    return versions[-1][1]


def page_latency(browser, folder: Path, accelerator: str, runs: int) -> tuple[float, str]:
    """(median ms per translation, accelerator the page used) for the demo folder ``folder``."""
    with web_demo.served(folder) as url:
        page = browser.new_page()
        try:
            page.goto(f"{url}?accelerator={accelerator}")
            page.wait_for_function("window.pix2pix && pix2pix.state !== 'loading'", timeout=600_000)
            if page.evaluate("pix2pix.state") == "error":
                raise RuntimeError(f"{folder}: {page.evaluate('pix2pix.error')}")
            meta = page.evaluate("pix2pix.meta")
            shape = (meta["height"], meta["width"], meta["input_channels"])
            values = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32).ravel().tolist()
            return page.evaluate(TIMING_JS, [values, runs]), page.evaluate("pix2pix.accelerator")
        finally:
            page.close()


def export_rows(browser, export_dir: Path, args, scratch: Path) -> list[dict]:
    summary = json.loads((export_dir / "export.json").read_text())
    run_dir = Path(summary["run_dir"])
    config = load_config(run_dir)
    tflite_dir = newest_tflite_dir(export_dir)
    rows = []
    variants = web_demo.tflite_variants(tflite_dir)
    for quant in [q for q in web_demo.VARIANT_LABELS if q in variants]:
        path, meta = variants[quant]
        folder = web_demo.write_web_demo(tflite_dir, scratch / f"{export_dir.name}-{quant}", config, variant=quant)
        ms, used = page_latency(browser, folder, args.accelerator, args.runs)
        psnr = meta.get("verification", {}).get("psnr_db_vs_keras")
        rows.append({"export": str(export_dir), "run": run_dir.name, "generator": generator_key(config),
                     "variant": quant, "file_mb": path.stat().st_size / 2**20,
                     "ms": ms, "accelerator": used, "psnr_db_vs_keras": psnr})
        print(f"| {run_dir.name} ({rows[-1]['generator']}) | {web_demo.VARIANT_LABELS[quant]} "
              f"| {rows[-1]['file_mb']:.1f} MB | {ms:.0f} ({used}) | {'exact' if psnr is None else f'{psnr:.1f}'} |",
              flush=True)
    return rows


def main(argv=None) -> None:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    print("| model | variant | file | browser ms per image | PSNR vs float32 Keras, dB |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as scratch:
        browser = playwright.chromium.launch(executable_path=args.chromium)
        try:
            for export_dir in args.exports:
                rows += export_rows(browser, export_dir, args, Path(scratch))
            version = browser.version
        finally:
            browser.close()
    load = os.getloadavg()
    cpu = cpu_description()
    print(f"\nCPU: {cpu}; Chromium {version}, headless; accelerator asked: {args.accelerator}; median of "
          f"{args.runs} runs after one warm-up; load average {', '.join(f'{x:.1f}' for x in load)} "
          "(measured under load if that exceeds the core count)")
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(
            {"command": "python benchmarks/web_latency.py " + " ".join(sys.argv[1:] if argv is None else argv),
             "cpu": cpu, "chromium": version, "accelerator_asked": args.accelerator, "runs": args.runs,
             "load_average": load, "rows": rows}, indent=2) + "\n")
        print(f"results: {args.results}")


if __name__ == "__main__":
    main()
