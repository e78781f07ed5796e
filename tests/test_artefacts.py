"""The artefact measures on constructed images: each catches what it names (a checkerboard added to a
photo, a dark blob painted on one) and leaves real photos alone."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FACADES as FACADES_DATA
from PIL import Image

from pix2pix_tf.artefacts import ArtefactTally, blotch_share, box_mean, checkerboard_share
from pix2pix_tf.palette import FACADES

needs_facades = pytest.mark.skipif(not (FACADES_DATA / "test").is_dir(), reason="no facades data beside the checkout")


@pytest.fixture(scope="module")
def facades():
    """(photos, label classes) of 40 facades test pairs, photos in [-1, 1]."""
    photos, labels = [], []
    for i in range(1, 41):
        pair = np.asarray(Image.open(FACADES_DATA / "test" / f"{i}.jpg").convert("RGB"), np.float32) / 127.5 - 1.0
        photos.append(pair[:, :256])
        labels.append(FACADES.classify((pair[:, 256:] + 1.0) * 127.5))
    return np.stack(photos), np.stack(labels)


def periodic(period: int, amplitude: float) -> np.ndarray:
    yy, xx = np.mgrid[:256, :256]
    return (np.where((yy // (period // 2) + xx // (period // 2)) % 2 == 0, 1.0, -1.0) * amplitude)[..., None]


@needs_facades
@pytest.mark.parametrize("period", [2, 4])
def test_checkerboard_share_catches_a_faint_checkerboard_and_passes_real_photos(facades, period):
    photos, _ = facades
    real = checkerboard_share(photos)
    assert real.max() < 0.005  # photographs put little power at periods 2 and 4
    marked = checkerboard_share(np.clip(photos + periodic(period, 0.03), -1, 1))  # +-4 grey levels
    assert marked.mean() > 5 * real.mean()
    assert (marked > real).all()


@needs_facades
def test_blotch_share_catches_dark_smears_on_walls_and_passes_real_photos(facades):
    photos, classes = facades
    real = blotch_share(photos, classes)
    assert real.mean() < 0.04  # deep shadows and dark trees
    blotched = photos.copy()
    rng = np.random.default_rng(0)
    for image, labels in zip(blotched, classes):  # a dark 32x32 smear centred on a wall pixel of each image
        ys, xs = np.nonzero(labels == FACADES.names.index("facade"))
        k = rng.integers(len(ys))
        y, x = np.clip(ys[k] - 16, 0, 224), np.clip(xs[k] - 16, 0, 224)
        image[y:y + 32, x:x + 32] = 0.1 * image[y:y + 32, x:x + 32] - 0.85  # near black, a trace of texture
    found = blotch_share(blotched, classes)
    assert found.mean() > real.mean() + 0.005  # each smear is 1.6% of its image, its smoothed core about 0.9%
    assert (found > real).mean() > 0.9
    tally = ArtefactTally()
    tally.add(blotched, photos, classes)
    summary = tally.summary()
    assert summary["blotches"]["run"] == pytest.approx(found.mean())
    assert summary["blotches"]["real"] == pytest.approx(real.mean())
    assert summary["checkerboard"]["real"] == pytest.approx(checkerboard_share(photos).mean())


def test_box_mean_is_the_neighbourhood_mean():
    values = np.random.default_rng(0).uniform(size=(2, 12, 10))
    found = box_mean(values, 3)
    np.testing.assert_allclose(found[:, 5, 4], values[:, 4:7, 3:6].mean(axis=(1, 2)))
    flat = np.full((1, 8, 8), 0.3)
    np.testing.assert_allclose(box_mean(flat, 5), 0.3)
