"""Two measures of generated images read from their power spectrum at full resolution, each reported as
the gap to the real photos of the same pairs (0 = like a photograph).

The realism judge sees images at its own training size (128 px for facades), so a 256 px output that is
soft at periods of 2-5 pixels, or carries a faint period-2 checkerboard, looks to it like a photograph.
These two measures look at the images as ``evaluate`` receives them.

Detail. The radial power spectrum of each image's luminance (mean removed, Hann-windowed so the borders
do not leak power everywhere), averaged over the frequencies of a band of periods (``BANDS``: 2-2.5,
2.5-3.3, 3.3-5, 5-10 and 10-32 pixels), in log10. The frequencies where periodic artefacts put their
power are left out (``artefact_mask``: every multiple of 1/8 cycle per pixel on each axis and its
neighbourhood: the period-2 and period-4 peaks of a transposed convolution and the 8 px block grid
of the JPEG photos), so a checkerboard does not count as detail. The gap per band is the mean over
images of that log10 power minus the real photos'; negative = softer than the photos (on the facades
test photos at 256 px a Gaussian blur of sigma 0.5 px costs half a decade at periods 2-2.5 px, sigma 1
three decades). The headline figure is the mean over the bands.

Checkerboard. A stride-2 transposed convolution paints periodic patterns of period 2 and 4 pixels
(Odena, Dumoulin and Olah, Distill 2016): power at frequency pairs made of 0, 1/4 and 1/2 cycle per
pixel. The prominence of such a frequency is its mean power over the 3x3 bins its Hann-windowed peak
spreads over, divided by the mean power of the bins around it (a ring at 3 to 6 bins), in log10: 0 for
a smooth spectrum, however much or little power it has, so blur, which scales a peak and its
neighbours alike, barely moves it (the old share-of-power measure fell with blur as if blur were
clean). Photographs have peaks there too (their JPEG block grid), which blur does wear down a little.
The gap is the mean over the five kinds of peak (``PEAKS``) of the outputs' mean prominence minus the
photos' (``excess``); the reported gap is that excess or 0, whichever is larger: wearing a JPEG grid
down is no merit, and a set of outputs is never scored cleaner than photographs. 1 = peaks ten times
as prominent as the photos'.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pix2pix_tf.realism.artefacts import luminance

BANDS = ((2.0, 2.5), (2.5, 3.3), (3.3, 5.0), (5.0, 10.0), (10.0, 32.0))  # periods in pixels, [short, long)
GRID = 8  # periodic artefacts sit at multiples of 1/GRID cycle per pixel (2, 4 and the JPEG grid's 8)
MASK_RADIUS = 4  # bins around each periodic frequency left out of the detail bands (fewer in small images)
PEAK_RADIUS = 1  # a Hann-windowed peak spreads over the bins within 1 of it
RING = (3, 6)  # the neighbours a peak is compared with: bins at Chebyshev distance 3 to 6
# The kinds of checkerboard peak, as (vertical, horizontal) cycles per pixel; each is measured at every
# sign and axis swap of itself (so (0, 1/4) also stands for (1/4, 0) and (0, -1/4)).
PEAKS = ((0.0, 0.25), (0.25, 0.25), (0.0, 0.5), (0.25, 0.5), (0.5, 0.5))


def band_name(band: tuple[float, float]) -> str:
    return f"{band[0]:g}-{band[1]:g} px"


def power_spectra(images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) in [-1, 1] -> (N, H, W) power spectra of the luminance (fft2 layout), per unit of
    window energy."""
    y = luminance(images)
    _, height, width = y.shape
    window = np.outer(np.hanning(height), np.hanning(width))
    y = (y - y.mean(axis=(1, 2), keepdims=True)) * window
    return np.abs(np.fft.fft2(y)) ** 2 / max(float((window ** 2).sum()), 1e-30)


def _frequencies(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(vertical, horizontal) frequency of every bin, cycles per pixel, each (H, W)."""
    return np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")


def _bin_distance(height: int, width: int, fy: float, fx: float) -> np.ndarray:
    """Chebyshev distance in bins (wrapping around, as the spectrum does) of every bin from frequency
    (fy, fx)."""
    rows = np.arange(height)
    cols = np.arange(width)
    dy = (rows - round(fy * height)) % height
    dx = (cols - round(fx * width)) % width
    dy = np.minimum(dy, height - dy)
    dx = np.minimum(dx, width - dx)
    return np.maximum(dy[:, None], dx[None, :])


def artefact_mask(height: int, width: int) -> np.ndarray:
    """(H, W) True where a periodic artefact may put its power: within ``MASK_RADIUS`` bins of every
    multiple of 1/GRID cycle per pixel on both axes, or within a quarter of their spacing where that is
    less (a 32 px image has multiples 4 bins apart), so that most of the spectrum stays."""
    radius = min(MASK_RADIUS, min(height, width) // GRID // 4)
    mask = np.zeros((height, width), bool)
    for fy in np.arange(GRID) / GRID:
        for fx in np.arange(GRID) / GRID:
            mask |= _bin_distance(height, width, fy, fx) <= radius
    return mask


def band_masks(height: int, width: int) -> np.ndarray:
    """(bands, H, W): the bins of each band of periods, periodic-artefact neighbourhoods left out."""
    fy, fx = _frequencies(height, width)
    radial = np.hypot(fy, fx)
    with np.errstate(divide="ignore"):
        period = np.where(radial > 0, 1.0 / radial, np.inf)
    keep = ~artefact_mask(height, width)
    return np.stack([(period >= short) & (period < long) & keep for short, long in BANDS])


def band_log_power(spectra: np.ndarray) -> np.ndarray:
    """(N, H, W) spectra -> (N, bands) log10 mean power per band; a band with no bins at this size is nan."""
    _, height, width = spectra.shape
    masks = band_masks(height, width)
    counts = masks.sum(axis=(1, 2))
    means = np.einsum("nhw,bhw->nb", spectra, masks.astype(spectra.dtype)) / np.maximum(counts, 1)
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, np.log10(np.maximum(means, 1e-30)), np.nan)


def _peak_positions(fy: float, fx: float) -> set[tuple[float, float]]:
    """Every sign and axis swap of a peak, each once (as frequencies mod 1)."""
    found = set()
    for a, b in ((fy, fx), (fx, fy)):
        for sa in (1, -1):
            for sb in (1, -1):
                found.add(((sa * a) % 1.0, (sb * b) % 1.0))
    return found


def peak_prominence(spectra: np.ndarray) -> np.ndarray:
    """(N, H, W) spectra -> (N, len(PEAKS)) log10 prominence of each kind of peak (mean over its positions);
    nan where the image is too small to hold it (a side under 8 px)."""
    n, height, width = spectra.shape
    out = np.full((n, len(PEAKS)), np.nan)
    if min(height, width) < 8:
        return out
    for k, (fy, fx) in enumerate(PEAKS):
        values = []
        for py, px in _peak_positions(fy, fx):
            distance = _bin_distance(height, width, py, px)
            peak = spectra[:, distance <= PEAK_RADIUS].mean(axis=1)
            ring = spectra[:, (distance >= RING[0]) & (distance <= RING[1])].mean(axis=1)
            values.append(np.log10(np.maximum(peak, 1e-30) / np.maximum(ring, 1e-30)))
        out[:, k] = np.mean(values, axis=0)
    return out


def _mean_over_images(chunks: list[np.ndarray]) -> np.ndarray:
    """Column means of the stacked per-image values, nan left out; nan where a column has none."""
    values = np.concatenate(chunks)
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    return np.where(count > 0, np.where(finite, values, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)


def _detail_summary(per_band: np.ndarray) -> dict:
    finite = per_band[np.isfinite(per_band)]
    return {"gap": float(finite.mean()) if finite.size else float("nan"),
            "bands": {band_name(b): float(v) for b, v in zip(BANDS, per_band)}}


def _peak_name(peak: tuple[float, float]) -> str:
    return f"({peak[0]:g}, {peak[1]:g})"


def _checkerboard_summary(per_peak: np.ndarray) -> dict:
    finite = per_peak[np.isfinite(per_peak)]
    excess = float(finite.mean()) if finite.size else float("nan")
    return {"gap": max(0.0, excess) if finite.size else excess, "excess": excess,
            "peaks": {_peak_name(p): float(v) for p, v in zip(PEAKS, per_peak)}}


@dataclass
class SpectrumTally:
    """Per-image band powers and peak prominences of the outputs and of the photos of the same pairs, over
    a stream of batches: a few numbers per image, whatever the image size."""

    bands: dict[str, list] = field(default_factory=lambda: {"run": [], "real": []})
    peaks: dict[str, list] = field(default_factory=lambda: {"run": [], "real": []})

    def add(self, generated: np.ndarray, real: np.ndarray) -> None:
        """Add a batch of generated images and the real photos of the same pairs."""
        for name, images in (("run", generated), ("real", real)):
            spectra = power_spectra(np.asarray(images))
            self.bands[name].append(band_log_power(spectra))
            self.peaks[name].append(peak_prominence(spectra))

    def summary(self) -> dict:
        """``detail``: the gap per band and their mean; ``checkerboard``: the gap per kind of peak (signed),
        their mean (``excess``) and the reported gap (the excess, at least 0)."""
        if not self.bands["run"]:
            return {"detail": _detail_summary(np.full(len(BANDS), np.nan)),
                    "checkerboard": _checkerboard_summary(np.full(len(PEAKS), np.nan))}
        gap = {name: _mean_over_images(values["run"]) - _mean_over_images(values["real"])
               for name, values in (("detail", self.bands), ("checkerboard", self.peaks))}
        return {"detail": _detail_summary(gap["detail"]), "checkerboard": _checkerboard_summary(gap["checkerboard"])}


def spectrum_gaps(generated: np.ndarray, real: np.ndarray) -> dict:
    """Both measures of one set of images against the photos of the same pairs (``SpectrumTally.summary``)."""
    tally = SpectrumTally()
    tally.add(generated, real)
    return tally.summary()


def format_spectrum(summary: dict) -> str:
    """One line for each measure: the headline gap, then its parts."""
    detail, board = summary["detail"], summary["checkerboard"]
    bands = ", ".join(f"{name} {value:+.2f}" for name, value in detail["bands"].items())
    return (f"detail gap {detail['gap']:+.2f} (log10 power per band of periods against the photos: {bands})\n"
            f"  checkerboard prominence gap {board['gap']:.2f} (periodic peaks at periods 2 and 4 px over their "
            f"neighbours, log10, against the photos; signed {board['excess']:+.2f})")
