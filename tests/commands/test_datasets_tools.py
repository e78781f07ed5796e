"""Tests for datasets/combine_A_and_B.py and datasets/download.py.

Everything runs on tiny images and archives built in tmp_path; the only network access
is one connection attempt to the loopback discard port (127.0.0.1:9).
"""

from __future__ import annotations

import http.server
import io
import os
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix_tf.core.errors import UserError
from pix2pix_tf.datasets import combine as combine_tool
from pix2pix_tf.datasets import download as download_tool

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy setting would send the loopback test request elsewhere; keep it local.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv(download_tool.URL_ENV, raising=False)


def _rgb(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


# --------------------------------------------------------------------------- combine


def test_combine_flat_pixels_side_by_side(tmp_path):
    a, b, out = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    arrays = {}
    for i, stem in enumerate(["1", "2", "x"]):
        arr_a, arr_b = _rgb(6, 5, i), _rgb(6, 5, 100 + i)
        _save(arr_a, a / f"{stem}.png")
        _save(arr_b, b / f"{stem}.png")
        arrays[stem] = (arr_a, arr_b)
    (a / "notes.txt").write_text("ignored")

    assert combine_tool.combine_folders(a, b, out) == 3
    assert sorted(p.name for p in out.iterdir()) == ["1.png", "2.png", "x.png"]
    for stem, (arr_a, arr_b) in arrays.items():
        with Image.open(out / f"{stem}.png") as image:
            assert image.mode == "RGB" and image.size == (10, 6)
            got = np.asarray(image)
        np.testing.assert_array_equal(got[:, :5], arr_a)
        np.testing.assert_array_equal(got[:, 5:], arr_b)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp folder left behind"


def test_combine_splits_and_mixed_extensions(tmp_path):
    a, b, out = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            _save(_rgb(4, 4, i), a / split / f"{i}.png")
            # B as palette PNG with another extension: still paired by stem, converted to RGB.
            (b / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(_rgb(4, 4, 50 + i)).convert("P").save(b / split / f"{i}.bmp")
    counts = combine_tool.combine(a, b, out)
    assert counts == {"train": 3, "val": 2}
    assert sorted(p.name for p in (out / "train").iterdir()) == ["0.png", "1.png", "2.png"]
    with Image.open(out / "val" / "1.png") as image:
        assert image.mode == "RGB" and image.size == (8, 4)
        expected_b = np.asarray(Image.open(b / "val" / "1.bmp").convert("RGB"))
        np.testing.assert_array_equal(np.asarray(image)[:, 4:], expected_b)

    # An explicit --splits limits what is combined.
    counts = combine_tool.combine(a, b, tmp_path / "only_val", splits=["val"])
    assert counts == {"val": 2} and not (tmp_path / "only_val" / "train").exists()


def test_combine_mismatch_lists_unmatched_names_and_writes_nothing(tmp_path):
    a, b, out = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    for stem in ["common", "only_a1", "only_a2"]:
        _save(_rgb(4, 4, 0), a / "train" / f"{stem}.png")
    for stem in ["common", "only_b"]:
        _save(_rgb(4, 4, 0), b / "train" / f"{stem}.jpg")
    _save(_rgb(4, 4, 0), a / "val" / "v.png")
    _save(_rgb(4, 4, 0), b / "val" / "v.png")
    with pytest.raises(UserError) as info:
        combine_tool.combine(a, b, out)
    message = str(info.value)
    assert "train/only_a1.png" in message and "train/only_a2.png" in message and "train/only_b.jpg" in message
    assert "2 image(s)" in message and "1 image(s)" in message
    assert "\n" not in message
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A", "B"]


def test_combine_mismatch_truncates_long_lists(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    _save(_rgb(2, 2, 0), b / "keep.png")
    _save(_rgb(2, 2, 0), a / "keep.png")
    for i in range(12):
        _save(_rgb(2, 2, 0), a / f"lone{i:02d}.png")
    with pytest.raises(UserError, match=r"12 image\(s\).*lone00\.png.*\(7 more\)"):
        combine_tool.combine_folders(a, b, tmp_path / "AB")


def test_combine_size_mismatch_names_both_files(tmp_path):
    a, b, out = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    _save(_rgb(4, 4, 0), a / "ok.png")
    _save(_rgb(4, 4, 1), b / "ok.png")
    _save(_rgb(4, 4, 0), a / "bad.png")
    _save(_rgb(4, 5, 1), b / "bad.png")
    with pytest.raises(UserError) as info:
        combine_tool.combine_folders(a, b, out)
    assert str(a / "bad.png") in str(info.value) and str(b / "bad.png") in str(info.value)
    assert not out.exists()


def test_combine_keeps_16bit_grayscale(tmp_path):
    a, b, out = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    arr_a = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000 + 7).astype(np.uint16)
    arr_b = (65535 - arr_a).astype(np.uint16)
    _save(arr_a, a / "d.png")
    _save(arr_b, b / "d.png")
    assert combine_tool.combine_folders(a, b, out) == 1
    with Image.open(out / "d.png") as image:
        assert image.mode.startswith("I") and image.size == (8, 3)
        got = np.asarray(image)
    assert got.max() > 255
    np.testing.assert_array_equal(got[:, :4].astype(np.uint32), arr_a)
    np.testing.assert_array_equal(got[:, 4:].astype(np.uint32), arr_b)


def test_combine_keeps_8bit_grayscale_and_refuses_mixed_modes(tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    gray = np.random.default_rng(0).integers(0, 256, (4, 4), dtype=np.uint8)
    _save(gray, a / "g.png")
    _save(gray[::-1], b / "g.png")
    combine_tool.combine_folders(a, b, tmp_path / "AB")
    with Image.open(tmp_path / "AB" / "g.png") as image:
        assert image.mode == "L"
        np.testing.assert_array_equal(np.asarray(image)[:, 4:], gray[::-1])

    _save(_rgb(4, 4, 0), b / "g.png")  # now B is colour, A grayscale
    with pytest.raises(UserError) as info:
        combine_tool.combine_folders(a, b, tmp_path / "AB2")
    assert "grayscale" in str(info.value) and str(a / "g.png") in str(info.value)
    assert not (tmp_path / "AB2").exists()
    # --rgb opts into converting both halves.
    assert combine_tool.combine_folders(a, b, tmp_path / "AB3", rgb=True) == 1
    with Image.open(tmp_path / "AB3" / "g.png") as image:
        assert image.mode == "RGB"


def test_combine_refuses_non_empty_out_unless_overwrite(tmp_path):
    a, b, out = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    _save(_rgb(4, 4, 0), a / "1.png")
    _save(_rgb(4, 4, 1), b / "1.png")
    out.mkdir()
    (out / "old.txt").write_text("x")
    with pytest.raises(UserError, match="--overwrite"):
        combine_tool.combine_folders(a, b, out)
    assert (out / "old.txt").exists()
    assert combine_tool.combine_folders(a, b, out, overwrite=True) == 1
    assert sorted(p.name for p in out.iterdir()) == ["1.png"]
    # An output folder that contains the inputs is refused even with --overwrite.
    with pytest.raises(UserError, match="separate folder"):
        combine_tool.combine_folders(a, b, tmp_path, overwrite=True)
    assert a.is_dir() and b.is_dir()


# --------------------------------------------------------------------------- download


def _jpeg_bytes(width: int, height: int, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_rgb(height, width, seed)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _make_archive(path: Path, files: dict[str, bytes], extra=None) -> Path:
    """Write a .tar.gz with the given members (name -> bytes); ``extra(tar)`` may add odd members."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra:
            extra(tar)
    return path


def _facades_files(prefix: str = "facades/", width: int = 16, height: int = 8) -> dict[str, bytes]:
    files = {}
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        for i in range(n):
            files[f"{prefix}{split}/{i + 1}.jpg"] = _jpeg_bytes(width, height, i)
    return files


def test_download_with_local_archive_unpacks_and_verifies(tmp_path, capsys):
    archive = _make_archive(tmp_path / "facades.tar.gz", _facades_files())
    out = tmp_path / "data" / "facades"
    counts = download_tool.fetch_dataset("facades", out=out, archive=archive, progress=False)
    assert counts == {"train": 3, "val": 2, "test": 2}
    assert sorted(p.name for p in out.iterdir()) == ["test", "train", "val"]
    with Image.open(out / "train" / "1.jpg") as image:
        assert image.size == (16, 8)
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["facades"], "temp folder left behind"

    # Existing non-empty output: refused, then replaced with --overwrite.
    with pytest.raises(UserError, match="--overwrite"):
        download_tool.fetch_dataset("facades", out=out, archive=archive, progress=False)
    (out / "train" / "stale.jpg").write_bytes(b"")
    download_tool.fetch_dataset("facades", out=out, archive=archive, overwrite=True, progress=False)
    assert not (out / "train" / "stale.jpg").exists()

    # CLI main prints the splits and counts.
    download_tool.main(["facades", "--archive", str(archive), "--out", str(tmp_path / "cli")])
    printed = capsys.readouterr().out
    assert "train 3" in printed and "val 2" in printed and "test 2" in printed


def test_download_accepts_splits_at_archive_root(tmp_path):
    files = {k: v for k, v in _facades_files(prefix="").items() if not k.startswith("test/")}
    archive = _make_archive(tmp_path / "maps.tar.gz", files)
    counts = download_tool.fetch_dataset("maps", out=tmp_path / "maps", archive=archive, progress=False)
    assert counts == {"train": 3, "val": 2}


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_split", "test/ is missing"),
        ("empty_split", "holds no images"),
        ("wrong_aspect", "width must be 2 x height"),
        ("not_an_image", "does not decode"),
        ("traversal", "'..'"),
        ("absolute", "absolute path"),
        ("symlink", "link to"),
        ("not_tar", "not a valid .tar.gz"),
    ],
)
def test_download_refuses_malformed_archive(tmp_path, case, expected):
    files = _facades_files()
    extra = None
    if case == "missing_split":
        files = {k: v for k, v in files.items() if "/test/" not in k}
    elif case == "empty_split":
        files = {k: v for k, v in files.items() if "/test/" not in k}

        def extra(tar):
            info = tarfile.TarInfo("facades/test")
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
    elif case == "wrong_aspect":
        files["facades/train/1.jpg"] = _jpeg_bytes(8, 8)
    elif case == "not_an_image":
        files["facades/val/1.jpg"] = b"not a jpeg"
    elif case == "traversal":
        files["facades/../../escaped.jpg"] = b"x"
    elif case == "absolute":
        files[str(tmp_path / "abs.jpg")] = b"x"
    elif case == "symlink":

        def extra(tar):
            info = tarfile.TarInfo("facades/train/link.jpg")
            info.type = tarfile.SYMTYPE
            info.linkname = "../../../../etc/passwd"
            tar.addfile(info)

    archive = tmp_path / "bad.tar.gz"
    if case == "not_tar":
        archive.write_bytes(b"this is not a tar archive")
    else:
        _make_archive(archive, files, extra)
    out = tmp_path / "data" / "facades"
    with pytest.raises(UserError, match=expected) as info:
        download_tool.fetch_dataset("facades", out=out, archive=archive, progress=False)
    assert "\n" not in str(info.value)
    assert not out.exists()
    assert list((tmp_path / "data").iterdir()) == [], "temp folder left behind"
    assert not (tmp_path / "escaped.jpg").exists() and not (tmp_path / "abs.jpg").exists()


def test_download_unreachable_url_gives_network_error_quickly(tmp_path):
    out = tmp_path / "data" / "facades"
    start = time.monotonic()
    with pytest.raises(UserError) as info:
        download_tool.fetch_dataset("facades", out=out, url="http://127.0.0.1:9/", timeout=5, progress=False)
    assert time.monotonic() - start < 6
    message = str(info.value)
    assert "network unreachable" in message and "--archive" in message and "\n" not in message
    assert "http://127.0.0.1:9/facades.tar.gz" in message
    assert not out.exists() and list((tmp_path / "data").iterdir()) == []


@pytest.fixture
def loopback_server(tmp_path):
    """Serve tmp_path/served over HTTP on 127.0.0.1 (an ephemeral port) for the test's duration."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_download_over_loopback_http(tmp_path, loopback_server, monkeypatch, capsys):
    served, base = loopback_server
    _make_archive(served / "facades.tar.gz", _facades_files())
    monkeypatch.setenv(download_tool.URL_ENV, base)
    out = tmp_path / "data" / "facades"
    assert download_tool.fetch_dataset("facades", out=out, timeout=5) == {"train": 3, "val": 2, "test": 2}
    assert "downloaded" in capsys.readouterr().err
    # A missing archive on the server is an HTTP error, not "network unreachable".
    with pytest.raises(UserError, match="HTTP 404") as info:
        download_tool.fetch_dataset("maps", out=tmp_path / "data" / "maps", timeout=5, progress=False)
    assert "--archive" in str(info.value)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["facades"]


def test_archive_url_base_and_env(monkeypatch):
    assert download_tool.archive_url("maps") == "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/maps.tar.gz"
    assert download_tool.archive_url("maps", "http://127.0.0.1:8000/mirror") == "http://127.0.0.1:8000/mirror/maps.tar.gz"
    assert download_tool.archive_url("maps", "http://127.0.0.1:8000/x/maps.tar.gz") == "http://127.0.0.1:8000/x/maps.tar.gz"
    monkeypatch.setenv(download_tool.URL_ENV, "http://127.0.0.1:8000/env/")
    assert download_tool.archive_url("facades") == "http://127.0.0.1:8000/env/facades.tar.gz"


def test_download_unknown_name(tmp_path):
    with pytest.raises(UserError, match="edges2shoes"):
        download_tool.fetch_dataset("imagenet", out=tmp_path / "x", progress=False)


# --------------------------------------------------------------------------- CLI


def test_cli_user_error_exits_2_with_one_line(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if "proxy" not in k.lower()}, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, str(REPO / "datasets" / "combine_A_and_B.py"), "--a", str(tmp_path / "nope"),
         "--b", str(tmp_path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # from another folder: the script needs only the (installed) package
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nope" in lines[0]
    assert result.stdout == ""
