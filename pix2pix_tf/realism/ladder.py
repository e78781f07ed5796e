"""The judge's sanity ladder: scores that must come out in a known order before the judge may rank runs,
and a map of which degradation each measure sees.

Every rung is made from the real photos of the split the runs are scored on, at the size ``evaluate``
receives them (the data's native size: 256 px for facades), before the judge resizes anything: the
photos themselves; the same blurred with a Gaussian of sigma 0.5, 1, 2, 4 and 8 pixels; the same with a
faint period-2 checkerboard added (+-4 grey levels); and the mean training photo, the same for every
label map. A judge that sees its images smaller than that (facades: 144 px) cannot see sigma 0.5 or 1 or
the checkerboard: those rungs are shown and labelled so, and the full-resolution detail and checkerboard
measures (``pix2pix_tf.realism.spectrum``), computed on every rung, are the ones that see them.

A judge fit to choose between generators ranks real > sigma 4 > sigma 8 > mean on pixel accuracy,
class IoU and the distance (lower is better there), and loses at least ``MIN_BLUR_GAP`` class IoU between
real and sigma 4 (the judge's own sigma 2): otherwise it reads layouts, not realism, and a blurred
generator that paints the label layout would beat a photograph.

The distance's own noise is measured on the same photos, at the number of images every distance is
computed at (``realism.scored_images``): the spread of the real photos' disjoint blocks, printed beside
the step from real to sigma 4.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from pix2pix_tf.realism.degrade import checkerboard, gaussian_blur
from pix2pix_tf.realism.judge import (
    DISTANCE,
    KID,
    LADDERS_FILE,
    SCORE_LABELS,
    SCORES,
    Judge,
    RealismTally,
    read_json,
    real_photo_statistics,
)
from pix2pix_tf.realism.spectrum import SpectrumTally

BLUR_SIGMAS = (0.5, 1, 2, 4, 8)  # pixels of the images as evaluate receives them
MIN_BLUR_GAP = 0.03
ORDERED = ("real", "blur4", "blur8", "mean")  # the rungs the criterion orders, best first
CRITERION_SCORES = ("pixel_acc", "class_iou", DISTANCE)
FINE = ("blur0.5", "blur1", "checker2")  # below the resolution of a judge that sees the images smaller
RUNG_LABELS = {"real": "real photos", **{f"blur{s:g}": f"real, blurred sigma {s:g}" for s in BLUR_SIGMAS},
               "checker2": "real + period-2 checkerboard", "mean": "mean training photo"}


def rung_images(name: str, images: tf.Tensor, mean_photo: np.ndarray) -> tf.Tensor:
    """The real photos ``images`` ([-1, 1], native size) as rung ``name`` shows them."""
    if name == "mean":
        return tf.broadcast_to(tf.constant(mean_photo), tf.shape(images))
    if name.startswith("blur"):
        return gaussian_blur(images, float(name[4:]))
    if name == "checker2":
        return tf.clip_by_value(images + checkerboard(*images.shape[1:3]), -1.0, 1.0)
    return images


def rung_label(name: str, judge: Judge, native_hw: tuple[int, int]) -> str:
    """The rung's label; a rung finer than the judge's view of the images says so."""
    if name in FINE and judge.input_hw[0] < native_hw[0]:
        return f"{RUNG_LABELS[name]} (finer than the judge's {judge.input_hw[0]} px)"
    return RUNG_LABELS[name]


def ladder(judge: Judge, data=None, split: str | None = None) -> dict:
    """Every rung's scores, distances and spectrum gaps on ``split`` (default: the judge's held-out split),
    the distance noise, and the criteria."""
    from pix2pix_tf.train.rundir import data_root, validation_split

    root = data or data_root(judge.config)
    split = split or validation_split(judge.config, root)
    reference, mean_photo, pooled = real_photo_statistics(judge, root)
    judge.set_reference(reference, pooled)
    pairs = judge.pairs(split, root)
    images = len(pairs)
    names = ("real", *(f"blur{s:g}" for s in BLUR_SIGMAS), "checker2", "mean")
    tallies = {name: (RealismTally(judge, images), SpectrumTally()) for name in names}
    native_hw = None
    for photos, label_maps in judge.batches(pairs):
        native_hw = tuple(photos.shape[1:3])
        for name, (realism, spectrum) in tallies.items():
            shown = rung_images(name, photos, mean_photo)
            realism.add(shown, label_maps)
            spectrum.add(shown.numpy(), photos.numpy())
    rungs = [{"rung": name, "label": rung_label(name, judge, native_hw), **_scores(*tally)}
             for name, tally in tallies.items()]
    result = {"data": str(root), "split": split, "images": images, "step": judge.step, "identity": judge.identity,
              "judge_input": "x".join(map(str, judge.input_hw)), "rungs": rungs,
              "scored_images": tallies["real"][0].per_block,
              "distance_reference": f"{len(pooled)} real {judge.config.train_split} photos"}
    result["criteria"] = criteria(rungs)
    return result


def ladder_on(judge: Judge, data, split: str) -> dict:
    """The ladder on ``split`` of ``data`` (the split a run is scored on), computed once per split and judge
    identity and kept in the judge's run directory."""
    import json
    from pathlib import Path

    from pix2pix_tf.core.atomic import write_text

    path = Path(judge.run_dir) / LADDERS_FILE
    stored = read_json(path) or {}
    if stored.get("identity") != judge.identity:
        stored = {"identity": judge.identity, "ladders": {}}
    key = f"{Path(data).resolve()}:{split}"
    if key not in stored["ladders"]:
        stored["ladders"][key] = ladder(judge, data, split)
        write_text(path, json.dumps(stored, indent=2) + "\n")
    return stored["ladders"][key]


def _scores(realism: RealismTally, spectrum: SpectrumTally) -> dict:
    scores = realism.scores()
    return {**{k: v for k, v in scores.items() if k in (*SCORES, "per_class_iou", DISTANCE, "distance_blocks", KID)},
            **spectrum.summary()}


def rung(rungs: list[dict], name: str) -> dict:
    return next(r for r in rungs if r["rung"] == name)


def criteria(rungs: list[dict]) -> list[dict]:
    """Each criterion: its text, the numbers, and whether it holds."""
    checks = []
    for score in CRITERION_SCORES:
        values = [rung(rungs, name)[score] for name in ORDERED]
        better = [a < b for a, b in zip(values, values[1:])] if score == DISTANCE \
            else [a > b for a, b in zip(values, values[1:])]
        arrow = " < " if score == DISTANCE else " > "
        checks.append({"text": f"{SCORE_LABELS[score]}: " + arrow.join(ORDERED), "values": values,
                       "passed": all(better)})
    gap = rung(rungs, "real")["class_iou"] - rung(rungs, "blur4")["class_iou"]
    checks.append({"text": f"class IoU: real - blur4 >= {MIN_BLUR_GAP}", "values": [gap],
                   "passed": gap >= MIN_BLUR_GAP})
    noise = distance_noise(rung(rungs, "real"))
    step = rung(rungs, "blur4")[DISTANCE] - rung(rungs, "real")[DISTANCE]
    checks.append({"text": "distance: disjoint blocks of the real photos differ less than real and blur4",
                   "values": [noise, step], "passed": noise < step})
    return checks


def distance_noise(real: dict) -> float:
    """The spread of the real photos' block distances (0 when there is one block: no noise measured)."""
    blocks = real.get("distance_blocks") or []
    return float(max(blocks) - min(blocks)) if blocks else 0.0


def passed(result: dict) -> bool:
    return all(c["passed"] for c in result["criteria"])


def _cell(value, digits: int, width: int, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return f"{'–':>{width}}"
    return f"{value:>+{width}.{digits}f}" if signed else f"{value:>{width}.{digits}f}"


def format_ladder(rungs: list[dict], extra: list[dict] = ()) -> str:
    """The ladder as a table, in rung order; ``extra`` rows (a run's scores) at the end. Columns: the
    judge's scores at its resolution, then the full-resolution detail and checkerboard gaps."""
    rows = [*rungs, *extra]
    width = max(len(r["label"]) for r in rows) + 2
    lines = [f"  {'':<{width}}{'pixel acc':>10}{'class IoU':>10}{'distance':>10}{'KID x1000':>10}{'detail':>8}"
             f"{'checker':>8}"]
    for r in rows:
        kid = (r.get(KID) or {}).get("kid")
        lines.append(f"  {r['label']:<{width}}{_cell(r['pixel_acc'], 3, 10)}{_cell(r['class_iou'], 3, 10)}"
                     f"{_cell(r.get(DISTANCE), 1, 10)}{_cell(None if kid is None else 1000 * kid, 2, 10)}"
                     f"{_cell((r.get('detail') or {}).get('gap'), 2, 8, True)}"
                     f"{_cell((r.get('checkerboard') or {}).get('gap'), 2, 8)}")
    return "\n".join(lines)


def format_criteria(result: dict) -> str:
    lines = []
    for c in result["criteria"]:
        values = ", ".join(f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" for v in c["values"])
        lines.append(f"  {'ok  ' if c['passed'] else 'FAIL'} {c['text']} ({values})")
    return "\n".join(lines)
