"""``pix2pix_tf.train.training.prepare`` in process: how fit chooses and checks the validation split."""

import pytest
from conftest import write_paired

from pix2pix_tf.core.config import new_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.train.training import prepare

TINY_SPEC = {"image_size": "32", "precision": "float32"}


def test_an_empty_test_folder_says_how_to_train_without_validation(tmp_path):
    data = write_paired(tmp_path / "data", count=2)
    (data / "test").mkdir()
    with pytest.raises(UserError, match=r"test: no \.jpg or \.png images; fit validates on test/ because it "
                                        r"exists: .* or remove the empty folder to train without validation"):
        prepare(new_config({"data": str(data), **TINY_SPEC}))
    (data / "test").rmdir()
    assert prepare(new_config({"data": str(data), **TINY_SPEC})).val_pairs == []


@pytest.mark.parametrize("split", ["train", "train/"])
def test_validating_on_the_training_split_warns_that_it_is_not_held_out(tmp_path, capsys, split):
    data = write_paired(tmp_path / "data", count=2)
    prepared = prepare(new_config({"data": str(data), "val_split": split, **TINY_SPEC}))
    assert len(prepared.val_pairs) == 2
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: train/ is both the training and the validation split: validation scores the "
                        "pairs the run trains on, not held-out ones, so it reads better than on new images"]
