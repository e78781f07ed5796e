"""Two artefact measures of generated images, each reported beside the same measure of the real photos.

Checkerboard. A stride-2 transposed convolution whose kernel does not divide evenly by its stride
paints a periodic pattern: period 2 pixels from the last layer, period 4 from the one before, on both
axes (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016). In the
Fourier domain such a pattern is power at exactly the frequencies 0, N/4, N/2 and 3N/4 of each axis.
The measure is the share of an image's power (luminance, mean removed, Hann-windowed so the borders
do not leak power everywhere) at those frequency pairs, (0, 0) excluded. Photographs have little power
there; a checkerboard of a few grey levels multiplies it.

Blotches. Dark smears where the real photo of the same pair is light: the share of 16x16 blocks whose
mean luminance in the generated image is more than 0.3 (of the 0-1 range) below the real photo's at
the same place. Block means ignore texture and thin dark details (a window frame drawn a few pixels
off is not a blotch), and the pair's own photo says where light is expected, whatever the exposure or
the class. Blocks that are mostly the pure black fill of a rectified photo (facades' corners) are left
out. A real photo scores 0 against itself by construction; against its own blurred, re-exposed or
recompressed copy it still scores 0, and a painted dark blob is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BLOCK = 16  # pixels on the side of a block
DARKER = 0.3  # a blotch block is darker than the real photo's by more than this (luminance, 0-1)
PADDING = 2 / 255  # luminance at or below which a pixel is the black fill of a rectified photo
MEASURES = ("checkerboard", "blotches")
LABELS = {"checkerboard": "checkerboard power share", "blotches": "dark-blotch block share"}


def luminance(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) in [-1, 1] -> (N, H, W) luminance in [0, 1] (Rec. 601 weights for colour)."""
    unit = (np.asarray(images, np.float64) + 1.0) / 2.0
    if unit.shape[-1] == 3:
        return np.clip(unit @ np.array([0.299, 0.587, 0.114]), 0.0, 1.0)
    return np.clip(unit.mean(axis=-1), 0.0, 1.0)


def _periodic_mask(size: int) -> np.ndarray:
    mask = np.zeros(size, bool)
    if size % 4 == 0:
        mask[[0, size // 4, size // 2, 3 * size // 4]] = True
    elif size % 2 == 0:
        mask[[0, size // 2]] = True
    else:
        mask[0] = True
    return mask


def checkerboard_share(images: np.ndarray) -> np.ndarray:
    """Per image: the share of its (non-DC) spectral power at periods 2 and 4 pixels on both axes."""
    y = luminance(images)
    _, height, width = y.shape
    y = y - y.mean(axis=(1, 2), keepdims=True)
    y = y * np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2(y)) ** 2
    power[:, 0, 0] = 0.0
    mask = np.outer(_periodic_mask(height), _periodic_mask(width))
    total = power.sum(axis=(1, 2))
    return np.where(total > 0, power[:, mask].sum(axis=1) / np.maximum(total, 1e-30), 0.0)


def block_means(values: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(N, H, W) -> (N, H // block, W // block) means (a partial last row or column is left out)."""
    n, height, width = values.shape
    rows, cols = height // block, width // block
    trimmed = values[:, :rows * block, :cols * block]
    return trimmed.reshape(n, rows, block, cols, block).mean(axis=(2, 4))


def blotch_share(generated: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Per image: the share of its blocks much darker than the same blocks of the pair's real photo."""
    real_lum = luminance(real)
    dark = block_means(luminance(generated)) < block_means(real_lum) - DARKER
    photo = block_means((real_lum > PADDING).astype(np.float64)) >= 0.5
    return (dark & photo).sum(axis=(1, 2)) / np.maximum(photo.sum(axis=(1, 2)), 1)


@dataclass
class ArtefactTally:
    """Both measures, per image, over a stream of (generated, real) batches."""

    shares: dict[str, dict[str, list]] = field(
        default_factory=lambda: {m: {"run": [], "real": []} for m in MEASURES})

    def add(self, generated: np.ndarray, real: np.ndarray) -> None:
        """Add a batch of generated images and the real photos of the same pairs."""
        generated, real = np.asarray(generated), np.asarray(real)
        self.shares["checkerboard"]["run"] += checkerboard_share(generated).tolist()
        self.shares["checkerboard"]["real"] += checkerboard_share(real).tolist()
        self.shares["blotches"]["run"] += blotch_share(generated, real).tolist()
        self.shares["blotches"]["real"] += blotch_share(real, real).tolist()

    def summary(self) -> dict:
        """Each measure's mean over the generated images and over the real photos of the same pairs."""
        return {m: {k: float(np.mean(v)) if v else float("nan") for k, v in by.items()}
                for m, by in self.shares.items()}


def format_artefacts(summary: dict) -> str:
    return "   ".join(f"{LABELS[m]} {summary[m]['run']:.4f} (real photos {summary[m]['real']:.4f})" for m in MEASURES)
