"""`python -m pix2pix_tf.fit` end to end: the run directory, resume after a hard kill, refusals."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, TINY_FLAGS, error_line, run_fit, write_paired

from pix2pix_tf.rundir import RunDir


def latest_step(run_dir) -> int:
    state = RunDir(run_dir).checkpoints / "checkpoint"
    if not state.exists():
        return 0
    line = state.read_text().splitlines()[0]
    return int(line.rsplit("-", 1)[-1].strip('"'))


def test_run_directory_holds_config_checkpoints_logs_and_samples(tiny_data, tmp_path):
    run = tmp_path / "run"
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "6", "--save-every", "3",
                     "--sample-every", "3", *TINY_FLAGS[:-5])
    assert result.returncode == 0, result.stderr[-3000:]
    stored = json.loads((run / "config.json").read_text())
    assert stored["format"] == "pix2pix_tf.config"
    config = stored["config"]
    assert (config["input_nc"], config["output_nc"], config["depth"]) == (3, 3, 5)
    assert config["precision"] == "float32" and config["constant_steps"] + config["decay_steps"] == 6
    assert latest_step(run) == 6
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000003.png", "step_0000006.png"]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert "validation L1" in result.stdout and "resume" in result.stdout

    again = run_fit("--run-dir", str(run), "--quiet")
    assert again.returncode == 0 and "already trained to step 6" in again.stdout


def shorten_run(run, total: int) -> None:
    """Rewrite a stored schedule so the run ends at ``total`` steps (tests only)."""
    path = run / "config.json"
    stored = json.loads(path.read_text())
    stored["config"].update(steps=total, constant_steps=total // 2, decay_steps=total - total // 2)
    path.write_text(json.dumps(stored))


def test_resume_after_sigkills_at_random_moments(tiny_data, tmp_path):
    """Kills land anywhere, checkpoint writes included (one every 3 steps); each time the latest
    checkpoint must load and the run must pick up from it."""
    import random

    import tensorflow as tf

    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [sys.executable, "-m", "pix2pix_tf.fit", "--data", str(tiny_data), "--run-dir", str(run),
            "--steps", "2000", "--save-every", "3", *TINY_FLAGS]
    rng = random.Random(0)
    checkpoints = []
    for kill in range(3):
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 240
        target = latest_step(run) + 6
        while latest_step(run) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.5))
        process.send_signal(signal.SIGKILL)
        out, err = process.communicate()
        assert process.returncode == -signal.SIGKILL, err[-2000:]
        if kill:
            assert f"resuming {run} at step {checkpoints[-1]}" in out
        latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
        reader = tf.train.load_checkpoint(latest)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
        checkpoints.append(latest_step(run))
    assert checkpoints == sorted(checkpoints) and checkpoints[0] >= 6

    shorten_run(run, checkpoints[-1] + 4)
    resumed = run_fit("--run-dir", str(run), "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"trained steps {checkpoints[-1]} -> {checkpoints[-1] + 4}" in resumed.stdout


def test_sigterm_saves_the_current_step_and_exits_promptly(tiny_data, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [sys.executable, "-m", "pix2pix_tf.fit", "--data", str(tiny_data), "--run-dir", str(run),
            "--steps", "5000", "--save-every", "7", *TINY_FLAGS]
    process = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while latest_step(run) < 7 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - sent < 60
    assert process.returncode == 128 + signal.SIGTERM, err[-2000:]
    stopped = latest_step(run)
    assert f"stopped by SIGTERM; checkpoint saved at step {stopped}" in out
    assert 7 <= stopped < 5000


def test_bad_data_gives_one_line_and_leaves_no_run_directory(tmp_path):
    data = write_paired(tmp_path / "data", count=2)
    (data / "train" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    run = tmp_path / "run"
    result = run_fit("--data", str(data), "--run-dir", str(run), *TINY_FLAGS)
    assert result.returncode == 2
    assert "broken.jpg" in error_line(result) and "Traceback" not in result.stderr
    assert not run.exists()


@pytest.mark.parametrize("flags, message", [
    (["--image-size", "48"], "--image-size 48x48: the short side must be a power of two"),
    (["--data", "/nonexistent/data"], "--data /nonexistent/data: no such directory"),
    (["--batch-size", "64"], "--batch-size 64: larger than the 8 training pairs"),
])
def test_flag_mistakes_are_one_line(tiny_data, tmp_path, flags, message):
    result = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "run"), *TINY_FLAGS, *flags)
    assert result.returncode == 2
    assert message in error_line(result)
    assert not (tmp_path / "run").exists()


def test_resume_refuses_contradicting_flags_and_busy_run_dirs(tiny_data, tmp_path):
    run = tmp_path / "run"
    assert run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "2", *TINY_FLAGS).returncode == 0
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    contradicting = run_fit("--run-dir", str(run), "--ngf", "16", "--quiet")
    assert contradicting.returncode == 2
    assert "--ngf 16 (stored: 8)" in error_line(contradicting)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before

    import fcntl

    with open(run / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = run_fit("--run-dir", str(run), "--quiet")
    assert busy.returncode == 2 and "already in use" in error_line(busy)


def test_non_run_directory_is_refused(tiny_data, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    result = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "run"), *TINY_FLAGS)
    assert result.returncode == 2 and "holds no config.json" in error_line(result)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["notes.txt"]


def test_corrupted_checkpoint_is_one_line(tiny_data, tmp_path):
    run = tmp_path / "run"
    assert run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "4", *TINY_FLAGS).returncode == 0
    data_file = next((run / "checkpoints").glob("ckpt-4.data-*"))
    data_file.write_bytes(np.random.default_rng(0).bytes(data_file.stat().st_size))
    (run / "config.json").write_text((run / "config.json").read_text().replace('"steps": 4', '"steps": 6')
                                     .replace('"decay_steps": 2', '"decay_steps": 4'))
    result = run_fit("--run-dir", str(run), "--quiet")
    assert result.returncode == 2 and "ckpt-4" in error_line(result)


def test_a_checkpoint_write_that_fails_keeps_the_previous_one(tiny_data, tmp_path):
    import resource

    run = tmp_path / "run"
    assert run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "4", *TINY_FLAGS).returncode == 0
    config = run / "config.json"
    config.write_text(config.read_text().replace('"steps": 4', '"steps": 8').replace('"decay_steps": 2', '"decay_steps": 6'))

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "pix2pix_tf.fit", "--run-dir", str(run), "--quiet"],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    assert result.returncode == 2, result.stderr[-2000:]
    line = error_line(result)
    assert "cannot write the checkpoint for step 8" in line and "ckpt-4 is intact" in line
    assert "Traceback" not in result.stderr
    assert latest_step(run) == 4
    resumed = run_fit("--run-dir", str(run), "--quiet")
    assert resumed.returncode == 0 and f"resuming {run} at step 4 of 8" in resumed.stdout


def test_losses_that_stay_non_finite_stop_the_run_without_nan_weights(tiny_data, tmp_path):
    run = tmp_path / "run"
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "400", "--lr", "1e38",
                     "--max-nonfinite-steps", "3", "--save-every", "1", *TINY_FLAGS)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "3 steps in a row had non-finite losses" in error_line(result)
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(run / "checkpoints"))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if hasattr(value, "dtype") and value.dtype.kind == "f":
            assert np.all(np.isfinite(value)), name
