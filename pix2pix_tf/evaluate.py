"""python -m pix2pix_tf.evaluate: score a trained run on a held-out split and write a results page.

Per image and on average: L1 on the [0, 1] scale, PSNR and SSIM (``tf.image``), computed by
``losses.image_metrics``, the same function ``fit`` validates with, at the run's training size. Over the
set: the full-resolution detail and checkerboard gaps to the real photos (``pix2pix_tf.realism.spectrum``), the
dark-blotch share (``pix2pix_tf.realism.artefacts``) and, with ``--judge``, the realism scores (class IoU, the
Fréchet distance and KID with its interval: ``pix2pix_tf.realism.judge``) beside the judge's ladder on the
same split.
Writes ``metrics.csv`` (one row per image, streamed as it goes), ``summary.json``, ``index.html``
(input | output | target thumbnails, best to worst, columns sortable) and ``metrics.png`` (the
distribution of each metric). Images stream through: only three numbers per image stay in memory.
Per-image scores, the page and the figure are written by ``pix2pix_tf.realism.report``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pix2pix_tf.core import cli
from pix2pix_tf.core.atomic import replacing, write_text
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.realism.report import (
    HIGHER_IS_BETTER,
    METRICS,
    PER_IMAGE_REALISM,
    REALISM,
    EvalSummary,
    ImageScore,
    aggregate,
    finite_or_none,
    is_better,
    ranked,
    thumbnail_strip,
    write_results,
)

DEFAULT_BATCH = 8
DEFAULT_THUMB = 128
PROGRESS_EVERY = 500


# --------------------------------------------------------------------------- data


def evaluation_pairs(config, data: str | Path | None = None, split: str | None = None):
    """(data root, split name, checked pairs): by default the run's own data and held-out split. A split
    never reaches outside the data; data that is not where the run stored it is named as such."""
    from pix2pix_tf.core.config import split_folder
    from pix2pix_tf.data import pipeline as data_lib
    from pix2pix_tf.train.rundir import data_root, run_pairs, validation_split

    if data is not None:
        root = data_lib.data_folder(data)
    else:
        root = data_root(config)
        if not root.is_dir():
            raise UserError(f"{root}: the run's data is not there; pass --data DIR where it is now")
    if split is not None:
        split_folder(split, "--split")
    else:
        split = validation_split(config, root)
        if split is None:
            raise UserError(f"--data {root}: no val/ or test/ split to evaluate on; name one with --split")
    pairs = run_pairs(config, root, split)
    data_lib.check_pairs(pairs, config, what=split)
    return root, split, pairs


def pair_name(pair) -> str:
    """A side-by-side file's name, or for A/ + B/ folders the shared file name (from A/)."""
    return Path(pair.a).name


# --------------------------------------------------------------------------- scoring


def split_label(split: str) -> str:
    """A split as a file name: ``--split test/`` names the same results as ``--split test``."""
    return split.strip("/").replace("/", "-")


def variant_suffix(mode: str, raw_of_averaged: bool = False) -> str:
    """How results of one checkpoint are told apart: paper inference, and the trained weights of a run
    whose default is its moving average (``--weights raw`` on a run trained with ``--ema``)."""
    return ("-paper" if mode == "paper" else "") + ("-raw" if raw_of_averaged else "")


def results_folder_name(split: str, step: int, mode: str, raw_of_averaged: bool = False) -> str:
    return f"{split_label(split)}-step{step}" + variant_suffix(mode, raw_of_averaged)


def default_out_dir(run_dir: str | Path, split: str, step: int, mode: str, raw_of_averaged: bool = False) -> Path:
    return Path(run_dir) / "eval" / results_folder_name(split, step, mode, raw_of_averaged)


def score_pairs(trained, pairs, config, out_dir: Path, *, run_dir: str | Path = "", data: str | Path = "",
                split: str = "", metric: str = "l1", batch_size: int = DEFAULT_BATCH,
                thumb_height: int = DEFAULT_THUMB, page: bool = True, quiet: bool = False,
                judge=None) -> EvalSummary:
    """Run ``trained`` over ``pairs`` and write CSV, JSON, and (``page``) thumbnails, HTML, figure.

    With a ``judge`` (``realism.load_judge``) each output is also segmented and scored against the
    label map it was generated from."""
    import tensorflow as tf

    from pix2pix_tf.data import pipeline as data_lib
    from pix2pix_tf.nets.losses import image_metrics
    from pix2pix_tf.nets.networks import dropout_noise
    from pix2pix_tf.realism.artefacts import ArtefactTally
    from pix2pix_tf.realism.spectrum import SpectrumTally

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    thumbs = out_dir / "thumbs"
    if page:
        thumbs.mkdir(exist_ok=True)
    generator = trained.generator

    @tf.function(reduce_retracing=True)
    def run(source, target, batch):
        # Paper mode: batch k's dropout noise is drawn from (seed, k), the same for every checkpoint.
        with dropout_noise(config.seed, batch):
            output = generator(source, training=False)
        return output, image_metrics(output, target)

    began = time.monotonic()
    scores: list[ImageScore] = []
    tally, truths = None, itertools.repeat((None, None))
    if judge is not None:
        from pix2pix_tf.realism.judge import RealismTally
        from pix2pix_tf.realism.ladder import ladder_on

        tally = RealismTally(judge, len(pairs))
        # The judge scores against the label maps at the data's own size, resized nearest-neighbour only,
        # not against the generator's (bicubic) resized inputs.
        truths = judge.batches(pairs, batch_size, config.data_size)
    metrics = METRICS + (PER_IMAGE_REALISM if tally else ())
    artefacts, spectrum = ArtefactTally(), SpectrumTally()
    csv_path = out_dir / "metrics.csv"
    with replacing(csv_path) as tmp_csv, open(tmp_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "image", *metrics, "thumbnail"])
        dataset = data_lib.evaluation_dataset(pairs, config, batch_size=batch_size)
        for batch, ((source, target), (_, label_maps)) in enumerate(zip(dataset, truths)):
            if tally is not None and not scores:
                judge.check_fits(config, label_maps.numpy(), run_dir)
            output, values = run(source, target, tf.constant(batch, tf.int64))
            values = {k: v.numpy() for k, v in values.items()}
            realism = tally.add(output, label_maps) if tally is not None else [{}] * source.shape[0]
            artefacts.add(output.numpy(), target.numpy())
            spectrum.add(output.numpy(), target.numpy())
            for i in range(source.shape[0]):
                index = len(scores)
                score = ImageScore(index, pair_name(pairs[index]), *(float(values[m][i]) for m in METRICS),
                                   realism=realism[i])
                if page:
                    score.thumbnail = f"thumbs/{index:06d}.png"
                    thumbnail_strip((source[i], output[i], target[i]), thumb_height).save(out_dir / score.thumbnail)
                writer.writerow([index, score.name, *(repr(score.value(m)) for m in metrics), score.thumbnail or ""])
                scores.append(score)
            if not quiet and len(scores) // PROGRESS_EVERY > (len(scores) - source.shape[0]) // PROGRESS_EVERY:
                print(f"  scored {len(scores)} of {len(pairs)} images", file=sys.stderr, flush=True)

    means, stds = aggregate(scores, metrics)
    summary = EvalSummary(
        run_dir=str(run_dir), checkpoint=str(trained.checkpoint), step=trained.step, inference=trained.mode,
        weights=trained.weights, data=str(data), split=split, images=len(scores), image_size=config.image_size,
        mean=means, std=stds,
        seconds=round(time.monotonic() - began, 3), out_dir=str(out_dir),
        realism=tally.summary(ladder_on(judge, data, split)) if tally is not None else None,
        artefacts=artefacts.summary(), spectrum=spectrum.summary())
    for m in metrics:
        order = ranked(scores, m)
        if order:
            summary.best[m] = {"image": order[0].name, m: order[0].value(m)}
            summary.worst[m] = {"image": order[-1].name, m: order[-1].value(m)}
    write_results(summary, scores, out_dir, metric, page)
    return summary


# --------------------------------------------------------------------------- runs


def _prepare(run_dir, data, split, mode):
    from pix2pix_tf.core.config import INFERENCE_MODES, load_config

    cli.require_choice("--inference", mode, INFERENCE_MODES)
    config = load_config(Path(run_dir))
    root, split, pairs = evaluation_pairs(config, data, split)
    return config, root, split, pairs


def _seed(config) -> None:
    """Paper mode samples dropout masks; a fixed seed makes its numbers repeatable."""
    import keras

    keras.utils.set_random_seed(config.seed)


def evaluate_run(run_dir: str | Path, checkpoint: str | int = "latest", *, data: str | Path | None = None,
                 split: str | None = None, mode: str = "deterministic", out_dir: str | Path | None = None,
                 metric: str = "l1", batch_size: int = DEFAULT_BATCH, thumb_height: int = DEFAULT_THUMB,
                 page: bool = True, quiet: bool = True, judge: str | Path | None = None,
                 weights: str | None = None) -> EvalSummary:
    """Score one checkpoint of a run; results go to ``out_dir`` (default RUN/eval/<split>-step<N>).
    ``judge``: a judge run directory (``python -m pix2pix_tf.judge``) adds the realism scores.
    ``weights``: ``ema`` or ``raw`` (default: the run's moving average if it keeps one)."""
    from pix2pix_tf.deploy.inference import load_generator

    config, root, split, pairs = _prepare(run_dir, data, split, mode)
    scorer = _load_judge(judge, metric)
    _seed(config)
    trained = load_generator(run_dir, checkpoint, mode, weights)
    out = Path(out_dir) if out_dir is not None else default_out_dir(run_dir, split, trained.step, mode,
                                                                    _raw_of_averaged(config, trained))
    return score_pairs(trained, pairs, config, out, run_dir=run_dir, data=root, split=split, metric=metric,
                       batch_size=batch_size, thumb_height=thumb_height, page=page, quiet=quiet, judge=scorer)


def _raw_of_averaged(config, trained) -> bool:
    return config.ema > 0 and trained.weights == "raw"


def _load_judge(judge: str | Path | None, metric: str):
    if judge is None:
        if metric in REALISM:
            raise UserError(f"--metric {metric}: a realism score needs --judge")
        return None
    from pix2pix_tf.realism.judge import load_judge

    return load_judge(judge)


@dataclass
class CheckpointComparison:
    metric: str
    results: list[EvalSummary]
    best: EvalSummary

    def table(self) -> str:
        realism = bool(self.results[0].realism)
        extra = "".join(f"  {label:>9}" for label in ("pixel acc", "class acc", "class IoU", "distance",
                                                      "KID x1000")) if realism else ""
        lines = [f"{'step':>8}  {'L1':>8}  {'PSNR':>7}  {'SSIM':>7}  {'detail':>7}  {'checker':>7}{extra}"]
        for r in self.results:
            mark = "  <- best" if r is self.best else ""
            scores = "".join(f"  {r.realism[m]:>9.4f}" for m in PER_IMAGE_REALISM) \
                + f"  {r.realism['distance']:>9.2f}  {1000 * r.realism['kid']['kid']:>9.2f}" if realism else ""
            lines.append(f"{r.step:>8}  {r.mean['l1']:>8.4f}  {r.mean['psnr']:>7.2f}  {r.mean['ssim']:>7.4f}"
                         f"  {r.spectrum['detail']['gap']:>+7.2f}  {r.spectrum['checkerboard']['gap']:>7.2f}"
                         f"{scores}{mark}")
        return "\n".join(lines)


def evaluate_all_checkpoints(run_dir: str | Path, *, metric: str = "l1", data: str | Path | None = None,
                             split: str | None = None, mode: str = "deterministic",
                             out_dir: str | Path | None = None, batch_size: int = DEFAULT_BATCH,
                             thumb_height: int = DEFAULT_THUMB, page: bool = True,
                             quiet: bool = True, judge: str | Path | None = None,
                             weights: str | None = None) -> CheckpointComparison:
    """Score every kept checkpoint on the same images and pick the best on ``metric``.

    Each checkpoint gets its own results folder; ``<split>-checkpoints.json`` beside them holds the
    comparison. Ties go to the earlier checkpoint.
    """
    from pix2pix_tf.deploy.inference import load_generator
    from pix2pix_tf.train.rundir import RunDir, checkpoint_step, kept_checkpoints

    cli.require_choice("--metric", metric, METRICS + REALISM)
    config, root, split, pairs = _prepare(run_dir, data, split, mode)
    scorer = _load_judge(judge, metric)
    paths = kept_checkpoints(RunDir(Path(run_dir)))
    base = Path(out_dir) if out_dir is not None else Path(run_dir) / "eval"
    trained = None
    results: list[EvalSummary] = []
    for path in paths:
        _seed(config)
        if trained is None:
            trained = load_generator(run_dir, checkpoint_step(path), mode, weights)
        else:
            trained.restore(path)
        out = base / results_folder_name(split, trained.step, mode, _raw_of_averaged(config, trained))
        result = score_pairs(trained, pairs, config, out, run_dir=run_dir, data=root, split=split,
                             metric=metric, batch_size=batch_size, thumb_height=thumb_height, page=page,
                             quiet=quiet, judge=scorer)
        results.append(result)
        if not quiet:
            print(f"  step {result.step}: {metric} {result.score(metric):.4f}", file=sys.stderr, flush=True)
    best = results[0]
    for result in results[1:]:
        if is_better(metric, result.score(metric), best.score(metric)):
            best = result
    comparison = CheckpointComparison(metric, results, best)
    base.mkdir(parents=True, exist_ok=True)
    suffix = variant_suffix(mode, _raw_of_averaged(config, trained))
    payload = {"metric": metric, "higher_is_better": HIGHER_IS_BETTER[metric], "best_step": best.step,
               "best_checkpoint": best.checkpoint, "split": split, "inference": mode, "weights": trained.weights,
               "checkpoints": [{"step": r.step, "checkpoint": r.checkpoint, "mean": r.mean, "realism": r.realism,
                                "artefacts": r.artefacts, "spectrum": r.spectrum, "out_dir": r.out_dir}
                               for r in results]}
    write_text(base / f"{split_label(split)}-checkpoints{suffix}.json",
               json.dumps(finite_or_none(payload), indent=2, allow_nan=False) + "\n")
    return comparison


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = cli.OneLineParser(
        prog="python -m pix2pix_tf.evaluate", description=__doc__.splitlines()[0],
        epilog="Defaults come from the run's config.json: its data and its validation split (val/ or the training "
               "pairs it held out, else test/). "
               "Metrics are computed at the run's training size, on images prepared as fit validates them.")
    cli.add_run_dir(parser)
    which = parser.add_mutually_exclusive_group()
    cli.add_checkpoint(which)
    which.add_argument("--all-checkpoints", action="store_true",
                       help="score every kept checkpoint and report the best on --metric")
    parser.add_argument("--metric", choices=METRICS + REALISM, default="l1",
                        help="ranks the images on the page and chooses the best checkpoint (default: l1; "
                             "the realism scores need --judge)")
    parser.add_argument("--judge", default=None,
                        help="a judge run directory (python -m pix2pix_tf.judge): adds the realism scores "
                             "(pixel accuracy, class accuracy, class IoU of the judge on the outputs, and the "
                             "Fréchet distance and KID of their features to the real training photos) beside the "
                             "judge's ladder on the same split")
    parser.add_argument("--data", default=None, help="dataset root (default: the run's training data)")
    parser.add_argument("--split", default=None,
                        help="split to score: a folder, or val, which for a run that holds training pairs out "
                             "(no val/ folder) is exactly those pairs (default: the run's validation split: val, "
                             "else test)")
    cli.add_inference(parser)
    cli.add_weights(parser)
    parser.add_argument("--out", default=None,
                        help="results folder (default: RUN/eval/<split>-step<N>, with -paper for paper inference "
                             "and -raw for --weights raw on a run trained with --ema)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH,
                        help=f"images per forward pass (default: {DEFAULT_BATCH})")
    parser.add_argument("--thumb-size", type=int, default=DEFAULT_THUMB,
                        help=f"thumbnail height in px (default: {DEFAULT_THUMB})")
    parser.add_argument("--no-page", dest="page", action="store_false",
                        help="only the CSV and JSON: no thumbnails, HTML page or figure")
    parser.add_argument("--quiet", action="store_true", help="only the final summary")
    cli.add_verbose(parser)
    return parser


def _report(summary: EvalSummary) -> None:
    from pix2pix_tf.core.config import load_config
    from pix2pix_tf.train.rundir import describe_split

    m = summary.mean
    where = describe_split(load_config(Path(summary.run_dir)), summary.data, summary.split)
    print(f"{summary.images} images of {where} at {summary.image_size} px, "
          f"checkpoint step {summary.step}, {summary.weights} weights, {summary.inference} inference:")
    print(f"  mean L1 {m['l1']:.4f} (0-1 scale)   PSNR {m['psnr']:.2f} dB   SSIM {m['ssim']:.4f}")
    if summary.spectrum:
        from pix2pix_tf.realism.spectrum import format_spectrum

        print(f"  full resolution against the real photos: {format_spectrum(summary.spectrum)}")
    if summary.artefacts:
        from pix2pix_tf.realism.artefacts import format_artefacts

        print(f"  artefacts: {format_artefacts(summary.artefacts)}")
    if summary.realism:
        from pix2pix_tf.realism.judge import format_scores

        realism = summary.realism
        print(f"  realism (judge step {realism['judge_step']}; distance and KID to its real training photos at "
              f"{realism['scored_images']} images, lower is better): {format_scores(realism, realism['classes'])}")
        if realism.get("ladder"):
            from pix2pix_tf.realism.ladder import format_ladder

            print(f"  on the judge's ladder ({summary.split} photos: real, blurred, with a checkerboard, the mean "
                  "photo):")
            print(format_ladder(realism["ladder"], [{**realism, **(summary.spectrum or {}), "label": "this run"}]))
    out = Path(summary.out_dir)
    page = out / "index.html"
    if page.exists():
        where = f"{page} (metrics.csv, summary.json, metrics.png beside it)"
    else:
        where = f"{out}/metrics.csv, summary.json"
    print(f"  results: {where}")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    cli.require_positive("--batch-size", args.batch_size)
    cli.require_positive("--thumb-size", args.thumb_size)
    common = dict(data=args.data, split=args.split, mode=args.inference, out_dir=args.out, metric=args.metric,
                  batch_size=args.batch_size, thumb_height=args.thumb_size, page=args.page, quiet=args.quiet,
                  judge=args.judge, weights=args.weights)
    if args.all_checkpoints:
        comparison = evaluate_all_checkpoints(args.run_dir, **common)
        for result in comparison.results:
            _report(result)
        print(f"\n{comparison.table()}")
        best = comparison.best
        print(f"best on {args.metric}: step {best.step} ({args.metric} {best.score(args.metric):.4f}); "
              f"use it with --checkpoint {best.step}")
        return
    _report(evaluate_run(args.run_dir, args.checkpoint, **common))


if __name__ == "__main__":
    cli.run_cli(main, "python -m pix2pix_tf.evaluate")
