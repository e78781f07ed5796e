"""Realism against wall-clock time: `fit`'s default against the TensorFlow tutorial's recipe on facades.

Each side trains in its own process and saves its generator at fixed minutes after the process's
training began (imports, data checks, tracing and everything else the recipe does count). Run the two
side by side with a core each, or one after the other on a quiet machine; then score every saved
generator with the realism judge and draw class IoU and distance against minutes:

    taskset -c 0 python benchmarks/race.py --side fit --runs-dir /tmp/race &
    taskset -c 1 python benchmarks/race.py --side tutorial --runs-dir /tmp/race &
    wait
    python benchmarks/race.py --score --runs-dir /tmp/race --judge runs/facades-bench/judge --figures docs

The fit side is `python -m pix2pix_tf.fit` with its defaults on facades labels -> photo at 256x256
(the benchmark's 8,000-step schedule); the tutorial side is ``tutorial_recipe.py``'s recipe (float32,
Keras Adam at a constant rate, one D forward). A side that was interrupted is not resumed: its
minutes would no longer be wall-clock minutes, so it is refused until its folder is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from facades import DEFAULT_DATA, DEFAULT_RESULTS, compact_png, cpu_name, fmt  # noqa: E402

SIDES = {"fit": "fit (default)", "tutorial": "TensorFlow tutorial recipe"}
FIT_STEPS = 8000  # the facades benchmark's schedule; --fit-steps races a schedule fitted to a shorter budget
MARKS = (5, 10, 15, 20, 30, 40, 50, 60)
MARKS_FILE = "marks.json"


class RaceOver(Exception):
    """The last mark is saved: the side's training ends here."""


class MarkSaver:
    """Writes the generator's weights at each mark (minutes after ``began``) with the step it reached."""

    def __init__(self, folder: Path, marks: tuple, began: float):
        self.folder, self.marks, self.began = folder, list(marks), began
        self.saved: list[dict] = []

    def due(self) -> bool:
        return time.monotonic() - self.began >= self.marks[0] * 60

    def after_step(self, generator, step: int) -> None:
        if self.due():
            self.save(generator, step, self.marks.pop(0))
            if not self.marks:
                raise RaceOver

    def save(self, generator, step: int, minute: float) -> None:
        import tensorflow as tf

        elapsed = time.monotonic() - self.began
        prefix = self.folder / f"minute{minute:g}-{step}"
        tf.train.Checkpoint(generator=generator).write(str(prefix))
        self.saved.append({"minute": minute, "step": step, "seconds": round(elapsed, 1), "checkpoint": str(prefix)})
        (self.folder / MARKS_FILE).write_text(json.dumps(
            {"cpu": cpu_name(), "cores": sorted(os.sched_getaffinity(0)), "marks": self.saved}, indent=2) + "\n")
        print(f"minute {minute}: step {step} ({elapsed:.0f} s)", flush=True)


def race_fit(args, folder: Path, began: float) -> None:
    import keras

    from pix2pix_tf.train.training import train

    saver = MarkSaver(folder / "marks", args.marks, began)

    class AtMarks(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if saver.due():  # the step counter is read (a host sync) only when a mark has passed
                saver.after_step(self.model.generator, int(self.model.train_steps.numpy()))

    flags = {"data": str(args.data), "direction": "BtoA", "image_size": "256", "steps": args.fit_steps}
    at_marks = AtMarks()
    try:
        train(folder / "run", flags, verbose=2, callbacks=[at_marks])
    except RaceOver:
        return
    # a schedule shorter than the race: where it ended is its last mark
    saver.save(at_marks.model.generator, args.fit_steps, round((time.monotonic() - began) / 60, 2))


def race_tutorial(args, folder: Path, began: float) -> None:
    from tutorial_recipe import tutorial_recipe

    from pix2pix_tf.core.config import save_config

    config, generator, train_step, dataset = tutorial_recipe(args.data, "256", 10**6)
    (folder / "run").mkdir(parents=True)
    save_config(config, folder / "run")
    saver = MarkSaver(folder / "marks", args.marks, began)
    for step, (source, target) in enumerate(dataset, start=1):
        train_step(source, target)
        if step % 100 == 0:
            print(f"step {step} ({time.monotonic() - began:.0f} s)", flush=True)
        try:
            saver.after_step(generator, step)
        except RaceOver:
            return


def side_folder(side: str, fit_steps: int) -> str:
    return side if side == "tutorial" or fit_steps == FIT_STEPS else f"fit-{fit_steps}steps"


def side_label(folder: str) -> str:
    return SIDES.get(folder) or f"fit --steps {folder.split('-')[1].removesuffix('steps')}"


def run_side(args) -> int:
    began = time.monotonic()
    folder = args.runs_dir / side_folder(args.side, args.fit_steps)
    if folder.exists():
        raise SystemExit(f"--runs-dir {args.runs_dir}: {args.side}/ exists; a race is not resumed (its minutes "
                         "would not be wall-clock minutes): remove it to race again")
    (folder / "marks").mkdir(parents=True)
    (race_fit if args.side == "fit" else race_tutorial)(args, folder, began)
    return 0


def score(args) -> int:
    import keras
    import tensorflow as tf

    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.deploy.inference import TrainedGenerator
    from pix2pix_tf.evaluate import evaluation_pairs, score_pairs
    from pix2pix_tf.nets.networks import build_generator
    from pix2pix_tf.realism.judge import load_judge
    from pix2pix_tf.realism.ladder import ladder_on

    judge = load_judge(args.judge)
    rows, artefacts_real = [], {}
    sides = sorted((p.parent.parent.name for p in args.runs_dir.glob("*/marks/" + MARKS_FILE)),
                   key=lambda name: (name == "tutorial", name))
    for side in sides:
        folder = args.runs_dir / side
        marks = json.loads((folder / "marks" / MARKS_FILE).read_text())
        config = load_config(folder / "run")
        root, split, pairs = evaluation_pairs(config, args.data, "test")
        keras.mixed_precision.set_global_policy("float32")
        generator = build_generator(config)
        for mark in marks["marks"]:
            out = folder / "eval" / f"minute{mark['minute']:g}"
            stored = out / "summary.json"
            summary = json.loads(stored.read_text()) if stored.is_file() else {}
            if (summary.get("realism") or {}).get("judge_identity") == judge.identity and summary.get("spectrum"):
                realism, artefacts, spectrum, mean = (summary["realism"], summary["artefacts"], summary["spectrum"],
                                                      summary["mean"])
            else:
                tf.train.Checkpoint(generator=generator).read(mark["checkpoint"]).assert_consumed()
                trained = TrainedGenerator(config, generator, "deterministic", mark["checkpoint"])
                result = score_pairs(trained, pairs, config, out, run_dir=folder / "run", data=root, split=split,
                                     page=False, quiet=True, judge=judge)
                realism, artefacts, spectrum, mean = result.realism, result.artefacts, result.spectrum, result.mean
            artefacts_real = {"checkerboard": 0.0, "blotches": artefacts["blotches"]["real"]}
            rows.append({"side": side, "minute": mark["minute"], "step": mark["step"], "l1": mean["l1"],
                         **{k: realism[k] for k in ("pixel_acc", "class_iou", "distance")},
                         "checkerboard": spectrum["checkerboard"]["gap"], "detail": spectrum["detail"]["gap"],
                         "blotches": artefacts["blotches"]["run"],
                         "cpu": marks["cpu"], "cores": marks["cores"]})
            print(f"{side} minute {mark['minute']}: step {mark['step']}, class IoU {rows[-1]['class_iou']:.3f}, "
                  f"distance {rows[-1]['distance']:.1f}", flush=True)
    real = next(r for r in ladder_on(judge, args.data, "test")["rungs"] if r["rung"] == "real")
    verdicts = catch_up(rows)
    table = race_table(rows, {**real, **artefacts_real})
    figures = args.figures or args.runs_dir
    plot = race_plot(rows, real, figures / "facades_race.png")
    command = "python benchmarks/race.py " + " ".join(sys.argv[1:])
    text = f"{table}\n\n" + "\n".join(f"- {v}" for v in verdicts) + f"\n\ncommand: `{command}`\n"
    print(f"\n{text}plot: {plot}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "race.md").write_text(text)
    (args.results / "race.json").write_text(json.dumps(
        {"command": command, "judge_step": judge.step, "real": real, "artefacts_real": artefacts_real, "rows": rows,
         "verdicts": verdicts},
        indent=2) + "\n")
    return 0


def catch_up(rows: list[dict]) -> list[str]:
    """The first mark at which fit matches the tutorial's last-mark score, on each realism score."""
    tutorial = [r for r in rows if r["side"] == "tutorial"]
    fit = [r for r in rows if r["side"] == "fit"]
    if not tutorial or not fit:
        return []
    final = tutorial[-1]
    lines = []
    for score, reached in (("class_iou", lambda r: r["class_iou"] >= final["class_iou"]),
                           ("distance", lambda r: r["distance"] <= final["distance"])):
        first = next((r for r in fit if reached(r)), None)
        if first is None:
            lines.append(f"{score}: fit does not reach the tutorial's minute-{final['minute']} score "
                         f"({final[score]:.3f}) by its last mark (minute {fit[-1]['minute']})")
        else:
            lines.append(f"{score}: the tutorial's minute-{final['minute']} score ({final[score]:.3f}) is reached by "
                         f"fit at minute {first['minute']} (step {first['step']}, {first[score]:.3f}): "
                         f"{first['minute'] / final['minute']:.2f} of the tutorial's time")
    return lines


def race_table(rows: list[dict], real: dict) -> str:
    lines = ["| recipe | minutes | steps | class IoU ↑ | distance ↓ | checkerboard gap ↓ | blotches ↓ |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
             f"| real test photos | – | – | {fmt(real['class_iou'], 3)} | {fmt(real['distance'], 1)} | "
             f"{fmt(real.get('checkerboard'), 2)} | {fmt(real.get('blotches'), 4)} |"]
    for r in rows:
        lines.append(f"| {side_label(r['side'])} | {r['minute']} | {r['step']} | {fmt(r['class_iou'], 3)} | "
                     f"{fmt(r['distance'], 1)} | {fmt(r['checkerboard'], 2)} | {fmt(r['blotches'], 4)} |")
    return "\n".join(lines)


def race_plot(rows: list[dict], real: dict, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, score, label in ((axes[0], "class_iou", "class IoU of the judge (higher: more realistic)"),
                             (axes[1], "distance", "distance to real photos (lower: more realistic)")):
        for side in dict.fromkeys(r["side"] for r in rows):
            points = [r for r in rows if r["side"] == side]
            ax.plot([r["minute"] for r in points], [r[score] for r in points], marker="o", label=side_label(side))
        ax.axhline(real[score], color="#2a9d8f", linestyle="--", label="real test photos")
        ax.set_xlabel("wall-clock minutes of training")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    cpu = rows[0]["cpu"] if rows else ""
    fig.suptitle(f"facades labels -> photo, 106 test images; one core each, side by side ({cpu})", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return compact_png(path)


def minutes(text: str) -> tuple:
    try:
        marks = sorted(float(m) for m in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of minutes") from None
    if not marks or marks[0] <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: minutes must be positive")
    return tuple(int(m) if m.is_integer() else m for m in marks)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=tuple(SIDES), help="train this side of the race")
    parser.add_argument("--score", action="store_true", help="score both sides' saved generators")
    parser.add_argument("--runs-dir", type=Path, required=True, help="where both sides keep their runs")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"facades root (default: {DEFAULT_DATA})")
    parser.add_argument("--marks", type=minutes, default=MARKS,
                        help=f"minutes at which to save the generator (default: {','.join(map(str, MARKS))})")
    parser.add_argument("--fit-steps", type=int, default=FIT_STEPS,
                        help=f"the fit side's schedule in steps (default: {FIT_STEPS}); a shorter one fitted to a "
                             "budget ends early, its last generator saved at the minute it ended")
    parser.add_argument("--judge", type=Path, help="with --score: the judge's run directory")
    parser.add_argument("--figures", type=Path, default=None, help="folder for facades_race.png (default: RUNS)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help=f"folder for race.md and race.json (default: {DEFAULT_RESULTS})")
    args = parser.parse_args(argv)
    if bool(args.side) == args.score:
        parser.error("give one of --side NAME or --score")
    if args.score and args.judge is None:
        parser.error("--score needs --judge RUN_DIR")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    return score(args) if args.score else run_side(args)


if __name__ == "__main__":
    sys.exit(main())
