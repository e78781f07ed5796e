"""Evaluate and translate: metrics a user can check by hand, outputs at the input's exact size, bad
files skipped without stopping the rest, and the best checkpoint found where the answer is known."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_FLAGS, error_line, make_run, pair_arrays, run_fit, run_module, save_image, write_paired
from PIL import Image

from pix2pix_tf import evaluate as ev
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.deploy.translator import ImageError, load, tile_starts
from pix2pix_tf.train.rundir import RunDir, checkpoint_manager
from pix2pix_tf.translate import plan_outputs

SIZE = 32  # tiny models: depth 5, so images pad to multiples of 32 and the minimum side is 16


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "data"
    write_paired(root, split="train", count=8, size=SIZE)
    write_paired(root, split="test", count=4, size=SIZE, start=100)
    return root


@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory, data) -> Path:
    root = tmp_path_factory.mktemp("rgb") / "run"
    make_run(root, data)
    return root


@pytest.fixture(scope="module")
def grey_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("grey")
    data = write_paired(root / "data", count=8, size=SIZE, channels=1)
    make_run(root / "run", data)
    return root / "run"


def noise(h: int, w: int, c: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, c), dtype=np.uint8)


# --------------------------------------------------------------------------- metrics


# --------------------------------------------------------------------------- translate (library)


@pytest.mark.parametrize("channels", [1, 3])
def test_translate_returns_the_exact_input_size(rgb_run, grey_run, channels):
    model = load(rgb_run if channels == 3 else grey_run)
    image = noise(199, 301, channels)
    output = model.translate(image)
    assert output.shape == (199, 301, channels) and output.dtype == np.uint8
    assert model.translate(image[..., 0] if channels == 1 else image).shape == (199, 301, channels)
    floats = model.translate(image.astype(np.float32) / 255)
    assert floats.dtype == np.float32 and floats.shape == (199, 301, channels)
    assert 0.0 <= floats.min() and floats.max() <= 1.0
    assert model.translate(image.transpose(1, 0, 2)).shape == (301, 199, channels)


def test_padding_is_invisible_when_no_padding_is_needed(rgb_run):
    model = load(rgb_run, scale="native")  # training resized this data by 36/32; native keeps pixels as they are
    image = noise(64, 96, 3).astype(np.float32) / 255
    direct = (model.trained.generator(image[None] * 2 - 1, training=False).numpy()[0] + 1) / 2
    np.testing.assert_allclose(model.translate(image), direct, atol=1e-5)


@pytest.mark.parametrize("large", ["tile", "downscale"])
def test_large_images_keep_their_size(rgb_run, large):
    model = load(rgb_run, large=large, max_side=64)
    output = model.translate(noise(199, 301, 3))
    assert output.shape == (199, 301, 3)
    assert np.isfinite(output.astype(np.float32)).all()


def test_tiles_cover_the_image_with_overlap():
    starts = tile_starts(320, 64, 16)
    assert starts[0] == 0 and starts[-1] == 320 - 64
    assert all(b - a <= 64 - 16 for a, b in zip(starts, starts[1:]))
    assert tile_starts(64, 64, 16) == [0]


def test_channel_conversions_are_reported(rgb_run, grey_run):
    with pytest.warns(UserWarning, match="repeated to 3 channels"):
        assert load(rgb_run).translate(noise(40, 40, 1)).shape == (40, 40, 3)
    with pytest.warns(UserWarning, match="converted to grey"):
        assert load(grey_run).translate(noise(40, 40, 3)).shape == (40, 40, 1)
    with pytest.warns(UserWarning, match="alpha channel dropped"):
        assert load(rgb_run).translate(noise(40, 40, 4)).shape == (40, 40, 3)


def test_too_small_images_are_refused_with_the_minimum(rgb_run):
    with pytest.raises(ImageError, match="at least 16 px"):
        load(rgb_run, scale="native").translate(noise(15, 300, 3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load(rgb_run).translate(np.full((40, 40, 3), 2.0, np.float32))


def test_out_folder_that_would_overwrite_inputs_is_refused(tmp_path):
    image = save_image(noise(40, 40, 3), tmp_path / "x.png")
    with pytest.raises(UserError, match="would overwrite the input"):
        plan_outputs([image], tmp_path, folders=[])
    jobs = plan_outputs([image, save_image(noise(40, 40, 3), tmp_path / "x.jpg")], tmp_path / "out", folders=[])
    assert [j.target.name for j in jobs] == ["x.png", "x-2.png"]


def test_an_output_never_replaces_a_file_it_did_not_write_without_overwrite(tmp_path):
    photos = tmp_path / "photos"
    label = save_image(noise(40, 40, 3), photos / "label.png")
    webp = photos / "label.webp"
    Image.fromarray(noise(40, 40, 3)).save(webp)
    with pytest.raises(UserError, match=r"--out .*photos: 1 output name\(s\) already taken \(label.png\); "
                                        "pass --overwrite"):
        plan_outputs([webp], photos, folders=[])
    assert [j.target for j in plan_outputs([webp], photos, folders=[], overwrite=True)] == [label]


# --------------------------------------------------------------------------- translate (command line)


def test_cli_translates_a_folder_and_skips_bad_files(tmp_path, rgb_run):
    folder = tmp_path / "in"
    save_image(noise(199, 301, 3), folder / "photo.png")
    save_image(noise(45, 70, 1), folder / "grey.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    save_image(noise(8, 40, 3), folder / "tiny.png")
    deep = (np.random.default_rng(1).integers(0, 65536, (33, 50, 3))).astype(np.uint16)
    (folder / "deep.png").write_bytes(tf.io.encode_png(deep).numpy())
    out = tmp_path / "out"
    result = run_module("pix2pix_tf.translate", "--run-dir", str(rgb_run), str(folder), "--out", str(out),
                        "--scale", "native")
    assert result.returncode == 1, result.stderr
    assert "2 of 5 inputs failed" in result.stderr
    assert "broken.png" in result.stderr and "not a readable image" in result.stderr
    assert re.search(r"tiny\.png: 40x8 \(WxH\) is too small: .*at least 16 px", result.stderr)
    assert "grey image repeated to 3 channels" in result.stderr
    assert "translated 3 of 5 inputs" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["deep.png", "grey.png", "photo.png"]
    assert Image.open(out / "photo.png").size == (301, 199)
    assert Image.open(out / "grey.png").size == (70, 45)
    written = tf.io.decode_png((out / "deep.png").read_bytes(), dtype=tf.uint16)
    assert written.shape == (33, 50, 3) and (out / "deep.png").read_bytes()[24] == 16

    refused = run_module("pix2pix_tf.translate", "--run-dir", str(rgb_run), str(folder), "--out", str(folder))
    assert refused.returncode == 2
    assert "is an input folder" in error_line(refused)


# --------------------------------------------------------------------------- evaluate


def test_evaluate_cli_writes_page_csv_and_json_for_every_image(tmp_path, data):
    run_dir = tmp_path / "run"
    fit = run_fit("--run-dir", str(run_dir), "--data", str(data), "--steps", "4", *TINY_FLAGS)
    assert fit.returncode == 0, fit.stderr[-3000:]
    result = run_module("pix2pix_tf.evaluate", "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    out = run_dir / "eval" / "test-step4"
    names = [f"{i}.png" for i in range(101, 105)]

    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["image"] for r in rows] == names
    page = (out / "index.html").read_text()
    for row in rows:
        assert row["image"] in page and (out / row["thumbnail"]).is_file()
        assert f'src="{row["thumbnail"]}"' in page
    assert (out / "metrics.png").stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 4 and summary["step"] == 4 and summary["inference"] == "deterministic"
    assert summary["mean"]["l1"] == pytest.approx(np.mean([float(r["l1"]) for r in rows]))
    ordered = re.findall(r'<td data-v="\d+">\d+</td><td data-v="([^"]+)">', page)
    by_l1 = [r["image"] for r in sorted(rows, key=lambda r: float(r["l1"]))]
    assert ordered == by_l1  # best (lowest L1) first
    # the same number fit reports for validation, since both use the same split and metric code
    fit_l1 = float(re.search(r"validation L1 \(0-1 scale\): .*now ([0-9.]+)", fit.stdout).group(1))
    assert summary["mean"]["l1"] == pytest.approx(fit_l1, abs=1e-4)


def _constant_output(generator: keras.Model, value: np.ndarray) -> None:
    """Make the generator output ``value`` (network range, per channel) for every pixel."""
    layer = generator.get_layer("out_conv")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.arctanh(np.clip(value, -0.999, 0.999)).astype(np.float32)])


def test_all_checkpoints_picks_the_best_one(tmp_path, data):
    run_dir = tmp_path / "run"
    generator = make_run(run_dir, data, steps=())
    manager = checkpoint_manager(tf.train.Checkpoint(generator=generator), RunDir(run_dir), 5)
    targets = np.stack([pair_arrays(i, SIZE)[1] for i in range(100, 104)]).astype(np.float32) / 127.5 - 1
    mean_colour = targets.mean(axis=(0, 1, 2))
    for step, value in ((10, -np.ones(3)), (20, mean_colour), (30, np.ones(3))):  # black, the mean, white
        _constant_output(generator, value)
        manager.save(checkpoint_number=step)

    for metric in ("l1", "psnr"):
        comparison = ev.evaluate_all_checkpoints(run_dir, metric=metric, page=False)
        assert [r.step for r in comparison.results] == [10, 20, 30]
        assert comparison.best.step == 20
    saved = json.loads((run_dir / "eval" / "test-checkpoints.json").read_text())
    assert saved["best_step"] == 20 and [c["step"] for c in saved["checkpoints"]] == [10, 20, 30]
    assert (run_dir / "eval" / "test-step30" / "metrics.csv").is_file()
    expected_l1 = np.abs((np.clip(mean_colour, -0.999, 0.999) + 1) / 2 - (targets + 1) / 2).mean()
    assert comparison.results[1].mean["l1"] == pytest.approx(expected_l1, abs=2e-3)


def test_evaluate_refuses_bad_requests(tmp_path, rgb_run):
    with pytest.raises(UserError, match="kept steps: 1"):
        ev.evaluate_run(rgb_run, 7, page=False)
    with pytest.raises(UserError, match="no 'nope' split"):
        ev.evaluate_run(rgb_run, split="nope", page=False)
    with pytest.raises(UserError, match="no stored config"):
        ev.evaluate_run(tmp_path, page=False)


def hostile_files(folder: Path) -> dict[str, Path]:
    """Issue 6's hostile inputs as files: each must translate or be refused with ImageError."""
    import io
    import struct
    import zlib

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rgb = noise(40, 48, 3, seed=3)

    def encoded(array_or_image, fmt: str, mode: str | None = None) -> bytes:
        image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
        buffer = io.BytesIO()
        (image.convert(mode) if mode else image).save(buffer, fmt)
        return buffer.getvalue()

    def png_claiming(width: int, height: int) -> bytes:
        def chunk(kind, body):
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
                + chunk(b"IEND", b""))

    png, jpeg = encoded(rgb, "PNG"), encoded(rgb, "JPEG")
    payloads = {
        "random.png": np.random.default_rng(0).bytes(3000),
        "truncated.png": png[: len(png) // 2],
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "bomb.png": png_claiming(100_000, 100_000),
        "empty_dims.png": png_claiming(0, 0),
        "one_pixel.png": encoded(rgb[:1, :1], "PNG"),
        "sixteen.png": encoded(Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), "PNG"),
        "palette.png": encoded(rgb, "PNG", "P"),
        "alpha.png": encoded(np.dstack([rgb, rgb[..., :1]]), "PNG"),
        "grey.png": encoded(rgb[..., 0], "PNG"),
        "cmyk.jpg": encoded(rgb, "JPEG", "CMYK"),
    }
    for name, payload in payloads.items():
        (folder / name).write_bytes(payload)
    return {name: folder / name for name in payloads}


def test_hostile_files_translate_or_are_refused_one_by_one(tmp_path, rgb_run):
    model = load(rgb_run)
    outcomes = {}
    for name, path in hostile_files(tmp_path / "in").items():
        try:
            outcomes[name] = model.translate(path).shape
        except ImageError as err:
            outcomes[name] = str(err)
    for name in ("sixteen.png", "palette.png", "alpha.png", "grey.png", "cmyk.jpg"):
        assert outcomes[name] == (40, 48, 3), (name, outcomes[name])
    for name in ("random.png", "truncated.jpg", "bomb.png", "empty_dims.png", "one_pixel.png"):
        assert isinstance(outcomes[name], str), (name, outcomes[name])
    assert "megapixel limit" in outcomes["bomb.png"]
    print("\n".join(f"{name}: {outcome}" for name, outcome in outcomes.items()))


def test_a_split_given_with_a_slash_names_the_same_results(tmp_path, data):
    run_dir = tmp_path / "run"
    make_run(run_dir, data, steps=(4,))
    summary = ev.evaluate_run(run_dir, split="test/", page=False)
    assert Path(summary.out_dir) == run_dir / "eval" / "test-step4"
    ev.evaluate_all_checkpoints(run_dir, split="test/", page=False)
    assert (run_dir / "eval" / "test-checkpoints.json").is_file()


@pytest.mark.parametrize("array, message", [
    (np.where(np.arange(64).reshape(8, 8, 1) % 2, np.nan, 0.5).astype(np.float32),
     r"32 of 64 values are NaN or infinite"),
    (np.full((8, 8, 1), np.nan, np.float32), r"64 of 64 values are NaN or infinite"),
    (np.full((8, 8, 1), 1.5, np.float32), r"range found: 1.5 to 1.5"),
])
def test_float_arrays_with_nan_or_out_of_range_values_say_what_was_found(rgb_run, array, message):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy "All-NaN slice" warning
        with pytest.raises(ValueError, match=message):
            load(rgb_run).translate(array)


def test_an_empty_array_is_described_as_it_is(rgb_run):
    with pytest.raises(ImageError, match=r"^0x0 \(WxH\) is too small"):
        load(rgb_run).translate(np.zeros((0, 0, 3), np.uint8))


def test_translate_flag_mistakes_are_one_line(tmp_path, rgb_run):
    result = run_module("pix2pix_tf.translate", "--run-dir", str(rgb_run), "x.png", "--out", str(tmp_path),
                        "--large", "bogus")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--large: invalid choice: 'bogus'" in error_line(result)


def test_a_file_name_holding_a_newline_stays_on_its_line(tmp_path, rgb_run, capsys):
    from pix2pix_tf import translate

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad\nerror: forged.png").write_bytes(b"not an image")
    assert translate.main(["--run-dir", str(rgb_run), str(folder), "--out", str(tmp_path / "out")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert not [line for line in lines if "forged" in line and not line.startswith(("skipped ", "  "))], lines
    assert f"skipped {folder}/bad\\nerror: forged.png: not a readable image" in "\n".join(lines)


def test_a_split_outside_the_data_is_refused(tmp_path, data):
    from pix2pix_tf.core.config import Config

    outside = write_paired(tmp_path, split="outside", count=2, size=SIZE)
    config = Config(data=str(data), image_size=str(SIZE))
    for split in (f"../{outside.name}/outside", str(outside / "outside")):
        with pytest.raises(UserError, match=f"--split '{re.escape(split)}': name a split folder inside --data"):
            ev.evaluation_pairs(config, split=split)
    assert len(ev.evaluation_pairs(config, split="test/")[2]) == 4


def test_a_run_whose_data_moved_says_so(tmp_path):
    from pix2pix_tf.core.config import Config

    gone = tmp_path / "moved-away"
    with pytest.raises(UserError, match=f"^{gone}: the run's data is not there; pass --data DIR where it is now$"):
        ev.evaluation_pairs(Config(data=str(gone)))
    with pytest.raises(UserError, match=f"^--data {gone}: no such directory$"):
        ev.evaluation_pairs(Config(), data=gone)
