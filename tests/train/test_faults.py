"""Fault injection: kills at random moments, preemption, a full disk, non-finite losses and a
corrupted checkpoint. The training run must always resume from a complete checkpoint."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TINY_FLAGS, error_line, latest_step, make_run, run_fit, tiny_flags

from pix2pix_tf.core.errors import UserError


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
    text = config.read_text()
    config.write_text(text.replace('"steps": 4', '"steps": 8').replace('"decay_steps": 2', '"decay_steps": 6'))

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


def test_a_damaged_checkpoint_index_resumes_from_the_newest_complete_checkpoint(tiny_data, tmp_path):
    run = tmp_path / "run"
    assert run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "4", "--save-every", "2",
                   *TINY_FLAGS).returncode == 0
    (run / "checkpoints" / "checkpoint").write_text("garbage {{{ ::\n")
    result = run_fit("--run-dir", str(run), "--steps", "6", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "checkpoint: unreadable (damaged); using the newest complete checkpoint, ckpt-4" in result.stderr
    assert f"resuming {run} at step 4 of 6" in result.stdout
    assert "WARNING" not in result.stderr
    assert latest_step(run) == 6


@pytest.mark.parametrize("index", ["", 'model_checkpoint_path: "ckpt-9"\n', None])
def test_an_untrusted_index_recovers_the_complete_checkpoints_on_disk(tiny_data, tmp_path, capsys, index):
    from pix2pix_tf.train.rundir import RunDir, kept_checkpoints, trusted_checkpoints

    make_run(tmp_path / "run", tiny_data, steps=(1, 2, 3))
    run = RunDir(tmp_path / "run")
    (run.checkpoints / "ckpt-3.index").unlink()  # incomplete: not a candidate
    if index is None:
        (run.checkpoints / "checkpoint").unlink()
    else:
        (run.checkpoints / "checkpoint").write_text(index)
    assert [Path(p).name for p in kept_checkpoints(run)] == ["ckpt-1", "ckpt-2"]
    assert "using the newest complete checkpoint, ckpt-2" in capsys.readouterr().err
    trusted_checkpoints(run, repair=True)
    assert [Path(p).name for p in trusted_checkpoints(run, say=False)] == ["ckpt-1", "ckpt-2"]
    assert capsys.readouterr().err.count("note:") == 1  # the repaired index is trusted again


def test_an_untrusted_index_without_a_complete_checkpoint_is_refused_naming_it(tiny_data, tmp_path):
    from pix2pix_tf.train.rundir import RunDir, trusted_checkpoints

    make_run(tmp_path / "run", tiny_data, steps=(1,))
    run = RunDir(tmp_path / "run")
    next(run.checkpoints.glob("ckpt-1.data-*")).unlink()
    with pytest.raises(UserError, match=r"checkpoints/checkpoint: names ckpt-1, whose files are missing"):
        trusted_checkpoints(run)
    result = run_fit("--run-dir", str(run.root), "--quiet")
    assert result.returncode == 2 and "no complete checkpoint is beside it" in error_line(result)
    assert not list(run.checkpoints.glob("ckpt-*.data-*"))  # nothing trained from step 0


def test_a_data_file_deleted_while_training_is_named_checkpointed_and_stops(tiny_data, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen([sys.executable, "-m", "pix2pix_tf.fit", "--data", str(tiny_data), "--run-dir",
                                str(run), "--steps", "5000", "--save-every", "3", *TINY_FLAGS],
                               env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while latest_step(run) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    gone = tiny_data / "train" / "3.png"
    gone.unlink()
    _, err = process.communicate(timeout=240)
    assert process.returncode == 2, err[-3000:]
    assert "Traceback" not in err
    step = latest_step(run)
    assert err.splitlines()[-1] == (f"error: {gone}: No such file or directory (the data changed while training); "
                                    f"checkpoint saved at step {step}; put the file back, then resume: "
                                    f"python -m pix2pix_tf.fit --run-dir {run}")
    assert 3 <= step < 5000


def catches_sigterm(pid: int) -> bool:
    """The process has a handler for SIGTERM (Linux's /proc): the command's own code is running."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    caught = int(next(line.split()[1] for line in status if line.startswith("SigCgt:")), 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def test_sigterm_during_start_up_is_one_line_and_exit_143(tiny_data, tmp_path):
    """About one SIGTERM in ten during start-up landed inside an import and ended in a SystemError (the run
    then trained to the end, exit 0) or a TypeError traceback. A handful of fits, side by side, each stopped
    at another moment of its start-up (counted from when its handler is in place)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    delays = (0.0, 0.5, 1.5)
    fits = [subprocess.Popen([sys.executable, "-m", "pix2pix_tf.fit", "--data", str(tiny_data), "--run-dir",
                              str(tmp_path / f"run{i}"), "--steps", "5000", *TINY_FLAGS],
                             env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(len(delays))]
    for process, delay in zip(fits, delays):
        deadline = time.monotonic() + 60
        while not catches_sigterm(process.pid) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
    for process in fits:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
        assert "Traceback" not in err and "Error" not in err, err[-3000:]
        assert (err.strip().splitlines()[-1:] == ["terminated (SIGTERM); nothing half-written was kept"]
                or "stopped by SIGTERM" in out), (out[-2000:], err[-2000:])


def test_a_full_disk_at_run_creation_names_the_file_and_leaves_nothing_to_refuse(tiny_data, tmp_path,
                                                                                monkeypatch, capsys):
    """It said "a file could not be read or written" and left the new folder holding only ``.lock``, so
    the same command, once space was freed, was refused: "exists, is not empty and holds no config.json"."""
    from pix2pix_tf import fit
    from pix2pix_tf.core import atomic, cli, config

    run = tmp_path / "runs" / "run"
    args = ["--data", str(tiny_data), "--run-dir", str(run), "--steps", "1", *TINY_FLAGS]

    def full_disk(path, text, **kwargs):
        with atomic.replacing(path) as tmp:
            tmp.write_text(text[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:
        patch.setattr(config, "write_text", full_disk)
        with pytest.raises(SystemExit) as failed:
            cli.run_cli(lambda: fit.main(args))
    assert failed.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {run / 'config.json'}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    run.mkdir(parents=True)
    (run / ".lock").write_text("12345")  # what a fit killed before writing its config leaves
    cli.run_cli(lambda: fit.main(args))
    assert latest_step(run) == 1


def test_whether_a_run_is_new_is_decided_under_the_run_lock(tiny_data, tmp_path, monkeypatch):
    """Two fits started on one empty folder both took it for a new run; the second, once the first was done,
    overwrote its config.json and resumed its checkpoints under its own flags."""
    from pix2pix_tf.fit import parse_flags
    from pix2pix_tf.train import training

    first = tmp_path / "first"
    make_run(first, tiny_data)
    run = tmp_path / "run"
    run.mkdir()

    class FirstFitCreatesTheRunMeanwhile(training.RunLock):
        def __enter__(self):
            shutil.copytree(first, run, dirs_exist_ok=True)
            return super().__enter__()

    monkeypatch.setattr(training, "RunLock", FirstFitCreatesTheRunMeanwhile)
    _, flags, _ = parse_flags(["--data", str(tiny_data), *tiny_flags(ngf=16)])
    with pytest.raises(UserError, match=r"other settings: --ngf 16 \(stored: 8\)"):
        training.train(run, flags)
    assert (run / "config.json").read_bytes() == (first / "config.json").read_bytes()


def test_config_and_checkpoint_index_are_flushed_to_the_disk(tiny_data, tmp_path, monkeypatch):
    """What a power loss must not take: the run's config and the list of its checkpoints."""
    import tensorflow as tf

    from pix2pix_tf.train.callbacks import PeriodicCheckpoint
    from pix2pix_tf.train.rundir import RunDir, checkpoint_manager

    flushed = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    run = tmp_path / "run"
    make_run(run, tiny_data, steps=())
    assert str(run) in flushed and any(Path(p).name.startswith("config.tmp-") for p in flushed)
    flushed.clear()
    manager = checkpoint_manager(tf.train.Checkpoint(step=tf.Variable(1)), RunDir(run), 2)
    PeriodicCheckpoint(manager, 1).save(1)
    assert flushed[-2:] == [str(run / "checkpoints" / "checkpoint"), str(run / "checkpoints")]


@pytest.mark.parametrize("which", ["latest", 2])
def test_a_checkpoint_a_running_fit_deletes_while_it_loads_is_looked_up_again_or_named(which, tiny_data, tmp_path,
                                                                                       monkeypatch):
    """Evaluating or translating while fit rotated its checkpoints failed with "does not load into this run's
    networks", as if the run were of another architecture."""
    import tensorflow as tf

    from pix2pix_tf.deploy.inference import load_generator
    from pix2pix_tf.train import rundir

    run = tmp_path / "run"
    generator = make_run(run, tiny_data, steps=(1, 2))
    real_kept = rundir.kept_checkpoints
    rotated = []

    def fit_saves_and_rotates_after_the_lookup(run_dir):
        kept = real_kept(run_dir)
        if not rotated:  # a fit keeping one checkpoint saves step 3 and deletes the others
            rotated.append(tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator), run / "checkpoints",
                                                      max_to_keep=1, checkpoint_name="ckpt").save(3))
        return kept

    monkeypatch.setattr(rundir, "kept_checkpoints", fit_saves_and_rotates_after_the_lookup)
    if which == "latest":
        assert load_generator(run).step == 3
    else:
        with pytest.raises(UserError, match=r"ckpt-2: deleted while it was being read \(a fit still training"):
            load_generator(run, which)
