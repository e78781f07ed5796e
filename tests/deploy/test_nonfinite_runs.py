"""Issue 27 after training: a checkpoint of NaN or infinite weights is refused wherever a generator is
loaded, a non-finite output is never written (item 1), and translate's training scale is capped (item 5)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import error_line, make_run, run_module, write_paired

import pix2pix_tf
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.images import ImageError


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A tiny run (ngf 8, 32 px) with its generator checkpointed at step 1."""
    root = tmp_path_factory.mktemp("nonfinite")
    data = write_paired(root / "data", count=4)
    write_paired(data, split="test", count=2, start=100)
    make_run(root / "run", data)
    return root / "run"


def with_first_kernel(base_run, tmp_path, value: float):
    """A copy of the run whose step-2 checkpoint has every weight of the generator's first convolution
    set to ``value``."""
    import tensorflow as tf

    from pix2pix_tf.deploy.inference import load_generator
    from pix2pix_tf.train.rundir import RunDir, checkpoint_manager

    run = shutil.copytree(base_run, tmp_path / "run")
    generator = load_generator(run).generator
    kernel = generator.get_layer("down1_conv").kernel
    kernel.assign(tf.fill(kernel.shape, value))
    checkpoint_manager(tf.train.Checkpoint(generator=generator), RunDir(run), 5).save(checkpoint_number=2)
    return run


def test_pix2pix_tf_load_refuses_non_finite_weights_naming_the_checkpoint(base_run, tmp_path):
    run = with_first_kernel(base_run, tmp_path, float("nan"))
    with pytest.raises(UserError, match=rf"^{run / 'checkpoints' / 'ckpt-2'}: the checkpoint's generator has NaN "
                                        r"or infinite weights \(1 of \d+ variables, first down1_conv/kernel\)"):
        pix2pix_tf.load(run)
    assert pix2pix_tf.load(run, checkpoint=1).step == 1


@pytest.mark.parametrize("command, extra", [("pix2pix_tf.translate", ["INPUT", "--out", "OUT"]),
                                            ("pix2pix_tf.evaluate", []),
                                            ("pix2pix_tf.export", ["--out", "OUT"])])
def test_commands_refuse_non_finite_weights_in_one_line(base_run, tmp_path, command, extra):
    run = with_first_kernel(base_run, tmp_path, float("inf"))
    inputs = str(base_run.parent / "data" / "test")
    args = [inputs if a == "INPUT" else str(tmp_path / "out") if a == "OUT" else a for a in extra]
    result = run_module(command, "--run-dir", str(run), *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert error_line(result).startswith(f"error: {run / 'checkpoints' / 'ckpt-2'}: the checkpoint's generator has "
                                         "NaN or infinite weights")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_translate_never_writes_an_output_that_is_not_finite(base_run, tmp_path):
    run = with_first_kernel(base_run, tmp_path, 3e38)  # finite weights whose activations overflow
    with pytest.raises(ImageError, match="the generator's output holds .* NaN or infinite values"):
        pix2pix_tf.load(run).translate(np.zeros((32, 32, 3), np.uint8))
    out = tmp_path / "out"
    result = run_module("pix2pix_tf.translate", "--run-dir", str(run), str(base_run.parent / "data" / "test"),
                        "--out", str(out))
    assert result.returncode == 1 and "NaN or infinite values" in result.stderr, result.stderr[-3000:]
    assert not out.exists() or list(out.iterdir()) == []


def test_translate_caps_the_training_scale_of_a_run_whose_data_was_tiny(base_run, tmp_path):
    run = shutil.copytree(base_run, tmp_path / "run")
    path = run / "config.json"
    payload = json.loads(path.read_text())
    payload["config"]["data_size"] = "1x1"  # what a run stored from the first pair, 2x1 px, recorded
    path.write_text(json.dumps(payload))
    translator = pix2pix_tf.load(run)
    assert translator.scaled_size(256, 256) == (1024, 1024)  # at most 4x, not the 32x to 8192 px
    assert translator.scaled_size(9000, 9000) == (8192, 8192)  # and at most MAX_PIXELS
    output, notes = translator.translate_with_notes(np.zeros((16, 8, 3), np.uint8))
    assert output.shape == (16, 8, 3)
    assert notes == ["translated at 32x64 (WxH): the training scale, capped (it would enlarge the image 32x)"]
