"""Issue 27 at the command line: fit refuses settings no run can train with in one line naming the flag,
before it creates a run directory (items 1, 3 and 9), and a run directory that never saved a checkpoint
does not block the corrected command (item 3)."""

from __future__ import annotations

import json

import pytest
from conftest import error_line, latest_step, run_fit, tiny_flags

from pix2pix_tf.core.config import RunSpec, save_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.train.rundir import RunDir
from pix2pix_tf.train.training import _run_config


@pytest.mark.parametrize("flags, message", [
    (["--lr", "nan"], "--lr nan: must be a finite number"),
    (["--lambda-gan", "inf"], "--lambda-gan inf: must be a finite number"),
    (["--image-size", "16"], "--d-layers 3 at --image-size 16: the discriminator's stride-2 layers"),
    (["--image-size", "8", "--d-layers", "0"], "--image-size 8: smaller than SSIM's 11 px window"),
    (["--d-layers", "4"], "--d-layers 4 at --image-size 32"),
    (["--image-size", "64", "--load-size", "16"], "--load-size 16: smaller than the 64x64 crop"),
    (["--image-size", "1048576"], "--image-size 1048576: over the 4,194,304 pixels (2048x2048)"),
    (["--load-size", "100000"], "--load-size 100000: the 100000x100000 image the crop is cut from is over"),
    (["--epochs", "0", "--epochs-decay", "0"], "--epochs 0 --epochs-decay 0: a run of no steps"),
])
def test_settings_no_run_can_train_with_are_one_line_before_a_run_directory(tiny_data, tmp_path, flags, message):
    run = tmp_path / "run"
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), *tiny_flags(), *flags, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert message in error_line(result)
    assert not run.exists()


@pytest.mark.parametrize("flags, message", [
    (["--image-size", "64x128"], "error: --image-size 64x128: the built-in data comes square"),
    (["--image-size", "8"], "error: --image-size 8: smaller than SSIM's 11 px window"),
    (["--run-dir", ""], "error: --run-dir '': empty"),
])
def test_built_in_data_sizes_and_an_empty_run_dir_are_one_line(tmp_path, flags, message):
    result = run_fit(*flags, "--quiet", cwd=tmp_path)
    assert result.returncode == 2 and error_line(result).startswith(message), result.stderr[-3000:]
    assert result.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []


def test_a_run_directory_that_never_saved_a_checkpoint_does_not_block_the_corrected_command(tiny_data, tmp_path):
    run = tmp_path / "run"
    (run / "examples").mkdir(parents=True)  # what a start that failed at its first step leaves
    save_config(RunSpec(data=str(tiny_data), image_size="16", ngf=8, ndf=8, precision="float32", input_nc=3,
                        output_nc=3, depth=4, steps_per_epoch=8, constant_steps=1, decay_steps=1, val_holdout=0), run)
    with pytest.raises(UserError, match="--d-layers 3 at --image-size 16"):  # its settings are the defaults
        _run_config(RunDir(run), {"steps": 1})
    fixed = run_fit("--data", str(tiny_data), "--run-dir", str(run), *tiny_flags(steps=1), cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "never saved a checkpoint; starting it again at step 0" in fixed.stderr
    assert json.loads((run / "config.json").read_text())["config"]["image_size"] == "32" and latest_step(run) == 1


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_the_dataset_tools_float_flag_is_refused_when_not_finite(tmp_path, value):
    from pix2pix_tf.datasets.download import main

    with pytest.raises(UserError, match=rf"^--timeout {value}: must be a finite number$"):
        main(["facades", "--out", str(tmp_path / "out"), "--timeout", value])
    assert not (tmp_path / "out").exists()
