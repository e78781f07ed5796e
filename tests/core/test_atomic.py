"""``pix2pix_tf.core.atomic``: files and folders appear whole or not at all."""

import pytest

from pix2pix_tf.core.atomic import check_replaceable, publish_dir, replacing, staging_dir, write_text
from pix2pix_tf.core.errors import UserError


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
