"""Realism per minute on facades: the candidates of issue 26 trained for the same wall-clock minutes,
scored on the validation pairs.

Each candidate is a set of flags over `fit`'s defaults, trained (by default) labels -> photo (BtoA) at
256x256 as an ordinary run directory under --runs-dir for `fit --minutes M` (``--steps N`` instead gives every run a
fixed step count). Run them one per core, at most two at a time:

    taskset -c 0 python benchmarks/frontier.py --only default & taskset -c 1 python benchmarks/frontier.py --only w64
    wait
    python benchmarks/frontier.py --no-train --figures docs

Scoring takes each run's final generator on the validation split (``evaluate --split val``: the pairs
held out of train/, which neither the runs nor the judge train on) with the realism judge and every
measure `evaluate` offers (class IoU, Fréchet distance, KID with its bootstrap interval, the detail and
checkerboard gaps to the real photos, blotches), beside the real photos' own row; and records for each
run the CPU, the cores it was pinned to, the steps it reached, its seconds and seconds per step, its
step's GFLOP (``throughput.py``'s analytic count), the generator's parameters, and the int8-weights file
size and browser time of its architecture from web_latency.json. A run trained with --ema is scored on
its moving average and again on its raw weights (candidate "ema:raw"). Scores are kept in each run's
eval/ folder keyed on the judge's identity, so a retrained judge or changed measures score everything
again. Writes frontier.json and frontier.md to --results (first a line per candidate and budget with
the verdict against the default, then every run) and facades_frontier.png (class IoU, detail gap and KID
against minutes) to --figures. ``--split test`` scores the same runs on test/ for the final tables
(frontier_test.*; decisions stay with the validation pairs).

A difference is a decision only beyond the spread of three seeds a side (``seed_verdict``); with fewer
seeds every figure is a screen on a shared machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from facades import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_RESULTS,
    EVAL_BATCH,
    compact_png,
    fmt,
    kid_cell,
    realism_columns,
    record_sitting,
    seconds_per_step,
    stored_score,
)

DEFAULT_RUNS = REPO.parent / "bench" / "frontier"  # outside the repository: runs are never committed
DEFAULT_JUDGE = REPO.parent / "bench" / "judge"
SPLITS = {  # --split: the pairs' name, where they come from, and the stem of the results files and the figure
    "val": ("validation", "held out of train/ (never trained on by the runs or the judge)", "frontier"),
    "test": ("test", "of test/, kept for the final tables (no default is decided on them)", "frontier_test"),
}
PAPER_WIDTH = {"ngf": 64, "ndf": 64}  # fit's default until this screen chose 32 (2026-12-05)
CANDIDATES = {  # name: flags over fit's defaults (the table labels them by these flags)
    "default": {},
    "w64": PAPER_WIDTH,
    "w48": {"ngf": 48, "ndf": 48},
    "ema": {"ema": 0.999},
    "ema-w64": {**PAPER_WIDTH, "ema": 0.999},
    "transpose-w64": {**PAPER_WIDTH, "upsample": "transpose"},
    "subpixel-w64": {**PAPER_WIDTH, "upsample": "subpixel"},
    "num-d2-w64": {**PAPER_WIDTH, "num_d": 2, "lambda_fm": 10.0},
    "l1": {"lambda_gan": 0.0},
    "b4": {"batch_size": 4, "lr": 0.0004, "norm": "instance"},
    "xla": {"xla": "on"},
    "transpose": {"upsample": "transpose"},
    "recompute": {"d_forward": "recompute"},
    "shared-init": {},
}
# Candidates no flag of this checkout trains: fit's default as the code before a change that is not a flag
# trained it, kept as that change's before (its runs renamed from default-*); ``--only`` refuses them.
EARLIER = {"shared-init": "fit's default before each layer drew its own initial kernel"}
RAW = ":raw"  # a run with --ema also scored on its raw weights: candidate "ema:raw", the same run's other half
WEB_LATENCY = DEFAULT_RESULTS / "web_latency.json"  # web_latency.py --results: browser ms per generator
WEB_VARIANT = "dynamic"  # the int8-weights file `export --web` picks
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#000000", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5")
MIN_SEEDS = 3  # a difference is called real only between candidates with this many seeds or more
COMMAND_FILE = "frontier_command.txt"  # how the run was trained, for the results' notes
RUN_NAME = re.compile(rf"({'|'.join(map(re.escape, CANDIDATES))})-(\d+(?:\.\d+)?min|\d+steps)-seed(\d+)")


def candidate_label(name: str) -> str:
    from pix2pix_tf.core.config import flag_name

    base = name.removesuffix(RAW)
    if base in EARLIER:
        return EARLIER[base]
    flags = " ".join(f"{flag_name(k)} {v:g}" if isinstance(v, float) else f"{flag_name(k)} {v}"
                     for k, v in CANDIDATES[base].items()) or "fit's default"
    return f"{flags}, its raw weights" if name.endswith(RAW) else flags


def candidate_order(name: str) -> int:
    """Where a candidate's lines go: in CANDIDATES' order, a run's raw weights right after its average."""
    return 2 * list(CANDIDATES).index(name.removesuffix(RAW)) + name.endswith(RAW)


def unavailable(name: str) -> str | None:
    """Why this checkout's `fit` cannot train the candidate (a flag or a value not landed yet), else None."""
    from pix2pix_tf.core.config import Config, flag_name, validate
    from pix2pix_tf.core.errors import UserError

    if name in EARLIER:
        return f"{EARLIER[name]}: only that earlier code trains it"
    fields = {f.name for f in dataclasses.fields(Config)}
    missing = [flag_name(k) for k in CANDIDATES[name] if k not in fields]
    if missing:
        return f"fit has no {', '.join(missing)} in this checkout"
    try:
        validate(CANDIDATES[name])
    except UserError as err:
        return f"fit refuses it in this checkout: {err}"
    return None


def budget_name(args) -> str:
    return f"{args.steps}steps" if args.steps else f"{args.minutes:g}min"


def run_dir(args, name: str) -> Path:
    return args.runs_dir / f"{name}-{budget_name(args)}-seed{args.seed}"


def train_candidate(args, name: str) -> None:
    """Train, resume, or find finished one candidate's run (fit's own resume and budget do the work)."""
    from pix2pix_tf.train.training import train

    why = unavailable(name)
    if why:
        raise SystemExit(f"--only {name}: {why}")
    length = {"steps": args.steps} if args.steps else {"minutes": args.minutes}
    flags = {"data": str(args.data), "direction": args.direction, "image_size": args.image_size, "seed": args.seed,
             **length, "save_every": args.save_every, "keep_checkpoints": 1, "log_every": 100,
             "val_images": args.val_images, **CANDIDATES[name]}
    directory = run_dir(args, name)
    print(f"\n== {name} ({candidate_label(name)}): {directory}", flush=True)
    summary = train(directory, flags, verbose=2)
    print(f"{name}: steps {summary.start_step} -> {summary.end_step} in {summary.seconds:.0f} s", flush=True)
    record_sitting(summary)
    (directory / COMMAND_FILE).write_text(" ".join([Path(sys.executable).name, *sys.argv]) + "\n")


def not_as_named(name: str, directory: Path) -> str | None:
    """How the run in ``directory`` differs from its candidate's flags over fit's defaults in any field a
    candidate sets (a renamed folder, or a candidate left behind when a default changed), else None."""
    from pix2pix_tf.core.config import Config, flag_name, load_config

    config, defaults, flags = load_config(directory), Config(), CANDIDATES[name]
    wrong = [f"{flag_name(k)} {getattr(config, k)} where {name} means {flags.get(k, getattr(defaults, k))}"
             for k in sorted({k for c in CANDIDATES.values() for k in c})
             if getattr(config, k) != flags.get(k, getattr(defaults, k))]
    return f"{directory} was trained with {', '.join(wrong)}" if wrong else None


def candidate_runs(args) -> list[tuple[str, Path, int]]:
    """(candidate, run directory, seed) of every run under --runs-dir, in the candidates' order; a run whose
    config is not its candidate's is refused, so no table labels a run by flags it was not trained with."""
    found = []
    for path in sorted(args.runs_dir.iterdir()) if args.runs_dir.is_dir() else []:
        match = RUN_NAME.fullmatch(path.name)
        if match and any(path.match(pattern) for pattern in args.runs.split(",")) and (path / "config.json").is_file():
            wrong = not_as_named(match[1], path)
            if wrong:
                raise SystemExit(f"error: {wrong}; rename or remove the folder")
            found.append((match[1], path, int(match[3])))
    return sorted(found, key=lambda f: (candidate_order(f[0]), f[1].name))


def last_checkpoint_step(directory: Path) -> int | None:
    """The step of the run's last checkpoint; None before its first (a run still training, or stopped early)."""
    from pix2pix_tf.core.errors import UserError
    from pix2pix_tf.train.rundir import RunDir, checkpoint_step, kept_checkpoints

    try:
        return checkpoint_step(kept_checkpoints(RunDir(directory))[-1])
    except UserError:
        return None


def final_score(directory: Path, step: int, judge_path: Path, split: str, raw: bool = False):
    """The run's generator at ``step`` on ``split`` (``raw``: its raw weights, not its moving average), read
    back if this judge already scored it."""
    from pix2pix_tf import evaluate as ev

    return stored_score(directory, step, "deterministic", judge_path, split, raw) or ev.evaluate_run(
        directory, step, split=split, batch_size=EVAL_BATCH, page=False, judge=judge_path,
        weights="raw" if raw else None)


def model_size(directory: Path) -> dict:
    """The step's analytic FLOPs (``throughput.step_flops``) and the networks' weights, from the run's config."""
    from throughput import step_flops

    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.train.builders import build_model

    config = load_config(directory)
    model = build_model(config)
    params = model.generator.count_params()
    return {"gflop_per_step": step_flops(model, config.crop_hw, config.batch_size) / 1e9,
            "g_params": params, "d_params": model.discriminator.count_params()}


def browser_columns(config, latency: dict | None) -> dict:
    """The int8-weights file size and browser ms of the run's generator architecture, from web_latency.json."""
    from web_latency import generator_key

    key = generator_key(config)
    found = [r for r in (latency or {}).get("rows", []) if r["generator"] == key and r["variant"] == WEB_VARIANT]
    return {"browser_ms": found[0]["ms"], "int8_file_mb": found[0]["file_mb"]} if found else {}


def run_row(name: str, directory: Path, seed: int, step: int, judge_path: Path, split: str,
            latency: dict | None) -> dict:
    from pix2pix_tf.core.config import load_config

    summary = final_score(directory, step, judge_path, split, raw=name.endswith(RAW))
    timing = seconds_per_step(directory)
    config = load_config(directory)
    budget = getattr(config, "minutes", None)  # None for a fixed step count
    command = directory / COMMAND_FILE
    return {"candidate": name, "flags": candidate_label(name), "run": str(directory), "seed": seed,
            "minutes": budget if budget is not None else (timing["seconds"] or 0) / 60,
            "budget": f"{budget:g} min" if budget is not None else "steps", "steps": summary.step,
            "batch_size": config.batch_size,
            "precision": config.precision, "images": summary.images,
            **realism_columns(summary.realism, summary.spectrum),
            "blotches": summary.artefacts["blotches"]["run"], **timing, **model_size(directory),
            **browser_columns(config, latency),
            "judge_identity": summary.realism["judge_identity"],
            "command": command.read_text().strip() if command.is_file() else None}


def screen_label(rows: list[dict]) -> str:
    """What every figure of this screen is: how many seeds, on which machine (lscpu's model name), and that
    it is noisy."""
    from pix2pix_tf.train.autoprecision import cpu_model

    per_candidate = {c: len({r["seed"] for r in rows if r["candidate"] == c}) for c in {r["candidate"] for r in rows}}
    fewest, most = min(per_candidate.values(), default=1), max(per_candidate.values(), default=1)
    seeds_text = ("one seed" if most == 1 else f"{most} seeds" if fewest == most
                  else f"{fewest} to {most} seeds a candidate")
    return f"screen, {seeds_text}, shared {os.cpu_count()}-core {cpu_model()}, noisy"


TABLE = (  # column header, cell of a row ("–" where a row has no such value: the real photos' row)
    ("minutes", lambda r: fmt(r.get("minutes", math.nan), 1)),
    ("seed", lambda r: str(r.get("seed", "–"))),
    ("steps", lambda r: str(r.get("steps", "–"))),
    ("batch", lambda r: str(r.get("batch_size", "–"))),
    ("class IoU ↑", lambda r: fmt(r["class_iou"], 3)),
    ("distance ↓", lambda r: fmt(r["distance"], 1)),
    ("KID x1000 [95% interval] ↓", kid_cell),
    ("detail gap → 0", lambda r: fmt(r["detail"], 2)),
    ("checkerboard gap ↓", lambda r: fmt(r["checkerboard"], 2)),
    ("s/step", lambda r: fmt(r.get("seconds_per_step", math.nan), 2)),
    ("GFLOP/step", lambda r: fmt(r.get("gflop_per_step", math.nan), 1)),
    ("G params (M)", lambda r: fmt(r.get("g_params", math.nan) / 1e6, 1)),
    ("int8 file MB", lambda r: fmt(r.get("int8_file_mb", math.nan), 1)),
    ("browser ms", lambda r: fmt(r.get("browser_ms", math.nan), 0)),
)
MEASURES = ("class_iou", "distance", "kid", "kid_low", "kid_high", "detail", "checkerboard")
COMPARED = (  # measure, its name, digits, scale, goodness (larger is more realistic)
    ("class_iou", "class IoU", 3, 1, lambda v: v),
    ("distance", "distance", 1, 1, lambda v: -v),
    ("kid", "KID", 1, 1000, lambda v: -v),
    ("detail", "detail gap", 2, 1, lambda v: -abs(v)),
    ("checkerboard", "checkerboard gap", 2, 1, lambda v: -v),
)


def seed_verdict(candidate: list[float], baseline: list[float], goodness) -> str | None:
    """'better' or 'worse' when every seed of the candidate lies beyond every seed of the baseline, 'tie' when
    their ranges overlap; None when either has fewer than MIN_SEEDS seeds (a screen, not a decision)."""
    if min(len(candidate), len(baseline)) < MIN_SEEDS:
        return None
    ours, theirs = [goodness(v) for v in candidate], [goodness(v) for v in baseline]
    if min(ours) > max(theirs):
        return "better"
    if max(ours) < min(theirs):
        return "worse"
    return "tie"


def groups(rows: list[dict]) -> dict[tuple[str, float], list[dict]]:
    """The runs of each candidate at each budget (its seeds), in the rows' order."""
    grouped: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        grouped.setdefault((r["candidate"], round(r["minutes"], 1)), []).append(r)
    return grouped


def against_default(runs: list[dict], default: list[dict]) -> str:
    """Which measures the candidate wins and loses beyond the seeds' spread, at the default's budget."""
    if runs is default:
        return "–"
    if not default:
        return "no default run at these minutes"
    verdicts = {name: seed_verdict([r[k] for r in runs], [r[k] for r in default], good)
                for k, name, _, _, good in COMPARED}
    if None in verdicts.values():
        return f"screen: {min(len(runs), len(default))} seed(s), {MIN_SEEDS} needed"
    better = [n for n, v in verdicts.items() if v == "better"]
    worse = [n for n, v in verdicts.items() if v == "worse"]
    if not better and not worse:
        return "within the spread on every measure"
    return "; ".join(part for part in (f"better on {', '.join(better)}" if better else "",
                                       f"worse on {', '.join(worse)}" if worse else "") if part)


def spread_cell(values: list[float], digits: int, scale: float) -> str:
    """One seed's value, or the seeds' mean with their range."""
    values = [scale * v for v in values]
    if len(values) == 1:
        return fmt(values[0], digits)
    return f"{fmt(sum(values) / len(values), digits)} ({fmt(min(values), digits)} to {fmt(max(values), digits)})"


def summary_table(rows: list[dict]) -> str:
    """One line per candidate and budget: the seeds' mean and range of each measure, the cost, and the
    verdict against the default at the same minutes (beyond the spread of MIN_SEEDS seeds, or a screen)."""
    grouped = groups(rows)
    measures = [f"{name}{' x1000' if scale == 1000 else ''}: mean (range)" for _, name, _, scale, _ in COMPARED]
    header = ["candidate", "minutes", "seeds", "steps", *measures,
              "GFLOP/step", "int8 file MB", "browser ms", "against the default"]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 2) + " --- |"]
    for (_, minutes), runs in sorted(grouped.items(), key=lambda g: (g[0][1], candidate_order(g[0][0]))):
        steps = sorted(r["steps"] for r in runs)
        cells = [runs[0]["flags"], fmt(minutes, 1), str(len(runs)),
                 str(steps[0]) if steps[0] == steps[-1] else f"{steps[0]} to {steps[-1]}",
                 *[spread_cell([r[k] for r in runs], digits, scale) for k, _, digits, scale, _ in COMPARED],
                 fmt(runs[0].get("gflop_per_step", math.nan), 1), fmt(runs[0].get("int8_file_mb", math.nan), 1),
                 fmt(runs[0].get("browser_ms", math.nan), 0),
                 against_default(runs, grouped.get(("default", minutes), []))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def frontier_table(rows: list[dict], real: dict, pairs: str = "validation") -> str:
    """The real photos' line, then one line per run."""
    lines = ["| candidate | " + " | ".join(header for header, _ in TABLE) + " |", "| --- |" + " ---: |" * len(TABLE)]
    for r in [{"flags": f"real {pairs} photos", **{k: real[k] for k in MEASURES}}, *rows]:
        lines.append(f"| {r['flags']} | " + " | ".join(cell(r) for _, cell in TABLE) + " |")
    return "\n".join(lines)


def frontier_plot(rows: list[dict], real: dict, title: str, path: Path, pairs: str = "validation") -> Path:
    """Class IoU, detail gap and KID against training minutes, one series per candidate: each budget's seeds
    as dots, their mean joined by a line (one seed's KID with its 95% interval)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(14, 4.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    panels = (("class_iou", 1, "class IoU of the judge (higher: more realistic)"),
              ("detail", 1, "detail gap at 256 px (0: as detailed as the photos)"),
              ("kid", 1000, "KID x1000 (lower: more realistic)"))
    grouped = groups(rows)
    names = list(dict.fromkeys(r["candidate"] for r in rows))
    for index, name in enumerate(names):
        budgets = sorted(m for c, m in grouped if c == name)
        dodge = 1 + 0.02 * (index - (len(names) - 1) / 2)  # side by side at equal minutes, not on top
        color = PALETTE[index % len(PALETTE)]  # one colour a candidate: more series than Matplotlib's 10-colour cycle
        for ax, (score, scale, _) in zip(axes, panels):
            means = [scale * sum(r[score] for r in grouped[name, m]) / len(grouped[name, m]) for m in budgets]
            ax.plot([dodge * m for m in budgets], means, marker="o", color=color,
                    label=grouped[name, budgets[0]][0]["flags"] if ax is axes[0] else None)
            for m in budgets:
                runs = grouped[name, m]
                ax.scatter([dodge * m] * len(runs), [scale * r[score] for r in runs], s=12, color=color, alpha=0.5)
                if score == "kid" and len(runs) == 1:
                    r = runs[0]
                    ax.errorbar([dodge * m], [1000 * r["kid"]], yerr=[[1000 * (r["kid"] - r["kid_low"])],
                                                             [1000 * (r["kid_high"] - r["kid"])]],
                                color=color, capsize=3, alpha=0.5)
    for ax, (score, scale, text) in zip(axes, panels):
        ax.axhline(scale * real[score], color="#2a9d8f", linestyle="--", label=f"real {pairs} photos")
        ax.set_xlabel("training minutes (fit --minutes)")
        ax.margins(x=0.2)
        ax.set_ylabel(text)
    axes[0].legend(fontsize=7)
    fig.suptitle(title + "; dots: seeds, line: their mean; candidates drawn side by side at equal minutes", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return compact_png(path)


def not_run(runs: list[tuple[str, Path, int]], rows: list[dict]) -> list[str]:
    """Each candidate without a scored run: its runs without a checkpoint, or why it has none."""
    lines = []
    for name in CANDIDATES:
        if any(r["candidate"] == name for r in rows):
            continue
        started = [directory.name for candidate, directory, _ in runs if candidate == name]
        why = [f"{run} has no checkpoint yet (still training, or stopped before its first)" for run in started]
        lines += [f"{candidate_label(name)}: {reason}"
                  for reason in why or [f"not run ({unavailable(name) or 'not trained'})"]]
    return lines


def score(args, argv) -> int:
    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.realism.judge import load_judge
    from pix2pix_tf.realism.ladder import ladder_on

    began = time.monotonic()
    judge = load_judge(args.judge)
    pairs, source, stem = SPLITS[args.split]
    rungs = [{**r, **realism_columns(r, r)} for r in ladder_on(judge, args.data, args.split)["rungs"]]
    real = next(r for r in rungs if r["rung"] == "real")
    rows, runs = [], candidate_runs(args)
    latency = json.loads(WEB_LATENCY.read_text()) if WEB_LATENCY.is_file() else None
    for name, directory, seed in runs:
        step = last_checkpoint_step(directory)
        if step is None:
            continue
        rows.append(run_row(name, directory, seed, step, args.judge, args.split, latency))
        if load_config(directory).ema:  # the same run's raw weights: EMA against raw with the seed's noise out
            rows.append(run_row(name + RAW, directory, seed, step, args.judge, args.split, latency))
        print(f"{name} seed {seed}: step {rows[-1]['steps']}, class IoU {rows[-1]['class_iou']:.3f}, "
              f"KID x1000 {kid_cell(rows[-1])}", flush=True)
    from throughput import cpu_description

    cpu = cpu_description()
    label = screen_label(rows)
    skipped = not_run(runs, rows)
    table = summary_table(rows) + "\n\nEvery run:\n\n" + frontier_table(rows, real, pairs)
    title = f"{args.data.name} {args.direction} at {args.image_size} px, {pairs} pairs; {label}"
    plot = frontier_plot(rows, real, title, (args.figures or args.runs_dir) / f"facades_{stem}.png", pairs)
    command = "python benchmarks/frontier.py " + " ".join(sys.argv[1:] if argv is None else argv)
    notes = (f"{label}. {args.data} {args.direction}, {args.image_size} px, each candidate at its own batch size "
             f"(a step is a batch); each run's final generator, "
             f"deterministic inference, on the {rows[0]['images'] if rows else '?'} {pairs} pairs {source}; "
             f"judge {args.judge} at step {judge.step}, identity {judge.identity}. "
             "Minutes: fit's --minutes budget (or a fixed step count's loop time). s/step: the "
             "training loop's seconds (validation, samples and checkpoints included) over its steps. GFLOP/step: "
             "throughput.py's analytic count. Against the default: a measure is better or worse only when every seed "
             f"of the candidate lies beyond every seed of the default at the same minutes, {MIN_SEEDS} seeds or "
             "more each. Int8 file and browser ms: the int8-weights TFLite file of the same generator architecture "
             f"and its median time per 256x256 image in headless Chromium (WebAssembly), from {WEB_LATENCY.name} "
             + (f"({latency['cpu']}, load average {latency['load_average'][0]:.1f})" if latency else "(not measured)")
             + ".")
    commands = "".join(f"- `{r['command']}` ({r['flags']}: {r['precision']}, cores {r['cores']})\n" for r in rows)
    text = (f"{table}\n\n" + "".join(f"- {line}\n" for line in skipped) + f"\n{notes}\n\nCPU: {cpu}\n\n"
            f"Training commands:\n\n{commands}\nScored with: `{command}`\n")
    print(f"\n{text}plot: {plot}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{stem}.md").write_text(text)
    (args.results / f"{stem}.json").write_text(json.dumps(
        {"label": label, "cpu": cpu, "command": command, "split": args.split, "judge": str(args.judge),
         "judge_step": judge.step, "judge_identity": judge.identity, "ladder": rungs, "rows": rows, "not_run": skipped},
        indent=2, default=str, allow_nan=False) + "\n")
    print(f"scored in {time.monotonic() - began:.0f} s")
    return 0


def samples_figure(args) -> Path:
    """labels | each --samples candidate's output | photo, for the same test images (spread over test/):
    each candidate's seed-0 run at --samples-minutes, its final generator, deterministic inference."""
    from facades import side_by_side

    names = args.samples
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise SystemExit(f"--samples: {', '.join(unknown)} is not a candidate ({', '.join(CANDIDATES)})")
    runs = [args.runs_dir / f"{name}-{args.samples_minutes:g}min-seed0" for name in names]
    steps = [last_checkpoint_step(run) for run in runs]
    missing = [run.name for run, step in zip(runs, steps) if step is None]
    if missing:
        raise SystemExit(f"--samples: no checkpoint in {', '.join(missing)} under {args.runs_dir}")
    path = side_by_side(args.data, [(run, step, "deterministic") for run, step in zip(runs, steps)],
                        [f"{textwrap.fill(candidate_label(n), 26)}\n{step} steps" for n, step in zip(names, steps)],
                        args.sample_images, (args.figures or args.runs_dir) / args.samples_file,
                        f"fit --minutes {args.samples_minutes:g}, seed 0")
    print(f"samples: {path}")
    return path


def positive_minutes(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: minutes must be a positive number")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"facades root (default: {DEFAULT_DATA})")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS,
                        help=f"where the runs live (default: {DEFAULT_RUNS}, outside the repository)")
    parser.add_argument("--judge", type=Path, default=DEFAULT_JUDGE,
                        help=f"the facades judge's run directory (default: {DEFAULT_JUDGE})")
    parser.add_argument("--image-size", default="256", help="training size (default: 256, the paper's)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="BtoA",
                        help="which side the runs translate from (default: BtoA, facades' labels -> photo)")
    parser.add_argument("--minutes", type=positive_minutes, default=10.0,
                        help="each run's wall-clock budget, fit --minutes (default: 10)")
    parser.add_argument("--steps", type=int, default=None,
                        help="a fixed step count for every run instead of --minutes")
    parser.add_argument("--seed", type=int, default=0, help="the runs' seed (default: 0)")
    parser.add_argument("--save-every", type=int, default=1000, help="checkpoint every N steps (default: 1000)")
    parser.add_argument("--val-images", type=int, default=1,
                        help="fit's own validation pairs (default: 1; the screen scores every run afterwards, and "
                             "on a slow CPU validating 50 pairs at 256 px takes minutes of the budget)")
    parser.add_argument("--only", choices=tuple(CANDIDATES), default=None,
                        help="train this candidate only, then stop (one process per core)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="only score the runs there are")
    parser.add_argument("--split", choices=tuple(SPLITS), default="val",
                        help="the pairs the runs are scored on: val decides (default), test gives the final tables "
                             "(frontier_test.md and .json, facades_frontier_test.png)")
    parser.add_argument("--runs", default="*",
                        help="score only the run folders matching one of these comma-separated patterns, e.g. "
                             "'*-30min-*,transpose-15min-*' (default: all)")
    parser.add_argument("--figures", type=Path, default=None,
                        help="folder for facades_frontier.png (default: RUNS)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help=f"folder for frontier.md and frontier.json (default: {DEFAULT_RESULTS})")
    parser.add_argument("--samples", type=lambda text: text.split(","), default=None,
                        help="instead of scoring: draw these candidates' outputs (comma-separated) side by side on "
                             "the same test images, to --samples-file in --figures")
    parser.add_argument("--samples-file", default="facades_frontier_samples.png",
                        help="with --samples: the figure's file name (default: facades_frontier_samples.png)")
    parser.add_argument("--samples-minutes", type=positive_minutes, default=30.0,
                        help="with --samples: the budget of the runs drawn, seed 0 (default: 30)")
    parser.add_argument("--sample-images", type=int, default=4, help="with --samples: how many (default: 4)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.samples:
        samples_figure(args)
        return 0
    if args.train:
        for name in [args.only] if args.only else [n for n in CANDIDATES if not unavailable(n)]:
            train_candidate(args, name)
        if args.only:
            return 0
    return score(args, argv)


if __name__ == "__main__":
    sys.exit(main())
