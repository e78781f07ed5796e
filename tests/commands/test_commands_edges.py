"""The commands at the edges: bad input ends in one line, a failed write leaves nothing
behind, TensorFlow's own log lines stay out of the way, and a finished run can be trained longer."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys

import pytest
from conftest import REPO, TINY_FLAGS, error_line, latest_step, run_fit


def limited_file_size(limit: int):
    """A ``preexec_fn``: files larger than ``limit`` bytes fail with EFBIG, as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write() instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def run_command(module: str, *args: str, env: dict | None = None, limit: int | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=REPO, preexec_fn=limited_file_size(limit) if limit else None)


def assert_one_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    line = error_line(result)
    for fragment in fragments:
        assert fragment in line, line


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A tiny run trained to step 4, checkpoints at 2 and 4."""
    from conftest import write_paired

    root = tmp_path_factory.mktemp("finished")
    data = write_paired(root / "data", count=8)
    write_paired(data, split="test", count=2, start=100)
    run = root / "run"
    result = run_fit("--data", str(data), "--run-dir", str(run), "--steps", "4", "--save-every", "2", *TINY_FLAGS)
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def copy_of(run, tmp_path):
    import shutil

    return shutil.copytree(run, tmp_path / "run")


# ------------------------------------------------------------------ item 8: one line, never a traceback

@pytest.mark.parametrize("flag, value, message", [
    ("--batch-size", "0", "--batch-size 0: must be at least 1"),
    ("--batch-size", "-1", "--batch-size -1: must be at least 1"),
    ("--steps", "0", "--steps 0: must be at least 1"),
    ("--save-every", "0", "--save-every 0: must be at least 1"),
    ("--keep-checkpoints", "-2", "--keep-checkpoints -2: must be at least 1"),
    ("--ngf", "0", "--ngf 0: must be in [1, 256]"),
    ("--lr", "0", "--lr 0.0: must be positive"),
    ("--dropout", "1.5", "--dropout 1.5: must be in [0, 1)"),
    ("--ngf", "many", "--ngf: invalid int value: 'many'"),
])
def test_non_positive_or_mistyped_flags_are_one_line(tiny_data, tmp_path, flag, value, message):
    run = tmp_path / "run"
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), *TINY_FLAGS, flag, value)
    assert_one_line(result, message)
    assert not run.exists()


@pytest.mark.parametrize("where, message", [
    ("a_file", "exists and is not a directory"),
    ("a_file/run", "cannot create it (Not a directory)"),
    ("/proc/pix2pix-run", "cannot create it"),
])
def test_unusable_run_dir_is_one_line(tiny_data, tmp_path, where, message):
    (tmp_path / "a_file").write_text("mine")
    run = tmp_path / where
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "2", *TINY_FLAGS)
    assert_one_line(result, f"--run-dir {run}", message)
    assert (tmp_path / "a_file").read_text() == "mine"


@pytest.mark.parametrize("value, message", [
    ('"many"', "ngf 'many': expected a whole number"),
    ("-3", "ngf -3: must be in [1, 256]"),
    ("2.5", "ngf 2.5: expected a whole number"),
])
@pytest.mark.parametrize("command", ["pix2pix_tf.fit", "pix2pix_tf.evaluate", "pix2pix_tf.export"])
def test_a_wrongly_typed_or_out_of_range_stored_value_is_one_line(finished_run, tmp_path, command, value, message):
    run = copy_of(finished_run, tmp_path)
    stored = json.loads((run / "config.json").read_text())
    stored["config"]["ngf"] = json.loads(value)
    (run / "config.json").write_text(json.dumps(stored))
    extra = ["--out", str(tmp_path / "out")] if command.endswith("export") else []
    result = run_command(command, "--run-dir", str(run), *extra)
    assert_one_line(result, f"{run / 'config.json'}: {message}")


def test_export_on_a_full_disk_is_one_line_and_keeps_nothing(finished_run, tmp_path):
    out = tmp_path / "out"
    result = run_command("pix2pix_tf.export", "--run-dir", str(finished_run), "--out", str(out),
                         "--formats", "saved_model", limit=100_000)
    assert_one_line(result, f"--out {out}: cannot write the export (File too large); nothing was kept")
    assert not out.exists()  # the export made the folder, so its failure removes it


def test_a_filesystem_error_anywhere_is_one_line_naming_the_path(finished_run, tmp_path):
    """The last resort in ``run_cli``: an evaluation folder below a regular file fails in ``mkdir``."""
    (tmp_path / "a_file").write_text("mine")
    out = tmp_path / "a_file" / "results"
    result = run_command("pix2pix_tf.evaluate", "--run-dir", str(finished_run), "--out", str(out))
    assert_one_line(result, f"{out}: Not a directory")


def test_a_batch_that_does_not_split_evenly_over_the_replicas_is_refused(tiny_data, tmp_path):
    """Each replica draws its own dropout noise for an equal share of the batch; 3 over 2 replicas is refused."""
    script = f"""
import sys
from pathlib import Path
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.train.rundir import RunDir
from pix2pix_tf.train.training import _open_run
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
flags = {{"data": {str(tiny_data)!r}, "image_size": "32", "ngf": 8, "ndf": 8, "precision": "float32"}}
_open_run(RunDir(Path({str(tmp_path / 'even')!r})), {{**flags, "batch_size": 2}}, strategy)
try:
    _open_run(RunDir(Path({str(tmp_path / 'odd')!r})), {{**flags, "batch_size": 3}}, strategy)
except UserError as err:
    print(err)
    sys.exit(2)
"""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env,
                            cwd=REPO)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "--batch-size 3: not divisible by the 2 replicas" in result.stdout


# ------------------------------------------------------------------ item 12: no leftovers from a failed save

def test_a_full_disk_during_fit_leaves_no_temporary_checkpoint(finished_run, tmp_path):
    import tensorflow as tf

    run = copy_of(finished_run, tmp_path)
    path = run / "config.json"
    stored = json.loads(path.read_text())
    stored["config"].update(steps=8, constant_steps=4, decay_steps=4)
    path.write_text(json.dumps(stored))
    result = run_command("pix2pix_tf.fit", "--run-dir", str(run), "--quiet", limit=200_000)
    assert_one_line(result, "cannot write the checkpoint for step", "ckpt-4 is intact")
    checkpoints = run / "checkpoints"
    assert not list(checkpoints.glob("*_temp*")), sorted(p.name for p in checkpoints.iterdir())
    assert sorted(p.name for p in checkpoints.iterdir() if not p.name.startswith(("ckpt-2.", "ckpt-4."))) == [
        "checkpoint"]
    assert latest_step(run) == 4
    reader = tf.train.load_checkpoint(str(checkpoints / "ckpt-4"))
    assert all(reader.get_tensor(name) is not None for name in reader.get_variable_to_shape_map())


# ------------------------------------------------------------------ item 13: TensorFlow's log lines

TF_LOG_LINE = re.compile(r"[IWEF]\d{4} |WARNING: All log messages before absl::InitializeLog"
                         r"|.*(oneDNN|cpu_feature_guard)")


def tf_log_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if TF_LOG_LINE.match(line)]


@pytest.fixture
def commands(finished_run, tmp_path):
    """Each command that loads TensorFlow, with arguments that do a little real work."""
    from conftest import pair_arrays, save_image

    image = save_image(pair_arrays(1, 32)[0], tmp_path / "in" / "a.png")
    return {
        "fit": ("pix2pix_tf.fit", "--run-dir", str(copy_of(finished_run, tmp_path)), "--steps", "5", "--quiet"),
        "evaluate": ("pix2pix_tf.evaluate", "--run-dir", str(finished_run), "--out", str(tmp_path / "eval"),
                     "--quiet"),
        "translate": ("pix2pix_tf.translate", "--run-dir", str(finished_run), str(image), "--out",
                      str(tmp_path / "translated")),
        "export": ("pix2pix_tf.export", "--run-dir", str(finished_run), "--out", str(tmp_path / "export"),
                   "--tflite-quant", "int8", "--verify-images", "1", "--calibration-images", "1"),
    }


@pytest.mark.parametrize("name", ["fit", "evaluate", "translate", "export"])
def test_commands_keep_tensorflow_log_lines_quiet(commands, name):
    module, *args = commands[name]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300,
                            env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert tf_log_lines(result.stderr) == []
    if name == "export":  # TFLite's converter and interpreter print beside TensorFlow's logging
        assert result.stderr == "", result.stderr[-3000:]


def test_verbose_shows_tensorflow_log_lines(commands):
    module, *args = commands["evaluate"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", module, *args, "--verbose"], capture_output=True, text=True,
                            timeout=300, env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert tf_log_lines(result.stderr)


def test_a_level_the_user_set_is_obeyed_while_tensorflow_loads_too():
    """TF_CPP_MIN_LOG_LEVEL=1 hides info lines, also the ones TensorFlow writes before its logging is set up."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "1"}
    result = subprocess.run([sys.executable, "-c", "import pix2pix_tf, tensorflow"], capture_output=True,
                            text=True, timeout=300, env=env, cwd=REPO)
    assert result.returncode == 0 and not [line for line in tf_log_lines(result.stderr) if line.startswith("I")]


# ------------------------------------------------------------------ item 14: training a finished run longer

def scalars(run, tag: str) -> dict[int, float]:
    import tensorflow as tf

    values = {}
    for path in sorted((run / "tensorboard").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


@pytest.mark.parametrize("flags, lr_at_6, lr_at_8", [
    (["--steps", "8"], 1e-4, 0.0),  # split as the epochs are (1:1): constant to 4, decay to 0 at 8
    (["--epochs", "1", "--epochs-decay", "0"], 2e-4, 2e-4),  # 8 pairs a batch of 1: one epoch, no decay
])
def test_a_finished_run_trains_longer(finished_run, tmp_path, flags, lr_at_6, lr_at_8):
    run = copy_of(finished_run, tmp_path)
    result = run_fit("--run-dir", str(run), *flags, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"new length ({' '.join(flags)}): 4 -> 8 steps" in result.stdout
    assert f"resuming {run} at step 4 of 8" in result.stdout and "trained steps 4 -> 8" in result.stdout
    assert latest_step(run) == 8
    lr = scalars(run, "train/lr")
    assert sorted(lr) == [2, 4, 6, 8]  # logged every 2 steps, before and after, without a gap
    assert lr[2] == pytest.approx(2e-4) and lr[4] == pytest.approx(0.0)  # the original schedule
    assert lr[6] == pytest.approx(lr_at_6) and lr[8] == pytest.approx(lr_at_8)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000004.png", "step_0000008.png"]
    stored = json.loads((run / "config.json").read_text())["config"]
    assert stored["constant_steps"] + stored["decay_steps"] == 8


def test_shrinking_a_run_below_its_current_step_is_refused(finished_run, tmp_path):
    run = copy_of(finished_run, tmp_path)
    before = (run / "config.json").read_text()
    result = run_fit("--run-dir", str(run), "--steps", "3", "--quiet")
    assert_one_line(result, f"--steps 3: 3 steps in all, but {run} is already at step 4")
    assert (run / "config.json").read_text() == before and latest_step(run) == 4


def test_resuming_on_another_dataset_of_the_same_size_says_so(finished_run, tmp_path):
    from conftest import write_paired

    run = copy_of(finished_run, tmp_path)
    other = write_paired(tmp_path / "other", count=8, start=50)
    result = run_fit("--run-dir", str(run), "--data", str(other), "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"note: --data {other}: this run trained on {finished_run.parent / 'data'} until now and goes on "
            "with this data") in result.stderr.splitlines()
    assert json.loads((run / "config.json").read_text())["config"]["data"] == str(other)


# ------------------------------------------------------------------ a run of one task given to the other

def as_judge_run(run) -> None:
    """Turn a pix2pix run directory into what a judge run's config says (tests only)."""
    path = run / "config.json"
    stored = json.loads(path.read_text())
    stored["config"].update(task="judge", palette={"names": ["a", "b"], "colors": [[0, 0, 0], [255, 255, 255]]})
    path.write_text(json.dumps(stored))


def test_judge_refuses_an_existing_pix2pix_run_before_touching_it(finished_run, tmp_path):
    run = copy_of(finished_run, tmp_path)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (run / "checkpoints").iterdir())
    result = run_command("pix2pix_tf.judge", "--run-dir", str(run), "--quiet")
    assert_one_line(result, f"--run-dir {run}: a pix2pix run (made by python -m pix2pix_tf.fit); "
                            "this needs a realism judge run")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (run / "checkpoints").iterdir()) == before


def test_a_judge_run_given_to_translate_or_load_is_named_as_such(finished_run, tmp_path):
    import pix2pix_tf
    from pix2pix_tf.core.errors import UserError

    run = copy_of(finished_run, tmp_path)
    as_judge_run(run)
    with pytest.raises(UserError, match="a realism judge run .made by python -m pix2pix_tf.judge."):
        pix2pix_tf.load(run)
    (tmp_path / "in.png").write_bytes(next((finished_run.parent / "data" / "test").iterdir()).read_bytes())
    result = run_command("pix2pix_tf.translate", "--run-dir", str(run), str(tmp_path / "in.png"),
                         "--out", str(tmp_path / "out"))
    assert_one_line(result, "a realism judge run")
    assert "WARNING" not in result.stderr


def test_a_checkpoint_of_another_architecture_is_one_line_without_warnings(finished_run, tmp_path):
    run = copy_of(finished_run, tmp_path)
    (run / "config.json").write_text((run / "config.json").read_text().replace('"ngf": 8', '"ngf": 16'))
    (tmp_path / "in.png").write_bytes(next((finished_run.parent / "data" / "test").iterdir()).read_bytes())
    result = run_command("pix2pix_tf.translate", "--run-dir", str(run), str(tmp_path / "in.png"),
                         "--out", str(tmp_path / "out"))
    assert_one_line(result, "ckpt-4: checkpoint does not load into this run's networks")
    assert result.stderr.count("\n") == 1, result.stderr[-3000:]


def test_load_with_a_checkpoint_that_is_not_a_step_is_one_line(finished_run):
    import pix2pix_tf
    from pix2pix_tf.core.errors import UserError

    with pytest.raises(UserError, match="--checkpoint 'abc': expected 'latest' or a step number"):
        pix2pix_tf.load(finished_run, checkpoint="abc")
