"""``pix2pix_tf.data.images``: the NumPy (host) and TensorFlow (graph) versions of each image rule compute the
same thing, and user images are read with their bit depth and refused with a reason."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pix2pix_tf.data import geometry, images


def encoded(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("hw", [(2, 2), (3, 31), (16, 16), (17, 40), (33, 5)])
@pytest.mark.parametrize("multiple", [4, 32])
def test_reflect_padding_numpy_and_graph_agree(hw, multiple):
    image = np.random.default_rng(0).uniform(-1, 1, (*hw, 3)).astype(np.float32)
    padded, (top, left) = geometry.reflect_pad(image, multiple)
    graph, graph_top, graph_left = geometry.reflect_pad_tf(tf.constant(image[None]), multiple)
    np.testing.assert_array_equal(padded, graph.numpy()[0])
    assert (top, left) == (int(graph_top), int(graph_left))
    assert padded.shape[0] % multiple == 0 and padded.shape[1] % multiple == 0
    np.testing.assert_array_equal(padded[top: top + hw[0], left: left + hw[1]], image)


def test_minimum_side_is_half_the_multiple():
    assert [geometry.min_side(m) for m in (2, 4, 32, 256)] == [2, 2, 16, 128]


def test_range_conversion_numpy_and_graph_agree():
    values = np.linspace(-1.2, 1.2, 2001, dtype=np.float32).reshape(1, -1, 1)
    np.testing.assert_array_equal(images.to_uint8(values), images.to_uint8_tf(tf.constant(values)).numpy())
    assert images.to_uint8(np.array([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
    inside = values[np.abs(values) <= 1]
    assert np.abs(images.from_uint8(images.to_uint8(inside)) - inside).max() <= 1 / 255 + 1e-6
    unit = np.array([0.0, 0.25, 1.0], np.float32)
    np.testing.assert_allclose(images.from_network_range(images.to_network_range(unit)), unit)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_header_size_numpy_and_graph_agree(fmt):
    contents = encoded(np.zeros((37, 53, 3), np.uint8), fmt)
    is_image, height, width = images.header_hw_tf(tf.constant(contents))
    assert bool(is_image) and (int(height), int(width)) == images.read_header(contents).hw == (37, 53)


def test_graph_header_check_refuses_what_is_not_an_image():
    is_image, _, _ = images.header_hw_tf(tf.constant(b"GIF89a not a supported image"))
    assert not bool(is_image)
    assert images.read_header(b"garbage") is None


def test_sixteen_bit_png_keeps_its_depth_and_decodes_alike(tmp_path):
    grey = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 21)
    path = tmp_path / "deep.png"
    Image.fromarray(grey).save(path)
    pixels, bits, notes = images.read_image(path)
    assert bits == 16 and pixels.shape == (48, 64, 1) and notes == []
    np.testing.assert_allclose(pixels[..., 0], grey / 65535.0, atol=1e-6)
    graph = images.decode_checked_tf(tf.constant(path.read_bytes()), 1, 10**6, 4, "test").numpy()
    np.testing.assert_allclose(graph, images.to_network_range(pixels), atol=1e-6)


def test_unreadable_and_oversized_files_are_refused_with_a_reason(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "junk.png").write_bytes(b"\x00junk" * 10)
    with pytest.raises(images.ImageError, match="empty file"):
        images.read_image(tmp_path / "empty.png")
    with pytest.raises(images.ImageError, match="not a readable image"):
        images.read_image(tmp_path / "junk.png")


def test_channel_matching_reports_each_conversion():
    rgba = np.random.default_rng(0).uniform(0, 1, (4, 4, 4)).astype(np.float32)
    grey, notes = images.match_channels(rgba, 1)
    assert grey.shape == (4, 4, 1) and len(notes) == 2
    np.testing.assert_allclose(grey[..., 0], rgba[..., :3] @ images.LUMA, rtol=1e-6)
    assert images.match_channels(grey, 1)[1] == []


def test_one_list_of_suffixes_with_the_graph_decodable_ones_inside():
    assert set(images.GRAPH_IMAGE_SUFFIXES) < set(images.IMAGE_SUFFIXES)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "GIF", "WEBP"])
def test_every_format_decodes_8_bit_levels_on_one_scale(fmt, tmp_path):
    """White is 1.0 whatever the format: the same picture as a JPEG, a PNG or an array is the same input."""
    levels = np.repeat(np.repeat(np.array([[0, 1, 128, 254, 255]], np.uint8), 8, axis=0), 8, axis=1)
    rgb = np.repeat(levels[..., None], 3, axis=-1)  # flat 8x8 blocks: lossless even as a quality-100 JPEG
    path = tmp_path / f"levels.{fmt.lower()}"
    Image.fromarray(rgb).save(path, fmt, **({"quality": 100, "subsampling": 0} if fmt == "JPEG" else
                                            {"lossless": True} if fmt == "WEBP" else {}))
    expected = images.as_unit_float(rgb)[0]
    np.testing.assert_array_equal(images.read_image(path).pixels, expected)
    if fmt != "WEBP":  # the graph decoder's formats
        np.testing.assert_array_equal(images.decode_tf(path.read_bytes()).numpy(), expected)
