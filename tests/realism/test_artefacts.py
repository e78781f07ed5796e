"""The dark-blotch measure on constructed images: it catches a dark blob painted on a photo and leaves
real photos, blurred, re-exposed or recompressed, alone (the checkerboard measure: test_spectrum.py)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FACADES as FACADES_DATA
from PIL import Image

from pix2pix_tf.realism.artefacts import ArtefactTally, block_means, blotch_share
from pix2pix_tf.realism.degrade import gaussian_blur

pytestmark = pytest.mark.skipif(not (FACADES_DATA / "test").is_dir(), reason="no facades data beside the checkout")


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """40 facades test photos in [-1, 1]."""
    return np.stack([np.asarray(Image.open(FACADES_DATA / "test" / f"{i}.jpg").convert("RGB"),
                                np.float32)[:, :256] / 127.5 - 1.0 for i in range(1, 41)])


def jpeg(images: np.ndarray, quality: int = 60) -> np.ndarray:
    import io

    out = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(np.round((image + 1) * 127.5).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
        out.append(np.asarray(Image.open(io.BytesIO(buffer.getvalue())), np.float32) / 127.5 - 1.0)
    return np.stack(out)


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
    assert summary == {"blotches": {"run": pytest.approx(found.mean()), "real": 0.0}}


def test_block_means():
    values = np.arange(2 * 32 * 48, dtype=float).reshape(2, 32, 48)
    means = block_means(values, 16)
    assert means.shape == (2, 2, 3)
    assert means[1, 1, 2] == pytest.approx(values[1, 16:32, 32:48].mean())
