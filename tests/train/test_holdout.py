"""Validation pairs held out of train/ when the data has no val/: always the same ones, never trained on by a
run or a judge, validated on by fit, scored by ``evaluate --split val``; runs made before keep test/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TINY, make_run, pair_arrays, write_paired

from pix2pix_tf.core.config import load_config, new_config, resumed_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data import pipeline as data_lib
from pix2pix_tf.train.rundir import run_pairs, validation_split
from pix2pix_tf.train.training import prepare, validation_dataset

PAIRS = 64  # the fewest from which one in 8 (8 pairs) is held out
FLAGS = {k: v for k, v in TINY.items() if k != "quiet"}
# The facades benchmark's 50 of train/1..400.jpg (seed 0): pinned, so that no machine, version or process
# may choose others.
FACADES_HELD_OUT = [2, 6, 16, 37, 52, 56, 62, 88, 99, 105, 106, 122, 123, 130, 132, 141, 143, 145, 157, 162, 170,
                    178, 182, 196, 198, 201, 202, 217, 220, 230, 232, 238, 250, 255, 256, 262, 299, 303, 304, 312,
                    321, 330, 337, 358, 364, 367, 377, 394, 396, 400]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = write_paired(tmp_path_factory.mktemp("holdout") / "data", count=PAIRS)
    return write_paired(root, split="test", count=4, start=100)


def names(pairs) -> list[str]:
    return [Path(p.a).name for p in pairs]


def facades_pairs(root: str) -> list[data_lib.Pair]:
    return [data_lib.Pair(f"{root}/train/{i}.jpg") for i in range(1, 401)]


def test_the_held_out_pairs_are_a_pure_function_of_file_names_and_seed():
    assert data_lib.holdout_count(400) == 50 and data_lib.holdout_count(63) == 0
    kept, held = data_lib.split_off(facades_pairs("/data/facades"), 50, seed=0)
    assert [int(n[:-4]) for n in names(held)] == FACADES_HELD_OUT
    assert len(kept) == 350 and not set(kept) & set(held)
    elsewhere = data_lib.split_off(facades_pairs("/mnt/other")[::-1], 50, seed=0)[1]
    assert sorted(names(elsewhere)) == sorted(names(held)), "the folder and the listing order do not matter"
    assert names(data_lib.split_off(facades_pairs("/data/facades"), 50, seed=1)[1]) != names(held)
    code = ("from pix2pix_tf.data.pipeline import Pair, split_off; "
            "print(','.join(p.a for p in split_off([Pair(f'{i}.jpg') for i in range(1, 401)], 50, 0)[1]))")
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": hash_seed}
        printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        assert printed.stdout.strip() == ",".join(names(held))


def test_fit_trains_without_the_held_out_pairs_and_validates_on_them(data):
    prepared = prepare(new_config({"data": str(data), **FLAGS, "preprocess": "none", "flip": False}))
    kept, held = data_lib.split_off(data_lib.list_pairs(data, "train"), 8, seed=0)
    assert prepared.config.val_holdout == 8 and prepared.config.steps_per_epoch == PAIRS - 8
    assert prepared.val_split == "val" and names(prepared.val_pairs) == names(held)
    assert names(prepared.train_pairs) == names(kept)

    def index(image) -> int:  # which pair a target image is (the pairs differ by their index)
        return next(i for i in range(PAIRS) if np.allclose(image, pair_arrays(i, 32)[1] / 127.5 - 1.0, atol=1e-5))

    epoch = prepared.config.steps_per_epoch
    trained = {index(t[0]) for _, t in data_lib.training_dataset(prepared.train_pairs, prepared.config).take(epoch)}
    validated = [index(t) for _, targets in validation_dataset(prepared) for t in targets]
    assert trained == {int(n[:-4]) - 1 for n in names(kept)}, "one epoch reads every kept pair and nothing else"
    assert validated == [int(n[:-4]) - 1 for n in names(held)]


def test_the_judge_trains_and_takes_its_reference_without_the_held_out_pairs(data):
    from pix2pix_tf.judge import judge_flags

    flags = judge_flags({"data": str(data), "direction": "AtoB", **FLAGS}, creating=True)
    judge = prepare(new_config({**flags, "palette": None}), measure_precision=False)
    run = prepare(new_config({"data": str(data), **FLAGS}), measure_precision=False)
    assert names(judge.val_pairs) == names(run.val_pairs) and len(judge.val_pairs) == 8
    assert not set(names(judge.train_pairs)) & set(names(run.val_pairs))
    assert names(run_pairs(judge.config, data, judge.config.train_split)) == names(judge.train_pairs), \
        "the ladder's real-photo reference"
    assert validation_split(judge.config, data) == "val", "the ladder's split"


def test_evaluate_split_val_scores_exactly_the_held_out_pairs(data, tmp_path):
    from pix2pix_tf.evaluate import evaluate_run, evaluation_pairs

    make_run(tmp_path / "run", data)
    config = load_config(tmp_path / "run")
    held = data_lib.split_off(data_lib.list_pairs(data, "train"), 8, seed=0)[1]
    assert evaluation_pairs(config)[1:] == ("val", held), "the run's default split"
    assert names(evaluation_pairs(config, split="val")[2]) == names(held)
    assert len(evaluation_pairs(config, split="test")[2]) == 4
    summary = evaluate_run(tmp_path / "run", split="val", page=False)
    assert summary.images == 8 and summary.split == "val"
    assert [row.split(",")[1] for row in (tmp_path / "run" / "eval" / "val-step1" / "metrics.csv").read_text()
            .splitlines()[1:]] == names(held)


def test_a_run_made_before_held_out_pairs_resumes_on_all_of_train_and_validates_on_test(data, tmp_path):
    run = tmp_path / "old"
    make_run(run, data, val_holdout=0)
    stored = json.loads((run / "config.json").read_text())
    for key in ("val_holdout", "holdout_seed"):  # what a config.json of those runs holds
        del stored["config"][key]
    (run / "config.json").write_text(json.dumps(stored))
    old = load_config(run)
    assert old.val_holdout == 0 and old.steps_per_epoch == PAIRS
    resumed = prepare(resumed_config(old, {}, run / "config.json"))
    assert resumed.config.steps_per_epoch == PAIRS and len(resumed.train_pairs) == PAIRS
    assert resumed.val_split == "test" and names(resumed.val_pairs) == [f"{i}.png" for i in range(101, 105)]
    from pix2pix_tf.evaluate import evaluation_pairs

    assert evaluation_pairs(old)[1] == "test"
    with pytest.raises(UserError, match="holds none of its training pairs out .*use the test split"):
        evaluation_pairs(old, split="val")


@pytest.mark.parametrize("flags, message", [
    ({"val_holdout": 64}, "--val-holdout 64: holds out all 64 pairs"),
    ({"val_holdout": 4, "val_split": "test"}, "--val-holdout 4: --val-split test names another validation split"),
])
def test_holdout_mistakes_are_one_line(data, flags, message):
    with pytest.raises(UserError, match=message):
        prepare(new_config({"data": str(data), **FLAGS, **flags}))


def test_a_named_split_or_a_val_folder_holds_nothing_out(data, tmp_path):
    assert prepare(new_config({"data": str(data), **FLAGS, "val_split": "test"})).config.val_holdout == 0
    own = write_paired(tmp_path / "own", count=PAIRS)
    write_paired(own, split="val", count=2, start=200)
    prepared = prepare(new_config({"data": str(own), **FLAGS}))
    assert prepared.config.val_holdout == 0 and len(prepared.train_pairs) == PAIRS
    assert names(prepared.val_pairs) == ["201.png", "202.png"]
