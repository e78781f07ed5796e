"""``pix2pix_tf.realism.report``: aggregation, ranking and the results page, without running a model."""

import math

import pytest

from pix2pix_tf.realism import report


def test_aggregate_and_ranking():
    scores = [report.ImageScore(0, "a.png", 0.2, 15.0, 0.5), report.ImageScore(1, "b.png", 0.1, 20.0, 0.7),
              report.ImageScore(2, "c.png", 0.3, 10.0, 0.6)]
    means, stds = report.aggregate(scores)
    assert means == pytest.approx({"l1": 0.2, "psnr": 15.0, "ssim": 0.6})
    assert stds["psnr"] == pytest.approx(math.sqrt(50 / 3))
    assert [s.name for s in report.ranked(scores, "l1")] == ["b.png", "a.png", "c.png"]
    assert [s.name for s in report.ranked(scores, "ssim")] == ["b.png", "c.png", "a.png"]


def test_page_orders_rows_best_first_and_escapes_names():
    scores = [report.ImageScore(0, "<a>.png", 0.3, 10.0, 0.5), report.ImageScore(1, "b.png", 0.1, float("nan"), 0.7)]
    means, stds = report.aggregate(scores)
    summary = report.EvalSummary(run_dir="runs/x", checkpoint="ckpt-3", step=3, inference="deterministic",
                                 data="d", split="test", images=2, image_size="32", mean=means, std=stds)
    page = report.results_page(summary, scores, "l1")
    assert page.index("b.png") < page.index("&lt;a&gt;.png") and "<a>.png" not in page
    assert '"psnr": null' in summary.to_json()
