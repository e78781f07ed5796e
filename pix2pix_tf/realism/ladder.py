"""The judge's sanity ladder: scores that must come out in a known order before the judge may rank runs.

Every judge scores, on its held-out split: the real photos; the same photos blurred with a Gaussian of
sigma 1, 2 and 4 pixels at the judge's own size; and the mean training photo, the same for every label
map. A judge fit to choose between generators ranks them real > sigma 2 > sigma 4 > mean on pixel
accuracy, class IoU and the distance (lower is better there), and loses at least ``MIN_BLUR_GAP`` class
IoU between real and sigma 2: otherwise it reads layouts, not realism, and a blurred generator that
paints the label layout would beat a photograph. Sigma 1 is shown but not ordered: it may tie with real.

The distance's own noise is measured on the same photos: each half (even and odd images) is scored
against the training reference, and the gap between the halves is printed beside the ladder's steps.
"""

from __future__ import annotations

import math

import tensorflow as tf

from pix2pix_tf.realism.frechet import FeatureStats, stats_distance
from pix2pix_tf.realism.judge import (
    DISTANCE,
    SCORE_LABELS,
    SCORES,
    Judge,
    RealismTally,
    photo_batches,
    real_photo_statistics,
    scores_from_confusion,
    split_pairs,
)

BLUR_SIGMAS = (1, 2, 4)
MIN_BLUR_GAP = 0.03
ORDERED = ("real", "blur2", "blur4", "mean")  # the rungs the criterion orders, best first
CRITERION_SCORES = ("pixel_acc", "class_iou", DISTANCE)
RUNG_LABELS = {"real": "real photos", "blur1": "real, blurred sigma 1", "blur2": "real, blurred sigma 2",
               "blur4": "real, blurred sigma 4", "mean": "mean training photo"}


def ladder(judge: Judge, data=None, split: str | None = None) -> dict:
    """Every rung's scores and distance on the judge's held-out split, the distance noise, and the criteria."""
    from pix2pix_tf.train.rundir import data_root, validation_split

    root = data or data_root(judge.config)
    split = split or validation_split(judge.config, root)
    reference, mean_photo, photos = real_photo_statistics(judge, root)
    judge.set_reference(reference)
    pairs = split_pairs(judge, split, root)
    tallies = {"real": RealismTally(judge), **{f"blur{s}": RealismTally(judge, s) for s in BLUR_SIGMAS},
               "mean": RealismTally(judge)}
    halves = [None, None]
    index = 0
    for images, label_maps in photo_batches(judge, pairs):
        for name, tally in tallies.items():
            shown = tf.broadcast_to(tf.constant(mean_photo), tf.shape(images)) if name == "mean" else images
            tally.add(shown, label_maps)
        for row in judge.graph(images, label_maps)[1].numpy():
            half = index % 2
            halves[half] = halves[half] or FeatureStats.empty(row.shape[-1])
            halves[half].add(row)
            index += 1
    rungs = [{"rung": name, "label": RUNG_LABELS[name], **_scores(tally)} for name, tally in tallies.items()]
    half_distances = [stats_distance(h, reference) for h in halves]
    result = {"data": str(root), "split": split, "images": len(pairs), "step": judge.step, "rungs": rungs,
              "distance_reference": f"{photos} real {judge.config.train_split} photos",
              "distance_halves": half_distances}
    result["criteria"] = criteria(rungs, half_distances)
    return result


def _scores(tally: RealismTally) -> dict:
    return {**{k: v for k, v in scores_from_confusion(tally.total).items() if k in (*SCORES, "per_class_iou")},
            DISTANCE: tally.distance()}


def rung(rungs: list[dict], name: str) -> dict:
    return next(r for r in rungs if r["rung"] == name)


def criteria(rungs: list[dict], half_distances: list[float]) -> list[dict]:
    """Each criterion: its text, the numbers, and whether it holds."""
    checks = []
    for score in CRITERION_SCORES:
        values = [rung(rungs, name)[score] for name in ORDERED]
        better = [a < b for a, b in zip(values, values[1:])] if score == DISTANCE \
            else [a > b for a, b in zip(values, values[1:])]
        arrow = " < " if score == DISTANCE else " > "
        checks.append({"text": f"{SCORE_LABELS[score]}: " + arrow.join(ORDERED), "values": values,
                       "passed": all(better)})
    gap = rung(rungs, "real")["class_iou"] - rung(rungs, "blur2")["class_iou"]
    checks.append({"text": f"class IoU: real - blur2 >= {MIN_BLUR_GAP}", "values": [gap],
                   "passed": gap >= MIN_BLUR_GAP})
    noise = abs(half_distances[0] - half_distances[1])
    step = rung(rungs, "blur2")[DISTANCE] - rung(rungs, "real")[DISTANCE]
    checks.append({"text": "distance: the two halves of the real photos differ less than real and blur2",
                   "values": [noise, step], "passed": noise < step})
    return checks


def passed(result: dict) -> bool:
    return all(c["passed"] for c in result["criteria"])


def format_ladder(rungs: list[dict], extra: list[dict] = ()) -> str:
    """The ladder as a table, best to worst; ``extra`` rows (a run's scores) are placed by class IoU."""
    rows = sorted([*rungs, *extra], key=lambda r: -r["class_iou"])
    lines = [f"  {'':<28}{'pixel acc':>10}{'class acc':>10}{'class IoU':>10}{'distance':>10}"]
    for r in rows:
        distance = r.get(DISTANCE)
        shown = f"{distance:>10.1f}" if distance is not None and math.isfinite(distance) else f"{'–':>10}"
        lines.append(f"  {r['label']:<28}{r['pixel_acc']:>10.3f}{r['class_acc']:>10.3f}{r['class_iou']:>10.3f}"
                     f"{shown}")
    return "\n".join(lines)


def format_criteria(result: dict) -> str:
    lines = []
    for c in result["criteria"]:
        values = ", ".join(f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" for v in c["values"])
        lines.append(f"  {'ok  ' if c['passed'] else 'FAIL'} {c['text']} ({values})")
    return "\n".join(lines)
