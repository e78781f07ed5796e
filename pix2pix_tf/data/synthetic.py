"""Built-in paired dataset so ``python -m pix2pix_tf.fit`` works with no download.

Each image is a procedural facade: a flat-colour label map (A, left half) and a
"photo" rendered from the same layout (B, right half). The photo adds texture,
shading and lighting, so a generator has to learn a real translation, but every
colour that covers much of the photo follows from the label map: the wall's
material (cream, green or pink plaster, grey render, red brick) and a stone
ground floor are classes of their own. A photo whose colour nothing in its input
predicts can only be learnt as the average of all colours, and a newcomer's first
picture would be a beige blur. This way a two-minute run on a CPU learns it.
Every image comes from its own seeded generator, so any one of them can be
rebuilt without building the others. The photo rendering is ``synthetic_photo``'s.
"""

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from pix2pix_tf.core.atomic import publish_new_dir, staging_dir
from pix2pix_tf.core.config import BUILTIN_MIN_SIZE
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.facade import Facade, Rect
from pix2pix_tf.data.synthetic_photo import photo_image

GENERATOR_VERSION = 2
DATASET_NAME = f"synthetic_facades_v{GENERATOR_VERSION}"
MARKER_NAME = "SYNTHETIC.json"
MIN_SIZE = BUILTIN_MIN_SIZE  # fit refuses smaller built-in runs by their --image-size

# The wall's material, one class each: the photo's wall colour and texture, its window frames and door
# follow from it (``synthetic_photo.MATERIALS``), so the label map predicts the photo's colours.
# The dataset's images take them in turn, so each is as common as the others and the sample grid (the
# first held-out images) shows four different ones.
WALL_CLASSES = ("green wall", "brick wall", "pink wall", "cream wall", "grey wall")

# Label colours, one per class, far apart so that nearest-colour decoding is unambiguous.
PALETTE: dict[str, tuple[int, int, int]] = {
    "sky": (0, 0, 130),
    "cream wall": (40, 120, 255),
    "green wall": (0, 140, 70),
    "pink wall": (200, 110, 255),
    "grey wall": (128, 128, 128),
    "brick wall": (140, 70, 20),
    "stone base": (90, 60, 160),
    "cornice": (255, 170, 0),
    "pillar": (255, 60, 150),
    "window": (0, 230, 220),
    "sill": (210, 230, 0),
    "balcony": (150, 255, 80),
    "door": (170, 0, 0),
}

_SPLIT_CODES = {"train": 0, "test": 1}

def cache_root() -> Path:
    """pix2pix_tf's cache folder: ``$PIX2PIX_TF_CACHE``, else the XDG convention's."""
    override = os.environ.get("PIX2PIX_TF_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "pix2pix_tf"


def builtin_root(size: int) -> Path:
    """The built-in dataset at one image size, in a folder of its own: a fit reads its files by path
    while it trains, so a command on the built-in data at another size must not touch them. The
    generator's version is in the name too (``DATASET_NAME``): a new generator gets new folders."""
    return cache_root() / f"{DATASET_NAME}-{size}px"


def write_synthetic_facades(root: str | os.PathLike, size: int = 64, n_train: int = 200, n_test: int = 24,
                            seed: int = 0) -> Path:
    """Make sure ``root`` holds the dataset for these parameters, building it only if it is not there.

    The dataset is written into a hidden sibling folder and renamed into place, so a reader (or a
    second run after Ctrl-C) never sees a half-written dataset, and a dataset in place is never
    rewritten: a fit may be reading it. A marker file records the parameters; a folder holding the
    dataset of other parameters, or anything else, is refused.
    """
    root = Path(root).expanduser()
    params = _marker_params(size, n_train, n_test, seed)
    if _marker_of(root) == params:
        return root
    _check_fillable(root)
    with staging_dir(root.parent, prefix=f".{root.name}.tmp-") as staging:
        _write_splits(staging, params)
        if not publish_new_dir(staging, root) and _marker_of(root) != params:
            _check_fillable(root)  # what another process put there meanwhile
    return root


def render_facade_pair(size: int, rng: np.random.Generator, wall: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(label map, photo) as ``size x size x 3`` uint8 arrays drawn from one layout; ``wall`` is its wall
    class (default: a random one)."""
    layout = facade_layout(size, rng, wall)
    return label_image(layout, size), photo_image(layout, size, rng)


def facade_layout(size: int, rng: np.random.Generator, wall: str | None = None) -> Facade:
    """One random facade scaled to ``size`` pixels, with this wall class or a random one."""
    s = size
    sky_h = _px(s, rng.uniform(0.04, 0.15))
    cornice_y1 = sky_h + max(2, _px(s, rng.uniform(0.03, 0.06)))
    ground_top = s - _px(s, rng.uniform(0.2, 0.27))
    band_h = max(1, _px(s, 0.02)) if rng.random() < 0.6 else 0
    wall = wall or str(rng.choice(WALL_CLASSES))
    stone_base = bool(rng.random() < 0.5)
    rects = [Rect("sky", 0, sky_h, 0, s), Rect(wall, sky_h, s, 0, s),
             Rect("cornice", sky_h, cornice_y1, 0, s)]
    if stone_base:
        rects.append(Rect("stone base", ground_top, s, 0, s))
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
    return Facade(tuple(rects), sky_h, ground_top, wall, stone_base)


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


def _check_fillable(root: Path) -> None:
    """Refuse to touch a folder that holds anything: another dataset of this module's (a fit may be
    training on it) or something it did not write."""
    if not root.exists() and not root.is_symlink():
        return
    if not root.is_dir() or root.is_symlink():
        raise UserError(f"{root} exists and is not a directory; remove it or pick another path")
    if not any(root.iterdir()):
        return
    marker = _marker_of(root)
    if marker is None:
        raise UserError(f"{root} is not empty and is not a synthetic dataset; refusing to overwrite it")
    raise UserError(f"{root} holds the synthetic dataset of other settings ({_differences(marker)}); it is "
                    "never rewritten, as a run may be reading it: remove it or pick another path")


def _differences(marker: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in marker.items() if key != "dataset")


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
            label, photo = render_facade_pair(size, rng, WALL_CLASSES[(index - 1) % len(WALL_CLASSES)])
            Image.fromarray(np.concatenate([label, photo], axis=1)).save(folder / f"{index:0{width}d}.png")
    (staging / MARKER_NAME).write_text(json.dumps(params, indent=2) + "\n")
