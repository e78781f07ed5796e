"""Two artefact measures of generated images, each reported beside the same measure of the real photos.

Checkerboard. A stride-2 transposed convolution whose kernel does not divide evenly by its stride
paints a periodic pattern: period 2 pixels from the last layer, period 4 from the one before, on both
axes (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016). In the
Fourier domain such a pattern is power at exactly the frequencies 0, N/4, N/2 and 3N/4 of each axis.
The measure is the share of an image's power (luminance, mean removed, Hann-windowed so the borders
do not leak power everywhere) at those frequency pairs, (0, 0) excluded. Photographs have little power
there; a checkerboard of a few grey levels multiplies it.

Blotches. Dark smeared patches where the rest of the same region is light. A pixel is in a blotch
when the mean luminance of its 17x17 neighbourhood (so texture, edges and thin details do not count)
is under a quarter of the median luminance of its class in the same image: the class of its label-map pixel
when a judge's palette gives classes (a window may be dark where the wall around it is not), the
whole image otherwise. Measured against the image's own levels, it does not care about exposure.
Pure black (``PADDING``) is left out: rectified datasets such as facades fill the corners outside the
photo with it. Real photos score a little (deep shadows, dark trees); painted blobs score more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DARK_RATIO = 0.25  # a blotch is darker than this share of its class's median luminance
NEIGHBOURHOOD = 17  # pixels on the side of the smoothing window: blotches, not details
MIN_CLASS_SHARE = 0.01  # classes covering less of an image than this take the image's median
PADDING = 2 / 255  # luminance at or below which a pixel is the black fill of a rectified photo
MEASURES = ("checkerboard", "blotches")
LABELS = {"checkerboard": "checkerboard power share", "blotches": "dark-blotch pixel share"}


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


def box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W) -> the mean over each pixel's size x size neighbourhood (mirrored at the borders)."""
    pad = size // 2
    padded = np.pad(values, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
    sums = np.zeros((padded.shape[0], padded.shape[1] + 1, padded.shape[2] + 1))
    sums[:, 1:, 1:] = padded.cumsum(axis=1).cumsum(axis=2)
    height, width = values.shape[1:]
    total = (sums[:, size:size + height, size:size + width] - sums[:, :height, size:size + width]
             - sums[:, size:size + height, :width] + sums[:, :height, :width])
    return total / size ** 2


def blotch_share(images: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """Per image: the share of its (non-padding) pixels that lie in a dark blotch."""
    lum = luminance(images)
    classes = np.zeros(lum.shape, np.int64) if classes is None else np.asarray(classes, np.int64)
    smooth = box_mean(lum, NEIGHBOURHOOD)
    valid = lum > PADDING
    shares = []
    for y, s, c, ok in zip(lum, smooth, classes, valid):
        floor = np.full(y.shape, DARK_RATIO * np.median(y[ok]) if ok.any() else 0.0)
        for k in np.unique(c[ok]):
            member = (c == k) & ok
            if member.mean() >= MIN_CLASS_SHARE:
                floor[member] = DARK_RATIO * np.median(y[member])
        shares.append(float(((s < floor) & ok).sum() / max(ok.sum(), 1)))
    return np.array(shares)


@dataclass
class ArtefactTally:
    """Both measures, per image, over a stream of (generated, real, classes) batches."""

    shares: dict[str, dict[str, list]] = field(
        default_factory=lambda: {m: {"run": [], "real": []} for m in MEASURES})

    def add(self, generated: np.ndarray, real: np.ndarray, classes: np.ndarray | None = None) -> None:
        """Add a batch of generated images and the real photos of the same pairs; ``classes`` is the
        label map's class of each pixel (shared by a generated image and its real photo), if known."""
        for key, images in (("run", generated), ("real", real)):
            self.shares["checkerboard"][key] += checkerboard_share(images).tolist()
            self.shares["blotches"][key] += blotch_share(images, classes).tolist()

    def summary(self) -> dict:
        """Each measure's mean over the generated images and over the real photos of the same pairs."""
        return {m: {k: float(np.mean(v)) if v else float("nan") for k, v in by.items()}
                for m, by in self.shares.items()}


def format_artefacts(summary: dict) -> str:
    return "   ".join(f"{LABELS[m]} {summary[m]['run']:.4f} (real photos {summary[m]['real']:.4f})" for m in MEASURES)
