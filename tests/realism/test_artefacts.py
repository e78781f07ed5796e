"""The artefact measures on constructed images: each catches what it names (a checkerboard added to a
photo, a dark blob painted on one) and leaves real photos alone."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FACADES as FACADES_DATA
from PIL import Image

from pix2pix_tf.realism.artefacts import ArtefactTally, block_means, blotch_share, checkerboard_share
from pix2pix_tf.realism.degrade import gaussian_blur

pytestmark = pytest.mark.skipif(not (FACADES_DATA / "test").is_dir(), reason="no facades data beside the checkout")


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """40 facades test photos in [-1, 1]."""
    return np.stack([np.asarray(Image.open(FACADES_DATA / "test" / f"{i}.jpg").convert("RGB"),
                                np.float32)[:, :256] / 127.5 - 1.0 for i in range(1, 41)])


def periodic(period: int, amplitude: float) -> np.ndarray:
    yy, xx = np.mgrid[:256, :256]
    return (np.where((yy // (period // 2) + xx // (period // 2)) % 2 == 0, 1.0, -1.0) * amplitude)[..., None]


def jpeg(images: np.ndarray, quality: int = 60) -> np.ndarray:
    import io

    out = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(np.round((image + 1) * 127.5).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())), np.float32) / 127.5 - 1.0)
    return np.stack(out)


@pytest.mark.parametrize("period", [2, 4])
def test_checkerboard_share_catches_a_faint_checkerboard_and_passes_real_photos(photos, period):
    real = checkerboard_share(photos)
    assert real.max() < 0.005  # photographs put little power at periods 2 and 4
    marked = checkerboard_share(np.clip(photos + periodic(period, 0.03), -1, 1))  # +-4 grey levels
    assert marked.mean() > 5 * real.mean() and (marked > real).all()
    blurred = gaussian_blur(tf.constant(photos), 1.0).numpy()  # real photos, altered in other ways
    assert checkerboard_share(blurred).mean() <= real.mean()
    assert checkerboard_share(jpeg(photos)).mean() < 2 * real.mean()


def test_blotch_share_catches_dark_smears_and_passes_altered_real_photos(photos):
    assert blotch_share(photos, photos).max() == 0.0
    for altered in (gaussian_blur(tf.constant(photos), 2.0).numpy(), jpeg(photos, 40), photos * 0.85 - 0.15):
        assert blotch_share(altered, photos).mean() < 0.002  # blurred, recompressed, 15% darker
    smeared = photos.copy()
    smeared[:, 16:64, 32:96] = np.minimum(smeared[:, 16:64, 32:96], -0.7)  # a dark 48x64 smear near the top
    found = blotch_share(smeared, photos)
    lit = block_means((photos[:, 16:64, 32:96].mean(-1) + 1) / 2) > 0.5  # where the photo was light there
    assert (found[lit.any(axis=(1, 2))] > 0).all()
    assert found.mean() > 0.01
    tally = ArtefactTally()
    tally.add(smeared, photos)
    summary = tally.summary()
    assert summary["blotches"] == {"run": pytest.approx(found.mean()), "real": 0.0}
    assert summary["checkerboard"]["real"] == pytest.approx(checkerboard_share(photos).mean())


def test_block_means():
    values = np.arange(2 * 32 * 48, dtype=float).reshape(2, 32, 48)
    means = block_means(values, 16)
    assert means.shape == (2, 2, 3)
    assert means[1, 1, 2] == pytest.approx(values[1, 16:32, 32:48].mean())
