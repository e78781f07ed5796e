"""The public inference API: ``pix2pix_tf.load(run_dir)`` returns a ``Translator`` that runs a trained
generator on whole images of any size.

Scale (``scale``): pix2pix learns textures at a fixed pixel scale, and training resizes its data (a
600 px map to 286 px before a 256 px crop). By default (``training``) an image is resized by the ratio
crop size / the data's native size (stored with the run), translated, and resized back to its own
size: an image of the data's native size runs at the training crop size, as the PyTorch reference
tests and as ``evaluate`` scores, and other sizes keep that scale. An image that would be under the
minimum side at that scale runs as it is instead of being refused; one is never enlarged more than
``geometry.MAX_ENLARGEMENT`` times nor past ``images.MAX_PIXELS`` (a note says so). ``native`` runs the
generator on the image's pixels as they are. Shrinking is anti-aliased.

An image is reflect-padded to the generator's multiple (2**depth), translated, and cropped back, so
the output has exactly the input's size. Images with a side over ``--max-side`` are translated in
overlapping tiles of at most ``max_side`` px that are cross-faded together (default), or downscaled
to fit, translated and scaled back up (``--large downscale``).

Why tiling is the default: it keeps every input pixel and runs the generator at the scale it was
trained at (shrinking a 4000 px photo to 1024 px
changes what a 4x4 kernel sees). Its cost is more compute and, because each tile is normalised with
its own statistics, possible faint tone shifts between tiles, which the overlap blends away.
Downscaling is faster and seamless but loses detail and shifts the scale.

Channels: the model takes as many channels as it was trained with. A grey image given to a model
trained on RGB is repeated to three channels, an RGB image given to a grey model is converted to
luminance (ITU-R 601), and an alpha channel is dropped; each conversion is reported, never silent.
Outputs have the input's bit depth: 16-bit for a 16-bit image, 8-bit otherwise. An output that is
not finite (NaN or infinite) is an ``ImageError``, never an image.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from pix2pix_tf.core.config import Config, parse_size
from pix2pix_tf.data import geometry, images
from pix2pix_tf.data.images import ImageError
from pix2pix_tf.deploy.inference import load_generator

LARGE_MODES = ("tile", "downscale")
SCALES = ("training", "native")
DEFAULT_MAX_SIDE = 1024
OVERLAP_FRACTION = 4  # tiles overlap by a quarter of their size

__all__ = ["DEFAULT_MAX_SIDE", "LARGE_MODES", "SCALES", "ImageError", "Translator", "load", "tile_starts"]


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


def training_ratio(config: Config) -> tuple[float, float] | None:
    """(height, width) factors that take an image of the data's native size to the training crop size
    (``evaluate`` and validation resize to it too); None if the run does not record its data's native
    size. ``crop`` and ``none`` use the data as stored: factor 1."""
    if config.preprocess != "resize_and_crop":
        return 1.0, 1.0
    if config.data_size is None:
        return None
    (native_h, native_w), (crop_h, crop_w) = parse_size(config.data_size, "data_size"), config.crop_hw
    return crop_h / native_h, crop_w / native_w


def _factor(ratio: tuple[float, float]) -> str:
    return f"{ratio[0]:.3g}" if round(ratio[0], 3) == round(ratio[1], 3) else \
        f"{ratio[0]:.3g} (height) x {ratio[1]:.3g} (width)"


def _checked_options(large: str, max_side, scale: str) -> int:
    """The options' one check (``load`` makes it before reading a checkpoint); returns ``max_side`` as an int."""
    if large not in LARGE_MODES:
        raise ValueError(f"large must be one of {LARGE_MODES}, not {large!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    try:
        side = int(max_side)
    except (TypeError, ValueError):
        side = 0
    if side <= 0:
        raise ValueError(f"max_side must be a positive whole number of pixels, not {max_side!r}")
    return side


class Translator:
    """A trained generator that translates whole images of any size.

    Made by ``pix2pix_tf.load(run_dir)``. ``translate(image)`` takes a path or an array (H, W) or
    (H, W, C) of uint8, uint16 or float in [0, 1], and returns an (H, W, output channels) array of
    the input's dtype (uint8/uint16 files give uint8/uint16 by their bit depth).
    """

    def __init__(self, trained, *, large: str = "tile", max_side: int = DEFAULT_MAX_SIDE, scale: str = "training"):
        self.trained = trained
        self.config = trained.config
        self.large = large
        self.multiple = 2 ** self.config.depth
        self.max_side = _checked_options(large, max_side, scale)
        self.tile = max(self.multiple, self.max_side // self.multiple * self.multiple)
        self.ratio = training_ratio(self.config)
        self.scale = "native" if self.ratio is None else scale
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
    def weights(self) -> str:
        """``ema`` (the moving average of a run trained with ``--ema``) or ``raw``."""
        return self.trained.weights

    @property
    def input_channels(self) -> int:
        return self.config.input_nc

    @property
    def output_channels(self) -> int:
        return self.config.output_nc

    @property
    def min_side(self) -> int:
        return geometry.min_side(self.multiple)

    @property
    def scale_description(self) -> str:
        """Which pixel scale is used and why, for the user to see."""
        if self.ratio is None:
            return ("native (this run does not record its training data's size: it was trained before "
                    "pix2pix_tf stored it)")
        if self.ratio == (1.0, 1.0):
            return f"{self.scale} (the same here: the run's data has the training crop size)"
        trained = "a {} image of the training data runs at the {}x{} crop size".format(
            self.config.data_size, *self.config.crop_hw)
        if self.scale == "native":
            return f"native (images as they are; at the training scale {trained})"
        return (f"training (each image resized by {_factor(self.ratio)}: {trained}; outputs resized back; "
                f"an image too small at that scale runs as it is)")

    def scaled_size(self, height: int, width: int) -> tuple[int, int]:
        """The size an image is translated at: at the training scale, unless that would take it under
        the minimum side (then, as with ``native``, as it is), enlarged at most ``MAX_ENLARGEMENT`` times
        and to at most ``MAX_PIXELS`` (``scale_cap``)."""
        if self.scale == "native":
            return height, width
        cap = self.scale_cap(height, width)
        scaled = max(1, round(height * self.ratio[0] * cap)), max(1, round(width * self.ratio[1] * cap))
        return (height, width) if min(scaled) < self.min_side else scaled

    def scale_cap(self, height: int, width: int) -> float:
        """1, or the factor that keeps the training scale within ``MAX_ENLARGEMENT`` times the image and
        ``MAX_PIXELS``: a run whose data was far smaller than its crop would otherwise turn a photo into a
        giant."""
        ratio_h, ratio_w = self.ratio
        scaled_pixels = max(1.0, height * ratio_h * width * ratio_w)
        return min(1.0, geometry.MAX_ENLARGEMENT / max(ratio_h, ratio_w), math.sqrt(images.MAX_PIXELS / scaled_pixels))

    def translate(self, image) -> np.ndarray:
        """Translate a path or an array; notes (channel conversions, EXIF orientation, an animation's
        first frame) are reported as warnings."""
        output, notes = self.translate_with_notes(image)
        for note in notes:
            warnings.warn(note, stacklevel=2)
        return output

    def translate_with_notes(self, image) -> tuple[np.ndarray, list[str]]:
        if isinstance(image, (str, os.PathLike)):
            try:
                return self.translate_file(image)
            except ImageError as err:
                raise ImageError(f"{image}: {err}") from None
        pixels, kind, notes = images.as_unit_float(image)
        output, more = self._translate_as(pixels, kind)
        return output, notes + more

    def translate_file(self, path: str | os.PathLike) -> tuple[np.ndarray, list[str]]:
        """An image file -> (uint8 or uint16 output by the file's bit depth, notes on what reading
        and converting it changed)."""
        image = images.read_image(path)
        output, notes = self._translate_as(image.pixels, images.kind_of_bits(image.bits))
        return output, image.notes + notes

    def _translate_as(self, pixels: np.ndarray, kind: str) -> tuple[np.ndarray, list[str]]:
        pixels, notes = images.match_channels(pixels, self.input_channels)
        height, width = pixels.shape[:2]
        if self.scale == "training" and self.scale_cap(height, width) < 1:
            notes.append("translated at {1}x{0} (WxH): the training scale, capped (it would enlarge the image "
                         "{2:.3g}x)".format(*self.scaled_size(height, width), max(self.ratio)))
        return images.from_unit_float(self.translate_unit(pixels), kind), notes

    def translate_unit(self, image: np.ndarray) -> np.ndarray:
        """float32 HxWxC in [0, 1] (model's channels) -> float32 HxWx(output channels) in [0, 1], at
        this translator's pixel scale; an output that is not finite is an ``ImageError``."""
        h, w = image.shape[:2]
        scaled_hw = self.scaled_size(h, w)
        if scaled_hw == (h, w):
            geometry.check_min_side(h, w, self.multiple)
            output = self._at_own_scale(image)
        else:
            output = geometry.resize(self._at_own_scale(geometry.resize(image, scaled_hw)), (h, w))
        bad = output.size - int(np.isfinite(output).sum())
        if bad:
            raise ImageError(f"the generator's output holds {bad} NaN or infinite values of {output.size}; "
                             f"nothing written (checkpoint {self.trained.checkpoint})")
        return output

    def _at_own_scale(self, image: np.ndarray) -> np.ndarray:
        padded_side = -(-max(image.shape[:2]) // self.multiple) * self.multiple
        if padded_side > self.tile and self.large == "downscale":
            return self._downscaled(image)
        return self._padded(image)

    def _padded(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        padded, (top, left) = geometry.reflect_pad(images.to_network_range(image), self.multiple)
        if max(padded.shape[:2]) > self.tile:
            output = self._tiled(padded)
        else:
            output = self._forward(padded[None]).numpy()[0]
        return images.from_network_range(output[top: top + h, left: left + w])

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
        h, w = image.shape[:2]
        scale = self.tile / max(h, w)
        small_hw = (max(1, min(self.tile, round(h * scale))), max(1, min(self.tile, round(w * scale))))
        geometry.check_min_side(*small_hw, self.multiple,
                              context=f" (the {w}x{h} image downscaled to fit --max-side {self.tile}; "
                                      "--large tile keeps its size)")
        return geometry.resize(self._padded(geometry.resize(image, small_hw)), (h, w))


def load(run_dir: str | Path, checkpoint: str | int = "latest", *, inference: str = "deterministic",
         large: str = "tile", max_side: int = DEFAULT_MAX_SIDE, scale: str = "training",
         weights: str | None = None) -> Translator:
    """A run's trained generator, ready to translate images of any size.

    ``inference``: ``deterministic`` (dropout off: one input, one output) or ``paper`` (dropout on,
    as the paper runs its generator at test time). ``large``/``max_side``/``scale``: see the module
    docstring; ``scale_description`` on the result says which scale is used. ``weights``: ``ema`` (the
    default for a run trained with ``--ema``: its moving average) or ``raw`` (the trained weights).
    """
    _checked_options(large, max_side, scale)
    return Translator(load_generator(run_dir, checkpoint, inference, weights), large=large, max_side=max_side,
                      scale=scale)
