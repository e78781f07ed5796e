"""Where a generator's checkerboard comes from: the detail and checkerboard gaps of each run's generator at
its initialisation (step 0, rebuilt from the run's config and seed) and at its last checkpoint, on the run's
validation pairs.

    python benchmarks/upsample_start.py ../bench/frontier/subpixel-10min-seed0 ../bench/frontier/default-10min-seed0

A gap that is there at step 0 comes from the architecture's start (transposed convolutions paint one before
any training); one that appears only after training comes from what training does to it (sub-pixel's four
output positions drifting apart). Writes upsample_start.json to --results.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from throughput import cpu_description  # noqa: E402

DEFAULT_RESULTS = REPO / "benchmarks" / "results"
BATCH = 10


def generated_and_photos(generator, config, pairs) -> tuple:
    """The generator's outputs (deterministic: dropout off) for every pair, and the pairs' photos, in [-1, 1]."""
    import numpy as np

    from pix2pix_tf.data import pipeline

    fakes, photos = [], []
    for inputs, targets in pipeline.evaluation_dataset(pairs, config, BATCH):
        fakes.append(generator(inputs, training=False).numpy())
        photos.append(targets.numpy())
    return np.concatenate(fakes), np.concatenate(photos)


def run_gaps(run: Path, split: str) -> dict:
    """{"step 0": gaps, "step N": gaps} for one run: each the detail gap, the checkerboard gap and its peaks."""
    import keras

    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.deploy.inference import load_generator
    from pix2pix_tf.nets.networks import build_generator
    from pix2pix_tf.realism.spectrum import spectrum_gaps
    from pix2pix_tf.train.rundir import run_pairs

    config = load_config(run)
    pairs = run_pairs(config, Path(config.data), split)
    keras.utils.set_random_seed(config.seed)  # as build_model does before it builds the generator
    start = build_generator(config)
    trained = load_generator(run, weights="raw")
    out = {"run": str(run), "upsample": config.upsample, "seed": config.seed, "images": len(pairs)}
    for label, generator in (("step 0", start), (f"step {trained.step}", trained.generator)):
        gaps = spectrum_gaps(*generated_and_photos(generator, config, pairs))
        out[label] = {"detail": gaps["detail"]["gap"], "checkerboard": gaps["checkerboard"]["gap"],
                      "peaks": gaps["checkerboard"]["peaks"]}
        print(f"{run.name} {label}: detail gap {out[label]['detail']:.2f}, checkerboard gap "
              f"{out[label]['checkerboard']:.2f}", flush=True)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--split", default="val", help="the pairs scored (default: val)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help=f"folder for upsample_start.json (default: {DEFAULT_RESULTS})")
    args = parser.parse_args(argv)
    rows = [run_gaps(run, args.split) for run in args.runs]
    args.results.mkdir(parents=True, exist_ok=True)
    path = args.results / "upsample_start.json"
    path.write_text(json.dumps({
        "command": "python benchmarks/upsample_start.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "cpu": cpu_description(), "split": args.split, "rows": rows}, indent=2) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
