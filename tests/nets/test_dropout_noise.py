"""Dropout noise is a pure function of (seed, step, layer, replica): a run killed and resumed ends with
the weights of an uninterrupted one, and paper-mode evaluation gives every checkpoint the same noise."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, TINY_FLAGS, run_fit

from pix2pix_tf.nets.networks import SeededDropout, dropout_noise

TIMEOUT = 300


def masks(layer: SeededDropout, seed: int, step: int, training: bool = True) -> np.ndarray:
    with dropout_noise(seed, step):
        return layer(tf.ones((2, 4, 4, 8)), training=training).numpy() > 0


def test_mask_is_a_function_of_seed_step_and_layer_only():
    first, second = SeededDropout(0.5, index=0), SeededDropout(0.5, index=1)
    reference = masks(first, 3, 10)
    assert 0.3 < reference.mean() < 0.7
    np.testing.assert_array_equal(reference, masks(first, 3, 10))
    np.testing.assert_array_equal(reference, masks(SeededDropout(0.5, index=0), 3, 10))  # no hidden state
    for other in (masks(first, 3, 11), masks(first, 4, 10), masks(second, 3, 10)):
        assert not np.array_equal(reference, other)
    assert masks(first, 3, 10, training=False).all()  # off at inference unless asked


def test_paper_mode_layer_uses_the_key_at_inference_and_fresh_noise_without_one():
    layer = SeededDropout(0.5, index=0, at_inference=True)
    np.testing.assert_array_equal(masks(layer, 3, 10, training=False), masks(layer, 3, 10, training=False))
    x = tf.ones((2, 4, 4, 8))
    assert not np.array_equal(layer(x, training=False).numpy(), layer(x, training=False).numpy())


def checkpoint_values(run_dir) -> dict[str, np.ndarray]:
    """Every saved variable of the run's latest checkpoint except the save counter."""
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


def keep_only_checkpoint(run_dir, step: int) -> None:
    """Roll the run back to the checkpoint of ``step``, as if the process had died right after
    writing it (the kill may land a few steps later on a fast machine)."""
    directory = run_dir / "checkpoints"
    for path in directory.glob("ckpt-*"):
        if int(path.name.split(".")[0].split("-")[1]) > step:
            path.unlink()
    kept = str(directory / f"ckpt-{step}")
    tf.compat.v1.train.update_checkpoint_state(str(directory), kept, all_model_checkpoint_paths=[kept])


# pix2pixHD's parts and sub-pixel upsampling: two discriminators (their weights and Adam slots are checkpointed
# too), feature matching and ICNR-initialised sub-pixel convolutions resume as exactly.
PIX2PIXHD = ["--upsample", "subpixel", "--num-d", "2", "--d-layers", "2", "--lambda-fm", "10"]


@pytest.mark.parametrize("recipe", [[], PIX2PIXHD], ids=["default", "pix2pixhd-subpixel"])
def test_killed_and_resumed_run_equals_an_uninterrupted_run(tiny_data, tmp_path, recipe):
    flags = ["--data", str(tiny_data), "--steps", "6", "--save-every", "3", "--batch-size", "2", *TINY_FLAGS, *recipe]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    result = run_fit("--run-dir", str(straight), *flags, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]

    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "pix2pix_tf.fit", "--run-dir", str(killed), *flags],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed / "checkpoints" / "checkpoint"
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (state.exists() and "ckpt-3" in state.read_text()):
            assert process.poll() is None and time.monotonic() < deadline, "fit ended before its first checkpoint"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    keep_only_checkpoint(killed, 3)

    resumed = run_fit("--run-dir", str(killed), "--quiet", timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {killed} at step 3 of 6" in resumed.stdout
    expected, actual = checkpoint_values(straight), checkpoint_values(killed)
    assert sorted(expected) == sorted(actual)
    assert {name.split("/")[0] for name in expected} >= {"generator", "discriminator", "g_optimizer", "train_steps"}
    for name, value in expected.items():
        np.testing.assert_array_equal(value, actual[name], err_msg=name)


def test_paper_mode_evaluation_gives_every_checkpoint_the_same_noise(tiny_data, tmp_path):
    from pix2pix_tf.evaluate import evaluate_all_checkpoints

    run = tmp_path / "run"
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "4", "--save-every", "2",
                     *TINY_FLAGS, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    # Give step 4 the weights of step 2: any difference in their scores is then the noise's.
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copyfile(run / "checkpoints" / f"ckpt-2{suffix}", run / "checkpoints" / f"ckpt-4{suffix}")
    paper = evaluate_all_checkpoints(run, mode="paper", page=False, batch_size=2)
    assert [r.step for r in paper.results] == [2, 4]
    first, second = (np.loadtxt(f"{r.out_dir}/metrics.csv", delimiter=",", skiprows=1, usecols=(2, 3, 4))
                     for r in paper.results)
    np.testing.assert_array_equal(first, second)
    deterministic = evaluate_all_checkpoints(run, mode="deterministic", page=False, batch_size=2)
    assert paper.results[0].mean != deterministic.results[0].mean  # the noise is on
