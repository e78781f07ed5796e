"""python -m pix2pix_tf.translate: run a trained generator on single images of any size.

An image is reflect-padded to the generator's multiple (2**depth), translated, and cropped back, so
the output has exactly the input's size. Images with a side over ``--max-side`` are translated in
overlapping tiles of at most ``max_side`` px that are cross-faded together (default), or downscaled
to fit, translated and scaled back up (``--large downscale``).

Why tiling is the default: it keeps every input pixel and runs the generator at the scale it was
trained at (pix2pix learns textures at a fixed pixel scale; shrinking a 4000 px photo to 1024 px
changes what a 4x4 kernel sees). Its cost is more compute and, because each tile is normalised with
its own statistics, possible faint tone shifts between tiles, which the overlap blends away.
Downscaling is faster and seamless but loses detail and shifts the scale.

Channels: the model takes as many channels as it was trained with. A grey image given to a model
trained on RGB is repeated to three channels, an RGB image given to a grey model is converted to
luminance (ITU-R 601), and an alpha channel is dropped; each conversion is reported, never silent.
Outputs are PNG: 16-bit if the input was a 16-bit image, 8-bit otherwise.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_tf.errors import UserError, run_cli

LARGE_MODES = ("tile", "downscale")
DEFAULT_MAX_SIDE = 1024
OVERLAP_FRACTION = 4  # tiles overlap by a quarter of their size
FOLDER_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MAX_LISTED_FAILURES = 20
MAX_PIXELS = 64 * 2**20  # decoded as uint16 then float32: about 1.5 GB for an RGB image this size


class ImageError(Exception):
    """One input cannot be translated; the CLI reports it and moves on to the next file."""


# --------------------------------------------------------------------------- pixels


def read_image(path: str | Path) -> tuple[np.ndarray, int]:
    """(float32 HxWxC in [0, 1], bits per sample 8 or 16) of an image file.

    JPEG, PNG, BMP and GIF are decoded by TensorFlow, as ``fit`` decodes its data (PNGs keep 16
    bits); other formats (TIFF, WebP, ...) go through Pillow.
    """
    import tensorflow as tf

    try:
        contents = Path(path).read_bytes()
    except OSError as err:
        raise ImageError(f"cannot read ({err.strerror or err})") from None
    if not contents:
        raise ImageError("empty file")
    _refuse_oversized(contents)
    bits = 16 if contents[:8] == PNG_SIGNATURE and len(contents) > 24 and contents[24] == 16 else 8
    try:
        image = tf.io.decode_image(contents, channels=0, dtype=tf.uint16, expand_animations=False)
        return image.numpy().astype(np.float32) / 65535.0, bits
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as err:
        tf_reason = (err.message or type(err).__name__).strip().splitlines()[0]
    return _read_with_pillow(contents, tf_reason)


def _refuse_oversized(contents: bytes) -> None:
    """Read the size from the header (Pillow parses it without decoding) and refuse an image too
    large to decode, so a decompression bomb is turned away before any pixel memory is allocated."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(contents)) as header:
                width, height = header.size
    except Image.DecompressionBombError:
        raise ImageError(f"over the {MAX_PIXELS // 2**20} megapixel limit of translate") from None
    except Exception:  # noqa: BLE001 - an unknown header is the decoder's to reject, with its reason
        return
    if width * height > MAX_PIXELS or width * height == 0:
        raise ImageError(f"{width}x{height} pixels (WxH) is empty or over the {MAX_PIXELS // 2**20} "
                         "megapixel limit of translate")


def _read_with_pillow(contents: bytes, tf_reason: str) -> tuple[np.ndarray, int]:
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
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
        raise ImageError(f"not a readable image ({tf_reason}; Pillow: {err})") from None
    return (array[..., None] if array.ndim == 2 else array), 8


def as_unit_float(image) -> tuple[np.ndarray, str]:
    """An array-like image -> (float32 HxWxC in [0, 1], the dtype kind to return it as)."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got shape {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0, "uint8"
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0, "uint16"
    if np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
        if array.size and (not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0):
            raise ValueError("float images must hold finite values in [0, 1]; pass uint8/uint16 arrays, "
                             f"or scale yours (range found: {np.nanmin(array):.4g} to {np.nanmax(array):.4g})")
        return array, "float32"
    raise ValueError(f"unsupported image dtype {array.dtype}: use uint8, uint16 or float in [0, 1]")


def from_unit_float(image: np.ndarray, kind: str) -> np.ndarray:
    image = np.clip(image, 0.0, 1.0)
    if kind == "uint8":
        return np.round(image * 255.0).astype(np.uint8)
    if kind == "uint16":
        return np.round(image * 65535.0).astype(np.uint16)
    return image.astype(np.float32)


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


def write_png(image: np.ndarray, path: Path) -> Path:
    """uint8 or uint16 HxWxC -> PNG of that bit depth, written atomically."""
    import tensorflow as tf

    encoded = tf.io.encode_png(tf.constant(image)).numpy()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encoded)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- geometry


def reflect_pad(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad H and W up to multiples of ``multiple`` by mirroring, split evenly on both sides so the
    content stays centred; returns the padded image and the (top, left) offset of the original."""
    h, w = image.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    top, left = ph // 2, pw // 2
    padded = np.pad(image, ((top, ph - top), (left, pw - left), (0, 0)), mode="reflect")
    return padded, (top, left)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length``; neighbours overlap >= ``overlap``."""
    if length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _ramp(size: int, overlap: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    """1-D blending weight of a tile: linear ramps over ``overlap`` px on the sides that have a
    neighbour, 1 elsewhere; never 0, so every pixel is covered with positive weight."""
    weight = np.ones(size, dtype=np.float32)
    if overlap <= 0:
        return weight
    ramp = (np.arange(min(overlap, size), dtype=np.float32) + 0.5) / overlap
    if fade_in:
        weight[: ramp.size] = np.minimum(weight[: ramp.size], ramp)
    if fade_out:
        weight[size - ramp.size:] = np.minimum(weight[size - ramp.size:], ramp[::-1])
    return weight


# --------------------------------------------------------------------------- the translator


class Translator:
    """A trained generator that translates whole images of any size.

    Made by ``pix2pix_tf.load(run_dir)``. ``translate(image)`` takes a path or an array (H, W) or
    (H, W, C) of uint8, uint16 or float in [0, 1], and returns an (H, W, output channels) array of
    the input's dtype (uint8/uint16 files give uint8/uint16 by their bit depth).
    """

    def __init__(self, trained, *, large: str = "tile", max_side: int = DEFAULT_MAX_SIDE):
        import tensorflow as tf

        if large not in LARGE_MODES:
            raise ValueError(f"large must be one of {LARGE_MODES}, not {large!r}")
        if int(max_side) <= 0:
            raise ValueError(f"max_side must be positive, not {max_side}")
        self.trained = trained
        self.config = trained.config
        self.large = large
        self.multiple = 2 ** self.config.depth
        self.max_side = int(max_side)
        self.tile = max(self.multiple, self.max_side // self.multiple * self.multiple)
        generator = trained.generator
        spec = tf.TensorSpec([None, None, None, self.input_channels], tf.float32)
        self._forward = tf.function(lambda x: generator(x, training=False), input_signature=[spec])

    @property
    def mode(self) -> str:
        return self.trained.mode

    @property
    def step(self) -> int:
        return self.trained.step

    @property
    def input_channels(self) -> int:
        return self.config.input_nc

    @property
    def output_channels(self) -> int:
        return self.config.output_nc

    @property
    def min_side(self) -> int:
        """Half the generator's multiple: below it, more than half of what the generator sees would be
        mirrored padding (and a single mirror could not fill it)."""
        return max(2, self.multiple // 2)

    def translate(self, image) -> np.ndarray:
        """Translate a path or an array; conversions of channels are reported as warnings."""
        output, notes = self.translate_with_notes(image)
        for note in notes:
            warnings.warn(note, stacklevel=2)
        return output

    def translate_with_notes(self, image) -> tuple[np.ndarray, list[str]]:
        if isinstance(image, (str, os.PathLike)):
            try:
                pixels, bits = read_image(image)
            except ImageError as err:
                raise ImageError(f"{image}: {err}") from None
            kind = "uint16" if bits == 16 else "uint8"
        else:
            pixels, kind = as_unit_float(image)
        pixels, notes = match_channels(pixels, self.input_channels)
        return from_unit_float(self.translate_unit(pixels), kind), notes

    def translate_unit(self, image: np.ndarray) -> np.ndarray:
        """float32 HxWxC in [0, 1] (model's channels) -> float32 HxWx(output channels) in [0, 1]."""
        h, w = image.shape[:2]
        if min(h, w) < self.min_side:
            raise ImageError(f"{w}x{h} (WxH) is too small: this model needs at least {self.min_side} px on each "
                             f"side (it pads to multiples of {self.multiple})")
        padded_side = -(-max(h, w) // self.multiple) * self.multiple
        if padded_side > self.tile and self.large == "downscale":
            return self._downscaled(image)
        return self._padded(image)

    def _padded(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        padded, (top, left) = reflect_pad(image * 2.0 - 1.0, self.multiple)
        if max(padded.shape[:2]) > self.tile:
            output = self._tiled(padded)
        else:
            output = self._forward(padded[None]).numpy()[0]
        return (output[top: top + h, left: left + w] + 1.0) / 2.0

    def _tiled(self, padded: np.ndarray) -> np.ndarray:
        """Overlapping tiles of at most ``tile`` px, one at a time, cross-faded by linear ramps."""
        height, width = padded.shape[:2]
        tile_h, tile_w = min(self.tile, height), min(self.tile, width)
        overlap_h, overlap_w = tile_h // OVERLAP_FRACTION, tile_w // OVERLAP_FRACTION
        total = np.zeros((height, width, self.output_channels), dtype=np.float32)
        weights = np.zeros((height, width, 1), dtype=np.float32)
        for y in tile_starts(height, tile_h, overlap_h):
            wy = _ramp(tile_h, overlap_h, y > 0, y + tile_h < height)
            for x in tile_starts(width, tile_w, overlap_w):
                wx = _ramp(tile_w, overlap_w, x > 0, x + tile_w < width)
                out = self._forward(padded[None, y: y + tile_h, x: x + tile_w]).numpy()[0]
                weight = (wy[:, None] * wx[None, :])[..., None]
                total[y: y + tile_h, x: x + tile_w] += out * weight
                weights[y: y + tile_h, x: x + tile_w] += weight
        return total / weights

    def _downscaled(self, image: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        h, w = image.shape[:2]
        scale = self.tile / max(h, w)
        small_hw = (max(1, min(self.tile, round(h * scale))), max(1, min(self.tile, round(w * scale))))
        if min(small_hw) < self.min_side:
            raise ImageError(f"{w}x{h} (WxH) downscaled to fit --max-side {self.tile} would be "
                             f"{small_hw[1]}x{small_hw[0]}, under this model's minimum side {self.min_side}; "
                             "use --large tile")
        small = tf.image.resize(image, small_hw, method="area").numpy()
        output = self._padded(np.clip(small, 0.0, 1.0))
        return np.clip(tf.image.resize(output, (h, w), method="bicubic").numpy(), 0.0, 1.0)


def load(run_dir: str | Path, checkpoint: str | int = "latest", *, inference: str = "deterministic",
         large: str = "tile", max_side: int = DEFAULT_MAX_SIDE) -> Translator:
    """A run's trained generator, ready to translate images of any size.

    ``inference``: ``deterministic`` (dropout off: one input, one output) or ``paper`` (dropout on,
    as the paper runs its generator at test time). ``large``/``max_side``: see the module docstring.
    """
    from pix2pix_tf.inference import load_generator

    return Translator(load_generator(run_dir, checkpoint, inference), large=large, max_side=max_side)


# --------------------------------------------------------------------------- command line


@dataclass
class Job:
    source: Path
    target: Path


def _natural_key(path: Path):
    return (len(path.stem), path.stem, path.suffix)


def collect_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]], list[Path]]:
    """(image files in order, inputs that matched nothing with why, folders given)."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    folders: list[Path] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            folders.append(path)
            found = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES),
                           key=_natural_key)
            if not found:
                missing.append((text, f"folder holds no images ({', '.join(FOLDER_SUFFIXES)})"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif glob.has_magic(text):
            found = sorted((Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file()), key=_natural_key)
            if not found:
                missing.append((text, "the pattern matches no files"))
            files.extend(found)
        else:
            missing.append((text, "no such file or folder"))
    unique, seen = [], set()
    for path in files:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique, missing, folders


def plan_outputs(files: list[Path], out: Path, folders: list[Path]) -> list[Job]:
    """``OUT/<name>.png`` per input; repeated names get -2, -3, ...; refuses to write over inputs."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    resolved_out = out.resolve()
    for folder in folders:
        if folder.resolve() == resolved_out:
            raise UserError(f"--out {out}: is an input folder; outputs would mix with and could overwrite the "
                            "inputs; choose another folder")
    inputs = {p.resolve() for p in files}
    jobs, used = [], set()
    for path in files:
        name, n = f"{path.stem}.png", 1
        while name in used:
            n += 1
            name = f"{path.stem}-{n}.png"
        used.add(name)
        target = out / name
        if target.resolve() in inputs:
            raise UserError(f"--out {out}: would overwrite the input {target}; choose another folder")
        jobs.append(Job(path, target))
    return jobs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pix2pix_tf.translate", description=__doc__.splitlines()[0],
        epilog="Outputs are OUT/<input name>.png at the input's exact size; existing files there are replaced. "
               "Unreadable inputs are reported and skipped; the exit status is 1 if any failed.")
    parser.add_argument("--run-dir", required=True, help="a run directory written by python -m pix2pix_tf.fit")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or globs")
    parser.add_argument("--out", required=True, help="folder for the translated PNGs (created if missing)")
    parser.add_argument("--checkpoint", default="latest", help="'latest' or a kept step number (default: latest)")
    parser.add_argument("--inference", choices=("deterministic", "paper"), default="deterministic",
                        help="deterministic: dropout off, repeatable; paper: dropout on, as the paper's "
                             "test-time generator (default: deterministic)")
    parser.add_argument("--large", choices=LARGE_MODES, default="tile",
                        help="images with a side over --max-side: translate in overlapping, blended tiles "
                             "(keeps full resolution and the training scale) or downscale to fit and scale "
                             "the result back up (faster, softer) (default: tile)")
    parser.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                        help=f"largest side the generator runs on in one pass, rounded down to a multiple of "
                             f"2**depth; bounds memory (default: {DEFAULT_MAX_SIDE})")
    parser.add_argument("--quiet", action="store_true", help="no line per image, only notes, failures and the summary")
    return parser


def _checkpoint_arg(text: str) -> str | int:
    if text == "latest":
        return text
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--checkpoint {text!r}: expected 'latest' or a step number") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.max_side <= 0:
        raise UserError(f"--max-side {args.max_side}: must be positive")
    checkpoint = _checkpoint_arg(args.checkpoint)
    files, missing, folders = collect_inputs(args.inputs)
    if not files:
        reasons = "; ".join(f"{text}: {why}" for text, why in missing)
        raise UserError(f"no input images ({reasons})")
    out = Path(args.out)
    jobs = plan_outputs(files, out, folders)
    translator = load(args.run_dir, checkpoint, inference=args.inference, large=args.large, max_side=args.max_side)
    out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = [f"{text}: {why}" for text, why in missing]
    for text, why in missing:
        print(f"skipped {text}: {why}", file=sys.stderr)
    done = 0
    for k, job in enumerate(jobs, start=1):
        try:
            pixels, bits = read_image(job.source)
            pixels, notes = match_channels(pixels, translator.input_channels)
            output = from_unit_float(translator.translate_unit(pixels), "uint16" if bits == 16 else "uint8")
            write_png(output, job.target)
        except ImageError as err:
            failures.append(f"{job.source}: {err}")
            print(f"skipped {job.source}: {err}", file=sys.stderr, flush=True)
            continue
        except OSError as err:
            failures.append(f"{job.target}: cannot write ({err.strerror or err})")
            print(f"failed {job.target}: cannot write ({err.strerror or err})", file=sys.stderr, flush=True)
            continue
        done += 1
        for note in notes:
            print(f"note: {job.source}: {note}", file=sys.stderr)
        if not args.quiet:
            print(f"[{k}/{len(jobs)}] {job.source} -> {job.target} ({output.shape[1]}x{output.shape[0]})", flush=True)
    total = len(jobs) + len(missing)
    print(f"translated {done} of {total} inputs into {out} (checkpoint step {translator.step}, "
          f"{translator.mode} inference)")
    if failures:
        print(f"{len(failures)} of {total} inputs failed:", file=sys.stderr)
        for line in failures[:MAX_LISTED_FAILURES]:
            print(f"  {line}", file=sys.stderr)
        if len(failures) > MAX_LISTED_FAILURES:
            print(f"  ... and {len(failures) - MAX_LISTED_FAILURES} more (all listed above)", file=sys.stderr)
        return 1
    return 0


def _cli() -> None:
    status = main()
    if status:
        sys.exit(status)


if __name__ == "__main__":
    sys.argv[0] = "python -m pix2pix_tf.translate"
    run_cli(_cli)
