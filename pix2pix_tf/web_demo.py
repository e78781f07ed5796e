"""python -m pix2pix_tf.web_demo: where the browser demo's LiteRT.js runtime is, or install it
(``--install-litert-js``). The demo folder itself is written by ``python -m pix2pix_tf.export ... --web``
(``pix2pix_tf.deploy.web_demo``)."""

from __future__ import annotations

import argparse

from pix2pix_tf.core.cli import OneLineParser, run_cli
from pix2pix_tf.deploy.web_demo import install_runtime, runtime_dir


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.install_litert_js:
        print(f"LiteRT.js runtime installed in {install_runtime()}")
    else:
        print(f"LiteRT.js runtime: {runtime_dir()}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m pix2pix_tf.web_demo",
                           description="The browser demo's LiteRT.js runtime: where it is, or install it.")
    parser.add_argument("--install-litert-js", action="store_true",
                        help="npm ci the pinned @litertjs/core into the user cache (~/.cache/pix2pix_tf/litert-js)")
    return parser


if __name__ == "__main__":
    run_cli(main, "python -m pix2pix_tf.web_demo")
