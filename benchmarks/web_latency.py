"""Browser latency of exported generators: each TFLite variant of an export, run by the web demo page
(LiteRT.js) in headless Chromium, next to its file size and its PSNR against the float32 Keras generator.

    python benchmarks/web_latency.py EXPORT_DIR [EXPORT_DIR ...] [--accelerator wasm] [--runs 5]

Each EXPORT_DIR is an ``--out`` of ``python -m pix2pix_tf.export``; its newest ``tflite/<version>/`` is
used, and the run it came from (export.json) provides the demo's example inputs. The PSNR is the export's
own verification figure (on images of the run's training data). Latency is the median wall time of
``window.pix2pix.translate`` on one input, timed inside the page after one warm-up run. Prints a markdown
table, the CPU, the browser and the load average: the figures mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

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
    return parser.parse_args(argv)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


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


def export_rows(browser, export_dir: Path, args, scratch: Path) -> list[str]:
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
        rows.append(f"| {run_dir.name} (ngf {config.ngf}, {config.image_size}px) | {web_demo.VARIANT_LABELS[quant]} "
                    f"| {path.stat().st_size / 2**20:.1f} MB | {ms:.0f} ({used}) "
                    f"| {'exact' if psnr is None else f'{psnr:.1f}'} |")
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    print("| model | variant | file | browser ms per image | PSNR vs float32 Keras, dB |")
    print("| --- | --- | --- | --- | --- |")
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as scratch:
        browser = playwright.chromium.launch(executable_path=args.chromium)
        try:
            for export_dir in args.exports:
                export_rows(browser, export_dir, args, Path(scratch))
            version = browser.version
        finally:
            browser.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nCPU: {cpu_name()} ({os.cpu_count()} logical cores); Chromium {version}, headless; "
          f"accelerator asked: {args.accelerator}; median of {args.runs} runs after one warm-up; "
          f"load average {load} (measured under load if that exceeds the core count)")


if __name__ == "__main__":
    main()
