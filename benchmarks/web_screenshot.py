"""The browser demo's screenshot for the docs: an export's web demo in headless Chromium, its first example
translated, a window rectangle drawn on it and translated again.

    python -m pix2pix_tf.export --run-dir RUN --out EXPORT --tflite-quant dynamic --web --palette facades
    python benchmarks/web_screenshot.py EXPORT/web --out docs/web_demo.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from facades import compact_png  # noqa: E402
from web_latency import CHROMIUM  # noqa: E402

from pix2pix_tf.deploy import web_demo  # noqa: E402


def screenshot(folder: Path, out: Path, brush: str, chromium: str) -> Path:
    from playwright.sync_api import sync_playwright

    with web_demo.served(folder) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1100, "height": 820})
        page.goto(f"{url}?accelerator=wasm")
        page.wait_for_function("window.pix2pix && pix2pix.state !== 'loading'", timeout=600_000)
        if page.evaluate("pix2pix.state") == "error":
            sys.exit(f"error: {folder}: the page says {page.evaluate('pix2pix.error')}")
        page.wait_for_function("pix2pix.translations >= 1", timeout=600_000)
        page.click(f"button.brush[data-name='{brush}']")
        box = page.locator("#input-canvas").bounding_box()
        x0, y0 = box["x"] + box["width"] * 0.12, box["y"] + box["height"] * 0.45
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x0 + box["width"] * 0.14, y0 + box["height"] * 0.12, steps=5)
        page.mouse.up()
        page.wait_for_function("pix2pix.translations >= 2", timeout=600_000)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    return compact_png(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("web", type=Path, help="the web/ folder of an export (export --web)")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--brush", default="window", help="the palette class to draw with (default: window)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser binary (default: {CHROMIUM})")
    args = parser.parse_args(argv)
    if not (args.web / "index.html").is_file():
        sys.exit(f"error: {args.web}: no index.html; give the web/ folder of an export made with --web")
    print(screenshot(args.web, args.out, args.brush, args.chromium))
    return 0


if __name__ == "__main__":
    sys.exit(main())
