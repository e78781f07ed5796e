"""The input pipeline: paper jitter applied identically to both halves, repeatable and resumable
order, channels and bit depth kept, and every bad input named."""

import dataclasses

import numpy as np
import pytest
from conftest import pair_arrays, save_image, write_paired

from pix2pix_tf.core.config import Config, generator_depth
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data import pipeline as data_lib


def resolved(config: Config, pairs) -> Config:
    _, info = data_lib.check_pairs(pairs, config, what="train")
    input_nc, output_nc = data_lib.channel_counts(config, info)
    return dataclasses.replace(config, input_nc=input_nc, output_nc=output_nc,
                               steps_per_epoch=len(pairs) // config.batch_size)


def test_jitter_crops_and_mirrors_both_halves_identically(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(4):
        image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        save_image(np.concatenate([image, image], axis=1), tmp_path / "train" / f"{i}.png")
    pairs = data_lib.list_pairs(tmp_path, "train")
    config = resolved(Config(image_size="16", load_size="24"), pairs)
    batches = list(data_lib.training_dataset(pairs, config).take(12))
    sources = np.stack([b[0][0].numpy() for b in batches])
    targets = np.stack([b[1][0].numpy() for b in batches])
    np.testing.assert_array_equal(sources, targets)
    assert sources.shape == (12, 16, 16, 3)
    assert len({s.tobytes() for s in sources}) == 12  # jitter differs between examples


def test_order_and_jitter_resume_exactly_at_a_step(tiny_data):
    pairs = data_lib.list_pairs(tiny_data, "train")
    config = resolved(Config(image_size="32", batch_size=2, seed=7), pairs)
    full = [s.numpy() for s, _ in data_lib.training_dataset(pairs, config).take(9)]
    resumed = [s.numpy() for s, _ in data_lib.training_dataset(pairs, config, start_step=5).take(4)]
    for a, b in zip(full[5:], resumed):
        np.testing.assert_array_equal(a, b)
    other_seed = dataclasses.replace(config, seed=8)
    assert not np.array_equal(full[0], next(iter(data_lib.training_dataset(pairs, other_seed)))[0].numpy())


def test_each_epoch_visits_every_pair_once(tmp_path):
    for i in range(6):
        save_image(np.full((8, 16, 1), i * 40, np.uint8), tmp_path / "train" / f"{i}.png")
    pairs = data_lib.list_pairs(tmp_path, "train")
    config = resolved(Config(image_size="8", preprocess="none", flip=False), pairs)
    values = [round(float(s.numpy().mean()), 3) for s, _ in data_lib.training_dataset(pairs, config).take(12)]
    assert sorted(values[:6]) == sorted(values[6:]) and len(set(values[:6])) == 6
    assert values[:6] != values[6:]


def test_direction_swaps_source_and_target(tiny_data):
    pairs = data_lib.list_pairs(tiny_data, "test")
    a, b = pair_arrays(100, 32)
    for direction, expected in (("AtoB", a), ("BtoA", b)):
        config = resolved(Config(image_size="32", direction=direction), pairs)
        source, _ = next(iter(data_lib.evaluation_dataset(pairs, config)))
        np.testing.assert_allclose((source[0].numpy() + 1) / 2 * 255, expected, atol=0.5)


def test_grayscale_and_16_bit_are_kept(tmp_path):
    values = (np.arange(32 * 64, dtype=np.uint16).reshape(32, 64) * 31)[..., None]
    save_image(values, tmp_path / "train" / "1.png")
    pairs = data_lib.list_pairs(tmp_path, "train")
    config = resolved(Config(image_size="32", preprocess="none", flip=False), pairs)
    assert (config.input_nc, config.output_nc) == (1, 1)
    source, _ = next(iter(data_lib.evaluation_dataset(pairs, config)))
    expected = values[:, :32, 0] / 65535.0 * 2 - 1
    np.testing.assert_allclose(source[0, ..., 0].numpy(), expected, atol=1e-6)


def test_a_and_b_folders_layout(tmp_path):
    for i in range(3):
        a, b = pair_arrays(i, 32)
        save_image(a, tmp_path / "train" / "A" / f"x{i}.png")
        save_image(b[..., :1], tmp_path / "train" / "B" / f"x{i}.jpg")
    pairs = data_lib.list_pairs(tmp_path, "train")
    config = resolved(Config(image_size="32"), pairs)
    assert (config.input_nc, config.output_nc) == (3, 1)
    source, target = next(iter(data_lib.training_dataset(pairs, config)))
    assert source.shape == (1, 32, 32, 3) and target.shape == (1, 32, 32, 1)


def check(root, split="train", **config):
    pairs = data_lib.list_pairs(root, split)
    return data_lib.check_pairs(pairs, Config(**{"image_size": "32", **config}), what=split)


def test_missing_and_empty_data_are_named(tmp_path):
    with pytest.raises(UserError, match="no such directory"):
        data_lib.list_pairs(tmp_path / "nope", "train")
    with pytest.raises(UserError, match="no 'train' split"):
        data_lib.list_pairs(tmp_path, "train")
    (tmp_path / "train").mkdir()
    with pytest.raises(UserError, match="no .jpg or .png"):
        data_lib.list_pairs(tmp_path, "train")


def test_every_bad_file_is_reported(tmp_path, capsys):
    write_paired(tmp_path, count=2)
    (tmp_path / "train" / "3.png").write_bytes(b"not an image at all")
    good = (tmp_path / "train" / "1.png").read_bytes()
    (tmp_path / "train" / "4.jpg").write_bytes(b"\xff\xd8\xff\xe0" + good[4:200])
    save_image(np.zeros((32, 40, 3), np.uint8), tmp_path / "train" / "5.png")
    with pytest.raises(UserError, match=r"3 of 5 train pairs are unusable") as err:
        check(tmp_path)
    report = capsys.readouterr().err
    for name in ("3.png", "4.jpg", "5.png"):
        assert name in report
    assert "3.png" in str(err.value) and "not a readable" in str(err.value)
    assert "wide:high" in report
    usable, _ = data_lib.check_pairs(data_lib.list_pairs(tmp_path, "train"), Config(image_size="32"),
                                     what="train", on_bad="skip")
    assert sorted(p.a.rsplit("/", 1)[-1] for p in usable) == ["1.png", "2.png"]


def test_mismatched_folder_names_are_listed(tmp_path):
    a, b = pair_arrays(0, 32)
    save_image(a, tmp_path / "train" / "A" / "one.png")
    save_image(b, tmp_path / "train" / "B" / "two.png")
    with pytest.raises(UserError, match=r"1 in A/ without a B/ match \(one\).*1 in B/ without an A/ match \(two\)"):
        data_lib.list_pairs(tmp_path, "train")


def test_image_smaller_than_the_crop(tmp_path):
    write_paired(tmp_path, count=1, size=32)
    with pytest.raises(UserError, match="smaller than the 64x64 crop"):
        check(tmp_path, image_size="64", preprocess="crop")


def test_channel_count_contradicting_a_flag(tmp_path):
    write_paired(tmp_path, count=1)
    with pytest.raises(UserError, match="has 3 channels but --input-nc is 1"):
        check(tmp_path, input_nc=1)


@pytest.mark.parametrize("size", [(48, 48), (2, 2), (64, 96)])
def test_image_sizes_the_generator_cannot_take(size):
    with pytest.raises(UserError, match="--image-size"):
        generator_depth(size)


def test_depth_follows_the_image_size():
    assert [generator_depth((s, s)) for s in (256, 128, 64)] == [8, 7, 6]
    assert generator_depth((256, 512)) == 8


def test_two_files_with_one_name_in_a_or_b_are_listed_as_ambiguous(tmp_path):
    a, b = pair_arrays(0, 32)
    save_image(a, tmp_path / "train" / "A" / "1.jpg")
    save_image(255 - a, tmp_path / "train" / "A" / "1.png")
    save_image(b, tmp_path / "train" / "B" / "1.jpg")
    with pytest.raises(UserError, match=r"train/A: 1 name\(s\) with more than one file, so which one pairs is "
                                        r"ambiguous \(1.jpg and 1.png\)"):
        data_lib.list_pairs(tmp_path, "train")


def corrupt_jpeg(path) -> bytes:
    """A JPEG with bytes overwritten mid-stream: libjpeg warns "Corrupt JPEG data" and still decodes it."""
    import io

    from PIL import Image

    a, b = pair_arrays(3, 32)
    noise = np.random.default_rng(0).integers(0, 255, (32, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate([a, b], axis=1) // 2 + noise // 2).save(buffer, "JPEG", quality=90)
    data = bytearray(buffer.getvalue())
    data[len(data) // 2: len(data) // 2 + 4] = b"\xff\xd3\x00\x00"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def test_a_corrupt_jpeg_that_still_decodes_is_reported_as_damaged_by_name(tmp_path, capsys):
    from pix2pix_tf.data.images import ImageError, read_image

    write_paired(tmp_path, count=2)
    bad = corrupt_jpeg(tmp_path / "train" / "3.jpg")
    with pytest.raises(UserError, match=r"1 of 3 train pairs are unusable; first: .*3.jpg: damaged JPEG data"):
        check(tmp_path)
    assert f"bad train pair: {bad}: damaged JPEG data" in capsys.readouterr().err
    with pytest.raises(ImageError, match="damaged JPEG data .the decoder reports \"Corrupt JPEG data"):
        read_image(bad)


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header claims ``width`` x ``height``: a decompression bomb."""
    import io
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    ihdr = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:33] = ihdr + struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


def test_a_header_bomb_in_the_data_is_reported_not_a_traceback(tmp_path, capsys):
    write_paired(tmp_path, count=2)
    (tmp_path / "train" / "3.png").write_bytes(png_claiming(24000, 12000))
    with pytest.raises(UserError, match=r"1 of 3 train pairs are unusable; first: .*3.png: .*megapixel limit"):
        check(tmp_path)


def test_data_that_names_a_file_says_so(tmp_path):
    (tmp_path / "data.zip").write_bytes(b"zip")
    with pytest.raises(UserError, match=r"--data .*data.zip: a file, not a folder of split folders"):
        data_lib.list_pairs(tmp_path / "data.zip", "train")
