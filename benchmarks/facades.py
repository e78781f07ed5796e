"""Facades benchmark: what the GAN buys, measured with the realism judge (the paper's FCN-score).

Trains labels -> photo (BtoA) on ../shared/data/facades at 256x256 twice, the paper's objective
(lambda_GAN 1, lambda_L1 100) and L1 alone (lambda_GAN 0), keeping a checkpoint every --every steps;
trains a judge (``python -m pix2pix_tf.judge``, photo -> CMP label map) on the training photos; then
scores every kept checkpoint of both on the 106 test images: L1, PSNR, SSIM and the judge's pixel
accuracy, class accuracy and class IoU. Two fixed rows frame them: the mean training photo (no
learning) and the real test photos (the judge's ceiling).

    python benchmarks/facades.py                      # train what is missing, resume what stopped, score
    python benchmarks/facades.py --only pix2pix       # train one model (run two of these side by side)
    python benchmarks/facades.py --no-train           # score the checkpoints there are

Two more runs answer where G's adversarial gradient should come from (``--d-forward``): the paper's
objective with D's forward pass from the D step reused, and with D recomputed after its update (as the
first two runs do) but another seed, which measures run-to-run noise. Train them to a budget with
``--only pix2pix-reuse --stop-at 2000`` and ``--only pix2pix-seed1 --stop-at 2000``; they are scored
side by side with the first pix2pix run at the steps all three have.

Every run is an ordinary run directory under --runs-dir, so an interrupted benchmark resumes where it
stopped and can be finished across several sittings. Writes results.md / results.json there, and the
figures (class IoU against steps, test images side by side) to --figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "facades"
DEFAULT_RUNS = REPO / "runs" / "facades-bench"
VARIANTS = {  # name: (label, flags over the paper's objective; the first runs predate --d-forward reuse)
    "pix2pix": ("pix2pix (λ_GAN 1, λ_L1 100)", {"d_forward": "recompute"}),
    "l1-only": ("L1 only (λ_GAN 0, λ_L1 100)", {"lambda_gan": 0.0, "d_forward": "recompute"}),
    "pix2pix-reuse": ("pix2pix, --d-forward reuse", {"d_forward": "reuse"}),
    "pix2pix-seed1": ("pix2pix, --seed 1", {"seed": 1, "d_forward": "recompute"}),
}
MAIN = ("l1-only", "pix2pix")
D_FORWARD = ("pix2pix", "pix2pix-seed1", "pix2pix-reuse")
EVAL_BATCH = 8
REALISM = ("pixel_acc", "class_acc", "class_iou")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"facades root (default: {DEFAULT_DATA})")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS,
                        help=f"where the runs live (default: {DEFAULT_RUNS})")
    parser.add_argument("--steps", type=int, default=8000,
                        help="training steps of each model (default: 8000, 20 epochs)")
    parser.add_argument("--every", type=int, default=2000, help="checkpoint and score every N steps (default: 2000)")
    parser.add_argument("--image-size", default="256", help="training size (default: 256, the paper's)")
    parser.add_argument("--only", choices=(*VARIANTS, "judge"), default=None,
                        help="train only this one, then stop (to train the models in parallel processes)")
    parser.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                        help="with --only: stop that run at this step (its schedule stays that of --steps)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="only score the checkpoints there are")
    parser.add_argument("--samples", type=int, default=4, help="test images in the sample grid (default: 4)")
    parser.add_argument("--figures", type=Path, default=None, help="folder for the two figures (default: RUNS)")
    args = parser.parse_args(argv)
    if args.stop_at is not None and not args.only:
        parser.error("--stop-at needs --only NAME (the run to stop)")
    return args


def run_dir(args, name: str) -> Path:
    return args.runs_dir / f"{name}-{args.image_size}px-{args.steps}steps"


def judge_dir(args) -> Path:
    return args.runs_dir / f"judge-{args.image_size}px"


def train_variant(args, name: str) -> None:
    """Train, resume, or find finished one model (fit's own resume does the work)."""
    from pix2pix_tf.rundir import RunDir
    from pix2pix_tf.training import train

    flags = {"data": str(args.data), "direction": "BtoA", "image_size": args.image_size, "steps": args.steps,
             "lambda_gan": 1.0, "save_every": args.every, "sample_every": args.every,
             "keep_checkpoints": args.steps // args.every + 2, "log_every": 100, **VARIANTS[name][1]}
    if RunDir(run_dir(args, name)).exists():  # precision and the rest come from the stored config
        flags = {k: flags[k] for k in ("data", "save_every", "sample_every", "keep_checkpoints", "log_every")}
    print(f"\n== {name}: {run_dir(args, name)}", flush=True)
    summary = train(run_dir(args, name), flags, verbose=2, stop_at=args.stop_at)
    print(f"{name}: steps {summary.start_step} -> {summary.end_step} in {summary.seconds:.0f} s", flush=True)


def train_judge(args) -> None:
    from pix2pix_tf.judge import main as judge_main
    from pix2pix_tf.rundir import RunDir

    print(f"\n== judge: {judge_dir(args)}", flush=True)
    flags = ["--run-dir", str(judge_dir(args)), "--quiet"]
    if not RunDir(judge_dir(args)).exists():
        flags += ["--data", str(args.data), "--direction", "BtoA", "--palette", "facades",
                  "--image-size", args.image_size]
    judge_main(flags)


def score_variant(args, name: str, judge) -> list:
    """Every kept checkpoint on the budget grid, on the test split, with the judge."""
    from pix2pix_tf import evaluate as ev
    from pix2pix_tf.config import load_config
    from pix2pix_tf.rundir import RunDir, checkpoint_step, kept_checkpoints

    directory = run_dir(args, name)
    total = load_config(directory).total_steps
    results = []
    for path in kept_checkpoints(RunDir(directory)):
        step = checkpoint_step(path)
        if step % args.every == 0 or step == total:
            results.append(ev.evaluate_run(directory, step, split="test", batch_size=EVAL_BATCH, page=step == total,
                                           judge=judge))
    return results


def mean_photo_row(args, judge_path: Path) -> dict:
    """Always answering with the average training photo: per-pixel scores and the judge's."""
    import tensorflow as tf

    from pix2pix_tf import data as data_lib
    from pix2pix_tf.config import load_config
    from pix2pix_tf.losses import image_metrics
    from pix2pix_tf.realism import RealismTally, load_judge

    config = load_config(run_dir(args, "pix2pix"))
    total, count = None, 0
    for _, target in data_lib.evaluation_dataset(data_lib.list_pairs(args.data, "train"), config, EVAL_BATCH):
        batch_sum = target.numpy().astype(np.float64).sum(axis=0)
        total = batch_sum if total is None else total + batch_sum
        count += target.shape[0]
    mean = (total / count).astype(np.float32)
    tally = RealismTally(load_judge(judge_path))
    sums, images = {"l1": 0.0, "psnr": 0.0, "ssim": 0.0}, 0
    for source, target in data_lib.evaluation_dataset(data_lib.list_pairs(args.data, "test"), config, EVAL_BATCH):
        guess = tf.constant(np.broadcast_to(mean, target.shape))
        for metric, values in image_metrics(guess, target).items():
            sums[metric] += float(np.sum(values.numpy()))
        tally.add(guess, source)
        images += target.shape[0]
    realism = tally.summary()
    return {**{k: v / images for k, v in sums.items()}, **{k: realism[k] for k in REALISM}}


def result_rows(results: dict, names: tuple, steps: list[int]) -> list[dict]:
    rows = []
    for step in steps:
        for name in names:
            rows += [{"model": VARIANTS[name][0], "steps": step, **r.mean, **{k: r.realism[k] for k in REALISM}}
                     for r in results[name] if r.step == step]
    return rows


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores visible"
    except OSError:
        pass
    return platform.machine()


def fmt(value, digits: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| model | steps | L1 ↓ | PSNR dB ↑ | SSIM ↑ | pixel acc ↑ | class acc ↑ | class IoU ↑ |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['steps']} | {fmt(r.get('l1'), 4)} | {fmt(r.get('psnr'), 2)} | "
                     f"{fmt(r.get('ssim'), 4)} | {fmt(r['pixel_acc'], 3)} | {fmt(r['class_acc'], 3)} | "
                     f"{fmt(r['class_iou'], 3)} |")
    return "\n".join(lines)


def iou_plot(curves: dict[str, list[tuple[int, float]]], real: float, mean_photo: float, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, points in curves.items():
        if points:
            ax.plot(*zip(*points), marker="o", label=VARIANTS[name][0], linestyle="-" if name in MAIN else ":")
    ax.axhline(real, color="#2a9d8f", linestyle="--", label="real test photos (ceiling)")
    ax.axhline(mean_photo, color="#999999", linestyle=":", label="mean training photo")
    ax.set_xlabel("training steps (batch 1)")
    ax.set_ylabel("class IoU of the judge (higher: more realistic)")
    ax.set_title("facades labels -> photo, 106 test images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def sample_grid(args, step: int, out: Path) -> Path:
    """labels | L1 only | pix2pix | photo for test images spread over the split, at ``step``."""
    from pix2pix_tf import data as data_lib
    from pix2pix_tf.callbacks import save_grid
    from pix2pix_tf.inference import load_generator
    from pix2pix_tf.losses import to_unit_range

    pairs = data_lib.list_pairs(args.data, "test")
    picks = [pairs[i] for i in np.linspace(0, len(pairs) - 1, args.samples).round().astype(int)]
    outputs = {}
    for name in MAIN:
        trained = load_generator(run_dir(args, name), step)
        sources, targets = next(iter(data_lib.evaluation_dataset(picks, trained.config, batch_size=len(picks))))
        outputs[name] = trained.generator(sources, training=False)
    rows = [[to_unit_range(img).numpy()
             for img in (sources[i], outputs["l1-only"][i], outputs["pix2pix"][i], targets[i])]
            for i in range(len(picks))]
    names = ", ".join(Path(p.a).name for p in picks)
    return save_grid(rows, ("labels (input)", "L1 only", "pix2pix", "photo (target)"), out,
                     title=f"facades test images {names}, step {step}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (args.data / "train").is_dir() or not (args.data / "test").is_dir():
        print(f"facades benchmark skipped: no train/ and test/ under {args.data} "
              "(see DESIGN.md section 5 for the expected layout)")
        return 0
    began = time.monotonic()
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    if args.train:
        for name in ([args.only] if args.only else [*MAIN, "judge"]):
            train_judge(args) if name == "judge" else train_variant(args, name)
        if args.only:
            return 0
    from pix2pix_tf.realism import load_judge, score_real_images

    judge = load_judge(judge_dir(args))
    real = score_real_images(judge, args.data, "test")
    print(f"\n== scoring with the judge at step {judge.step}", flush=True)
    results = {name: score_variant(args, name, judge_dir(args)) if run_dir(args, name).is_dir() else []
               for name in VARIANTS}
    mean_row = mean_photo_row(args, judge_dir(args))
    rows = [{"model": "mean training photo (no learning)", "steps": 0, **mean_row},
            {"model": "real test photos (the judge's ceiling)", "steps": "–",
             **{k: real[k] for k in REALISM}}]
    rows += result_rows(results, MAIN, sorted({r.step for name in MAIN for r in results[name]}))
    shared = sorted(set.intersection(*({r.step for r in results[name]} for name in D_FORWARD)))
    table = markdown_table(rows)
    if shared:
        table += "\n\nWhere G's adversarial gradient comes from, with a second seed for run-to-run noise:\n\n"
        table += markdown_table(result_rows(results, D_FORWARD, shared))
    figures = args.figures or args.runs_dir
    curves = {name: [(r.step, r.realism["class_iou"]) for r in results[name]] for name in VARIANTS}
    plot = iou_plot(curves, real["class_iou"], mean_row["class_iou"], figures / "facades_realism.png")
    common = sorted({r.step for r in results["pix2pix"]} & {r.step for r in results["l1-only"]})
    grid = sample_grid(args, common[-1], figures / "facades_samples.png") if common else None
    command = "python benchmarks/facades.py " + " ".join(sys.argv[1:] if argv is None else argv)
    notes = (f"facades labels -> photo (BtoA), {args.image_size}x{args.image_size}, batch 1, deterministic inference, "
             f"{cpu_name()}; 106 test images at {args.image_size}x{args.image_size}; L1/PSNR/SSIM on the [0, 1] scale, "
             f"averaged per image; judge scores from one confusion matrix over all test images (judge "
             f"{judge_dir(args)} at step {judge.step}, 12 CMP classes).")
    print(f"\n{table}\n\n{notes}\ncommand: {command}\nplot: {plot}\nsample grid: {grid}")
    (args.runs_dir / "results.md").write_text(f"{table}\n\n{notes}\n\ncommand: `{command}`\n")
    (args.runs_dir / "results.json").write_text(json.dumps(
        {"command": command, "cpu": cpu_name(), "judge_step": judge.step, "rows": rows,
         "real_per_class_iou": dict(zip(judge.palette.names, real["per_class_iou"])),
         "plot": str(plot), "sample_grid": str(grid)}, indent=2, default=str) + "\n")
    print(f"scored in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
