"""``judge --palette derive`` learns its classes from the label side of the data: data whose label side is
a photo is refused in one line instead of giving a palette of a few shades and a judge that means nothing."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FACADES, error_line, pair_arrays, run_module, write_paired
from PIL import Image

from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.palette import derive_palette


def test_label_maps_give_a_palette_and_shaded_images_are_refused():
    assert derive_palette([pair_arrays(k, 32)[0] for k in range(8)], "labels").num_classes == 4
    with pytest.raises(UserError, match=r"shaded: the label side does not look like colour-coded label maps: "
                                        r"\d+% of its flat areas"):
        derive_palette([pair_arrays(k, 32)[1] for k in range(8)], "shaded")


@pytest.mark.skipif(not FACADES.is_dir(), reason="the facades benchmark data is not beside the checkout")
def test_facades_label_maps_pass_and_facades_photos_are_refused():
    pairs = [np.asarray(Image.open(FACADES / "train" / f"{k}.jpg").convert("RGB")) for k in range(1, 21)]
    photos, labels = [p[:, :256] for p in pairs], [p[:, 256:] for p in pairs]
    assert derive_palette(labels, "labels").num_classes >= 8
    with pytest.raises(UserError, match="does not look like colour-coded label maps"):
        derive_palette(photos, "photos")


def test_judge_with_a_photo_as_its_label_side_is_one_line_and_writes_nothing(tmp_path):
    data = write_paired(tmp_path / "data", count=4)
    run = tmp_path / "judge"
    result = run_module("pix2pix_tf.judge", "--run-dir", str(run), "--data", str(data), "--direction", "BtoA",
                        "--image-size", "32", "--ngf", "8", "--batch-size", "2", "--precision", "float32", "--quiet")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "does not look like colour-coded label maps" in error_line(result)
    assert not run.exists()
