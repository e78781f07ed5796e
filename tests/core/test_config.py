"""``pix2pix_tf.core.config`` and ``pix2pix_tf.train.rundir`` in process: the two config stages, flag types from the
real type hints, and the run directory's facts."""

import dataclasses
import json

import pytest
from conftest import make_run

from pix2pix_tf.core.config import PAPER_RECIPE, Config, RunSpec, load_config, new_config, resumed_config, save_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.core.flags import flag_type
from pix2pix_tf.fit import build_parser, parse_flags
from pix2pix_tf.train.rundir import RunDir, checkpoint_path, checkpoint_step, kept_checkpoints, validation_split


def test_flag_types_come_from_the_type_hints():
    assert flag_type(int | None) is int and flag_type(float | None) is float and flag_type(str) is str
    _, flags, _ = parse_flags(["--ngf", "16", "--dropout", "0.25", "--no-flip", "--input-nc", "1"])
    assert flags == {"ngf": 16, "dropout": 0.25, "flip": False, "input_nc": 1}
    assert "--depth" not in build_parser().format_help()


def test_the_papers_recipe_is_one_flag_and_a_flag_given_beside_it_wins():
    _, flags, _ = parse_flags(["--recipe", "paper", "--ngf", "16"])
    assert flags == {**PAPER_RECIPE, "ngf": 16}
    config = new_config(flags)
    assert (config.ngf, config.ndf, config.upsample, config.d_forward) == (16, 64, "transpose", "recompute")
    defaults = Config()
    assert [k for k, v in PAPER_RECIPE.items() if getattr(defaults, k) == v] == []  # each one a real difference
    assert parse_flags([])[1] == {}


def test_a_run_spec_has_every_value_decided():
    with pytest.raises(ValueError, match="depth"):
        RunSpec(input_nc=3, output_nc=3, steps_per_epoch=1, constant_steps=1, decay_steps=1, precision="float32")
    with pytest.raises(ValueError, match="precision"):
        RunSpec(input_nc=3, output_nc=3, depth=5, steps_per_epoch=1, constant_steps=1, decay_steps=1, val_holdout=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().ngf = 3


def test_run_directory_facts(tmp_path, tiny_data):
    run = tmp_path / "run"
    make_run(run, tiny_data, steps=(2, 5))
    spec = load_config(run)
    assert isinstance(spec, RunSpec) and (spec.input_nc, spec.depth, spec.precision) == (3, 5, "float32")
    assert [checkpoint_step(p) for p in kept_checkpoints(RunDir(run))] == [2, 5]
    assert checkpoint_step(checkpoint_path(RunDir(run))) == 5
    with pytest.raises(UserError, match="kept steps: 2, 5"):
        checkpoint_path(RunDir(run), 3)
    assert validation_split(spec, tiny_data) == "test"


def test_incomplete_stored_config_is_refused(tmp_path):
    save_config(Config(), tmp_path)
    with pytest.raises(UserError, match="incomplete"):
        load_config(tmp_path)


def test_resume_keeps_frozen_values_and_takes_the_others(tmp_path, tiny_data):
    make_run(tmp_path / "run", tiny_data)
    stored = load_config(tmp_path / "run")
    resumed = resumed_config(stored, {"save_every": 7, "precision": "float32"}, tmp_path)
    assert type(resumed) is Config and resumed.save_every == 7 and resumed.ngf == stored.ngf
    with pytest.raises(UserError, match="--ngf 16"):
        resumed_config(stored, {"ngf": 16}, tmp_path)


@pytest.mark.parametrize("field, default, before", [("d_forward", "reuse", "recompute"),
                                                    ("upsample", "resize", "transpose"),
                                                    ("num_d", 1, 1), ("lambda_fm", 0.0, 0.0)])
def test_runs_stored_before_a_field_existed_keep_what_they_did(tmp_path, tiny_data, field, default, before):
    make_run(tmp_path / "run", tiny_data)
    assert getattr(load_config(tmp_path / "run"), field) == default == getattr(Config(), field)
    path = tmp_path / "run" / "config.json"
    payload = json.loads(path.read_text())
    del payload["config"][field]
    path.write_text(json.dumps(payload))
    assert getattr(load_config(tmp_path / "run"), field) == before


def test_every_number_field_declares_its_range():
    """``config.validate`` checks what the fields declare: a number field without a range would let
    a negative count through to Keras or tf.data."""
    import typing

    hints = typing.get_type_hints(Config)
    for field in dataclasses.fields(Config):
        kinds = typing.get_args(hints[field.name]) or (hints[field.name],)
        if int in kinds or float in kinds:
            assert field.metadata["range"] or field.metadata["choices"], field.name


@pytest.mark.parametrize("key, value, message", [
    ("ngf", "many", "ngf 'many': expected a whole number"),
    ("ngf", True, "ngf True: expected a whole number"),
    ("dropout", "0.5", "dropout '0.5': expected a number"),
    ("flip", 1, "flip 1: expected true or false"),
    ("norm", "weird", "norm 'weird': choose one of batch, instance, none"),
    ("lr", -1, "lr -1: must be positive"),
    ("beta2", 1.0, r"beta2 1.0: must be in \[0, 1\)"),
    ("image_size", "abc", "image_size 'abc': expected a positive size"),
    ("decay_steps", -5, "decay_steps -5: must be at least 0"),
])
def test_stored_values_are_checked_by_type_and_range(tmp_path, key, value, message):
    import json

    spec = RunSpec(input_nc=3, output_nc=3, depth=5, steps_per_epoch=1, constant_steps=1, decay_steps=1,
                   val_holdout=0, precision="float32")
    path = save_config(spec, tmp_path)
    stored = json.loads(path.read_text())
    stored["config"][key] = value
    path.write_text(json.dumps(stored))
    with pytest.raises(UserError, match=f"^{path}: {message}"):
        load_config(tmp_path)


def test_a_relative_data_folder_is_stored_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_dir, flags, _ = parse_flags(["--data", "d1/../d1"])
    assert flags["data"] == str(tmp_path / "d1") and run_dir.name == "d1"
    assert parse_flags([])[1].get("data") is None
    assert parse_flags(["--data", "builtin"])[1]["data"] == "builtin"


@pytest.mark.parametrize("split", ["../x", "/elsewhere/test", "test/../../x", ".", ""])
def test_a_split_outside_the_data_folder_is_refused(split):
    with pytest.raises(UserError, match=f"--val-split '{split}': name a split folder inside --data"):
        parse_flags(["--val-split", split])
    assert parse_flags(["--train-split", "train/part"])[1]["train_split"] == "train/part"
