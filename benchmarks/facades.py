"""Facades benchmark: pix2pix against an L1-only generator and the mean training photo.

Trains labels -> photo (BtoA) on ../shared/data/facades at 256x256 for a fixed step budget, twice:
the paper's objective (lambda_GAN 1, lambda_L1 100) and L1 alone (lambda_GAN 0, the paper's blurrier
baseline); then scores both, and the trivial baseline that always outputs the mean training photo,
on the 106 test images with ``pix2pix_tf.evaluate``. Prints a markdown table (L1 on the [0, 1] scale,
PSNR, SSIM, seconds per training step) and writes an input | L1-only | pix2pix | target grid.

    python benchmarks/facades.py --steps 2000 --out docs/facades_samples.png

Run directories are named by their settings under --runs-dir, so running it again resumes an
interrupted run, or only re-evaluates a finished one. The paper trains 200 epochs (80,000 steps at
batch 1); at this script's budget it shows the trend, not the paper's figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "facades"
DEFAULT_RUNS = REPO / "runs" / "facades-bench"
TIMING_FILE = "benchmark_timing.json"
EVAL_BATCH = 8


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"facades root (default: {DEFAULT_DATA})")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS,
                        help=f"where the runs live (default: {DEFAULT_RUNS})")
    parser.add_argument("--steps", type=int, default=2000, help="training steps for each model (default: 2000)")
    parser.add_argument("--image-size", default="256", help="training size (default: 256, the paper's)")
    parser.add_argument("--precision", default="auto", help="as fit's --precision (default: auto, by hardware)")
    parser.add_argument("--samples", type=int, default=4, help="test images in the sample grid (default: 4)")
    parser.add_argument("--out", type=Path, default=None, help="sample grid PNG (default: RUNS/samples.png)")
    return parser.parse_args(argv)


def _load_timing(run_dir: Path) -> dict:
    path = run_dir / TIMING_FILE
    return json.loads(path.read_text()) if path.is_file() else {"seconds": 0.0, "steps": 0}


def train_variant(name: str, lambda_gan: float, args, precision: str) -> tuple[Path, dict]:
    """Train (or resume, or skip if finished) one model; wall time per step accumulates across calls."""
    import keras

    from pix2pix_tf.training import train

    run_dir = args.runs_dir / f"{name}-{args.image_size}px-{args.steps}steps-{precision}"
    flags = {"data": str(args.data), "direction": "BtoA", "image_size": args.image_size, "steps": args.steps,
             "lambda_gan": lambda_gan, "precision": precision, "save_every": 500, "keep_checkpoints": 1,
             "sample_every": max(args.steps, 1), "log_every": 100}
    print(f"\n== {name}: {run_dir}", flush=True)
    summary = train(run_dir, flags, verbose=2)
    timing = _load_timing(run_dir)
    trained = summary.end_step - summary.start_step
    if trained:
        timing = {"seconds": timing["seconds"] + summary.seconds, "steps": timing["steps"] + trained}
        (run_dir / TIMING_FILE).write_text(json.dumps(timing) + "\n")
        print(f"{name}: steps {summary.start_step} -> {summary.end_step} in {summary.seconds:.0f} s", flush=True)
    else:
        print(f"{name}: already trained to step {summary.end_step}", flush=True)
    keras.backend.clear_session()
    gc.collect()
    return run_dir, timing


def mean_photo_baseline(run_dir: Path, data: Path) -> dict[str, float]:
    """Scores of always answering with the average training photo (as the pipeline prepares it)."""
    import numpy as np

    from pix2pix_tf import data as data_lib
    from pix2pix_tf.config import load_config
    from pix2pix_tf.losses import image_metrics

    config = load_config(run_dir)
    total, count = None, 0
    for _, target in data_lib.evaluation_dataset(data_lib.list_pairs(data, "train"), config, EVAL_BATCH):
        batch_sum = target.numpy().astype(np.float64).sum(axis=0)
        total = batch_sum if total is None else total + batch_sum
        count += target.shape[0]
    mean = (total / count).astype(np.float32)
    sums = {"l1": 0.0, "psnr": 0.0, "ssim": 0.0}
    images = 0
    for _, target in data_lib.evaluation_dataset(data_lib.list_pairs(data, "test"), config, EVAL_BATCH):
        guess = np.broadcast_to(mean, target.shape)
        for name, values in image_metrics(guess, target).items():
            sums[name] += float(np.sum(values.numpy()))
        images += target.shape[0]
    return {name: value / images for name, value in sums.items()}


def sample_grid(runs: dict[str, Path], data: Path, count: int, out: Path) -> Path:
    """input | L1-only | pix2pix | target for ``count`` test images spread over the split."""
    import numpy as np

    from pix2pix_tf import data as data_lib
    from pix2pix_tf.callbacks import save_grid
    from pix2pix_tf.inference import load_generator
    from pix2pix_tf.losses import to_unit_range

    pairs = data_lib.list_pairs(data, "test")
    picks = [pairs[i] for i in np.linspace(0, len(pairs) - 1, count).round().astype(int)]
    outputs = {}
    for name, run_dir in runs.items():
        trained = load_generator(run_dir)
        sources, targets = next(iter(data_lib.evaluation_dataset(picks, trained.config, batch_size=count)))
        outputs[name] = trained.generator(sources, training=False)
    rows = [[to_unit_range(img).numpy()
             for img in (sources[i], outputs["l1-only"][i], outputs["pix2pix"][i], targets[i])]
            for i in range(count)]
    names = ", ".join(Path(p.a).name for p in picks)
    return save_grid(rows, ("labels (input)", "L1 only", "pix2pix", "photo (target)"), out,
                     title=f"facades test images {names}")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores visible"
    except OSError:
        pass
    return platform.machine()


def markdown_table(rows: list[tuple[str, str, dict, str]]) -> str:
    lines = ["| model | training steps | L1 (0-1) ↓ | PSNR (dB) ↑ | SSIM ↑ | s/step |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, steps, m, per_step in rows:
        lines.append(f"| {name} | {steps} | {m['l1']:.4f} | {m['psnr']:.2f} | {m['ssim']:.4f} | {per_step} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.data / "train").is_dir() or not (args.data / "test").is_dir():
        print(f"facades benchmark skipped: no train/ and test/ under {args.data} "
              "(see DESIGN.md section 5 for the expected layout)")
        return 0
    from pix2pix_tf import evaluate as ev
    from pix2pix_tf.precision import resolve_precision

    precision = resolve_precision(args.precision)
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    p2p_dir, p2p_time = train_variant("pix2pix", 1.0, args, precision)
    l1_dir, l1_time = train_variant("l1-only", 0.0, args, precision)

    print("\n== evaluating on the test split", flush=True)
    p2p = ev.evaluate_run(p2p_dir, split="test", mode="deterministic", batch_size=EVAL_BATCH)
    p2p_paper = ev.evaluate_run(p2p_dir, split="test", mode="paper", batch_size=EVAL_BATCH)
    l1 = ev.evaluate_run(l1_dir, split="test", mode="deterministic", batch_size=EVAL_BATCH)
    mean_scores = mean_photo_baseline(p2p_dir, args.data)

    def per_step(timing: dict) -> str:
        return f"{timing['seconds'] / timing['steps']:.3f}" if timing["steps"] else "n/a"

    rows = [("mean training photo (no learning)", "0", mean_scores, "–"),
            ("L1 only (λ_GAN 0, λ_L1 100)", str(l1.step), l1.mean, per_step(l1_time)),
            ("pix2pix (λ_GAN 1, λ_L1 100), deterministic inference", str(p2p.step), p2p.mean, per_step(p2p_time)),
            ("pix2pix, paper inference (dropout on)", str(p2p_paper.step), p2p_paper.mean, per_step(p2p_time))]
    table = markdown_table(rows)
    out = args.out or args.runs_dir / "samples.png"
    sample_grid({"l1-only": l1_dir, "pix2pix": p2p_dir}, args.data, args.samples, out)

    command = "python benchmarks/facades.py " + " ".join(sys.argv[1:] if argv is None else argv)
    notes = (f"facades labels -> photo (BtoA), {args.image_size}x{args.image_size}, batch 1, {args.steps} steps per "
             f"model, precision {precision}, {cpu_name()}; "
             f"106 test images, metrics at {args.image_size}x{args.image_size} on the [0, 1] scale. "
             "s/step is wall time of fit including "
             "its per-epoch validation on the test split and checkpoints; the L1-only run still steps its "
             "discriminator (unused by its loss).")
    print(f"\n{table}\n\n{notes}\ncommand: {command}\nsample grid: {out}")
    for result in (p2p, p2p_paper, l1):
        print(f"results page: {Path(result.out_dir) / 'index.html'}")
    (args.runs_dir / "results.md").write_text(f"{table}\n\n{notes}\n\ncommand: `{command}`\n")
    (args.runs_dir / "results.json").write_text(json.dumps({
        "command": command, "precision": precision, "steps": args.steps, "image_size": args.image_size,
        "rows": [{"model": name, "steps": steps, **m, "seconds_per_step": s} for name, steps, m, s in rows],
        "sample_grid": str(out)}, indent=2) + "\n")
    print(f"total {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
