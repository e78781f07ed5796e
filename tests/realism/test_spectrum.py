"""The full-resolution measures on real facades photos at 256 px: the detail gap falls with every step of
blur the 128 px judge cannot see and ignores a checkerboard; the checkerboard gap grows with a
checkerboard's amplitude and never calls blur cleaner than a photograph; real photos score 0."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FACADES as FACADES_DATA
from PIL import Image

from pix2pix_tf.realism.degrade import checkerboard, gaussian_blur
from pix2pix_tf.realism.spectrum import BANDS, SpectrumTally, spectrum_gaps

pytestmark = pytest.mark.skipif(not (FACADES_DATA / "test").is_dir(), reason="no facades data beside the checkout")


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """24 facades test photos at their native 256 px, in [-1, 1]."""
    return np.stack([np.asarray(Image.open(FACADES_DATA / "test" / f"{i}.jpg").convert("RGB"),
                                np.float32)[:, :256] / 127.5 - 1.0 for i in range(1, 25)])


def blurred(photos: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_blur(tf.constant(photos), sigma).numpy()


def with_checkerboard(photos: np.ndarray, amplitude: float, period: int = 2) -> np.ndarray:
    if period == 2:
        pattern = checkerboard(256, 256, amplitude)
    else:
        rows, cols = np.mgrid[:256, :256]
        pattern = (np.where((rows // 2 + cols // 2) % 2 == 0, 1.0, -1.0) * amplitude)[..., None]
    return np.clip(photos + pattern, -1.0, 1.0)


def test_real_photos_score_zero(photos):
    gaps = spectrum_gaps(photos, photos)
    assert gaps["detail"]["gap"] == 0.0 and set(gaps["detail"]["bands"].values()) == {0.0}
    assert gaps["checkerboard"]["gap"] == 0.0
    other = spectrum_gaps(photos[::2], photos[1::2])  # two samples of photographs: near 0, not exactly
    assert abs(other["detail"]["gap"]) < 0.15 and other["checkerboard"]["gap"] < 0.15


def test_detail_falls_with_every_blur_step_in_every_band(photos):
    bands = [list(spectrum_gaps(blurred(photos, sigma), photos)["detail"]["bands"].values())
             for sigma in (0.5, 1.0, 2.0)]
    previous = [0.0] * len(BANDS)
    for sigma, gaps in zip((0.5, 1.0, 2.0), bands):
        assert all(g < p for g, p in zip(gaps, previous)), (sigma, gaps, previous)
        previous = gaps
    assert bands[0][0] < -0.3  # sigma 0.5 at 256 px, invisible to a 128 px judge, costs half a decade at 2-2.5 px


@pytest.mark.parametrize("period", [2, 4])
def test_a_checkerboard_is_not_detail(photos, period):
    plain = spectrum_gaps(photos, photos)["detail"]["gap"]
    for amplitude in (0.01, 0.03, 0.1):
        assert spectrum_gaps(with_checkerboard(photos, amplitude, period), photos)["detail"]["gap"] <= plain + 0.01


@pytest.mark.parametrize("period", [2, 4])
def test_checkerboard_gap_grows_with_the_amplitude(photos, period):
    gaps = [spectrum_gaps(with_checkerboard(photos, amplitude, period), photos)["checkerboard"]["gap"]
            for amplitude in (0.01, 0.03, 0.1)]  # +-1.3, 4 and 13 grey levels
    assert 0.2 < gaps[0] < gaps[1] < gaps[2], gaps


def test_blur_is_never_cleaner_than_the_photos(photos):
    """The old share-of-power measure fell with blur, as if a blurred photo had less checkerboard than the
    photo; prominence over the neighbouring frequencies barely moves, and below the photos counts as 0."""
    for sigma in (0.5, 1.0, 2.0):
        gaps = spectrum_gaps(blurred(photos, sigma), photos)["checkerboard"]
        assert gaps["gap"] == 0.0
        assert gaps["excess"] > -0.2, (sigma, gaps)


def test_the_tally_streams_batches_to_the_same_gaps(photos):
    tally = SpectrumTally()
    softened = blurred(photos, 1.0)
    for start in range(0, len(photos), 5):
        tally.add(softened[start:start + 5], photos[start:start + 5])
    streamed, whole = tally.summary(), spectrum_gaps(softened, photos)
    for measure, parts in (("detail", "bands"), ("checkerboard", "peaks")):
        assert streamed[measure]["gap"] == pytest.approx(whole[measure]["gap"])
        assert streamed[measure][parts] == pytest.approx(whole[measure][parts])
