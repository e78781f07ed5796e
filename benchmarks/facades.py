"""Facades benchmark: what the GAN buys, measured with the realism judge (the paper's FCN-score and a
Fréchet distance in the judge's features).

Trains labels -> photo (BtoA) on ../shared/data/facades at 256x256: the paper's generator (transposed
convolutions) with the paper's objective (lambda_GAN 1, lambda_L1 100) and with L1 alone (lambda_GAN 0),
and the resize-convolution generator (the default upsampling), all at the paper's width (64), keeping a
checkpoint every --every steps; trains a judge (``python -m pix2pix_tf.judge``, photo -> CMP label map) on
the training photos; then scores every kept checkpoint on the 106 test images: L1, PSNR, SSIM, the
full-resolution detail and checkerboard gaps, and the judge's pixel accuracy, class accuracy, class IoU,
distance and KID. The
judge's ladder on the test split frames them: the real test photos, the same blurred (sigma 0.5 to 8 at
256 px) or with a period-2 checkerboard, and the mean training photo.

    python benchmarks/facades.py                      # train what is missing, resume what stopped, score
    python benchmarks/facades.py --only pix2pix       # train one model (run two of these side by side)
    python benchmarks/facades.py --no-train           # score the checkpoints there are

Three more runs answer where G's adversarial gradient should come from (``--d-forward``) against the
seed-to-seed noise: reuse (the default) with seed 1, and recompute with seeds 0 and 1. Train them to a
budget with ``--only recompute --stop-at 2000`` and so on; they are scored side by side with the
pix2pix run at the steps all four have.

Every run is an ordinary run directory under --runs-dir, so an interrupted benchmark resumes where it
stopped and can be finished across several sittings. Writes results.md / results.json to --results
(committed, so no finished measurement has to be trained again), and the figures (class IoU and
distance against steps, test images side by side) to --figures.
"""

from __future__ import annotations

import argparse
import functools
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
DEFAULT_RESULTS = REPO / "benchmarks" / "results"
PAPER_WIDTH = {"ngf": 64, "ndf": 64}  # every run here: the paper's width (fit's default until 2026-12-05)
PAPER_UP = {"upsample": "transpose", **PAPER_WIDTH}  # what every run but the resize ones was measured with
VARIANTS = {  # name: (label, flags over the project's defaults)
    "pix2pix": ("pix2pix (λ_GAN 1, λ_L1 100), --upsample transpose", PAPER_UP),
    "l1-only": ("L1 only (λ_GAN 0, λ_L1 100)", {"lambda_gan": 0.0, **PAPER_UP}),
    "pix2pix-seed1": ("pix2pix, --upsample transpose --seed 1", {"seed": 1, **PAPER_UP}),
    "recompute": ("pix2pix, --upsample transpose --d-forward recompute", {"d_forward": "recompute", **PAPER_UP}),
    "recompute-seed1": ("pix2pix, --upsample transpose --d-forward recompute --seed 1",
                        {"d_forward": "recompute", "seed": 1, **PAPER_UP}),
    # image-quality experiments against the transposed-convolution generator at equal steps (issue 18)
    "resize": ("pix2pix, --upsample resize (the default)", {"upsample": "resize", **PAPER_WIDTH}),
    "resize-seed1": ("pix2pix, --upsample resize --seed 1", {"upsample": "resize", "seed": 1, **PAPER_WIDTH}),
    "float32": ("pix2pix, --upsample transpose --precision float32", {"precision": "float32", **PAPER_UP}),
    "d-lr-half": ("pix2pix, --upsample transpose --d-lr-ratio 0.5", {"d_lr_ratio": 0.5, **PAPER_UP}),
}
MAIN = ("l1-only", "pix2pix", "resize")
SHORT = {"pix2pix": "transposed conv.", "l1-only": "L1 only", "recompute": "D recomputed",
         "resize": "resize-conv (default)", "float32": "float32", "d-lr-half": "D lr x0.5"}
EXPERIMENTS = ("pix2pix", "pix2pix-seed1", "recompute", "recompute-seed1", "resize", "resize-seed1", "float32",
               "d-lr-half")
PAPER_INFERENCE = ("pix2pix", "pix2pix-seed1")  # also scored with dropout on at test time
D_FORWARD = ("pix2pix", "pix2pix-seed1", "recompute", "recompute-seed1")
EVAL_BATCH = 8
TIMINGS = "timings.json"  # each training sitting of a run: steps, seconds, CPU, the cores it was pinned to
REALISM = ("pixel_acc", "class_acc", "class_iou", "distance")
SPECTRUM = ("detail", "checkerboard")  # the full-resolution gaps to the photos (pix2pix_tf.spectrum)


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
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help=f"folder for facades.md and facades.json (default: {DEFAULT_RESULTS})")
    args = parser.parse_args(argv)
    if args.stop_at is not None and not args.only:
        parser.error("--stop-at needs --only NAME (the run to stop)")
    return args


def run_dir(args, name: str) -> Path:
    return args.runs_dir / f"{name}-{args.image_size}px-{args.steps}steps"


def judge_dir(args) -> Path:
    return args.runs_dir / "judge"


def train_variant(args, name: str) -> None:
    """Train, resume, or find finished one model (fit's own resume does the work)."""
    from pix2pix_tf.train.rundir import RunDir
    from pix2pix_tf.train.training import train

    flags = {"data": str(args.data), "direction": "BtoA", "image_size": args.image_size, "steps": args.steps,
             "lambda_gan": 1.0, "save_every": args.every, "sample_every": args.every,
             "keep_checkpoints": args.steps // args.every + 2, "log_every": 100, **VARIANTS[name][1]}
    if RunDir(run_dir(args, name)).exists():  # precision and the rest come from the stored config
        flags = {k: flags[k] for k in ("data", "save_every", "sample_every", "keep_checkpoints", "log_every")}
    print(f"\n== {name}: {run_dir(args, name)}", flush=True)
    summary = train(run_dir(args, name), flags, verbose=2, stop_at=args.stop_at)
    print(f"{name}: steps {summary.start_step} -> {summary.end_step} in {summary.seconds:.0f} s", flush=True)
    record_sitting(summary)


def record_sitting(summary) -> None:
    """Adds a training sitting (``training.TrainingSummary``) to its run's timings.json: the steps, the
    seconds of the training loop, the CPU and the cores the process was pinned to, so a run's speed is
    known however many sittings it took."""
    if summary.end_step > summary.start_step:
        log = Path(summary.run_dir) / TIMINGS
        sittings = json.loads(log.read_text()) if log.is_file() else []
        sittings.append({"steps": [summary.start_step, summary.end_step], "seconds": round(summary.seconds, 1),
                         "cpu": cpu_name(), "cores": sorted(os.sched_getaffinity(0))})
        log.write_text(json.dumps(sittings, indent=2) + "\n")


def train_judge(args) -> None:
    from pix2pix_tf.judge import main as judge_main
    from pix2pix_tf.train.rundir import RunDir

    print(f"\n== judge: {judge_dir(args)}", flush=True)
    flags = ["--run-dir", str(judge_dir(args)), "--quiet"]
    if not RunDir(judge_dir(args)).exists():
        flags += ["--data", str(args.data), "--direction", "BtoA", "--palette", "facades"]
    judge_main(flags)


def score_variant(args, name: str, judge, mode: str = "deterministic") -> list:
    """Every kept checkpoint on the budget grid, on the test split, with the judge (``mode``: the
    inference mode, paper = dropout on as in training)."""
    from pix2pix_tf import evaluate as ev
    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.core.errors import UserError
    from pix2pix_tf.train.rundir import RunDir, checkpoint_step, kept_checkpoints

    directory = run_dir(args, name)
    total = load_config(directory).total_steps
    results = []
    try:
        paths = kept_checkpoints(RunDir(directory))
    except UserError:  # a run still before its first checkpoint
        return results
    for path in paths:
        step = checkpoint_step(path)
        if step % args.every == 0 or step == total:
            results.append(stored_score(directory, step, mode, judge) or ev.evaluate_run(
                directory, step, split="test", batch_size=EVAL_BATCH, page=step == total, judge=judge, mode=mode))
    return results


@functools.cache
def judge_identity(judge) -> str:
    from pix2pix_tf.realism.judge import load_judge

    return load_judge(judge).identity


def stored_score(directory: Path, step: int, mode: str, judge, split: str = "test", raw_of_averaged: bool = False):
    """The summary an earlier scoring of this checkpoint left, if that scoring used this judge checkpoint
    and these measures (its identity hashes both), so re-running the benchmark scores only new checkpoints
    and a retrained judge or a changed measure scores everything again. ``raw_of_averaged``: the raw
    weights of a run that keeps a moving average (its average is what is scored otherwise)."""
    from pix2pix_tf.evaluate import default_out_dir

    return stored_summary(default_out_dir(directory, split, step, mode, raw_of_averaged), judge_identity(judge))


def stored_summary(out: Path, identity: str):
    """``out/summary.json`` if the judge of this ``identity`` made it with today's measures, else None."""
    from pix2pix_tf.realism.report import EvalSummary

    try:
        stored = EvalSummary(**json.loads((out / "summary.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if (stored.realism or {}).get("judge_identity") != identity or stored.spectrum is None:
        return None
    return stored


def mean_photo_row(args, judge_path: Path) -> dict:
    """Always answering with the average training photo: per-pixel scores and the judge's."""
    import tensorflow as tf

    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.data import pipeline as data_lib
    from pix2pix_tf.nets.losses import image_metrics
    from pix2pix_tf.realism.judge import RealismTally, load_judge
    from pix2pix_tf.realism.spectrum import SpectrumTally

    config = load_config(run_dir(args, "pix2pix"))
    total, count = None, 0
    for _, target in data_lib.evaluation_dataset(data_lib.list_pairs(args.data, "train"), config, EVAL_BATCH):
        batch_sum = target.numpy().astype(np.float64).sum(axis=0)
        total = batch_sum if total is None else total + batch_sum
        count += target.shape[0]
    mean = (total / count).astype(np.float32)
    judge = load_judge(judge_path)
    pairs = data_lib.list_pairs(args.data, "test")
    tally, spectrum = RealismTally(judge, len(pairs)), SpectrumTally()
    sums, images = {"l1": 0.0, "psnr": 0.0, "ssim": 0.0}, 0
    for (_, target), (_, label_maps) in zip(data_lib.evaluation_dataset(pairs, config, EVAL_BATCH),
                                            judge.batches(pairs, EVAL_BATCH, config.data_size)):
        guess = tf.constant(np.broadcast_to(mean, target.shape))
        for metric, values in image_metrics(guess, target).items():
            sums[metric] += float(np.sum(values.numpy()))
        tally.add(guess, label_maps)
        spectrum.add(guess.numpy(), target.numpy())
        images += target.shape[0]
    return {**{k: v / images for k, v in sums.items()}, **realism_columns(tally.scores(), spectrum.summary())}


def realism_columns(realism: dict, spectrum: dict) -> dict:
    """The judge's scores, KID with its interval, and the spectrum gaps, flat for the tables."""
    return {**{k: realism[k] for k in REALISM}, "kid": realism["kid"]["kid"], "kid_low": realism["kid"]["low"],
            "kid_high": realism["kid"]["high"], **{k: spectrum[k]["gap"] for k in SPECTRUM}}


def result_rows(results: dict, names: tuple, steps: list[int]) -> list[dict]:
    rows = []
    for step in steps:
        for name in names:
            rows += [{"model": VARIANTS[name][0], "steps": step, **r.mean, **realism_columns(r.realism, r.spectrum)}
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


def kid_cell(r: dict) -> str:
    """KID x1000 with its 95% interval."""
    if r.get("kid") is None or not math.isfinite(r["kid"]):
        return "–"
    return f"{1000 * r['kid']:.1f} [{1000 * r['kid_low']:.1f}, {1000 * r['kid_high']:.1f}]"


def markdown_table(rows: list[dict]) -> str:
    lines = ["| model | steps | L1 ↓ | PSNR dB ↑ | SSIM ↑ | pixel acc ↑ | class acc ↑ | class IoU ↑ | distance ↓ | "
             "KID x1000 ↓ | detail gap → 0 | checkerboard gap ↓ |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['steps']} | {fmt(r.get('l1'), 4)} | {fmt(r.get('psnr'), 2)} | "
                     f"{fmt(r.get('ssim'), 4)} | {fmt(r['pixel_acc'], 3)} | {fmt(r['class_acc'], 3)} | "
                     f"{fmt(r['class_iou'], 3)} | {fmt(r.get('distance'), 1)} | {kid_cell(r)} | "
                     f"{fmt(r.get('detail'), 2)} | {fmt(r.get('checkerboard'), 2)} |")
    return "\n".join(lines)


def realism_plot(curves: dict[str, list[tuple[int, dict]]], ladder: list[dict], path: Path) -> Path:
    """Class IoU and distance against steps, with the ladder's rungs as horizontal lines."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    styles = {"real": ("#2a9d8f", "--"), "blur4": ("#e9c46a", "--"), "blur8": ("#f4a261", "--"),
              "mean": ("#999999", ":")}
    for ax, score, label in ((axes[0], "class_iou", "class IoU of the judge (higher: more realistic)"),
                             (axes[1], "distance", "distance to real photos (lower: more realistic)")):
        for name, points in curves.items():
            if points:
                ax.plot([p[0] for p in points], [p[1][score] for p in points], marker="o", label=VARIANTS[name][0],
                        linestyle="-" if name in MAIN else ":")
        for rung in ladder:
            if rung["rung"] in styles:
                color, style = styles[rung["rung"]]
                ax.axhline(rung[score], color=color, linestyle=style, label=rung["label"])
        ax.set_xlabel("training steps (batch 1)")
        ax.set_ylabel(label)
        if score == "distance":
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle("facades labels -> photo, 106 test images")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def benchmark_criteria(rows: list[dict], real: dict) -> list[str]:
    """The real photos must score better than every model at every checkpoint on class IoU and distance."""
    models = [r for r in rows if isinstance(r["steps"], int) and r["steps"] > 0]
    lines = []
    for score, better in (("class_iou", lambda m: m < real["class_iou"]), ("distance", lambda m: m > real["distance"])):
        beaten = [f"{r['model']} at {r['steps']}" for r in models if not better(r[score])]
        lines.append(f"{'ok  ' if not beaten else 'FAIL'} real photos better than every model on {score}"
                     + (f" (not: {', '.join(beaten)})" if beaten else f" ({len(models)} rows)"))
    return lines


def seed_comparison(results: dict, step: int) -> list[str]:
    """Mean of two seeds per --d-forward choice, and the seed-to-seed spread, at ``step``."""
    lines = []
    for label, names in (("reuse (default)", ("pix2pix", "pix2pix-seed1")),
                         ("recompute", ("recompute", "recompute-seed1"))):
        found = [r.realism for name in names for r in results[name] if r.step == step]
        if len(found) == 2:
            parts = [f"{k} {np.mean([f[k] for f in found]):.3f} (seeds differ by {abs(found[0][k] - found[1][k]):.3f})"
                     for k in ("pixel_acc", "class_iou", "distance")]
            lines.append(f"{label} at {step} steps, mean of 2 seeds: " + "; ".join(parts))
    return lines


def sample_grid(args, step: int, out: Path, names: tuple = MAIN, modes: dict | None = None) -> Path:
    """labels | each run's output | photo for test images spread over the split, at ``step``
    (``modes``: a run's inference mode where it is not deterministic)."""
    runs = [(run_dir(args, n.split("@")[0]), step, (n.split("@") + ["deterministic"])[1]) for n in names]
    titles = [SHORT.get(n.split("@")[0], n) + (", paper inf." if "@paper" in n else "") for n in names]
    return side_by_side(args.data, runs, titles, args.samples, out, f"step {step}")


def side_by_side(data: Path, runs: list[tuple[Path, int, str]], titles: list[str], count: int, out: Path,
                 caption: str) -> Path:
    """labels | each (run directory, step, inference mode)'s output | photo, for ``count`` test images
    spread over the split, the same images for every run."""
    from pix2pix_tf.data import pipeline as data_lib
    from pix2pix_tf.deploy.inference import load_generator
    from pix2pix_tf.nets.losses import to_unit_range
    from pix2pix_tf.nets.networks import dropout_noise
    from pix2pix_tf.train.callbacks import save_grid

    pairs = data_lib.list_pairs(data, "test")
    picks = [pairs[i] for i in np.linspace(0, len(pairs) - 1, count).round().astype(int)]
    outputs = []
    for directory, step, mode in runs:
        trained = load_generator(directory, step, mode)
        sources, targets = next(iter(data_lib.evaluation_dataset(picks, trained.config, batch_size=len(picks))))
        with dropout_noise(trained.config.seed, 0):
            outputs.append(trained.generator(sources, training=False))
    rows = [[to_unit_range(img).numpy() for img in (sources[i], *(o[i] for o in outputs), targets[i])]
            for i in range(len(picks))]
    files = ", ".join(Path(p.a).name for p in picks)
    path = save_grid(rows, ("labels (input)", *titles, "photo (target)"), out,
                     title=f"facades test images {files}, {caption}")
    return compact_png(path)


def compact_png(path: Path) -> Path:
    """A committed figure in 256 colours (no dithering, so a checkerboard stays a checkerboard): a
    third of the size of the full-colour file."""
    from PIL import Image

    with Image.open(path) as image:
        image.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, optimize=True)
    return path


def experiment_rows(args, results: dict, paper: dict) -> list[dict]:
    """One row per run and scored step of the image-quality experiments, with the artefact measures
    and the measured training speed."""
    rows = []
    for name, by_mode in [(n, {"deterministic": results[n]}) for n in EXPERIMENTS] + \
            [(n, {"paper": paper[n]}) for n in paper]:
        for mode, found in by_mode.items():
            for r in found:
                flags = VARIANTS[name][1]
                rows.append({"model": VARIANTS[name][0] + (", paper inference" if mode == "paper" else ""),
                             "steps": r.step, "seed": flags.get("seed", 0),
                             **realism_columns(r.realism, r.spectrum),
                             "blotches": r.artefacts["blotches"]["run"], **seconds_per_step(run_dir(args, name))})
    return sorted(rows, key=lambda r: (r["steps"], r["model"]))


def seconds_per_step(directory: Path) -> dict:
    """A run's training speed over all its sittings (``record_sitting``), with the CPU and cores of the last."""
    log = directory / TIMINGS
    if not log.is_file():
        return {"seconds_per_step": None, "cpu": None, "cores": None, "trained_steps": 0, "seconds": None}
    sittings = json.loads(log.read_text())
    steps = sum(b - a for a, b in (s["steps"] for s in sittings))
    seconds = sum(s["seconds"] for s in sittings)
    return {"seconds_per_step": seconds / steps if steps else None, "cpu": sittings[-1]["cpu"],
            "cores": sittings[-1]["cores"], "trained_steps": steps, "seconds": seconds}


def experiment_table(rows: list[dict], real: dict, artefacts_real: dict) -> str:
    lines = ["| run | steps | seed | class IoU ↑ | distance ↓ | KID x1000 ↓ | detail gap → 0 | checkerboard gap ↓ | "
             "blotches ↓ | s/step |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
             f"| real test photos | – | – | {fmt(real['class_iou'], 3)} | {fmt(real['distance'], 1)} | "
             f"{kid_cell(real)} | 0.00 | 0.00 | {fmt(artefacts_real['blotches'], 4)} | – |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['steps']} | {r['seed']} | {fmt(r['class_iou'], 3)} | "
                     f"{fmt(r['distance'], 1)} | {kid_cell(r)} | {fmt(r['detail'], 2)} | {fmt(r['checkerboard'], 2)} | "
                     f"{fmt(r['blotches'], 4)} | {fmt(r['seconds_per_step'], 2)} |")
    return "\n".join(lines)


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
    from pix2pix_tf.realism.judge import load_judge
    from pix2pix_tf.realism.ladder import ladder_on

    judge = load_judge(judge_dir(args))
    rungs = [{**r, **realism_columns(r, r)} for r in ladder_on(judge, args.data, "test")["rungs"]]
    real = next(r for r in rungs if r["rung"] == "real")
    print(f"\n== scoring with the judge at step {judge.step}", flush=True)
    results = {name: score_variant(args, name, judge_dir(args)) if run_dir(args, name).is_dir() else []
               for name in VARIANTS}
    mean_row = mean_photo_row(args, judge_dir(args))
    rows = [{"model": "mean training photo (no learning)", "steps": 0, **mean_row}]
    columns = (*REALISM, "kid", "kid_low", "kid_high", *SPECTRUM)
    rows += [{"model": r["label"], "steps": "–", **{k: r[k] for k in columns}} for r in rungs if r["rung"] != "mean"]
    model_rows = result_rows(results, MAIN, sorted({r.step for name in MAIN for r in results[name]}))
    rows += model_rows
    shared = sorted(set.intersection(*({r.step for r in results[name]} for name in D_FORWARD)))
    d_rows = result_rows(results, D_FORWARD, shared)
    table = markdown_table(rows)
    if shared:
        table += "\n\nWhere G's adversarial gradient comes from, two seeds each:\n\n" + markdown_table(d_rows)
    paper = {name: score_variant(args, name, judge_dir(args), "paper") for name in PAPER_INFERENCE
             if run_dir(args, name).is_dir()}
    experiments = experiment_rows(args, results, paper)
    scored = [r for found in results.values() for r in found]
    artefacts_real = {"blotches": scored[0].artefacts["blotches"]["real"]} if scored else {}
    if experiments:
        table += ("\n\nImage-quality experiments, each against the paper's transposed-convolution generator at equal "
                  "steps (seconds per step: the run's own training sittings, see timings.json):\n\n"
                  + experiment_table(experiments, real, artefacts_real))
    verdicts = benchmark_criteria(model_rows + d_rows + experiments, real)
    verdicts += [line for step in shared for line in seed_comparison(results, step)]
    figures = args.figures or args.runs_dir
    curves = {name: [(r.step, r.realism) for r in results[name]] for name in VARIANTS}
    plot = realism_plot(curves, rungs, figures / "facades_realism.png")
    common = sorted(set.intersection(*({r.step for r in results[name]} for name in MAIN)))
    grid = sample_grid(args, common[-1], figures / "facades_samples.png") if common else None
    compared = [n for n in ("pix2pix", "recompute", "resize", "float32", "d-lr-half")
                if any(r.step == args.every for r in results[n.split("@")[0]])]
    if len(compared) > 1:
        sample_grid(args, args.every, figures / "facades_experiments.png", tuple(compared))
    command = "python benchmarks/facades.py " + " ".join(sys.argv[1:] if argv is None else argv)
    notes = (f"facades labels -> photo (BtoA), {args.image_size}x{args.image_size}, batch 1, deterministic inference, "
             f"{cpu_name()}; 106 test images at {args.image_size}x{args.image_size}; L1/PSNR/SSIM on the [0, 1] scale, "
             f"averaged per image; judge scores from one confusion matrix over all test images, distance and KID "
             f"(95% bootstrap interval) to the judge's features of the 400 training photos at 50 images a set "
             f"(judge {judge_dir(args)} at step {judge.step}, identity {judge.identity}, seen at "
             f"{'x'.join(map(str, judge.input_hw))} px, 12 CMP classes); detail and checkerboard gaps: log10 "
             "power spectrum against the real test photos at 256 px.")
    text = f"{table}\n\n" + "\n".join(verdicts) + f"\n\n{notes}\ncommand: {command}\nplot: {plot}\nsample grid: {grid}"
    print(f"\n{text}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "facades.md").write_text(f"{table}\n\n" + "\n".join(f"- {v}" for v in verdicts)
                                             + f"\n\n{notes}\n\ncommand: `{command}`\n")
    (args.results / "facades.json").write_text(json.dumps(
        {"command": command, "cpu": cpu_name(), "judge_step": judge.step, "judge_identity": judge.identity,
         "ladder": rungs, "rows": rows,
         "d_forward_rows": d_rows, "experiments": experiments, "artefacts_real": artefacts_real,
         "verdicts": verdicts}, indent=2, default=str) + "\n")
    print(f"scored in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
