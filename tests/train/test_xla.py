"""``--xla on``: the training step compiled by XLA (Keras' ``jit_compile``) is the same step, up to float
rounding and dropout's random stream, and a run can switch it on or off when it resumes."""

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import pair_arrays, run_fit, tiny_flags

from pix2pix_tf.core.config import Config
from pix2pix_tf.train.builders import build_model

STEPS = 3


def trained(xla: str, dropout: float):
    config = Config(image_size="32", ngf=8, ndf=8, precision="float32", input_nc=3, output_nc=3, depth=5,
                    constant_steps=100, decay_steps=100, steps_per_epoch=STEPS, dropout=dropout, xla=xla)
    model = build_model(config)
    pairs = [pair_arrays(i, 32) for i in range(STEPS)]
    sources = np.stack([a for a, _ in pairs]).astype("float32") / 127.5 - 1.0
    targets = np.stack([b for _, b in pairs]).astype("float32") / 127.5 - 1.0
    model.make_train_function()
    batches = iter(tf.data.Dataset.from_tensor_slices((sources, targets)).batch(1))
    logs = [{k: float(np.asarray(v)) for k, v in model.train_function(batches).items()} for _ in range(STEPS)]
    return model, logs


def test_the_xla_step_is_the_plain_step():
    plain, plain_logs = trained("off", dropout=0.0)
    xla, xla_logs = trained("on", dropout=0.0)
    assert xla.jit_compile and not plain.jit_compile
    for key in ("g_l1", "g_gan", "d_loss"):  # the first step starts from the same weights: only rounding differs
        assert xla_logs[0][key] == pytest.approx(plain_logs[0][key], rel=1e-4)
    for ours, theirs in zip(plain.generator.get_weights(), xla.generator.get_weights()):
        # Adam moves a weight by about the learning rate (2e-4) a step whatever its gradient, so a gradient
        # near zero whose sign rounding flips moves it by twice that: no more in STEPS steps
        np.testing.assert_allclose(ours, theirs, atol=2 * 2e-4 * STEPS)


def test_with_dropout_only_the_random_stream_differs():
    _, plain_logs = trained("off", dropout=0.5)
    _, xla_logs = trained("on", dropout=0.5)
    assert all(np.isfinite(v) for logs in xla_logs for v in logs.values())
    assert xla_logs[0]["g_l1"] == pytest.approx(plain_logs[0]["g_l1"], rel=0.05)


def test_a_run_switches_xla_when_it_resumes(tiny_data, tmp_path):
    run = tmp_path / "run"
    first = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "2", "--xla", "on", *tiny_flags())
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads((run / "config.json").read_text())["config"]["xla"] == "on"
    second = run_fit("--run-dir", str(run), "--steps", "4", "--xla", "off", "--quiet")
    assert second.returncode == 0, second.stderr[-2000:]
    stored = json.loads((run / "config.json").read_text())["config"]
    assert stored["xla"] == "off" and stored["steps"] == 4
