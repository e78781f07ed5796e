"""Built-in paired dataset so ``python -m pix2pix_tf.fit`` works with no download.

Each image is a procedural facade: a flat-colour label map (A, left half) and a
"photo" rendered from the same layout (B, right half). The photo adds texture,
shading and per-image colours that the label map does not give, so a generator
has to learn a real translation, yet the dataset is small enough to fit in a few
minutes on a CPU. Every image comes from its own seeded generator, so any one of
them can be rebuilt without building the others.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_tf.atomic import publish_dir, staging_dir
from pix2pix_tf.errors import UserError

DATASET_NAME = "synthetic_facades_v1"
MARKER_NAME = "SYNTHETIC.json"
GENERATOR_VERSION = 1
MIN_SIZE = 32

# Label colours, one per class, far apart so that nearest-colour decoding is unambiguous.
PALETTE: dict[str, tuple[int, int, int]] = {
    "sky": (0, 0, 130),
    "wall": (40, 120, 255),
    "cornice": (255, 170, 0),
    "pillar": (255, 60, 150),
    "window": (0, 230, 220),
    "sill": (210, 230, 0),
    "balcony": (150, 255, 80),
    "door": (170, 0, 0),
}

_SPLIT_CODES = {"train": 0, "test": 1}

# Photo colours (0..1) that the per-image style jitters around.
_WALL_COLOURS = np.array([
    (205, 185, 150), (195, 125, 95), (172, 170, 165), (222, 200, 140),
    (155, 85, 65), (208, 205, 195), (180, 160, 130),
]) / 255.0
_DOOR_COLOURS = np.array([(95, 58, 32), (60, 40, 25), (40, 70, 50), (110, 35, 30)]) / 255.0
_FRAME_COLOURS = np.array([(235, 235, 228), (230, 225, 210), (70, 50, 35), (45, 75, 60)]) / 255.0
_STONE = np.array([236, 230, 218]) / 255.0
_LAMPLIGHT = np.array([230, 190, 115]) / 255.0


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


def default_synthetic_root() -> Path:
    """Where the built-in dataset is cached, following the XDG convention unless overridden."""
    override = os.environ.get("PIX2PIX_TF_CACHE")
    if override:
        return Path(override).expanduser() / DATASET_NAME
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pix2pix_tf" / DATASET_NAME


def write_synthetic_facades(root: str | os.PathLike, size: int = 64, n_train: int = 200, n_test: int = 24,
                            seed: int = 0) -> Path:
    """Make sure ``root`` holds the dataset for these parameters, building it only if needed.

    The dataset is written into a hidden sibling directory and renamed into place, so a
    reader (or a second run after Ctrl-C) never sees a half-written dataset. A marker file
    records the parameters: a matching one means the work is already done; a different one
    means the old dataset is replaced as a whole.
    """
    root = Path(root).expanduser()
    params = _marker_params(size, n_train, n_test, seed)
    if _marker_of(root) == params:
        return root
    _check_replaceable(root)
    with staging_dir(root.parent, prefix=f".{root.name}.tmp-") as staging:
        _write_splits(staging, params)
        try:
            publish_dir(staging, root)
        except OSError:
            if _marker_of(root) != params:  # another process installing the same dataset counts as success
                raise
    return root


def render_facade_pair(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(label map, photo) as ``size x size x 3`` uint8 arrays drawn from one layout."""
    layout = facade_layout(size, rng)
    return label_image(layout, size), photo_image(layout, size, rng)


def facade_layout(size: int, rng: np.random.Generator) -> Facade:
    """One random facade scaled to ``size`` pixels."""
    s = size
    sky_h = _px(s, rng.uniform(0.04, 0.15))
    cornice_y1 = sky_h + max(2, _px(s, rng.uniform(0.03, 0.06)))
    ground_top = s - _px(s, rng.uniform(0.2, 0.27))
    band_h = max(1, _px(s, 0.02)) if rng.random() < 0.6 else 0
    rects = [Rect("sky", 0, sky_h, 0, s), Rect("wall", sky_h, s, 0, s),
             Rect("cornice", sky_h, cornice_y1, 0, s)]
    if band_h:
        rects.append(Rect("cornice", ground_top - band_h, ground_top, 0, s))

    pillar_w = max(2, _px(s, rng.uniform(0.04, 0.07)))
    pillar_mode = rng.choice(["none", "edges", "between"], p=[0.4, 0.35, 0.25])
    margin = pillar_w if pillar_mode != "none" else _px(s, rng.uniform(0.02, 0.06))
    n_cols = int(min(rng.integers(3, 7), (s - 2 * margin) // max(6, _px(s, 0.12))))
    col_edges = np.linspace(margin, s - margin, n_cols + 1)
    if pillar_mode != "none":
        rects += [Rect("pillar", cornice_y1, s, 0, pillar_w), Rect("pillar", cornice_y1, s, s - pillar_w, s)]
    if pillar_mode == "between":
        half = max(1, int(round((col_edges[1] - col_edges[0]) * 0.1)))
        rects += [Rect("pillar", cornice_y1, s, int(round(x)) - half, int(round(x)) + half)
                  for x in col_edges[1:-1]]

    rects += _upper_floor_rects(rng, s, cornice_y1, ground_top - band_h, col_edges)
    rects += _ground_floor_rects(rng, s, ground_top, col_edges)
    return Facade(tuple(rects), sky_h, ground_top)


def _upper_floor_rects(rng, s, top, bottom, col_edges) -> list[Rect]:
    """Windows of every upper floor with their sills or balconies; windows share a column grid."""
    region = bottom - top
    n_floors = int(min(rng.integers(2, 6), region // max(7, _px(s, 0.11))))
    floor_h = region / n_floors
    col_w = col_edges[1] - col_edges[0]
    win_w = max(2, int(round(col_w * rng.uniform(0.38, 0.62))))
    win_h = max(3, int(round(floor_h * rng.uniform(0.45, 0.68))))
    top_gap = max(1, int(round((floor_h - win_h) * rng.uniform(0.3, 0.55))))
    sill_h = max(1, _px(s, 0.015))
    has_sills = rng.random() < 0.7
    rects = []
    for f in range(n_floors):
        y0 = int(round(top + f * floor_h)) + top_gap
        y1 = min(y0 + win_h, int(round(top + (f + 1) * floor_h)) - 1)
        balcony = "none" if f == 0 else rng.choice(["none", "each", "full"], p=[0.55, 0.3, 0.15])
        bal_y0 = y1 - max(2, int(round(win_h * rng.uniform(0.25, 0.4))))
        bal_y1 = min(y1 + 1, bottom)
        for c in range(len(col_edges) - 1):
            cx = (col_edges[c] + col_edges[c + 1]) / 2
            x0 = int(round(cx - win_w / 2))
            x1 = x0 + win_w
            rects.append(Rect("window", y0, y1, x0, x1))
            if balcony == "each":
                ext = max(1, win_w // 5)
                rects.append(Rect("balcony", bal_y0, bal_y1, x0 - ext, x1 + ext))
            elif balcony == "none" and has_sills:
                rects.append(Rect("sill", y1, min(y1 + sill_h, bottom), x0 - 1, x1 + 1))
        if balcony == "full":
            rects.append(Rect("balcony", bal_y0, bal_y1, int(col_edges[0]), int(col_edges[-1])))
    return rects


def _ground_floor_rects(rng, s, top, col_edges) -> list[Rect]:
    """One door reaching the ground and shop windows in the other columns."""
    n_cols = len(col_edges) - 1
    col_w = col_edges[1] - col_edges[0]
    floor_h = s - top
    door_col = n_cols // 2 if rng.random() < 0.5 else int(rng.integers(0, n_cols))
    door_w = max(3, int(round(col_w * rng.uniform(0.45, 0.75))))
    door_h = max(4, int(round(floor_h * rng.uniform(0.65, 0.85))))
    shop_w = max(2, int(round(col_w * rng.uniform(0.5, 0.75))))
    shop_h = max(3, int(round(floor_h * rng.uniform(0.4, 0.6))))
    shop_y1 = s - max(1, int(round(floor_h * rng.uniform(0.12, 0.22))))
    rects = []
    for c in range(n_cols):
        cx = (col_edges[c] + col_edges[c + 1]) / 2
        if c == door_col:
            x0 = int(round(cx - door_w / 2))
            rects.append(Rect("door", s - door_h, s, x0, x0 + door_w))
        else:
            x0 = int(round(cx - shop_w / 2))
            rects.append(Rect("window", shop_y1 - shop_h, shop_y1, x0, x0 + shop_w))
    return rects


def label_image(layout: Facade, size: int) -> np.ndarray:
    """The A side: each region filled with its class colour."""
    out = np.zeros((size, size, 3), np.uint8)
    for r in layout.rects:
        out[r.y0:r.y1, r.x0:r.x1] = PALETTE[r.cls]
    return out


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


def _px(size, fraction) -> int:
    return max(1, int(round(size * fraction)))


def _marker_params(size, n_train, n_test, seed) -> dict:
    """The marker contents; raises ``UserError`` for values no dataset can be built from."""
    for name, value, low in (("size", size, MIN_SIZE), ("n_train", n_train, 1),
                             ("n_test", n_test, 0), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise UserError(f"synthetic dataset: {name} must be an integer >= {low}, got {value!r}")
    return {"dataset": DATASET_NAME, "version": GENERATOR_VERSION, "size": int(size),
            "n_train": int(n_train), "n_test": int(n_test), "seed": int(seed)}


def _marker_of(root: Path) -> dict | None:
    """Parameters recorded in ``root``'s marker, or None if there is no readable one."""
    try:
        return json.loads((root / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None


def _check_replaceable(root: Path) -> None:
    """Refuse to delete anything this module did not write."""
    if not root.exists() and not root.is_symlink():
        return
    if not root.is_dir() or root.is_symlink():
        raise UserError(f"{root} exists and is not a directory; remove it or pick another path")
    if any(root.iterdir()) and not (root / MARKER_NAME).exists():
        raise UserError(f"{root} is not empty and is not a synthetic dataset; refusing to overwrite it")


def _write_splits(staging: Path, params: dict) -> None:
    """Every PNG, then the marker last, so a marker always means a complete dataset."""
    size, seed = params["size"], params["seed"]
    for split, count in (("train", params["n_train"]), ("test", params["n_test"])):
        folder = staging / split
        folder.mkdir()
        width = max(4, len(str(count)))
        for index in range(1, count + 1):
            # Seeding by (seed, split, index) keeps test images fixed when n_train changes.
            rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
            label, photo = render_facade_pair(size, rng)
            Image.fromarray(np.concatenate([label, photo], axis=1)).save(folder / f"{index:0{width}d}.png")
    (staging / MARKER_NAME).write_text(json.dumps(params, indent=2) + "\n")
