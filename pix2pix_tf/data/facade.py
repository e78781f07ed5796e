"""A built-in facade's layout: the flat-coloured regions of its label map and the lines its photo's
materials follow. ``synthetic`` draws layouts and writes the dataset; ``synthetic_photo`` renders them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    """One flat-coloured region, always inside the image; painting order decides overlaps."""

    cls: str
    y0: int
    y1: int
    x0: int
    x1: int


@dataclass(frozen=True)
class Facade:
    """A layout: regions in painting order plus the lines the photo's materials follow."""

    rects: tuple[Rect, ...]
    sky_h: int
    ground_top: int
    wall: str  # one of WALL_CLASSES
    stone_base: bool  # the ground floor is rusticated stone ("stone base") rather than the wall
