"""The one home of image handling: which files are images, reading user images and checking their
headers before decoding (EXIF orientation included), channel and bit-depth conversion, and range
conversion between the network's [-1, 1] and 8/16-bit pixels. Sizes (resizing, the pad-to-a-multiple
rule and its minimum side) are in ``pix2pix_tf.data.geometry``.

Most rules come in two versions side by side: NumPy for the host (translate, evaluate, tests) and
TensorFlow ops for graphs (``tf.data`` in fit, the exported SavedModel). ``tests/data/test_images.py``
proves each pair computes the same thing.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from pix2pix_tf.core.errors import ImageError  # raised here; defined in core so that geometry shares it

if TYPE_CHECKING:
    import tensorflow as tf  # imported where used, so the dataset tools load without TensorFlow

# Files TensorFlow decodes inside a graph (fit's tf.data pipeline, the SavedModel's bytes signature).
GRAPH_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
# Every image file a user may hand us on the host (Pillow reads the rest).
IMAGE_SUFFIXES = (*GRAPH_IMAGE_SUFFIXES, ".bmp", ".gif", ".tif", ".tiff", ".webp")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# First bytes of each format we read, to name the format of a file too damaged for Pillow to open.
SIGNATURES = {PNG_SIGNATURE: "PNG", JPEG_SIGNATURE: "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP",
              b"II*\0": "TIFF", b"MM\0*": "TIFF", b"RIFF": "WebP"}
CHANNEL_COUNTS = (1, 2, 3, 4)  # grey, grey + alpha, RGB, RGB + alpha: what match_channels takes
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601
MAX_PIXELS = 64 * 2**20  # host decoding: uint16 then float32, about 1.5 GB for an RGB image this size
EXIF_ORIENTATION = 0x0112
# What each EXIF orientation asks a viewer to do to show the stored pixels upright (TIFF 6.0 / Exif 2.3).
ORIENTATIONS = {2: "mirrored left to right", 3: "rotated 180 degrees", 4: "mirrored top to bottom",
                5: "mirrored across its main diagonal", 6: "rotated 90 degrees clockwise",
                7: "mirrored across its other diagonal", 8: "rotated 90 degrees anticlockwise"}
FORMAT_NAMES = "JPEG, PNG, BMP, GIF, TIFF or WebP"
CORRUPT_JPEG = "Corrupt JPEG data"  # how libjpeg's warnings about damaged data begin



class UserImage(NamedTuple):
    """A user's image file as read: upright pixels, its bit depth, and what reading it changed."""

    pixels: np.ndarray  # float32 HxWxC in [0, 1]
    bits: int  # 8 or 16
    notes: list[str]


def is_image_name(path: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> bool:
    """Named like an image (hidden files aside). Listing by name, not by ``is_file()``, is what lets a
    folder or a broken link named like an image be reported instead of silently dropped."""
    return not path.name.startswith(".") and path.suffix.lower() in suffixes


def is_image_file(path: Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> bool:
    return path.is_file() and is_image_name(path, suffixes)


def loose_images(folder: Path) -> list[str]:
    """The image files directly in a folder that also holds sub-folders of images (splits, or A/ and B/):
    one folder holds one layout, and images beside the sub-folders would be silently left out. The
    ``combine`` tool and ``fit`` refuse such a folder by this one rule."""
    return sorted(p.name for p in folder.iterdir() if is_image_file(p))


def not_a_file(path: Path) -> str | None:
    """Why a path named like an image is not a file to read (a folder, a broken link, a pipe), else None
    (a missing file is for the reader to report)."""
    if path.is_dir():
        return "a folder, not an image file"
    if path.is_symlink() and not path.exists():
        return f"a broken symbolic link (its target {os.readlink(path)} does not exist or loops)"
    if path.exists() and not path.is_file():
        return "not a regular file (a pipe, socket or device), so not an image file"  # reading it could block
    return None


# --------------------------------------------------------------------------- headers


def png_bits(contents: bytes) -> int:
    """Bits per sample of an encoded file: 16 for a 16-bit PNG, 8 for everything else."""
    return 16 if contents[:8] == PNG_SIGNATURE and len(contents) > 24 and contents[24] == 16 else 8


class Header(NamedTuple):
    """What a file's header says, read by Pillow without decoding the pixels."""

    hw: tuple[int, int]
    format: str  # Pillow's name: JPEG, PNG, GIF, ...
    orientation: int  # EXIF orientation, 1 (upright as stored) when absent
    frames: int


def read_header(contents: bytes) -> Header | None:
    """The header, or None if it is not one Pillow knows; a claim over Pillow's own bomb limit raises
    ``ImageError``."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(contents)) as header:
                width, height = header.size
                return Header((height, width), header.format or "", _orientation(header, contents),
                              _frames(header))
    except Image.DecompressionBombError:
        raise ImageError(f"over the {MAX_PIXELS // 2**20} megapixel limit") from None
    except Exception:  # noqa: BLE001 - an unknown or broken header is the decoder's to reject
        return None


def checked_header(contents: bytes) -> Header | None:
    """``read_header``, refusing (``ImageError``) a claimed size that is empty or over ``MAX_PIXELS``
    before anything is decoded: a small file can claim a huge image."""
    header = read_header(contents)
    if header is not None and not 0 < header.hw[0] * header.hw[1] <= MAX_PIXELS:
        raise ImageError(f"{header.hw[1]}x{header.hw[0]} pixels (WxH) is empty or over the "
                         f"{MAX_PIXELS // 2**20} megapixel limit")
    return header


def _orientation(header, contents: bytes) -> int:
    """The EXIF orientation, 1 if absent or unreadable (a broken EXIF block does not make a broken image)."""
    if header.format == "PNG" and b"eXIf" not in contents:
        return 1  # a PNG's EXIF may follow the pixels: Pillow would decode them all to look for it
    try:
        orientation = header.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:  # noqa: BLE001 - any EXIF parsing failure means "no usable orientation"
        return 1
    return orientation if orientation in ORIENTATIONS else 1


def _frames(header) -> int:
    try:
        return int(getattr(header, "n_frames", 1))
    except Exception:  # noqa: BLE001 - a damaged later frame is the decoder's to find, not the header's
        return 1


def undecodable(contents: bytes, header: Header | None = None) -> str:
    """Why bytes that no decoder accepted are not an image, in words: decoders' own messages name
    their internals (TensorFlow's op and device, Pillow's stream object), not the problem."""
    if not contents:
        return "empty file"
    kind = header.format if header and header.format else next(
        (name for signature, name in SIGNATURES.items() if contents.startswith(signature)), None)
    if kind:
        return f"not a readable image (a damaged or truncated {kind} file)"
    return f"not a readable image (the content is not {FORMAT_NAMES})"


def header_hw_tf(contents: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The graph version for JPEG and PNG: (is JPEG or PNG, height, width) from the header alone.

    A decompression bomb is a small file whose header claims a huge image; reading the claim first lets
    a limit refuse it before the decoder allocates anything.
    """
    import tensorflow as tf

    head = tf.strings.substr(contents + tf.constant(b"\0" * 24), 0, 24)
    is_png = tf.equal(tf.strings.substr(head, 0, 8), PNG_SIGNATURE)
    is_jpeg = tf.equal(tf.strings.substr(head, 0, 3), JPEG_SIGNATURE)
    ihdr = tf.cast(tf.io.decode_raw(tf.strings.substr(head, 16, 8), tf.uint8), tf.int32)
    png_w = ((ihdr[0] * 256 + ihdr[1]) * 256 + ihdr[2]) * 256 + ihdr[3]
    png_h = ((ihdr[4] * 256 + ihdr[5]) * 256 + ihdr[6]) * 256 + ihdr[7]
    jpeg_hw = tf.cond(is_jpeg, lambda: tf.image.extract_jpeg_shape(contents)[:2],
                      lambda: tf.zeros([2], tf.int32))
    height = tf.where(is_png, png_h, jpeg_hw[0])
    width = tf.where(is_png, png_w, jpeg_hw[1])
    return tf.logical_or(is_png, is_jpeg), height, width


def assert_pixel_limit_tf(height, width, max_pixels: int, what: str) -> tf.Operation:
    """A graph-side refusal of an empty image or one over ``max_pixels``, so one request cannot make
    a server allocate unbounded memory."""
    import tensorflow as tf

    pixels = tf.cast(height, tf.int64) * tf.cast(width, tf.int64)
    return tf.debugging.Assert(
        tf.logical_and(pixels <= max_pixels, pixels > 0),
        [f"{what}: image of", height, "x", width, f"pixels (HxW) is empty or larger than the limit of "
         f"{max_pixels} pixels set at export (--max-pixels)"], name="pixel_limit")


# --------------------------------------------------------------------------- decoding


def decode_tf(contents: tf.Tensor, channels: int = 0) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF -> float32 in [0, 1] on one scale for every format: level / the largest
    level of the file's bit depth, as ``as_unit_float`` does for arrays, so 8-bit white is 1.0 whether it
    comes as a JPEG, a PNG or an array. 16-bit PNGs keep their 16 bits. (Decoding everything to uint16
    would scale JPEG levels by 256 and PNG levels by 257: JPEG white would be 0.9961.)"""
    import tensorflow as tf

    head = tf.strings.substr(contents + tf.constant(b"\0" * 25), 0, 25)  # a short file has a header of zeros
    sixteen_bit_png = tf.logical_and(tf.equal(tf.strings.substr(head, 0, 8), PNG_SIGNATURE),
                                     tf.equal(tf.strings.substr(head, 24, 1), b"\x10"))  # png_bits' test

    def sixteen_bit():
        return tf.cast(tf.io.decode_png(contents, channels, dtype=tf.uint16), tf.float32) / 65535.0

    def eight_bit():
        return tf.cast(tf.io.decode_image(contents, channels=channels, expand_animations=False), tf.float32) / 255.0

    return tf.cond(sixteen_bit_png, sixteen_bit, eight_bit)


def decode_host(contents: bytes) -> np.ndarray:
    """``decode_tf`` run on the host (the data check, translate). A JPEG whose decoder reports corrupt data
    is an ``ImageError``, as a truncated file is: libjpeg then decodes what it can, with the damage in the
    pixels, and says so only on stderr, without the file's name. Its lines on stderr (warnings, and the
    reason of a failure, which the caller words) are kept from the user; TensorFlow's own are not."""
    if not contents.startswith(JPEG_SIGNATURE):
        return decode_tf(contents).numpy()
    from pix2pix_tf.core.tf_logs import log_line_severity, native_stderr

    with native_stderr(keep=lambda line: log_line_severity(line) is not None) as lines:
        pixels = decode_tf(contents).numpy()
    corrupt = [line.strip() for line in lines if line.startswith(CORRUPT_JPEG)]
    if corrupt:
        raise ImageError(f"damaged JPEG data (the decoder reports \"{corrupt[0]}\")")
    return pixels


def decode_checked_tf(contents: tf.Tensor, channels: int, max_pixels: int, multiple: int, what: str) -> tf.Tensor:
    """One encoded JPEG/PNG -> float32 HxWxC in [-1, 1], refused (not decoded) if it is not an image, is
    over the size limit or under the minimum side. EXIF orientation is not applied (a graph has no EXIF
    parser): pixels are used as stored."""
    import tensorflow as tf

    from pix2pix_tf.data.geometry import assert_min_side_tf  # geometry builds on this module

    is_image, height, width = header_hw_tf(contents)
    checks = [
        tf.debugging.Assert(is_image, [f"{what}: not a JPEG or PNG image (the input must be the file's "
                                       f"bytes, base64-encoded only by the REST transport)"], name="is_image"),
        assert_pixel_limit_tf(height, width, max_pixels, what),
        assert_min_side_tf(height, width, multiple, what),
    ]
    with tf.control_dependencies(checks):
        image = decode_tf(contents, channels)
    return to_network_range(tf.ensure_shape(image, [None, None, channels]))


def read_image(path: str | Path) -> UserImage:
    """A user's image file, upright and with its bit depth.

    JPEG, PNG, BMP and GIF are decoded by TensorFlow, as ``fit`` decodes its data (PNGs keep 16
    bits); other formats (TIFF, WebP, ...) go through Pillow. The size is checked from the header first.
    An EXIF orientation is applied, and an animation gives its first frame; each is noted.
    """
    import tensorflow as tf

    path = Path(path)
    problem = not_a_file(path)
    if problem:
        raise ImageError(problem)
    try:
        contents = path.read_bytes()
    except OSError as err:
        raise ImageError(f"cannot read ({err.strerror or type(err).__name__})") from None
    if not contents:
        raise ImageError("empty file")
    header = checked_header(contents)
    try:
        pixels, bits = decode_host(contents), png_bits(contents)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        pixels, bits = _read_with_pillow(contents, header)
    notes = []
    if header is not None and header.frames > 1:
        notes.append(f"animated: using the first of its {header.frames} frames")
    if header is not None and header.orientation != 1:
        pixels = upright(pixels, header.orientation)
        notes.append(f"EXIF orientation applied: {ORIENTATIONS[header.orientation]}, as viewers show it")
    return UserImage(pixels, bits, notes)


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels -> as a viewer shows them, by the EXIF ``orientation`` (1-8)."""
    if orientation in (5, 6, 7, 8):
        image = np.swapaxes(image, 0, 1)  # 5 is the transpose itself; 6-8 are it followed by a flip
    if orientation in (2, 3, 6, 7):
        image = image[:, ::-1]
    if orientation in (3, 4, 7, 8):
        image = image[::-1]
    return np.ascontiguousarray(image)


def _read_with_pillow(contents: bytes, header: Header | None) -> tuple[np.ndarray, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(contents)) as image:
            image.load()
            mode = image.mode
            if mode.startswith("I;16") or mode == "I":
                array = np.asarray(image).astype(np.float32)
                if mode == "I" and (array.min() < 0 or array.max() > 65535):
                    raise ImageError("32-bit integer images are not supported (only 8- and 16-bit)")
                return array[..., None] / 65535.0, 16
            if mode == "F":
                raise ImageError("floating-point images are not supported (only 8- and 16-bit)")
            target = {"1": "L", "L": "L", "LA": "LA", "P": "RGBA" if "transparency" in image.info else "RGB",
                      "RGB": "RGB", "RGBA": "RGBA"}.get(mode, "RGB")
            array = np.asarray(image.convert(target)).astype(np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageError(undecodable(contents, header)) from None
    return (array[..., None] if array.ndim == 2 else array), 8


# --------------------------------------------------------------------------- channels and bit depth


def as_unit_float(image) -> tuple[np.ndarray, str, list[str]]:
    """An array-like image -> (float32 HxWxC in [0, 1], the dtype kind to return it as, notes). The
    likely mistakes are named: a file's bytes, a channels-first array, 8-bit levels in a uint16 array."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        raise TypeError(f"{_encoded_format(bytes(image[:8]))} bytes are not an image array: pass the file's path, "
                        "or decode them first (np.asarray(PIL.Image.open(io.BytesIO(data))))")
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got shape {array.shape}")
    if array.shape[-1] not in CHANNEL_COUNTS and array.shape[0] in CHANNEL_COUNTS:
        raise ValueError(f"an array of shape {array.shape} looks channels-first (C, H, W); images are (H, W, C): "
                         "pass np.moveaxis(image, 0, -1)")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0, "uint8", []
    if array.dtype == np.uint16:
        notes = []
        if array.size and 0 < array.max() <= 255:
            notes.append("a uint16 array whose values all lie in 0..255 is read on the 16-bit scale (65535 is "
                         "white), so it is nearly black; if it holds 8-bit levels, pass image.astype(np.uint8)")
        return array.astype(np.float32) / 65535.0, "uint16", notes
    if np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
        nonfinite = int(array.size - np.isfinite(array).sum())
        if nonfinite or (array.size and (array.min() < 0.0 or array.max() > 1.0)):
            found = (f"{nonfinite} of {array.size} values are NaN or infinite" if nonfinite
                     else f"range found: {array.min():.4g} to {array.max():.4g}")
            raise ValueError(f"float images must hold finite values in [0, 1]; pass uint8/uint16 arrays, "
                             f"or scale yours ({found})")
        return array, "float32", []
    raise ValueError(f"unsupported image dtype {array.dtype}: use uint8, uint16 or float in [0, 1]")


def _encoded_format(start: bytes) -> str:
    """'PNG', 'JPEG', ... by a file's first bytes, else 'raw'."""
    return next((name for signature, name in SIGNATURES.items() if start.startswith(signature)), "raw")


def from_unit_float(image: np.ndarray, kind: str) -> np.ndarray:
    """[0, 1] floats -> ``kind`` ('uint8', 'uint16' or 'float32'), rounding to the nearest level."""
    image = np.clip(image, 0.0, 1.0)
    if kind == "uint8":
        return np.round(image * 255.0).astype(np.uint8)
    if kind == "uint16":
        return np.round(image * 65535.0).astype(np.uint16)
    return image.astype(np.float32)


def kind_of_bits(bits: int) -> str:
    return "uint16" if bits == 16 else "uint8"


def match_channels(image: np.ndarray, channels: int) -> tuple[np.ndarray, list[str]]:
    """The image with the model's input channel count, and a note for each conversion made."""
    notes = []
    have = image.shape[-1]
    if have in (2, 4):
        image = image[..., : have - 1]
        notes.append("alpha channel dropped")
        have -= 1
    if have not in (1, 3):
        raise ImageError(f"{have} channels; only grey (1) or RGB (3) images are supported")
    if have == 1 and channels == 3:
        image = np.repeat(image, 3, axis=-1)
        notes.append("grey image repeated to 3 channels (the model was trained on RGB input)")
    elif have == 3 and channels == 1:
        image = (image @ LUMA)[..., None]
        notes.append("RGB image converted to grey (the model was trained on 1-channel input)")
    return image, notes


# --------------------------------------------------------------------------- the network's range


def to_network_range(unit):
    """[0, 1] -> [-1, 1] (arrays and tensors alike)."""
    return unit * 2.0 - 1.0


def from_network_range(image):
    """[-1, 1] -> [0, 1] (arrays and tensors alike; not clipped)."""
    return (image + 1.0) / 2.0


def to_uint8(image) -> np.ndarray:
    """[-1, 1] -> uint8, clipped and rounded to the nearest level."""
    levels = np.round(np.clip((np.asarray(image, dtype=np.float32) + 1.0) * 127.5, 0.0, 255.0))
    return levels.astype(np.uint8)


def from_uint8(levels) -> np.ndarray:
    """8-bit levels -> float32 in [-1, 1] (the inverse of ``to_uint8`` up to rounding)."""
    return np.asarray(levels, dtype=np.float32) / 127.5 - 1.0


def to_uint8_tf(image: tf.Tensor) -> tf.Tensor:
    """The graph version of ``to_uint8``."""
    import tensorflow as tf

    return tf.cast(tf.round(tf.clip_by_value((image + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def write_png(image: np.ndarray, path: Path) -> Path:
    """uint8 or uint16 HxWxC -> a PNG of that bit depth, written atomically."""
    import tensorflow as tf

    from pix2pix_tf.core.atomic import write_bytes

    return write_bytes(path, tf.io.encode_png(tf.constant(image)).numpy())


def encode_png_tf(image: tf.Tensor) -> tf.Tensor:
    """[-1, 1] HxWxC -> an 8-bit PNG."""
    import tensorflow as tf

    return tf.io.encode_png(to_uint8_tf(image))
