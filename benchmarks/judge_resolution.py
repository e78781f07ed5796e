"""Should the realism judge see the images at their native size? Two judges, alike but for resolution.

    taskset -c 0 python benchmarks/judge_resolution.py --size 256 [--steps 300]
    taskset -c 1 python benchmarks/judge_resolution.py --size 128 [--steps 300]
    python benchmarks/judge_resolution.py --table [--judge ../bench/judge]

Each call without ``--table`` trains one judge (``python -m pix2pix_tf.judge``, the house recipe: width
32, batch 8, Adam 1e-3, half the steps constant then linear decay) on facades photos -> label maps with
training crops of --size px, for --steps steps: the same number of photos for both sizes, so they differ
only in the resolution they learn and see (256 px: the data's native size, 4x the pixels and about 4x
the time a step). The judge prints its ladder on the 50 held-out validation pairs.

``--table`` puts the ladders side by side (and ``--judge``'s, the judge every benchmark scores with, as
it was trained: 128 px, 1,500 steps): what each judge gives the real photos, and how far the rungs only
a full-resolution view can see (real photos blurred by sigma 0.5 and 1 px at 256 px, a period-2
checkerboard) and the first rung any judge sees (sigma 2) move each measure away from the real photos,
against that measure's own noise: for the distance the spread of the real photos' two disjoint blocks,
for KID its bootstrap interval; class IoU has no noise figure of its own, so its step is shown as it is.
A rung is "seen" by a measure when its step exceeds that noise. Writes
``benchmarks/results/judge_resolution.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

DATA = REPO.parent / "shared" / "data" / "facades"
RUNS = REPO.parent / "bench" / "judge-resolution"
RESULTS = REPO / "benchmarks" / "results"
RUNGS = ("blur0.5", "blur1", "checker2", "blur2")


def judge_dir(runs: Path, size: int, steps: int) -> Path:
    return runs / f"judge-{size}px-{steps}steps"


def train(args) -> None:
    command = [sys.executable, "-m", "pix2pix_tf.judge", "--data", str(args.data), "--direction", "BtoA",
               "--palette", "facades", "--run-dir", str(judge_dir(args.runs_dir, args.size, args.steps)),
               "--image-size", str(args.size), "--steps", str(args.steps), "--save-every", "50",
               "--sample-every", str(args.steps)]
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=REPO)


def separation(ladder: dict) -> dict:
    """Per rung: each measure's step away from the real photos, its noise, and whether it is seen."""
    from pix2pix_tf.realism.ladder import distance_noise, rung

    real = rung(ladder["rungs"], "real")
    noise = distance_noise(real)
    rows = {}
    for name in RUNGS:
        other = rung(ladder["rungs"], name)
        kid_step = other["kid"]["kid"] - real["kid"]["kid"]
        rows[name] = {"label": other["label"],
                      "class_iou_step": real["class_iou"] - other["class_iou"],
                      "distance_step": other["distance"] - real["distance"], "distance_noise": noise,
                      "distance_sees": other["distance"] - real["distance"] > noise,
                      "kid_step": kid_step, "kid_sees": other["kid"]["kid"] > real["kid"]["high"]}
    return {"judge_input": ladder["judge_input"], "step": ladder["step"], "real_class_iou": real["class_iou"],
            "real_distance": real["distance"], "passed": all(c["passed"] for c in ladder["criteria"]),
            "rungs": rows}


def table(args) -> None:
    from pix2pix_tf.realism.judge import SCORES_FILE

    judges = {}
    for path in sorted(args.runs_dir.glob("judge-*px-*steps")):
        if (path / SCORES_FILE).is_file():
            judges[path.name] = path
    if args.judge is not None:
        judges[f"{args.judge.name} (the benchmarks' judge)"] = args.judge
    if not judges:
        raise SystemExit(f"no trained judge under {args.runs_dir}: train one first (--size N)")
    results = {}
    for name, path in judges.items():
        config = json.loads((path / "config.json").read_text())["config"]
        ladder = json.loads((path / SCORES_FILE).read_text())
        results[name] = {"image_size": config["image_size"], "steps": config["steps"],
                         "batch_size": config["batch_size"], **separation(ladder)}
    lines = ["| judge | crops px | steps | sees the images at | real class IoU | ladder | "
             + " | ".join(f"{r}: class IoU step / distance step (noise) / KID x1000 step" for r in RUNGS) + " |",
             "| --- | ---: | ---: | --- | ---: | --- |" + " --- |" * len(RUNGS)]
    for name, r in results.items():
        cells = []
        for rung_name in RUNGS:
            s = r["rungs"][rung_name]
            cells.append(f"{s['class_iou_step']:+.3f} / {s['distance_step']:+.2f} ({s['distance_noise']:.2f})"
                         f"{' seen' if s['distance_sees'] else ''} / {1000 * s['kid_step']:+.1f}"
                         f"{' seen' if s['kid_sees'] else ''}")
        verdict = "passes" if r["passed"] else "fails"
        lines.append(f"| {name} | {r['image_size']} | {r['steps']} | {r['judge_input']} px | "
                     f"{r['real_class_iou']:.3f} | {verdict} | " + " | ".join(cells) + " |")
    from throughput import cpu_description

    note = (f"\n\nValidation pairs of {args.data} (50, held out of train/), each judge's own ladder "
            "(`python -m pix2pix_tf.judge` prints it). Steps are real minus rung for class IoU and rung minus "
            "real for the distance and KID, so a positive step means the judge marks the rung less real. "
            "'seen': the distance step exceeds the spread of the real photos' two disjoint blocks, or the "
            f"rung's KID lies above the real photos' 95% interval. CPU: {cpu_description()}.\n")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "judge_resolution.json").write_text(json.dumps(
        {"command": "python benchmarks/judge_resolution.py " + " ".join(sys.argv[1:]), "judges": results},
        indent=2) + "\n")
    (RESULTS / "judge_resolution.md").write_text("\n".join(lines) + note)
    print("\n".join(lines) + note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, help="train one judge on crops of this many px")
    parser.add_argument("--steps", type=int, default=300, help="its training steps (batch 8)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--runs-dir", type=Path, default=RUNS)
    parser.add_argument("--table", action="store_true", help="compare the trained judges' ladders")
    parser.add_argument("--judge", type=Path, default=None, help="with --table: also this judge run")
    args = parser.parse_args()
    if args.table:
        return table(args)
    if args.size is None:
        parser.error("--size or --table")
    train(args)


if __name__ == "__main__":
    main()
