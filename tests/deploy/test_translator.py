"""``pix2pix_tf.load`` and ``Translator.translate`` given what a user may hand them by mistake: options
checked before a checkpoint is read, and a hint for each input that is not an (H, W, C) image array."""

import io

import numpy as np
import pytest
from conftest import make_run, write_paired
from PIL import Image

import pix2pix_tf


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("translator")
    make_run(root / "run", write_paired(root / "data", count=2))
    return pix2pix_tf.load(root / "run")


def noise(h: int, w: int, c: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("value", ["abc", None, 0])
def test_a_max_side_that_is_not_a_number_is_one_clear_error_before_loading(tmp_path, value):
    with pytest.raises(ValueError, match=f"^max_side must be a positive whole number of pixels, not {value!r}$"):
        pix2pix_tf.load(tmp_path / "not-loaded", max_side=value)


def test_png_bytes_get_a_hint(model):
    png = io.BytesIO()
    Image.fromarray(noise(32, 32, 3)).save(png, "PNG")
    with pytest.raises(TypeError, match=r"^PNG bytes are not an image array: pass the file's path, or decode them"):
        model.translate(png.getvalue())


def test_a_channels_first_array_gets_a_hint(model):
    with pytest.raises(ValueError, match=r"shape \(3, 32, 48\) looks channels-first .* np\.moveaxis\(image, 0, -1\)"):
        model.translate(noise(32, 48, 3).transpose(2, 0, 1))


def test_a_uint16_array_of_8_bit_levels_warns(model):
    eight_bit_levels = noise(32, 32, 3).astype(np.uint16)
    with pytest.warns(UserWarning, match=r"uint16 array whose values all lie in 0\.\.255 .*\.astype\(np\.uint8\)"):
        assert model.translate(eight_bit_levels).dtype == np.uint16
    output, notes = model.translate_with_notes(eight_bit_levels * 257)
    assert notes == [] and output.dtype == np.uint16
