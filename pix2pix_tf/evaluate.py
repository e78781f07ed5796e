"""python -m pix2pix_tf.evaluate: score a trained run on a held-out split and write a results page.

Per image and on average: L1 on the [0, 1] scale, PSNR and SSIM (``tf.image``), computed by
``losses.image_metrics``, the same function ``fit`` validates with, at the run's training size.
Writes ``metrics.csv`` (one row per image, streamed as it goes), ``summary.json``, ``index.html``
(input | output | target thumbnails, best to worst, columns sortable) and ``metrics.png`` (the
distribution of each metric). Images stream through: only three numbers per image stay in memory.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pix2pix_tf.errors import UserError, run_cli

METRICS = ("l1", "psnr", "ssim")
REALISM = ("pixel_acc", "class_acc", "class_iou")  # with --judge: pix2pix_tf.realism
HIGHER_IS_BETTER = {"l1": False, "psnr": True, "ssim": True, "pixel_acc": True, "class_acc": True, "class_iou": True}
METRIC_LABELS = {"l1": "L1 (0-1 scale)", "psnr": "PSNR (dB)", "ssim": "SSIM", "pixel_acc": "pixel accuracy",
                 "class_acc": "class accuracy", "class_iou": "class IoU"}
VAL_SPLITS = ("val", "test")
DEFAULT_BATCH = 8
DEFAULT_THUMB = 128
PROGRESS_EVERY = 500


@dataclass
class ImageScore:
    index: int
    name: str
    l1: float
    psnr: float
    ssim: float
    thumbnail: str | None = None
    realism: dict[str, float] = field(default_factory=dict)

    def value(self, metric: str) -> float:
        return self.realism[metric] if metric in REALISM else getattr(self, metric)


@dataclass
class EvalSummary:
    """What one evaluation found; ``summary.json`` is this, with non-finite numbers as null."""

    run_dir: str
    checkpoint: str
    step: int
    inference: str
    data: str
    split: str
    images: int
    image_size: str
    mean: dict[str, float]
    std: dict[str, float]
    best: dict[str, dict] = field(default_factory=dict)
    worst: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    out_dir: str | None = None
    realism: dict | None = None

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS + (REALISM if self.realism else ())

    def score(self, metric: str) -> float:
        """The run's figure for ``metric``: the mean over images, or for the judge's scores the
        value from the summed confusion matrix (as the paper reports them)."""
        return self.realism[metric] if metric in REALISM else self.mean[metric]

    def to_json(self) -> str:
        return json.dumps(_finite_or_none(asdict(self)), indent=2, allow_nan=False) + "\n"


def _finite_or_none(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def is_better(metric: str, a: float, b: float) -> bool:
    """Is score ``a`` better than ``b`` on ``metric``? NaN is never better."""
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if HIGHER_IS_BETTER[metric] else a < b


def ranked(scores: list[ImageScore], metric: str) -> list[ImageScore]:
    """Best first; NaNs last."""
    sign = -1.0 if HIGHER_IS_BETTER[metric] else 1.0

    def key(score: ImageScore):
        value = score.value(metric)
        return (True, 0.0, score.index) if math.isnan(value) else (False, sign * value, score.index)

    return sorted(scores, key=key)


def aggregate(scores: list[ImageScore], metrics: tuple[str, ...] = METRICS) -> tuple[dict[str, float], dict[str, float]]:
    """Per-metric mean and population std over the images (PSNR averaged in dB, per image)."""
    means, stds = {}, {}
    for metric in metrics:
        values = [s.value(metric) for s in scores]
        if not values:
            means[metric] = stds[metric] = float("nan")
            continue
        mean = math.fsum(values) / len(values)
        means[metric] = mean
        stds[metric] = (math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
                        if math.isfinite(mean) else float("nan"))
    return means, stds


# --------------------------------------------------------------------------- data


def evaluation_pairs(config, data: str | Path | None = None, split: str | None = None):
    """(data root, split name, checked pairs): by default the run's own data and held-out split."""
    from pix2pix_tf import data as data_lib
    from pix2pix_tf.training import data_root

    root = Path(data) if data is not None else data_root(config)
    if split is None:
        split = config.val_split or next((s for s in VAL_SPLITS if (root / s).is_dir()), None)
        if split is None:
            raise UserError(f"--data {root}: no val/ or test/ split to evaluate on; name one with --split")
    pairs = data_lib.list_pairs(root, split)
    data_lib.check_pairs(pairs, config, what=split)
    return root, split, pairs


def pair_name(pair) -> str:
    """A side-by-side file's name, or for A/ + B/ folders the shared file name (from A/)."""
    return Path(pair.a).name


# --------------------------------------------------------------------------- scoring


def results_folder_name(split: str, step: int, mode: str) -> str:
    return f"{split}-step{step}" + ("-paper" if mode == "paper" else "")


def default_out_dir(run_dir: str | Path, split: str, step: int, mode: str) -> Path:
    return Path(run_dir) / "eval" / results_folder_name(split, step, mode)


def _to_uint8(image):
    import numpy as np

    return np.round(np.clip((np.asarray(image, dtype=np.float32) + 1.0) * 127.5, 0, 255)).astype(np.uint8)


def _thumbnail_strip(images, height: int):
    """input | output | target, each scaled to ``height`` px (aspect kept), grey shown as grey."""
    import numpy as np
    from PIL import Image

    tiles = []
    for image in images:
        pixels = _to_uint8(image)
        pil = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).convert("RGB")
        width = max(1, round(pil.width * height / pil.height))
        tiles.append(np.asarray(pil.resize((width, height), Image.Resampling.LANCZOS)))
    gap = np.full((height, 3, 3), 255, dtype=np.uint8)
    parts = []
    for k, tile in enumerate(tiles):
        if k:
            parts.append(gap)
        parts.append(tile)
    return Image.fromarray(np.concatenate(parts, axis=1))


def _restore_into(trained, path: str):
    """The same generator with another checkpoint's weights (no rebuild, no retrace)."""
    import tensorflow as tf

    from pix2pix_tf.rundir import restore

    restore(tf.train.Checkpoint(generator=trained.generator), path)
    trained.checkpoint = path
    return trained


def score_pairs(trained, pairs, config, out_dir: Path, *, run_dir: str | Path = "", data: str | Path = "",
                split: str = "", metric: str = "l1", batch_size: int = DEFAULT_BATCH,
                thumb_height: int = DEFAULT_THUMB, page: bool = True, quiet: bool = False,
                judge=None) -> EvalSummary:
    """Run ``trained`` over ``pairs`` and write CSV, JSON, and (``page``) thumbnails, HTML, figure.

    With a ``judge`` (``realism.load_judge``) each output is also segmented and scored against the
    label map it was generated from."""
    import tensorflow as tf

    from pix2pix_tf import data as data_lib
    from pix2pix_tf.losses import image_metrics

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    thumbs = out_dir / "thumbs"
    if page:
        thumbs.mkdir(exist_ok=True)
    generator = trained.generator

    @tf.function(reduce_retracing=True)
    def run(source, target):
        output = generator(source, training=False)
        return output, image_metrics(output, target)

    began = time.monotonic()
    scores: list[ImageScore] = []
    tally = None
    if judge is not None:
        from pix2pix_tf.realism import RealismTally

        tally = RealismTally(judge)
    metrics = METRICS + (REALISM if tally else ())
    csv_path = out_dir / "metrics.csv"
    tmp_csv = csv_path.with_name(csv_path.name + ".tmp")
    with open(tmp_csv, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "image", *metrics, "thumbnail"])
        dataset = data_lib.evaluation_dataset(pairs, config, batch_size=batch_size)
        for source, target in dataset:
            if tally is not None and not scores:
                judge.check_fits(config, source.numpy(), run_dir)
            output, values = run(source, target)
            values = {k: v.numpy() for k, v in values.items()}
            realism = tally.add(output, source) if tally is not None else [{}] * source.shape[0]
            for i in range(source.shape[0]):
                index = len(scores)
                score = ImageScore(index, pair_name(pairs[index]), *(float(values[m][i]) for m in METRICS),
                                   realism=realism[i])
                if page:
                    score.thumbnail = f"thumbs/{index:06d}.png"
                    _thumbnail_strip((source[i], output[i], target[i]), thumb_height).save(out_dir / score.thumbnail)
                writer.writerow([index, score.name, *(repr(score.value(m)) for m in metrics), score.thumbnail or ""])
                scores.append(score)
            if not quiet and len(scores) // PROGRESS_EVERY > (len(scores) - source.shape[0]) // PROGRESS_EVERY:
                print(f"  scored {len(scores)} of {len(pairs)} images", file=sys.stderr, flush=True)
    os.replace(tmp_csv, csv_path)

    means, stds = aggregate(scores, metrics)
    summary = EvalSummary(
        run_dir=str(run_dir), checkpoint=str(trained.checkpoint), step=trained.step, inference=trained.mode,
        data=str(data), split=split, images=len(scores), image_size=config.image_size, mean=means, std=stds,
        seconds=round(time.monotonic() - began, 3), out_dir=str(out_dir),
        realism=tally.summary() if tally is not None else None)
    for m in metrics:
        order = ranked(scores, m)
        if order:
            summary.best[m] = {"image": order[0].name, m: order[0].value(m)}
            summary.worst[m] = {"image": order[-1].name, m: order[-1].value(m)}
    _write_text(out_dir / "summary.json", summary.to_json())
    if page:
        write_histogram(scores, out_dir / "metrics.png", title=_title(summary), metrics=metrics)
        _write_text(out_dir / "index.html", results_page(summary, scores, metric))
    return summary


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _title(summary: EvalSummary) -> str:
    return (f"{Path(summary.run_dir).name or summary.run_dir} step {summary.step}, {summary.split} "
            f"({summary.images} images, {summary.inference} inference)")


def write_histogram(scores: list[ImageScore], path: Path, title: str = "", metrics: tuple[str, ...] = METRICS) -> Path:
    """One histogram per metric with its mean marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(metrics), 3.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(metrics))
    for ax, metric in zip(axes, metrics):
        values = [s.value(metric) for s in scores if math.isfinite(s.value(metric))]
        if values:
            ax.hist(values, bins=min(30, max(5, len(values) // 4)), color="#4c72b0")
            mean = math.fsum(values) / len(values)
            ax.axvline(mean, color="#c44e52", linestyle="--", label=f"mean {mean:.4g}")
            ax.legend(loc="best", fontsize=8)
        better = "higher" if HIGHER_IS_BETTER[metric] else "lower"
        ax.set_title(f"{METRIC_LABELS[metric]}, {better} is better", fontsize=10)
        ax.set_ylabel("images")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, path)
    return path


_SORT_SCRIPT = """
document.querySelectorAll('#results th[data-col]').forEach(function (th) {
  th.addEventListener('click', function () {
    var body = document.querySelector('#results tbody');
    var col = +th.dataset.col, numeric = th.hasAttribute('data-num');
    var up = th.dataset.dir !== 'asc';
    th.dataset.dir = up ? 'asc' : 'desc';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var c = numeric ? (parseFloat(x) - parseFloat(y)) || 0 : x.localeCompare(y, undefined, {numeric: true});
      return up ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def results_page(summary: EvalSummary, scores: list[ImageScore], metric: str = "l1") -> str:
    """A self-contained static page; rows start best to worst on ``metric``, headers sort."""
    esc = html.escape

    def fmt(value: float, m: str) -> str:
        if not math.isfinite(value):
            return str(value)
        return f"{value:.2f}" if m == "psnr" else f"{value:.4f}"

    metrics = summary.metrics
    means = " &middot; ".join(f"{METRIC_LABELS[m]} <b>{fmt(summary.score(m), m)}</b>" for m in metrics)
    head = "".join(f'<th data-col="{k + 2}" data-num title="click to sort">{esc(METRIC_LABELS[m])}</th>'
                   for k, m in enumerate(metrics))
    rows = []
    for rank, score in enumerate(ranked(scores, metric), start=1):
        cells = "".join(f'<td data-v="{score.value(m)!r}">{fmt(score.value(m), m)}</td>' for m in metrics)
        thumb = (f'<img src="{esc(score.thumbnail)}" alt="{esc(score.name)}" loading="lazy">'
                 if score.thumbnail else "")
        rows.append(f'<tr><td data-v="{rank}">{rank}</td><td data-v="{esc(score.name)}">{esc(score.name)}</td>'
                    f"{cells}<td>{thumb}</td></tr>")
    better = "highest" if HIGHER_IS_BETTER[metric] else "lowest"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>pix2pix_tf evaluation: {esc(_title(summary))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: middle; }}
th[data-col] {{ cursor: pointer; text-decoration: underline dotted; }}
td img {{ display: block; }}
</style></head>
<body>
<h1>pix2pix_tf evaluation</h1>
<p>Run <code>{esc(summary.run_dir)}</code>, checkpoint step {summary.step}, {esc(summary.inference)} inference;
{summary.images} images of <code>{esc(str(Path(summary.data) / summary.split))}</code> at {esc(summary.image_size)} px.</p>
<p>Means: {means}</p>{_realism_section(summary)}
<p><img src="metrics.png" alt="metric distributions" style="max-width: 100%"></p>
<p>Rows are ordered best to worst by {esc(METRIC_LABELS[metric])} ({better} first); click a header to sort.
Thumbnails: input | output | target. Per-image numbers are also in <a href="metrics.csv">metrics.csv</a>,
the summary in <a href="summary.json">summary.json</a>.</p>
<table id="results">
<thead><tr><th data-col="0" data-num>#</th><th data-col="1">image</th>{head}<th>input | output | target</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<script>{_SORT_SCRIPT}</script>
</body></html>
"""


def _realism_section(summary: EvalSummary) -> str:
    """The judge's per-class IoU table (classes absent from the images and never predicted: n/a)."""
    if not summary.realism:
        return ""
    r = summary.realism
    cells = "".join(f"<tr><td>{html.escape(name)}</td><td>{'n/a' if not math.isfinite(v) else f'{v:.3f}'}</td></tr>"
                    for name, v in zip(r["classes"], r["per_class_iou"]))
    return (f"\n<p>Realism (FCN-score): judge <code>{html.escape(r['judge'])}</code> at step {r['judge_step']} "
            "segments each output; its accuracies and IoU against the input label maps come from one confusion "
            "matrix over all images (per-image values in the table below).</p>\n"
            f"<table><thead><tr><th>class</th><th>IoU</th></tr></thead><tbody>{cells}</tbody></table>")


# --------------------------------------------------------------------------- runs


def _prepare(run_dir, data, split, mode):
    from pix2pix_tf.config import load_config
    from pix2pix_tf.inference import INFERENCE_MODES

    if mode not in INFERENCE_MODES:
        raise UserError(f"--inference {mode!r}: choose one of {', '.join(INFERENCE_MODES)}")
    config = load_config(Path(run_dir))
    if config.input_nc is None or config.depth is None:
        raise UserError(f"{run_dir}: the stored config is incomplete (was training ever started?)")
    root, split, pairs = evaluation_pairs(config, data, split)
    return config, root, split, pairs


def _seed(config) -> None:
    """Paper mode samples dropout masks; a fixed seed makes its numbers repeatable."""
    import keras

    keras.utils.set_random_seed(config.seed)


def evaluate_run(run_dir: str | Path, checkpoint: str | int = "latest", *, data: str | Path | None = None,
                 split: str | None = None, mode: str = "deterministic", out_dir: str | Path | None = None,
                 metric: str = "l1", batch_size: int = DEFAULT_BATCH, thumb_height: int = DEFAULT_THUMB,
                 page: bool = True, quiet: bool = True, judge: str | Path | None = None) -> EvalSummary:
    """Score one checkpoint of a run; results go to ``out_dir`` (default RUN/eval/<split>-step<N>).
    ``judge``: a judge run directory (``python -m pix2pix_tf.judge``) adds the realism scores."""
    from pix2pix_tf.inference import load_generator

    config, root, split, pairs = _prepare(run_dir, data, split, mode)
    scorer = _load_judge(judge, metric)
    _seed(config)
    trained = load_generator(run_dir, checkpoint, mode)
    out = Path(out_dir) if out_dir is not None else default_out_dir(run_dir, split, trained.step, mode)
    return score_pairs(trained, pairs, config, out, run_dir=run_dir, data=root, split=split, metric=metric,
                       batch_size=batch_size, thumb_height=thumb_height, page=page, quiet=quiet, judge=scorer)


def _load_judge(judge: str | Path | None, metric: str):
    if judge is None:
        if metric in REALISM:
            raise UserError(f"--metric {metric}: a realism score needs --judge")
        return None
    from pix2pix_tf.realism import load_judge

    return load_judge(judge)


def kept_checkpoints(run_dir: str | Path) -> list[str]:
    """Every checkpoint the run still keeps, oldest first."""
    import tensorflow as tf

    from pix2pix_tf.rundir import RunDir

    run = RunDir(Path(run_dir))
    state = tf.train.get_checkpoint_state(str(run.checkpoints))
    kept = list(state.all_model_checkpoint_paths) if state else []
    if not kept:
        raise UserError(f"{run.checkpoints}: no checkpoint yet; train with `python -m pix2pix_tf.fit --run-dir {run.root}`")
    return kept


@dataclass
class CheckpointComparison:
    metric: str
    results: list[EvalSummary]
    best: EvalSummary

    def table(self) -> str:
        realism = bool(self.results[0].realism)
        extra = "".join(f"  {label:>9}" for label in ("pixel acc", "class acc", "class IoU")) if realism else ""
        lines = [f"{'step':>8}  {'L1':>8}  {'PSNR':>7}  {'SSIM':>7}{extra}"]
        for r in self.results:
            mark = "  <- best" if r is self.best else ""
            scores = "".join(f"  {r.realism[m]:>9.4f}" for m in REALISM) if realism else ""
            lines.append(f"{r.step:>8}  {r.mean['l1']:>8.4f}  {r.mean['psnr']:>7.2f}  {r.mean['ssim']:>7.4f}"
                         f"{scores}{mark}")
        return "\n".join(lines)


def evaluate_all_checkpoints(run_dir: str | Path, *, metric: str = "l1", data: str | Path | None = None,
                             split: str | None = None, mode: str = "deterministic",
                             out_dir: str | Path | None = None, batch_size: int = DEFAULT_BATCH,
                             thumb_height: int = DEFAULT_THUMB, page: bool = True,
                             quiet: bool = True, judge: str | Path | None = None) -> CheckpointComparison:
    """Score every kept checkpoint on the same images and pick the best on ``metric``.

    Each checkpoint gets its own results folder; ``<split>-checkpoints.json`` beside them holds the
    comparison. Ties go to the earlier checkpoint.
    """
    from pix2pix_tf.inference import load_generator

    if metric not in METRICS + REALISM:
        raise UserError(f"--metric {metric!r}: choose one of {', '.join(METRICS + REALISM)}")
    config, root, split, pairs = _prepare(run_dir, data, split, mode)
    scorer = _load_judge(judge, metric)
    paths = kept_checkpoints(run_dir)
    base = Path(out_dir) if out_dir is not None else Path(run_dir) / "eval"
    trained = None
    results: list[EvalSummary] = []
    for path in paths:
        _seed(config)
        step = int(path.rsplit("-", 1)[-1])
        trained = load_generator(run_dir, step, mode) if trained is None else _restore_into(trained, path)
        out = base / results_folder_name(split, trained.step, mode)
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
    suffix = "-paper" if mode == "paper" else ""
    payload = {"metric": metric, "higher_is_better": HIGHER_IS_BETTER[metric], "best_step": best.step,
               "best_checkpoint": best.checkpoint, "split": split, "inference": mode,
               "checkpoints": [{"step": r.step, "checkpoint": r.checkpoint, "mean": r.mean, "realism": r.realism,
                                "out_dir": r.out_dir} for r in results]}
    _write_text(base / f"{split}-checkpoints{suffix}.json",
                json.dumps(_finite_or_none(payload), indent=2, allow_nan=False) + "\n")
    return comparison


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pix2pix_tf.evaluate", description=__doc__.splitlines()[0],
        epilog="Defaults come from the run's config.json: its data and its validation split (val/, else test/). "
               "Metrics are computed at the run's training size, on images prepared as fit validates them.")
    parser.add_argument("--run-dir", required=True, help="a run directory written by python -m pix2pix_tf.fit")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", default="latest", help="'latest' or a kept step number (default: latest)")
    which.add_argument("--all-checkpoints", action="store_true",
                       help="score every kept checkpoint and report the best on --metric")
    parser.add_argument("--metric", choices=METRICS + REALISM, default="l1",
                        help="ranks the images on the page and chooses the best checkpoint (default: l1; "
                             "the realism scores need --judge)")
    parser.add_argument("--judge", default=None,
                        help="a judge run directory (python -m pix2pix_tf.judge): adds the realism scores "
                             "(pixel accuracy, class accuracy, class IoU of the judge on the outputs)")
    parser.add_argument("--data", default=None, help="dataset root (default: the run's training data)")
    parser.add_argument("--split", default=None, help="split folder to score (default: the run's val or test split)")
    parser.add_argument("--inference", choices=("deterministic", "paper"), default="deterministic",
                        help="deterministic: dropout off (what fit validates with, repeatable); paper: dropout on "
                             "as in the paper's test-time generator, seeded by the run's seed (default: deterministic)")
    parser.add_argument("--out", default=None,
                        help="results folder (default: RUN/eval/<split>-step<N>, with -paper for paper inference)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help=f"images per forward pass (default: {DEFAULT_BATCH})")
    parser.add_argument("--thumb-size", type=int, default=DEFAULT_THUMB, help=f"thumbnail height in px (default: {DEFAULT_THUMB})")
    parser.add_argument("--no-page", dest="page", action="store_false",
                        help="only the CSV and JSON: no thumbnails, HTML page or figure")
    parser.add_argument("--quiet", action="store_true", help="only the final summary")
    return parser


def _checkpoint_arg(text: str) -> str | int:
    if text == "latest":
        return text
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--checkpoint {text!r}: expected 'latest' or a step number") from None


def _report(summary: EvalSummary) -> None:
    m = summary.mean
    print(f"{summary.images} images of {Path(summary.data) / summary.split} at {summary.image_size} px, "
          f"checkpoint step {summary.step}, {summary.inference} inference:")
    print(f"  mean L1 {m['l1']:.4f} (0-1 scale)   PSNR {m['psnr']:.2f} dB   SSIM {m['ssim']:.4f}")
    if summary.realism:
        from pix2pix_tf.realism import format_scores

        realism = summary.realism
        print(f"  realism (judge step {realism['judge_step']}): {format_scores(realism, realism['classes'])}")
    out = Path(summary.out_dir)
    page = out / "index.html"
    where = f"{page} (metrics.csv, summary.json, metrics.png beside it)" if page.exists() else f"{out}/metrics.csv, summary.json"
    print(f"  results: {where}")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.batch_size <= 0:
        raise UserError(f"--batch-size {args.batch_size}: must be positive")
    if args.thumb_size <= 0:
        raise UserError(f"--thumb-size {args.thumb_size}: must be positive")
    common = dict(data=args.data, split=args.split, mode=args.inference, out_dir=args.out, metric=args.metric,
                  batch_size=args.batch_size, thumb_height=args.thumb_size, page=args.page, quiet=args.quiet,
                  judge=args.judge)
    if args.all_checkpoints:
        comparison = evaluate_all_checkpoints(args.run_dir, **common)
        for result in comparison.results:
            _report(result)
        print(f"\n{comparison.table()}")
        best = comparison.best
        print(f"best on {args.metric}: step {best.step} ({args.metric} {best.score(args.metric):.4f}); "
              f"use it with --checkpoint {best.step}")
        return
    _report(evaluate_run(args.run_dir, _checkpoint_arg(args.checkpoint), **common))


if __name__ == "__main__":
    sys.argv[0] = "python -m pix2pix_tf.evaluate"
    run_cli(main)
