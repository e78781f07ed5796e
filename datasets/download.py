#!/usr/bin/env python3
"""Download (or unpack a local copy of) a standard pix2pix dataset and check it.

Usage::

    python datasets/download.py NAME [--out DIR] [--archive LOCAL.tar.gz] [--url URL]
                                [--overwrite] [--timeout SECONDS]

A thin command over ``pix2pix_tf.datasets.download`` (where the checks are described); it needs the
installed package (``pip install -e .``). The same command is ``python -m pix2pix_tf.datasets.download``.
"""

from pix2pix_tf.core.cli import run_cli
from pix2pix_tf.datasets.download import main

if __name__ == "__main__":
    run_cli(main)
