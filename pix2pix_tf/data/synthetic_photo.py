"""The photo side (B) of the built-in demo dataset: a facade layout rendered with texture, shading and
lighting, so a generator has a real translation to learn. The colours of everything large (wall, window
frames, door, railings, stone trim) follow from the wall's material, which the label map shows as a class
of its own; what varies freely from photo to photo (stains, brick-to-brick shade, the light's direction,
an overcast sky, a lit window) is small or faint. The layouts and the dataset files are
``pix2pix_tf.data.synthetic``'s."""

from __future__ import annotations

import numpy as np

from pix2pix_tf.data.facade import Facade


def _rgb(r, g, b) -> np.ndarray:
    return np.array([r, g, b]) / 255.0


_WHITE_FRAME, _BROWN_FRAME, _GREEN_FRAME = _rgb(235, 235, 228), _rgb(70, 50, 35), _rgb(45, 75, 60)
_DARK_RAIL = _rgb(31, 31, 33)

# Each wall class's look: wall colour (0..1), brick or plaster, and the colours that go with it.
MATERIALS: dict[str, dict] = {
    "cream wall": {"wall": _rgb(214, 196, 158), "brick": False, "frame": _WHITE_FRAME,
                   "door": _rgb(95, 58, 32), "rail": _DARK_RAIL},
    "green wall": {"wall": _rgb(148, 188, 140), "brick": False, "frame": _WHITE_FRAME,
                   "door": _rgb(110, 35, 30), "rail": _DARK_RAIL},
    "pink wall": {"wall": _rgb(214, 152, 142), "brick": False, "frame": _BROWN_FRAME,
                  "door": _rgb(60, 40, 25), "rail": _DARK_RAIL},
    "grey wall": {"wall": _rgb(170, 170, 168), "brick": False, "frame": _GREEN_FRAME,
                  "door": _rgb(40, 70, 50), "rail": _rgb(225, 220, 208)},
    "brick wall": {"wall": _rgb(158, 78, 56), "brick": True, "frame": _WHITE_FRAME,
                   "door": _rgb(40, 70, 50), "rail": _DARK_RAIL},
}
_STONE = np.array([236, 230, 218]) / 255.0
_LAMPLIGHT = np.array([230, 190, 115]) / 255.0


def photo_image(layout: Facade, size: int, rng: np.random.Generator) -> np.ndarray:
    """The B side: the same regions rendered with texture, lighting and per-image colours."""
    style = _draw_style(rng, layout.wall)
    img = _wall_texture(rng, size, layout, style)
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


def _draw_style(rng, wall_class: str) -> dict:
    """Colours and lighting shared by the whole image: the wall class's colours, barely jittered, and
    a light and sky of the photo's own."""
    material = MATERIALS[wall_class]
    wall = material["wall"] * rng.uniform(0.97, 1.03)
    overcast = rng.random() < 0.3
    sky_top = np.array([0.72, 0.74, 0.78]) if overcast else np.array([0.35, 0.55, 0.85])
    return {
        "wall": wall,
        "stone": 0.55 * _STONE + 0.45 * wall,
        "brick": material["brick"],
        "sky_top": sky_top * rng.uniform(0.95, 1.05, 3),
        "sky_bottom": np.array([0.85, 0.88, 0.92]) * rng.uniform(0.97, 1.03, 3),
        "glass": np.array([0.14, 0.19, 0.25]) * rng.uniform(0.85, 1.15, 3),
        "frame": material["frame"],
        "door": material["door"] * rng.uniform(0.95, 1.05),
        "rail": material["rail"],
        "light_x": rng.uniform(-0.15, 0.15),
        "light_y": rng.uniform(0.0, 0.15),
    }


def _wall_texture(rng, size, layout: Facade, style) -> np.ndarray:
    """Full-image wall: plaster stains or bricks (courses counted from the wall's top edge, so they line
    up with the label map), and the rusticated stone ground floor when the layout has one."""
    stains = _smooth_noise(rng, size, size, max(4, size // 6))
    grain = _smooth_noise(rng, size, size, 1.5)
    shade = 1.0 + 0.05 * stains + 0.03 * grain
    if style["brick"]:
        bricks = _block_pattern(rng, size - layout.sky_h, size, max(2, size // 24), max(4, size // 10), 0.08, 0.8)
        shade[layout.sky_h:] *= bricks
    img = style["wall"][None, None, :] * shade[..., None]
    if layout.stone_base:
        top = layout.ground_top
        blocks = _block_pattern(rng, size - top, size, max(3, size // 14), max(6, size // 6), 0.05, 0.7)
        img[top:] = (style["stone"] * 0.92)[None, None, :] * blocks[..., None]
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
