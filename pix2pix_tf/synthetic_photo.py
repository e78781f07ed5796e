"""The photo side (B) of the built-in demo dataset: a facade layout rendered with texture, lighting
and per-image colours, so identical label maps still give different photos and a generator has a
real translation to learn. The layouts and the dataset files are ``pix2pix_tf.synthetic``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pix2pix_tf.synthetic import Facade

# Photo colours (0..1) that the per-image style jitters around.
_WALL_COLOURS = np.array([
    (205, 185, 150), (195, 125, 95), (172, 170, 165), (222, 200, 140),
    (155, 85, 65), (208, 205, 195), (180, 160, 130),
]) / 255.0
_DOOR_COLOURS = np.array([(95, 58, 32), (60, 40, 25), (40, 70, 50), (110, 35, 30)]) / 255.0
_FRAME_COLOURS = np.array([(235, 235, 228), (230, 225, 210), (70, 50, 35), (45, 75, 60)]) / 255.0
_STONE = np.array([236, 230, 218]) / 255.0
_LAMPLIGHT = np.array([230, 190, 115]) / 255.0


def photo_image(layout: Facade, size: int, rng: np.random.Generator) -> np.ndarray:
    """The B side: the same regions rendered with texture, lighting and per-image colours."""
    style = _draw_style(rng)
    img = _wall_texture(rng, size, layout.ground_top, style)
    painters = {"sky": _paint_sky, "cornice": _paint_cornice, "pillar": _paint_pillar,
                "window": _paint_window, "sill": _paint_sill, "balcony": _paint_balcony,
                "door": _paint_door}
    for r in layout.rects:
        if r.cls in painters:
            view = img[r.y0:r.y1, r.x0:r.x1]
            view[...] = painters[r.cls](view, rng, style)
    _cast_shadows(img, layout, size)
    _light(img, layout.sky_h, size, style)
    img += rng.normal(0.0, 0.012, img.shape)
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def _draw_style(rng) -> dict:
    """Colours and lighting shared by the whole image, so identical labels still look different."""
    wall = _WALL_COLOURS[rng.integers(len(_WALL_COLOURS))] * rng.uniform(0.9, 1.08, 3)
    overcast = rng.random() < 0.3
    sky_top = np.array([0.72, 0.74, 0.78]) if overcast else np.array([0.35, 0.55, 0.85])
    return {
        "wall": wall,
        "stone": 0.55 * _STONE + 0.45 * wall,
        "brick": rng.random() < 0.45,
        "rusticated_ground": rng.random() < 0.5,
        "sky_top": sky_top * rng.uniform(0.9, 1.08, 3),
        "sky_bottom": np.array([0.85, 0.88, 0.92]) * rng.uniform(0.95, 1.05, 3),
        "glass": np.array([0.14, 0.19, 0.25]) * rng.uniform(0.75, 1.25, 3),
        "frame": _FRAME_COLOURS[rng.integers(len(_FRAME_COLOURS))],
        "door": _DOOR_COLOURS[rng.integers(len(_DOOR_COLOURS))] * rng.uniform(0.85, 1.15),
        "rail": np.array([0.12, 0.12, 0.13]) if rng.random() < 0.7 else _STONE * 0.95,
        "light_x": rng.uniform(-0.25, 0.25),
        "light_y": rng.uniform(0.0, 0.2),
    }


def _wall_texture(rng, size, ground_top, style) -> np.ndarray:
    """Full-image wall: plaster stains or bricks, with an optional stone-block ground floor."""
    stains = _smooth_noise(rng, size, size, max(4, size // 6))
    grain = _smooth_noise(rng, size, size, 1.5)
    shade = 1.0 + 0.06 * stains + 0.035 * grain
    if style["brick"]:
        shade *= _block_pattern(rng, size, size, max(2, size // 24), max(4, size // 10), 0.08, 0.8)
    img = style["wall"][None, None, :] * shade[..., None]
    if style["rusticated_ground"]:
        blocks = _block_pattern(rng, size - ground_top, size, max(3, size // 14), max(6, size // 6), 0.05, 0.7)
        img[ground_top:] = (style["stone"] * 0.92)[None, None, :] * blocks[..., None]
    return img


def _block_pattern(rng, h, w, block_h, block_w, jitter, joint) -> np.ndarray:
    """Brightness of a running-bond masonry pattern: per-block jitter, darker mortar joints."""
    ys, xs = np.mgrid[0:h, 0:w]
    row = ys // block_h
    shifted = xs + (row % 2) * (block_w // 2)
    col = shifted // block_w
    per_block = 1.0 + jitter * rng.standard_normal((row.max() + 1, col.max() + 1))
    out = per_block[row, col]
    mortar = (ys % block_h == block_h - 1) | (shifted % block_w == 0)
    return np.where(mortar, joint, out)


def _smooth_noise(rng, h, w, cell) -> np.ndarray:
    """Zero-mean value noise whose features are about ``cell`` pixels wide."""
    grid = rng.standard_normal((int(h / cell) + 2, int(w / cell) + 2))
    fy, y0 = np.modf(np.arange(h) / cell)
    fx, x0 = np.modf(np.arange(w) / cell)
    y0, x0 = y0.astype(int), x0.astype(int)
    fy = (fy * fy * (3 - 2 * fy))[:, None]
    fx = (fx * fx * (3 - 2 * fx))[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _ramp(n) -> np.ndarray:
    """0..1 over ``n`` pixel centres."""
    return (np.arange(n) + 0.5) / n


def _paint_sky(view, rng, style) -> np.ndarray:
    h, w, _ = view.shape
    t = _ramp(h)[:, None, None]
    clouds = 0.04 * _smooth_noise(rng, h, w, max(3, w / 5))[..., None]
    return style["sky_top"] * (1 - t) + style["sky_bottom"] * t + clouds


def _paint_cornice(view, rng, style) -> np.ndarray:
    """A moulded band: lit top edge, shadowed bottom edge, dentils in between when tall enough."""
    h, w, _ = view.shape
    shade = np.ones((h, w))
    shade[0] = 1.12
    shade[-1] = 0.72
    if h >= 4:
        shade[h // 2] = np.where(np.arange(w) % 3 == 0, 0.8, 1.05)
    return style["stone"] * shade[..., None]


def _paint_pillar(view, rng, style) -> np.ndarray:
    """A round column lit from the front: brightest in the middle, with faint fluting."""
    h, w, _ = view.shape
    x = _ramp(w)
    profile = 0.72 + 0.35 * np.sin(np.pi * x) - 0.05 * (np.arange(w) % 2)
    return style["stone"] * np.broadcast_to(profile, (h, w))[..., None]


def _paint_window(view, rng, style) -> np.ndarray:
    """Glass that reflects the sky at the top, a diagonal glint, a frame and mullions; some lit."""
    h, w, _ = view.shape
    t = _ramp(h)[:, None, None]
    lit = rng.random() < 0.15
    top = _LAMPLIGHT if lit else 0.55 * style["glass"] + 0.45 * style["sky_bottom"]
    out = top * (1 - t) ** 1.5 + style["glass"] * (1 - (1 - t) ** 1.5)
    ys, xs = np.mgrid[0:h, 0:w]
    glint = (xs / w + 0.6 * ys / h - rng.uniform(0.2, 0.9)) % 1.5 < 0.18
    out = out + 0.12 * glint[..., None]
    if h >= 4 and w >= 4:
        out[[0, -1]] = style["frame"]
        out[:, [0, -1]] = style["frame"]
        out[1, 1:-1] *= 0.6
        if w >= 6:
            out[:, w // 2] = style["frame"]
        if h >= 9:
            out[h // 3] = style["frame"]
    return out


def _paint_sill(view, rng, style) -> np.ndarray:
    h, w, _ = view.shape
    shade = np.full((h, w), 0.9)
    shade[0] = 1.1
    return style["stone"] * shade[..., None]


def _paint_balcony(view, rng, style) -> np.ndarray:
    """A railing over whatever is behind it: top rail, balusters, and a slab at the bottom."""
    h, w, _ = view.shape
    pitch = 2 if w < 12 else 3
    out = view * 0.8
    out[:, np.arange(w) % pitch == 0] = style["rail"]
    out[0] = style["rail"]
    out[-1] = style["stone"] * 0.95
    return out


def _paint_door(view, rng, style) -> np.ndarray:
    """Wood with vertical grain, a darker frame and a panel split."""
    h, w, _ = view.shape
    grain = _smooth_noise(rng, 1, w, 1.2)[0]
    shade = np.broadcast_to(1.0 + 0.08 * grain, (h, w)).copy()
    shade[:, [0, -1]] = 0.55
    shade[0] = 0.55
    if w >= 6:
        shade[:, w // 2] = 0.65
    shade[h // 2] *= 0.75
    return style["door"] * shade[..., None]


def _cast_shadows(img, layout, size) -> None:
    """Darken the wall just below anything that sticks out of it (light comes from above)."""
    depth = max(1, size // 40)
    for r in layout.rects:
        if r.cls in ("cornice", "sill", "balcony"):
            img[r.y1:r.y1 + depth, r.x0:r.x1] *= 0.72


def _light(img, sky_h, size, style) -> None:
    """A soft sideways and top-down falloff over the building, leaving the sky alone."""
    x = _ramp(size)[None, :] - 0.5
    y = _ramp(size)[:, None] - 0.5
    gain = 1.0 + style["light_x"] * x - style["light_y"] * y
    img[sky_h:] *= gain[sky_h:, :, None]
