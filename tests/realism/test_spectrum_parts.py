"""The spectrum measure's parts on synthesised images (no data needed): bands by period, the periodic
frequencies left out of them, and a synthesised texture's response to blur and to a checkerboard."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from pix2pix_tf.realism.degrade import checkerboard, gaussian_blur
from pix2pix_tf.realism.spectrum import BANDS, artefact_mask, band_masks, power_spectra, spectrum_gaps


def texture(count: int = 6, size: int = 64, seed: int = 0) -> np.ndarray:
    """Photo-like noise in [-1, 1]: power falling as 1/f^2, in grey."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    amplitude = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / size)
    spectra = amplitude * np.exp(2j * np.pi * rng.uniform(size=(count, size, size)))
    images = np.real(np.fft.ifft2(spectra))
    images = 0.4 * images / images.std(axis=(1, 2), keepdims=True)
    return np.clip(images, -1, 1)[..., None].astype(np.float32)


def test_bands_hold_the_frequencies_of_their_periods():
    masks = band_masks(64, 64)
    fy, fx = np.meshgrid(np.fft.fftfreq(64), np.fft.fftfreq(64), indexing="ij")
    period = 1.0 / np.maximum(np.hypot(fy, fx), 1e-9)
    for (short, long), mask in zip(BANDS, masks):
        assert mask.any() and (period[mask] >= short).all() and (period[mask] < long).all()
    assert not (masks.sum(axis=0) > 1).any()  # no frequency in two bands
    left_out = artefact_mask(64, 64)
    assert left_out[0, 16] and left_out[16, 16] and left_out[32, 32] and left_out[8, 0]  # periods 4, 2.8, 1.4, 8
    assert not (masks & left_out).any()


def test_a_period_2_checkerboard_is_one_peak():
    spectrum = power_spectra(checkerboard(32, 32, 0.5)[None] + np.zeros((1, 32, 32, 1)))[0]
    assert np.unravel_index(spectrum.argmax(), spectrum.shape) == (16, 16)


def test_synthesised_texture_blur_and_checkerboard():
    images = texture()
    same = spectrum_gaps(images, images)
    assert same["detail"]["gap"] == 0.0 and set(same["detail"]["bands"].values()) == {0.0}
    assert same["checkerboard"]["gap"] == 0.0 and set(same["checkerboard"]["peaks"].values()) == {0.0}
    soft = [spectrum_gaps(gaussian_blur(tf.constant(images), s).numpy(), images)["detail"]["gap"] for s in (0.5, 1, 2)]
    assert 0 > soft[0] > soft[1] > soft[2]
    marked = spectrum_gaps(np.clip(images + checkerboard(64, 64, 0.05), -1, 1), images)
    assert marked["checkerboard"]["gap"] > 0.3 and abs(marked["detail"]["gap"]) < 0.05
