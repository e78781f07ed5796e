"""The dark-blotch measure of generated images, reported beside the same measure of the real photos (the
checkerboard and the loss of detail are read from the power spectrum: ``pix2pix_tf.realism.spectrum``).

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
MEASURES = ("blotches",)
LABELS = {"blotches": "dark-blotch block share"}


def luminance(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) in [-1, 1] -> (N, H, W) luminance in [0, 1] (Rec. 601 weights for colour)."""
    unit = (np.asarray(images, np.float64) + 1.0) / 2.0
    if unit.shape[-1] == 3:
        return np.clip(unit @ np.array([0.299, 0.587, 0.114]), 0.0, 1.0)
    return np.clip(unit.mean(axis=-1), 0.0, 1.0)


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
    """The blotch share, per image, over a stream of (generated, real) batches."""

    shares: dict[str, dict[str, list]] = field(
        default_factory=lambda: {m: {"run": [], "real": []} for m in MEASURES})

    def add(self, generated: np.ndarray, real: np.ndarray) -> None:
        """Add a batch of generated images and the real photos of the same pairs."""
        generated, real = np.asarray(generated), np.asarray(real)
        self.shares["blotches"]["run"] += blotch_share(generated, real).tolist()
        self.shares["blotches"]["real"] += blotch_share(real, real).tolist()

    def summary(self) -> dict:
        """The measure's mean over the generated images and over the real photos of the same pairs."""
        return {m: {k: float(np.mean(v)) if v else float("nan") for k, v in by.items()}
                for m, by in self.shares.items()}


def format_artefacts(summary: dict) -> str:
    return "   ".join(f"{LABELS[m]} {summary[m]['run']:.4f} (real photos {summary[m]['real']:.4f})" for m in MEASURES)
