"""KID on constructed feature sets: near 0 with an interval holding 0 for two samples of one distribution,
growing with a shift; the unbiased estimator against a hand computation; and the judge's tally computing
the distance and KID at one number of images, whatever the size of the set."""

from __future__ import annotations

import numpy as np
import pytest

from pix2pix_tf.realism.judge import SCORED_IMAGES, scored_images
from pix2pix_tf.realism.kid import kid, polynomial_kernel, weighted_kid


def features(count: int, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """Non-negative, skewed feature vectors like a ReLU network's, 32-dimensional."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=(count, 32))) + shift


def test_kid_of_two_samples_of_one_distribution_is_near_zero_with_zero_inside():
    reference = features(400, seed=1)
    for seed in range(2, 7):
        result = kid(features(106, seed=seed), reference, 50)
        assert result["low"] < 0.0 < result["high"], result
        assert abs(result["kid"]) < 0.05 and result["images"] == 50


def test_kid_grows_with_a_shift_and_its_interval_leaves_zero():
    reference = features(400, seed=1)
    found = [kid(features(106, shift, seed=2), reference, 50) for shift in (0.1, 0.2, 0.5)]
    assert found[0]["kid"] < found[1]["kid"] < found[2]["kid"]
    assert all(r["low"] > 0.0 for r in found[1:])


def test_every_image_drawn_once_is_the_unbiased_estimator():
    """The bootstrap's weighted estimator, with each image drawn once, is the textbook unbiased KID:
    within-set means over pairs of different images, the cross mean over all pairs."""
    x, y = features(12, 0.3, seed=3), features(9, seed=4)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    assert kxx[0, 1] == pytest.approx((x[0] @ x[1] / 32 + 1) ** 3)
    hand = (kxx.sum() - np.trace(kxx)) / (12 * 11) + (kyy.sum() - np.trace(kyy)) / (9 * 8) - 2 * kxy.mean()
    assert weighted_kid(x, y, np.ones((1, 12)), np.ones((1, 9)))[0] == pytest.approx(hand, rel=1e-9)
    # The two draws of an image drawn twice are not a pair: doubling every count changes nothing.
    assert weighted_kid(x, y, np.full((1, 12), 2.0), np.ones((1, 9)))[0] == pytest.approx(hand, rel=1e-9)


def test_every_set_is_scored_at_one_number_of_images():
    assert scored_images(106) == SCORED_IMAGES == scored_images(5000)  # facades test, a large split: the same
    assert scored_images(60) == 30 and scored_images(4) == 2 and scored_images(1) == 1  # two blocks where small
