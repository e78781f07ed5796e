#!/usr/bin/env python3
"""Combine two folders of matching images (A and B) into side-by-side pix2pix pairs.

Usage::

    python datasets/combine_A_and_B.py --a DIR_A --b DIR_B --out DIR [--splits train,val,test]
                                       [--overwrite] [--rgb]

A thin command over ``pix2pix_tf.datasets.combine`` (where the rules are described); it needs the
installed package (``pip install -e .``). The same command is ``python -m pix2pix_tf.datasets.combine``.
"""

from pix2pix_tf.core.cli import run_cli
from pix2pix_tf.datasets.combine import main

if __name__ == "__main__":
    run_cli(main)
