"""Issue 27 in the data: a split mixing the two layouts is refused (item 4); the native size is every
pair's, not the first one's, and pairs far smaller than the crop are refused (item 5)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import pair_arrays, save_image, write_paired

from pix2pix_tf.core.config import new_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data import pipeline as data_lib
from pix2pix_tf.datasets.combine import detect_splits
from pix2pix_tf.train.training import prepare


def test_loose_pairs_beside_a_and_b_folders_are_refused_naming_both_layouts(tmp_path):
    for i in range(3):
        a, b = pair_arrays(i, 32)
        save_image(a, tmp_path / "train" / "A" / f"{i}.png")
        save_image(b, tmp_path / "train" / "B" / f"{i}.png")
    write_paired(tmp_path, count=2, start=10)
    with pytest.raises(UserError, match=r"train: holds both A/ and B/ folders and side-by-side pairs \(11.png, "
                                        r"12.png\); a split has one layout"):
        data_lib.list_pairs(tmp_path, "train")


def test_combine_refuses_loose_images_beside_splits_by_the_same_rule(tmp_path):
    for side in ("A", "B"):
        write_paired(tmp_path / side, count=1)
    save_image(pair_arrays(0, 32)[0], tmp_path / "A" / "stray.png")
    with pytest.raises(UserError, match=r"holds both split sub-folders \(train\) and loose images \(stray.png\)"):
        detect_splits(tmp_path / "A", tmp_path / "B")


def test_the_native_size_is_the_median_of_every_pair_with_a_note(tmp_path, capsys):
    save_image(np.zeros((16, 32, 3), np.uint8), tmp_path / "train" / "1.png")  # sorted first, a quarter the size
    for i in range(2, 6):
        a, b = pair_arrays(i, 64)
        save_image(np.concatenate([a, b], axis=1), tmp_path / "train" / f"{i}.png")
    spec = prepare(new_config({"data": str(tmp_path), "image_size": "32", "precision": "float32"})).config
    assert spec.data_size == "64x64"
    assert ("note: the train images come in 2 sizes, 16x16 to 64x64 (WxH); their median, 64x64, is the size "
            "translate --scale training scales from") in capsys.readouterr().err


@pytest.mark.parametrize("side", [1, 7])
def test_pairs_far_smaller_than_the_crop_are_refused(tmp_path, side):
    write_paired(tmp_path, count=2)
    save_image(np.zeros((side, 2 * side, 3), np.uint8), tmp_path / "train" / "9.png")
    config = new_config({"data": str(tmp_path), "image_size": "32"})
    with pytest.raises(UserError, match=rf"9.png: {side}x{side} \(WxH\) is far smaller than the 32x32 crop "
                                        r"\(--image-size 32\): enlarged over 4x"):
        data_lib.check_pairs(data_lib.list_pairs(tmp_path, "train"), config, what="train")
    assert len(data_lib.check_pairs(data_lib.list_pairs(tmp_path, "train"), config, what="train",
                                    on_bad="skip")[0]) == 2
