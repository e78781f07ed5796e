"""``pix2pix_tf.core.atomic``: files and folders appear whole or not at all."""

import errno
import os
import signal
import sys

import pytest

from pix2pix_tf.core import atomic
from pix2pix_tf.core.atomic import check_replaceable, publish_dir, replacing, staging_dir, write_text
from pix2pix_tf.core.errors import Terminated, UserError


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_text(tmp_path / "a.json", "old")
    with pytest.raises(RuntimeError), replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_publishing_replaces_a_folder_as_a_whole(tmp_path):
    destination = tmp_path / "out"
    (destination / "stale").mkdir(parents=True)
    with staging_dir(tmp_path, prefix=".out.") as staging:
        (staging / "new.txt").write_text("new")
        publish_dir(staging, destination)
    assert sorted(p.name for p in destination.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), staging_dir(tmp_path, prefix=".out.") as staging:
        (staging / "half.txt").write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_non_empty_destinations_need_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    with pytest.raises(UserError, match="--overwrite"):
        check_replaceable(tmp_path / "out", overwrite=False)
    check_replaceable(tmp_path / "out", overwrite=True)


def test_two_writers_of_one_file_leave_one_whole_file(tmp_path):
    path = tmp_path / "cache.json"
    with replacing(path) as first:
        first.write_text("first")
        write_text(path, "second")  # another writer finishes while the first one is still writing
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.json"]


def old_and_new_trees(parent):
    (parent / "out").mkdir()
    (parent / "out" / "old.txt").write_text("old")
    staging = parent / ".out.staging"
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    return staging, parent / "out"


def test_sigterm_between_the_two_renames_loses_neither_tree(tmp_path, monkeypatch):
    """Where no exchange rename exists the old tree is moved aside before the new one is renamed in: a
    SIGTERM delivered between the two left no tree at ``out`` (and the old one hidden beside it)."""
    staging, out = old_and_new_trees(tmp_path)
    monkeypatch.setattr(atomic, "_exchange", lambda first, second: False, raising=False)
    real_replace = os.replace

    def replace_then_sigterm(source, destination):
        real_replace(source, destination)
        os.kill(os.getpid(), signal.SIGTERM)

    def terminate(signum, frame):
        raise Terminated()

    monkeypatch.setattr(os, "replace", replace_then_sigterm)
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        with pytest.raises(Terminated):
            publish_dir(staging, out)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the old tree deleted, nothing hidden


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_publishing_over_a_tree_is_one_exchange_rename(tmp_path, monkeypatch):
    """No moment without a tree at ``out``, even for a SIGKILL or a power loss: one system call swaps them."""
    staging, out = old_and_new_trees(tmp_path)

    def no_two_step_rename(*args):
        raise AssertionError("renamed in two steps")

    monkeypatch.setattr(os, "replace", no_two_step_rename)
    monkeypatch.setattr(os, "rename", no_two_step_rename)
    publish_dir(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_write_names_the_file_or_its_folder_never_the_temporary(tmp_path):
    """A full disk gave "a file could not be read or written" (write() names no file), a read-only
    folder the temporary's name."""
    path = tmp_path / "config.json"
    with pytest.raises(OSError) as full, replacing(path) as tmp:
        tmp.write_text("{")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert (full.value.errno, full.value.filename) == (errno.ENOSPC, str(path))
    with pytest.raises(PermissionError) as denied, replacing(path) as tmp:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp))
    assert denied.value.filename == str(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_folders_made_for_a_failed_command_are_removed(tmp_path):
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), atomic.new_folders(tmp_path / "kept" / "a" / "b") as made:
        assert made.is_dir()
        raise RuntimeError("export failed")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and not any((tmp_path / "kept").iterdir())
    with pytest.raises(RuntimeError), atomic.new_folders(tmp_path / "kept" / "c") as made:
        (made / "result.txt").write_text("kept")
        raise RuntimeError("failed after writing")
    assert (tmp_path / "kept" / "c" / "result.txt").is_file()


def test_durable_writes_flush_the_file_and_its_folder(tmp_path, monkeypatch):
    flushed = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd)))
    path = write_text(tmp_path / "config.json", "{}", durable=True)
    assert flushed[-1] == str(tmp_path) and flushed[0].startswith(str(tmp_path / "config.tmp-"))
    flushed.clear()
    write_text(path, "{}")
    assert flushed == []
