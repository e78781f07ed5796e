"""The kernel inception distance (Binkowski, Sutherland, Arbel and Gretton, "Demystifying MMD GANs", ICLR
2018) in the judge's features, with a bootstrap interval over images.

KID is the squared maximum mean discrepancy between two sets of feature vectors under the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, estimated without bias: the within-set averages leave out
each image's kernel value with itself. Its expected value is the same at any number of images (0 for
two samples of one distribution, so it can come out slightly negative), which the Fréchet distance's is
not; and an interval over images says how much of a difference is noise.

Each image is one feature vector, the mean of its cells in the judge's bottleneck: images are the
independent samples, cells of one image are not. The interval comes from ``RESAMPLES`` bootstrap
resamples of a fixed number of images of each set (drawn with replacement; the pairs of a resample that
are one image drawn twice are left out, as the estimator leaves out an image with itself), so every
comparison is made at the same number of images and its interval means the same. The reported KID is the
mean over the resamples and the interval their 2.5 and 97.5 percentiles.
"""

from __future__ import annotations

import numpy as np

RESAMPLES = 200
SEED = 0  # the resamples are a pure function of the images


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, d), (m, d) -> (n, m) kernel values (x.y / d + 1)^3."""
    return (np.asarray(x, np.float64) @ np.asarray(y, np.float64).T / x.shape[1] + 1.0) ** 3


def _within(kernel: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per resample (rows of ``weights``: how often each image was drawn), the mean kernel value over
    pairs of draws that are two different images."""
    pairs = np.einsum("bi,ij,bj->b", weights, kernel, weights) - (weights ** 2) @ np.diag(kernel)
    count = weights.sum(axis=1) ** 2 - (weights ** 2).sum(axis=1)
    return pairs / np.maximum(count, 1.0)


def weighted_kid(x: np.ndarray, y: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """KID of each resample given as draw counts per image (rows of ``wx`` for ``x``, of ``wy`` for ``y``);
    with every count 1 it is the textbook unbiased estimator of the two sets."""
    cross = np.einsum("bi,ij,bj->b", wx, polynomial_kernel(x, y), wy) / (wx.sum(axis=1) * wy.sum(axis=1))
    return _within(polynomial_kernel(x, x), wx) + _within(polynomial_kernel(y, y), wy) - 2.0 * cross


def kid_resamples(x: np.ndarray, y: np.ndarray, images: int, resamples: int = RESAMPLES,
                  seed: int = SEED) -> np.ndarray:
    """Unbiased KID of ``resamples`` bootstrap resamples of ``images`` rows of ``x`` and of ``y`` each."""
    rng = np.random.default_rng(seed)
    wx = rng.multinomial(images, np.full(len(x), 1.0 / len(x)), size=resamples).astype(np.float64)
    wy = rng.multinomial(images, np.full(len(y), 1.0 / len(y)), size=resamples).astype(np.float64)
    return weighted_kid(x, y, wx, wy)


def kid(x: np.ndarray, y: np.ndarray, images: int, resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """``{"kid", "low", "high", "images"}``: the mean and 95% interval of KID at ``images`` images a set
    (nan when a set has fewer than two images)."""
    if min(len(x), len(y)) < 2 or images < 2:
        return {"kid": float("nan"), "low": float("nan"), "high": float("nan"), "images": images}
    values = kid_resamples(x, y, images, resamples, seed)
    low, high = np.percentile(values, [2.5, 97.5])
    return {"kid": float(values.mean()), "low": float(low), "high": float(high), "images": images}


def format_kid(result: dict) -> str:
    """KID in thousandths, as the literature prints it."""
    return (f"KID x1000 {1000 * result['kid']:.2f} [{1000 * result['low']:.2f}, {1000 * result['high']:.2f}] "
            f"at {result['images']} images")
