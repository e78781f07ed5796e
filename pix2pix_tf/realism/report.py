"""The evaluation report: per-image scores and their summary, ranking and aggregation, and the
results folder's files (``summary.json``, ``index.html`` with input | output | target thumbnails,
``metrics.png``). Pure bookkeeping and presentation: no model is run here (that is ``evaluate``)."""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pix2pix_tf.core.atomic import replacing, write_text

METRICS = ("l1", "psnr", "ssim")
PER_IMAGE_REALISM = ("pixel_acc", "class_acc", "class_iou")  # with --judge: pix2pix_tf.realism.judge
# The judge's scores of the whole set: the FCN-scores from one confusion matrix, and the distance, which
# only a set has (an image is ranked on the page by class IoU when --metric distance chooses checkpoints).
REALISM = PER_IMAGE_REALISM + ("distance",)
HIGHER_IS_BETTER = {"l1": False, "psnr": True, "ssim": True, "pixel_acc": True, "class_acc": True, "class_iou": True,
                    "distance": False}
METRIC_LABELS = {"l1": "L1 (0-1 scale)", "psnr": "PSNR (dB)", "ssim": "SSIM", "pixel_acc": "pixel accuracy",
                 "class_acc": "class accuracy", "class_iou": "class IoU", "distance": "distance to real photos"}


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
        return self.realism[metric] if metric in PER_IMAGE_REALISM else getattr(self, metric)


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
    artefacts: dict | None = None
    weights: str = "raw"
    spectrum: dict | None = None

    @property
    def metrics(self) -> tuple[str, ...]:
        """The per-image metrics (the page's columns and histograms)."""
        return METRICS + (PER_IMAGE_REALISM if self.realism else ())

    def score(self, metric: str) -> float:
        """The run's figure for ``metric``: the mean over images, or for the judge's scores the
        value from the summed confusion matrix (as the paper reports them)."""
        return self.realism[metric] if metric in REALISM else self.mean[metric]

    def to_json(self) -> str:
        return json.dumps(finite_or_none(asdict(self)), indent=2, allow_nan=False) + "\n"


def finite_or_none(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_none(v) for v in value]
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


def aggregate(scores: list[ImageScore],
              metrics: tuple[str, ...] = METRICS) -> tuple[dict[str, float], dict[str, float]]:
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


def thumbnail_strip(images, height: int):
    """input | output | target, each scaled to ``height`` px (aspect kept), grey shown as grey."""
    import numpy as np
    from PIL import Image

    from pix2pix_tf.data.images import to_uint8

    tiles = []
    for image in images:
        pixels = to_uint8(image)
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


def page_title(summary: EvalSummary) -> str:
    return (f"{Path(summary.run_dir).name or summary.run_dir} step {summary.step}, {summary.split} "
            f"({summary.images} images, {summary.inference} inference)")


def write_histogram(scores: list[ImageScore], path: Path, title: str = "",
                    metrics: tuple[str, ...] = METRICS) -> Path:
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
    with replacing(path) as tmp:
        fig.savefig(tmp)
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
    means = " &middot; ".join(f"{METRIC_LABELS[m]} <b>{fmt(summary.score(m), m)}</b>"
                              for m in metrics + (("distance",) if summary.realism else ()))
    head = "".join(f'<th data-col="{k + 2}" data-num title="click to sort">{esc(METRIC_LABELS[m])}</th>'
                   for k, m in enumerate(metrics))
    rows = []
    metric = metric if metric in metrics else "class_iou"
    for rank, score in enumerate(ranked(scores, metric), start=1):
        cells = "".join(f'<td data-v="{score.value(m)!r}">{fmt(score.value(m), m)}</td>' for m in metrics)
        thumb = (f'<img src="{esc(score.thumbnail)}" alt="{esc(score.name)}" loading="lazy">'
                 if score.thumbnail else "")
        rows.append(f'<tr><td data-v="{rank}">{rank}</td><td data-v="{esc(score.name)}">{esc(score.name)}</td>'
                    f"{cells}<td>{thumb}</td></tr>")
    better = "highest" if HIGHER_IS_BETTER[metric] else "lowest"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>pix2pix_tf evaluation: {esc(page_title(summary))}</title>
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
{summary.images} images of <code>{esc(str(Path(summary.data) / summary.split))}</code>
at {esc(summary.image_size)} px.</p>
<p>Means: {means}</p>{_spectrum_section(summary)}{_artefact_section(summary)}{_realism_section(summary)}
<p><img src="metrics.png" alt="metric distributions" style="max-width: 100%"></p>
<p>Rows are ordered best to worst by {esc(METRIC_LABELS[metric])} ({better} first); click a header to sort.
Thumbnails: input | output | target. Per-image numbers are also in <a href="metrics.csv">metrics.csv</a>,
the summary in <a href="summary.json">summary.json</a>.</p>
<table id="results">
<thead><tr><th data-col="0" data-num>#</th><th data-col="1">image</th>{head}
<th>input | output | target</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<script>{_SORT_SCRIPT}</script>
</body></html>
"""


LADDER_COLUMNS = (("pixel_acc", "pixel accuracy"), ("class_iou", "class IoU"), ("distance", "distance"),
                  ("kid", "KID x1000"), ("detail", "detail gap"), ("checkerboard", "checkerboard gap"))


def _ladder_cell(row: dict, key: str) -> str:
    value = row.get(key)
    if key == "kid":
        value = None if not value else 1000 * value["kid"]
    elif key in ("detail", "checkerboard"):
        value = None if not value else value["gap"]
    return fmt_score(value, "distance" if key == "distance" else "score")


def _realism_section(summary: EvalSummary) -> str:
    """The realism scores, the judge's ladder with this run placed on it, and its per-class IoU table
    (classes absent from the images and never predicted: n/a)."""
    if not summary.realism:
        return ""
    from pix2pix_tf.realism.kid import format_kid

    r = summary.realism
    cells = "".join(f"<tr><td>{html.escape(name)}</td><td>{'n/a' if not math.isfinite(v) else f'{v:.3f}'}</td></tr>"
                    for name, v in zip(r["classes"], r["per_class_iou"]))
    ladder = ""
    if r.get("ladder"):
        rows = [*r["ladder"], {**r, **(summary.spectrum or {}), "label": "this run"}]
        body = "".join(f"<tr><td>{'<b>this run</b>' if row['label'] == 'this run' else html.escape(row['label'])}</td>"
                       + "".join(f"<td>{_ladder_cell(row, key)}</td>" for key, _ in LADDER_COLUMNS) + "</tr>"
                       for row in rows)
        head = "".join(f"<th>{html.escape(label)}</th>" for _, label in LADDER_COLUMNS)
        ladder = (f"\n<p>Where this run sits on the judge's ladder ({html.escape(summary.split)} photos as they are, "
                  "blurred, with a period-2 checkerboard, and the mean training photo):</p>\n"
                  f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>")
    kid = f" KID: <b>{html.escape(format_kid(r['kid']))}</b> (95% bootstrap interval)." if r.get("kid") else ""
    return (f"\n<p>Realism (FCN-score): judge <code>{html.escape(r['judge'])}</code> at step {r['judge_step']} "
            "segments each output; its accuracies and IoU against the input label maps come from one confusion "
            "matrix over all images (per-image values in the table below). The distance is the Fréchet distance "
            f"between the judge's features of the outputs and of {html.escape(r.get('distance_reference', ''))} "
            f"(lower is better), at {r.get('scored_images', '?')} images.{kid}</p>{ladder}\n"
            f"<table><thead><tr><th>class</th><th>IoU</th></tr></thead><tbody>{cells}</tbody></table>")


def _spectrum_section(summary: EvalSummary) -> str:
    if not summary.spectrum:
        return ""
    from pix2pix_tf.realism.spectrum import format_spectrum

    text = html.escape(format_spectrum(summary.spectrum)).replace("\n", "<br>")
    return f"\n<p>Full resolution against the real photos (see <code>pix2pix_tf.realism.spectrum</code>): {text}</p>"


def _artefact_section(summary: EvalSummary) -> str:
    if not summary.artefacts:
        return ""
    from pix2pix_tf.realism.artefacts import format_artefacts

    text = html.escape(format_artefacts(summary.artefacts))
    return f"\n<p>Artefacts (see <code>pix2pix_tf.realism.artefacts</code>): {text}</p>"


def fmt_score(value, metric: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.1f}" if metric == "distance" else f"{value:.3f}"


def write_results(summary: EvalSummary, scores: list[ImageScore], out_dir: Path, metric: str, page: bool) -> None:
    """``summary.json`` always; with ``page`` also the histogram figure and the HTML page."""
    write_text(out_dir / "summary.json", summary.to_json())
    if page:
        write_histogram(scores, out_dir / "metrics.png", title=page_title(summary), metrics=summary.metrics)
        write_text(out_dir / "index.html", results_page(summary, scores, metric))
