"""Realism against wall-clock time: `fit --minutes` against the TensorFlow tutorial's recipe on facades.

The tutorial's side trains in its own process, one per seed, and saves its generator at fixed minutes
after the process began (imports, data checks, tracing and everything else the recipe does count):

    taskset -c 0 python benchmarks/race.py --side tutorial --seed 0 &
    taskset -c 1 python benchmarks/race.py --side tutorial --seed 1 &
    wait
    python benchmarks/race.py --score --figures docs

`fit`'s side is the frontier's runs of its default (``frontier.py --only default --minutes 15|30 --seed S``,
one core each, the same machine): each trained for its own budget, so its schedule decays to zero at the
deadline as a user's `fit --minutes` does. Scoring puts every saved tutorial generator through the same
measures the frontier used, on the same validation pairs held out of train/ (the tutorial's side trains
without them too) and by the same judge, and reads `fit`'s scores from frontier.json. A side that was
interrupted is not resumed: its minutes would no longer be wall-clock minutes, so it is refused until its
folder is removed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from facades import DEFAULT_DATA, DEFAULT_RESULTS, compact_png, fmt, realism_columns, stored_summary  # noqa: E402
from frontier import COMPARED, DEFAULT_JUDGE, spread_cell  # noqa: E402

DEFAULT_RUNS = REPO.parent / "bench" / "race"  # outside the repository: runs are never committed
FRONTIER = DEFAULT_RESULTS / "frontier.json"
SPLIT = "val"  # the split of frontier.json, whose scores of fit's runs the race reads
MARKS = (5, 10, 15, 20, 30, 40, 50, 60)
MARKS_FILE = "marks.json"
TUTORIAL = "tutorial"


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
        from throughput import cpu_description

        elapsed = time.monotonic() - self.began
        prefix = self.folder / f"minute{minute:g}-{step}"
        tf.train.Checkpoint(generator=generator).write(str(prefix))
        self.saved.append({"minute": minute, "step": step, "seconds": round(elapsed, 1), "checkpoint": str(prefix)})
        (self.folder / MARKS_FILE).write_text(json.dumps(
            {"cpu": cpu_description(), "cores": sorted(os.sched_getaffinity(0)), "marks": self.saved}, indent=2) + "\n")
        print(f"minute {minute}: step {step} ({elapsed:.0f} s)", flush=True)


def race_tutorial(args, folder: Path, began: float) -> None:
    from tutorial_recipe import tutorial_recipe

    from pix2pix_tf.core.config import save_config

    config, generator, train_step, dataset = tutorial_recipe(args.data, "256", 10**6, seed=args.seed)
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


def run_side(args) -> int:
    began = time.monotonic()
    folder = args.runs_dir / f"{TUTORIAL}-seed{args.seed}"
    if folder.exists():
        raise SystemExit(f"--runs-dir {args.runs_dir}: {folder.name}/ exists; a race is not resumed (its minutes "
                         "would not be wall-clock minutes): remove it to race again")
    (folder / "marks").mkdir(parents=True)
    (folder / "run").mkdir()
    race_tutorial(args, folder, began)
    return 0


def tutorial_rows(args, judge) -> list[dict]:
    """Every saved tutorial generator scored on the validation pairs (read back where already scored)."""
    import keras
    import tensorflow as tf

    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.deploy.inference import TrainedGenerator
    from pix2pix_tf.evaluate import evaluation_pairs, score_pairs
    from pix2pix_tf.nets.networks import build_generator

    rows = []
    for marks_file in sorted(args.runs_dir.glob(f"{TUTORIAL}-seed*/marks/{MARKS_FILE}")):
        folder = marks_file.parent.parent
        marks = json.loads(marks_file.read_text())
        config = load_config(folder / "run")
        root, split, pairs = evaluation_pairs(config, args.data, SPLIT)
        keras.mixed_precision.set_global_policy("float32")
        generator = build_generator(config)
        for mark in marks["marks"]:
            out = folder / "eval" / f"minute{mark['minute']:g}"
            summary = stored_summary(out, judge.identity)
            if summary is None:
                tf.train.Checkpoint(generator=generator).read(mark["checkpoint"]).assert_consumed()
                trained = TrainedGenerator(config, generator, "deterministic", mark["checkpoint"])
                summary = score_pairs(trained, pairs, config, out, run_dir=folder / "run", data=root, split=split,
                                      page=False, quiet=True, judge=judge)
            rows.append({"side": TUTORIAL, "seed": int(folder.name.removeprefix(f"{TUTORIAL}-seed")),
                         "minutes": mark["minute"], "steps": mark["step"], "seconds": mark["seconds"],
                         **realism_columns(summary.realism, summary.spectrum), "images": summary.images,
                         "cpu": marks["cpu"], "cores": marks["cores"]})
            print(f"tutorial seed {rows[-1]['seed']} minute {mark['minute']}: step {mark['step']}, "
                  f"class IoU {rows[-1]['class_iou']:.3f}, distance {rows[-1]['distance']:.1f}", flush=True)
    return rows


def fit_rows(frontier: dict, candidate: str) -> list[dict]:
    """`fit`'s side: the frontier's runs of ``candidate``, one per seed and budget."""
    return [{"side": "fit", "seed": r["seed"], "minutes": r["minutes"], "steps": r["steps"],
             **{k: r[k] for k in ("class_iou", "distance", "kid", "kid_low", "kid_high", "detail", "checkerboard")},
             "images": r["images"], "cpu": frontier["cpu"], "cores": r.get("cores"), "run": r["run"]}
            for r in frontier["rows"] if r["candidate"] == candidate]


def by_minutes(rows: list[dict], side: str) -> dict[float, list[dict]]:
    grouped: dict[float, list[dict]] = {}
    for r in sorted((r for r in rows if r["side"] == side), key=lambda r: (r["minutes"], r["seed"])):
        grouped.setdefault(r["minutes"], []).append(r)
    return grouped


def reach(ours: list[float], theirs: list[float], good) -> str:
    """How the seeds of one side stand against another's on one measure (``good``: larger is more realistic)."""
    ours, theirs = [good(v) for v in ours], [good(v) for v in theirs]
    which = "its one seed" if len(ours) == 1 else f"every seed ({len(ours)})"
    if min(ours) > max(theirs):
        return f"{which} beyond every tutorial seed"
    if max(ours) < min(theirs):
        return f"{which} short of every tutorial seed"
    mean = sum(theirs) / len(theirs)
    return f"{sum(v > mean for v in ours)} of {len(ours)} seeds beyond the tutorial seeds' mean"


def catch_up(rows: list[dict]) -> list[str]:
    """On each measure, where fit's budgets stand against the tutorial's last mark: the tutorial's seeds at
    its last minute against each budget's seeds, and the first budget whose seeds' mean gets there."""
    tutorial, fit = by_minutes(rows, TUTORIAL), by_minutes(rows, "fit")
    if not tutorial or not fit:
        return []
    last = max(tutorial)
    lines = []
    for key, name, digits, scale, good in COMPARED:
        theirs = [r[key] for r in tutorial[last]]
        mean_good = sum(good(v) for v in theirs) / len(theirs)
        first = next((m for m, runs in fit.items() if sum(good(r[key]) for r in runs) / len(runs) > mean_good), None)
        stands = "; ".join(f"at {m:g} minutes {spread_cell([r[key] for r in runs], digits, scale)}, "
                           f"{reach([r[key] for r in runs], theirs, good)}" for m, runs in fit.items())
        got = (f"fit's mean passes it at {first:g} minutes ({first / last:.2f} of the tutorial's time)" if first
               else f"fit's mean does not pass it by {max(fit):g} minutes")
        lines.append(f"{name}: the tutorial's minute-{last:g} score is {spread_cell(theirs, digits, scale)} over "
                     f"{len(theirs)} seeds; {got}. fit {stands}")
    return lines


TABLE_MEASURES = [(key, f"{name}{' x1000' if scale == 1000 else ''}", digits, scale)
                  for key, name, digits, scale, _ in COMPARED]


def race_table(rows: list[dict], real: dict, fit_label: str) -> str:
    """One line per side and minute: its seeds' mean and range of each measure."""
    header = ["recipe", "minutes", "seeds", "steps", *[f"{name}: mean (range)" for _, name, _, _ in TABLE_MEASURES]]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1),
             "| real validation photos | – | – | – | " + " | ".join(fmt(scale * real[k], digits)
                                                              for k, _, digits, scale in TABLE_MEASURES) + " |"]
    for side, label in (("fit", fit_label), (TUTORIAL, "TensorFlow tutorial recipe")):
        for minutes, runs in by_minutes(rows, side).items():
            steps = sorted(r["steps"] for r in runs)
            lines.append(f"| {label} | {minutes:g} | {len(runs)} | "
                         f"{steps[0] if steps[0] == steps[-1] else f'{steps[0]} to {steps[-1]}'} | "
                         + " | ".join(spread_cell([r[k] for r in runs], digits, scale)
                                      for k, _, digits, scale in TABLE_MEASURES) + " |")
    return "\n".join(lines)


def race_plot(rows: list[dict], real: dict, fit_label: str, title: str, path: Path) -> Path:
    """Class IoU, distance and KID against minutes: each side's seeds as dots, their mean as a line, and the
    tutorial's last-mark mean as a dotted level to read the crossing off."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 4.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    panels = (("class_iou", 1, "class IoU of the judge (higher: more realistic)"),
              ("distance", 1, "distance to real photos (lower: more realistic)"),
              ("kid", 1000, "KID x1000 (lower: more realistic)"))
    for side, label in (("fit", fit_label), (TUTORIAL, "TensorFlow tutorial recipe")):
        grouped = by_minutes(rows, side)
        for ax, (key, scale, _) in zip(axes, panels):
            means = [scale * sum(r[key] for r in runs) / len(runs) for runs in grouped.values()]
            color = ax.plot(list(grouped), means, marker="o", label=label)[0].get_color()
            for minutes, runs in grouped.items():
                ax.scatter([minutes] * len(runs), [scale * r[key] for r in runs], s=12, color=color, alpha=0.5)
            if side == TUTORIAL and grouped:
                ax.axhline(means[-1], color=color, linestyle=":", linewidth=1)
    for ax, (key, scale, text) in zip(axes, panels):
        ax.axhline(scale * real[key], color="#2a9d8f", linestyle="--", label="real validation photos")
        ax.set_xlabel("wall-clock minutes of training")
        ax.set_ylabel(text)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return compact_png(path)


def score(args) -> int:
    from pix2pix_tf.realism.judge import load_judge

    judge = load_judge(args.judge)
    try:
        frontier = json.loads(args.frontier.read_text())
    except (OSError, ValueError) as err:
        raise SystemExit(f"--frontier {args.frontier}: cannot read the frontier's results ({err}); run "
                         "benchmarks/frontier.py first") from None
    if frontier.get("judge_identity") != judge.identity:
        raise SystemExit(f"--frontier {args.frontier}: scored by judge {frontier.get('judge_identity')}, not "
                         f"--judge {args.judge} ({judge.identity}); score both sides with one judge")
    fit = fit_rows(frontier, args.fit_candidate)
    if not fit:
        raise SystemExit(f"--fit-candidate {args.fit_candidate}: no such runs in {args.frontier}")
    rows = fit + tutorial_rows(args, judge)
    real = next(r for r in frontier["ladder"] if r["rung"] == "real")
    fit_label = "fit --minutes" + ("" if args.fit_candidate == "default" else f" ({args.fit_candidate})")
    verdicts = catch_up(rows)
    table = race_table(rows, real, fit_label)
    cpus = sorted({r["cpu"] for r in rows})
    title = (f"{args.data.name} BtoA at 256 px, {rows[0]['images']} validation pairs; one core each, "
             f"two processes side by side; {'; '.join(cpus)}")
    stem = "race" if args.fit_candidate == "default" else f"race-{args.fit_candidate}"  # the default's is the docs'
    plot = race_plot(rows, real, fit_label, title, (args.figures or args.runs_dir) / f"facades_{stem}.png")
    command = "python benchmarks/race.py " + " ".join(sys.argv[1:])
    text = (f"{table}\n\n" + "\n".join(f"- {v}" for v in verdicts)
            + f"\n\nCPU: {'; '.join(cpus)}. Judge {args.judge} at step {judge.step}, identity {judge.identity}. "
            f"fit's side: {args.frontier.name}'s `{args.fit_candidate}` runs (minutes: fit's --minutes budget, counted "
            "from the start of training, after Python and TensorFlow are imported); the tutorial's side: minutes "
            "after its process began.\n\ncommand: `" + command + "`\n")
    print(f"\n{text}plot: {plot}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.md").write_text(text)
    (args.results / f"{stem}.json").write_text(json.dumps(
        {"command": command, "split": SPLIT, "judge_step": judge.step, "judge_identity": judge.identity,
         "fit_candidate": args.fit_candidate, "real": {k: real[k] for k, *_ in TABLE_MEASURES},
         "rows": rows, "verdicts": verdicts}, indent=2, allow_nan=False) + "\n")
    return 0


def minutes(text: str) -> tuple:
    try:
        marks = sorted(float(m) for m in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of minutes") from None
    if not marks or marks[0] <= 0 or not all(math.isfinite(m) for m in marks):
        raise argparse.ArgumentTypeError(f"{text!r}: minutes must be positive")
    return tuple(int(m) if m.is_integer() else m for m in marks)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=(TUTORIAL,), help="train the tutorial's side of the race")
    parser.add_argument("--seed", type=int, default=0, help="with --side: the side's seed (default: 0)")
    parser.add_argument("--score", action="store_true", help="score the tutorial's saved generators and compare")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS,
                        help=f"where the tutorial's runs live (default: {DEFAULT_RUNS}, outside the repository)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"facades root (default: {DEFAULT_DATA})")
    parser.add_argument("--marks", type=minutes, default=MARKS,
                        help=f"minutes at which to save the generator (default: {','.join(map(str, MARKS))})")
    parser.add_argument("--judge", type=Path, default=DEFAULT_JUDGE,
                        help=f"with --score: the judge's run directory (default: {DEFAULT_JUDGE})")
    parser.add_argument("--frontier", type=Path, default=FRONTIER,
                        help=f"with --score: the frontier's results, fit's side (default: {FRONTIER})")
    parser.add_argument("--fit-candidate", default="default",
                        help="with --score: the frontier candidate that is fit's side (default: default)")
    parser.add_argument("--figures", type=Path, default=None,
                        help="folder for facades_race.png, facades_race-NAME.png for another --fit-candidate "
                             "(default: RUNS)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help=f"folder for race.md and race.json, race-NAME.* for another --fit-candidate "
                             f"(default: {DEFAULT_RESULTS})")
    args = parser.parse_args(argv)
    if bool(args.side) == args.score:
        parser.error("give one of --side tutorial or --score")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    return score(args) if args.score else run_side(args)


if __name__ == "__main__":
    sys.exit(main())
