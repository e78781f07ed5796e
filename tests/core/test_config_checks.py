"""Issue 27: settings that no run can train with are refused in one line, from flags and from a stored
config alike: non-finite numbers (item 1), the size rules (item 3), a hand-edited config (item 9)."""

from __future__ import annotations

import json
import typing

import pytest

from pix2pix_tf.core.config import Config, RunSpec, load_config, new_config, resumed_config, save_config, validate
from pix2pix_tf.core.errors import UserError

FLOAT_FIELDS = [name for name, hint in typing.get_type_hints(Config).items()
                if float in (typing.get_args(hint) or (hint,))]
STORED = {"data": "/data", "image_size": "32", "ngf": 8, "ndf": 8, "precision": "float32", "input_nc": 3,
          "output_nc": 3, "depth": 5, "steps_per_epoch": 8, "constant_steps": 4, "decay_steps": 4,
          "data_size": "32x32", "val_holdout": 0}


def stored_run(tmp_path, **changes):
    """A run directory's config.json as fit writes it, with ``changes`` edited into the stored values
    (``None`` deletes the key)."""
    run = tmp_path / "run"
    run.mkdir()
    path = save_config(RunSpec(**STORED), run)
    payload = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            del payload["config"][key]
        else:
            payload["config"][key] = value
    path.write_text(json.dumps(payload))
    return run


@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_a_non_finite_setting_is_refused_by_name(field):
    assert len(FLOAT_FIELDS) >= 12
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(UserError, match=rf"^--{field.replace('_', '-')} {value}: must be a finite number$"):
            validate({field: value})  # what fit and judge check their flags with, before anything else


@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_a_non_finite_stored_setting_names_the_file(tmp_path, field):
    run = stored_run(tmp_path)
    path = run / "config.json"
    for text, value in (("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf")):
        path.write_text(_with_raw_value(path.read_text(), field, text))
        with pytest.raises(UserError, match=rf"^{path}: {field} {value}: must be a finite number$"):
            load_config(run)


def _with_raw_value(text: str, field: str, raw: str) -> str:
    """The config text with one value replaced by a raw JSON token (NaN and Infinity are not JSON, but
    Python's json writes and reads them, and a hand edit can put them there)."""
    payload = json.loads(text)
    payload["config"][field] = "__raw__"
    return json.dumps(payload).replace('"__raw__"', raw)


@pytest.mark.parametrize("changes, message", [
    ({"ngf": 10 ** 30}, "ngf 1000000000000000000000000000000: must be in [1, 256]"),
    ({"steps": 10 ** 30}, "steps 1000000000000000000000000000000: too large"),
    ({"data_size": "abc"}, "data_size 'abc': expected a positive size"),
    ({"depth": 7}, "depth 7: image_size 32 needs 5"),
    ({"image_size": "16", "depth": 4}, "d_layers 3 at image_size 16: the discriminator's stride-2 layers halve"),
    ({"lr": None}, "incomplete, lr missing"),
    ({"image_size": None, "seed": None}, "incomplete, image_size, seed missing"),
])
def test_a_hand_edited_config_names_the_file(tmp_path, changes, message):
    run = stored_run(tmp_path, **changes)
    with pytest.raises(UserError) as caught:
        load_config(run)
    assert str(caught.value).startswith(f"{run / 'config.json'}: ") and message in str(caught.value)


def test_keys_added_after_the_first_runs_may_be_missing(tmp_path):
    run = stored_run(tmp_path, data_size=None, d_lr_ratio=None, val_images=None, task=None)
    spec = load_config(run)
    assert (spec.data_size, spec.d_lr_ratio, spec.task) == (None, 1.0, "pix2pix")


@pytest.mark.parametrize("flags, message", [
    ({"image_size": "16"}, "--d-layers 3 at --image-size 16: the discriminator's stride-2 layers halve the 16 px "
                           "side to 2 px"),
    ({"image_size": "32", "d_layers": 4}, "--d-layers 4 at --image-size 32"),
    ({"image_size": "32", "d_layers": 9}, "use --d-layers 3 or fewer"),
    ({"image_size": "8", "d_layers": 0}, "--image-size 8: smaller than SSIM's 11 px window"),
    ({"image_size": "4", "d_layers": 0}, "--image-size 4: smaller than SSIM's 11 px window"),
    ({"image_size": "64", "load_size": "16"}, "--load-size 16: smaller than the 64x64 crop"),
    ({"image_size": "64", "load_size": "64x32"}, "--load-size 64x32: smaller than the 64x64 crop"),
    ({"image_size": "1048576"}, "--image-size 1048576: over the 4,194,304 pixels"),
    ({"image_size": "32", "load_size": "100000"}, "--load-size 100000: the 100000x100000 image"),
    ({"image_size": "32", "epochs": 0, "epochs_decay": 0}, "--epochs 0 --epochs-decay 0: a run of no steps"),
    ({"image_size": "48"}, "--image-size 48x48: the short side must be a power of two"),
])
def test_size_rules_are_checked_together_when_a_run_is_configured(flags, message):
    with pytest.raises(UserError) as caught:
        new_config({"data": "/data", **flags})
    assert message in str(caught.value)


def test_the_size_rules_let_the_sizes_that_train_through():
    for flags in ({"image_size": "16", "d_layers": 2}, {"image_size": "16", "d_layers": 0},
                  {"image_size": "32", "d_layers": 3}, {"image_size": "256", "d_layers": 6},
                  {"image_size": "64", "load_size": "64"}, {"image_size": "2048"}, {"image_size": "32", "steps": 5,
                                                                                     "epochs": 0, "epochs_decay": 0}):
        new_config({"data": "/data", **flags})
    new_config({"data": "/data", "image_size": "8", "task": "judge"})  # no discriminator, no SSIM


@pytest.mark.parametrize("flags, message", [
    ({"image_size": "64x128"}, "--image-size 64x128: the built-in data comes square"),
    ({"image_size": "16", "d_layers": 2}, "--image-size 16: the built-in data comes square, 32 px or more"),
    ({"image_size": "8"}, "--image-size 8: smaller than SSIM's"),
])
def test_the_built_in_data_sizes_are_refused_by_their_flag(flags, message):
    with pytest.raises(UserError) as caught:
        new_config(flags)
    assert message in str(caught.value)


def test_a_resumed_run_cannot_be_given_no_steps(tmp_path):
    stored = load_config(stored_run(tmp_path))
    with pytest.raises(UserError, match="--epochs 0 --epochs-decay 0: a run of no steps"):
        resumed_config(stored, {"epochs": 0, "epochs_decay": 0}, tmp_path)
