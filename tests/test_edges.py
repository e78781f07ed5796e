"""Issue 12's edges, through the real commands: bad input ends in one line, a failed write leaves nothing
behind, TensorFlow's own log lines stay out of the way, and a finished run can be trained longer."""

from __future__ import annotations

import json
import os
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
    ("--ngf", "0", "--ngf 0: must be at least 1"),
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
    ("-3", "ngf -3: must be at least 1"),
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
    assert list(out.iterdir()) == []


def test_a_filesystem_error_anywhere_is_one_line_naming_the_path(finished_run, tmp_path):
    """The last resort in ``run_cli``: an evaluation folder below a regular file fails in ``mkdir``."""
    (tmp_path / "a_file").write_text("mine")
    out = tmp_path / "a_file" / "results"
    result = run_command("pix2pix_tf.evaluate", "--run-dir", str(finished_run), "--out", str(out))
    assert_one_line(result, f"{out}: Not a directory")
