"""The Fréchet distance between two sets of feature vectors, as FID computes it, with the dataset's own
judge as the feature extractor so that nothing is downloaded.

Each image contributes one feature vector per cell of the judge's bottleneck (8x8 cells at the judge's
128 px), so 106 test images give 6,784 samples of a 256-dimensional distribution: enough for a stable
covariance where one pooled vector per image (106 samples in 256 dimensions) would not be. The
statistics are accumulated as sums, so any number of images streams through in constant memory.

    d^2 = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

with tr (S_1 S_2)^(1/2) computed as the sum of the square roots of the eigenvalues of
S_1^(1/2) S_2 S_1^(1/2), a symmetric matrix, so only symmetric eigen-decompositions are needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_tf.core.atomic import replacing


@dataclass
class FeatureStats:
    """Running count, sum and sum of outer products of feature vectors (float64)."""

    count: int
    total: np.ndarray
    outer: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> FeatureStats:
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    def add(self, features: np.ndarray) -> None:
        """Add features of any shape (..., dim): every leading position is one sample."""
        x = np.asarray(features, np.float64).reshape(-1, self.total.shape[0])
        self.count += x.shape[0]
        self.total += x.sum(axis=0)
        self.outer += x.T @ x

    @property
    def mean(self) -> np.ndarray:
        return self.total / self.count

    @property
    def covariance(self) -> np.ndarray:
        """The unbiased sample covariance."""
        mean = self.mean
        return (self.outer - self.count * np.outer(mean, mean)) / (self.count - 1)

    def save(self, path: Path, **extra) -> None:
        with replacing(path) as tmp:  # a temporary of its own: two evaluations may write it at once
            np.savez(tmp, count=self.count, total=self.total, outer=self.outer, **extra)

    @classmethod
    def load(cls, path: Path) -> tuple[FeatureStats, dict]:
        with np.load(path) as saved:
            extra = {k: saved[k] for k in saved.files if k not in ("count", "total", "outer")}
            return cls(int(saved["count"]), saved["total"], saved["outer"]), extra


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mean_1: np.ndarray, cov_1: np.ndarray, mean_2: np.ndarray, cov_2: np.ndarray) -> float:
    """The Fréchet distance between two Gaussians (the squared form FID reports); 0 for identical ones."""
    root_1 = _sqrt_psd(cov_1)
    middle = root_1 @ cov_2 @ root_1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    value = float(np.sum((mean_1 - mean_2) ** 2) + np.trace(cov_1) + np.trace(cov_2) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def stats_distance(a: FeatureStats, b: FeatureStats) -> float:
    return frechet_distance(a.mean, a.covariance, b.mean, b.covariance)
