"""Colour-coded label maps: the palette that names each class, and pixel -> class by nearest colour.

Label maps in the pix2pix datasets are stored as colour images, and as JPEGs, so edges are smeared:
a pixel's class is the palette colour nearest to it. The palette belongs to the dataset, so it is a
small JSON file (``{"names": [...], "colors": [[r, g, b], ...], "source": "..."}``) or the built-in
``facades``, and a judge stores the one it was trained with.

The facades palette is measured, not assumed. The 12 classes are those of the CMP Facade Database
(Tylecek and Sara, 2013), in its label order. Their colours are the modes of the flat (5x5-uniform)
pixels of the 400 training label maps in ``shared/data/facades``: a jet colour scale from dark blue
to dark red, though not MATLAB's ``jet(12)``: the background is (0, 0, 222) and the facade wall
(0, 48, 255), where ``jet(12)`` has (0, 0, 170), (0, 0, 255) and (0, 85, 255). With these colours
the median label pixel is 4.6 RGB units from its class colour (37 with ``jet(12)``, which puts the
wall halfway between two classes). The class of each colour was checked by eye on training photos:
sky and surroundings, wall, windows, balconies, blinds, ornaments, horizontal mouldings, shops.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from pix2pix_tf.core.errors import UserError


@dataclass(frozen=True)
class Palette:
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    source: str = ""

    def __post_init__(self):
        if len(self.names) != len(self.colors) or len(self.names) < 2:
            raise UserError(f"palette {self.source or '(unnamed)'}: needs at least two classes, "
                            f"one name per colour ({len(self.names)} names, {len(self.colors)} colours)")
        if len(set(self.names)) != len(self.names):
            raise UserError(f"palette {self.source or '(unnamed)'}: class names repeat")
        for color in self.colors:
            if len(color) != 3 or any(not isinstance(c, int) or not 0 <= c <= 255 for c in color):
                raise UserError(f"palette {self.source or '(unnamed)'}: colour {list(color)} is not "
                                "three integers in 0..255")
        if len(set(self.colors)) != len(self.colors):
            raise UserError(f"palette {self.source or '(unnamed)'}: colours repeat")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "colors": [list(c) for c in self.colors], "source": self.source}

    @classmethod
    def from_dict(cls, values: dict, where: str) -> Palette:
        if not isinstance(values, dict) or not isinstance(values.get("names"), list) \
                or not isinstance(values.get("colors"), list):
            raise UserError(f"{where}: a palette needs 'names' and 'colors' lists")
        colors = tuple(tuple(c) if isinstance(c, list) else (c,) for c in values["colors"])
        return cls(tuple(str(n) for n in values["names"]), colors, str(values.get("source", where)))

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """(..., 3) colours in 0..255 -> (...) class indices, by nearest palette colour."""
        colors = np.asarray(self.colors, np.float32)
        distances = ((np.asarray(rgb, np.float32)[..., None, :] - colors) ** 2).sum(-1)
        return distances.argmin(-1).astype(np.int32)

    def colors_distance(self, rgb: np.ndarray) -> np.ndarray:
        """(..., 3) colours in 0..255 -> (...) RGB distance to the nearest palette colour."""
        colors = np.asarray(self.colors, np.float32)
        distances = ((np.asarray(rgb, np.float32)[..., None, :] - colors) ** 2).sum(-1)
        return np.sqrt(distances.min(-1))

    def classify_tensor(self, images: tf.Tensor) -> tf.Tensor:
        """Graph version of ``classify`` for images in [-1, 1] (the networks' range)."""
        colors = tf.constant(self.colors, tf.float32)
        rgb = (tf.cast(images, tf.float32) + 1.0) * 127.5
        distances = tf.reduce_sum(tf.square(rgb[..., None, :] - colors), axis=-1)
        return tf.argmin(distances, axis=-1, output_type=tf.int32)

    def colorize(self, classes: np.ndarray) -> np.ndarray:
        """(...) class indices -> (..., 3) uint8 colours."""
        return np.asarray(self.colors, np.uint8)[np.asarray(classes)]


FACADES = Palette(
    names=("background", "facade", "window", "door", "cornice", "sill", "balcony", "blind", "deco",
           "molding", "pillar", "shop"),
    colors=((0, 0, 222), (0, 48, 255), (0, 127, 255), (0, 207, 255), (33, 255, 225), (112, 255, 143),
            (192, 255, 63), (255, 240, 0), (255, 159, 0), (255, 80, 0), (255, 0, 0), (175, 0, 0)),
    source="facades: CMP Facade Database classes; colours measured on the pix2pix facades label maps",
)

BUILTIN = {"facades": FACADES}
DERIVE = "derive"
# A colour becomes a class when this share of the flat label pixels has it; colours closer than
# MERGE_RGB are one class (JPEG noise on flat areas stays within a few units).
MIN_SHARE = 0.001
MERGE_RGB = 40.0
FLAT_RGB = 24
# A label map's flat regions each have one class colour (JPEG noise aside): at least LABEL_SHARE of its
# flat pixels lie within LABEL_RGB of a derived class colour. Facades: 99% of the label maps' flat pixels,
# 35% of the photos' (a photo's smooth areas shade continuously, so binning them only looks like classes).
LABEL_RGB = 8.0
LABEL_SHARE = 0.9


def flat_pixels(rgb: np.ndarray) -> np.ndarray:
    """Pixels whose 5x5 neighbourhood varies by less than ``FLAT_RGB`` per channel: the inside of
    label regions, away from the edges that JPEG smears between two classes."""
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(rgb, np.int16), (5, 5), axis=(0, 1))
    spread = (windows.max(axis=(-1, -2)) - windows.min(axis=(-1, -2))).max(-1)
    return np.asarray(rgb)[2:-2, 2:-2][spread < FLAT_RGB]


def derive_palette(label_maps, source: str) -> Palette:
    """The classes of colour-coded label maps, found as the frequent colours of their flat regions
    (binned to 16 levels, merged within ``MERGE_RGB``, refined to the mean of their pixels).
    Class names are ``class0``, ``class1``, ... in order of frequency."""
    pixels = np.concatenate([flat_pixels(m).reshape(-1, 3) for m in label_maps]).astype(np.float32)
    if not len(pixels):
        raise UserError(f"{source}: no flat colour regions to derive a palette from; give --palette FILE")
    bins, counts = np.unique(np.round(pixels / 16) * 16, axis=0, return_counts=True)
    order = np.argsort(-counts)
    centres: list[np.ndarray] = []
    for k in order:
        if counts[k] < MIN_SHARE * len(pixels):
            break
        if all(np.linalg.norm(bins[k] - c) >= MERGE_RGB for c in centres):
            centres.append(bins[k])
    centres = np.array(centres)
    nearest = ((pixels[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    colors = tuple(tuple(int(v) for v in np.clip(np.round(pixels[nearest == k].mean(0)), 0, 255))
                   for k in range(len(centres)))
    if len(colors) < 2:
        raise UserError(f"{source}: found {len(colors)} label colour; a judge needs at least two classes")
    check_label_maps(pixels, colors, source)
    return Palette(tuple(f"class{k}" for k in range(len(colors))), colors,
                   f"derived from the label maps of {source}")


def check_label_maps(flat: np.ndarray, colors, source: str) -> None:
    """Refuse images that are not colour-coded label maps (photos, say): a palette derived from them
    would be a few shades of their colours, and a judge trained on it would mean nothing."""
    distance = np.sqrt(((flat[:, None, :] - np.asarray(colors, np.float32)[None]) ** 2).sum(-1).min(1))
    share = float((distance <= LABEL_RGB).mean())
    if share < LABEL_SHARE:
        raise UserError(f"{source}: the label side does not look like colour-coded label maps: {share:.0%} of its "
                        f"flat areas have one of {len(colors)} class colours (label maps: {LABEL_SHARE:.0%} or "
                        "more); check --direction (it names the pix2pix runs' direction), or give --palette FILE")


def palette_from_arg(text: str) -> Palette:
    """'facades' or the path of a palette JSON file."""
    if text in BUILTIN:
        return BUILTIN[text]
    path = Path(text)
    if not path.is_file():
        raise UserError(f"--palette {text}: neither a built-in palette ({', '.join(BUILTIN)}) nor a JSON file")
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"--palette {path}: unreadable palette JSON ({err})") from None
    return Palette.from_dict(values, str(path))
