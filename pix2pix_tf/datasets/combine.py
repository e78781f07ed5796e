"""Combine two folders of matching images (A and B) into side-by-side pix2pix pairs.

Usage::

    python -m pix2pix_tf.datasets.combine --a DIR_A --b DIR_B --out DIR [--splits train,val,test]
                                       [--overwrite] [--rgb]

Each output image is ``A | B``: A on the left half, B on the right half, written as a
lossless PNG named after the pair's file stem. Pairs are matched by file stem
(``A/12.jpg`` pairs with ``B/12.png``).

If DIR_A holds split sub-folders (``train``, ``val``, ``test`` by default, or the ones
named by ``--splits``), each split is combined into ``DIR/<split>/`` and DIR_B must hold
the same split sub-folders; otherwise DIR_A and DIR_B are combined directly into ``DIR/``.

Everything is checked before anything is written: unmatched names (listed in one error),
pairs whose sizes differ, and pairs whose pixel formats cannot share one image. The
result is written into a temporary folder beside ``--out`` and renamed into place, so an
interrupted run never leaves a half-written dataset behind.

Pixel formats: 8-bit colour (RGB, RGBA, palette, CMYK, ...) is written as RGB (RGBA if
either half has alpha). Grayscale (L, LA) and 16-bit grayscale are kept as they are, so
both halves must then have the same kind; ``--rgb`` converts every image to 8-bit RGB
instead (16-bit values are scaled down to 8 bits).

This module is the library; ``datasets/combine_A_and_B.py`` (or
``python -m pix2pix_tf.datasets.combine``) is the command over it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

from PIL import Image, UnidentifiedImageError

from pix2pix_tf.core.atomic import check_replaceable, publish_dir, staging_dir
from pix2pix_tf.core.cli import OneLineParser, run_cli
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.images import is_image_file, loose_images

DEFAULT_SPLITS = ("train", "val", "test")
MAX_LISTED = 5  # how many names an error message lists before "... and N more"

# Pixel-format kinds: what each Pillow mode becomes in the combined image.
_KIND_OF_MODE = {
    "1": "L",
    "L": "L",
    "LA": "LA",
    "La": "LA",
    "I": "I16",
    "I;16": "I16",
    "I;16L": "I16",
    "I;16B": "I16",
    "I;16N": "I16",
    "RGB": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "RGBX": "RGB",
    "RGBA": "RGBA",
    "RGBa": "RGBA",
    "PA": "RGBA",
}
_KIND_TO_MODE = {"L": "L", "LA": "LA", "I16": "I;16", "RGB": "RGB", "RGBA": "RGBA"}
_KIND_DESCRIPTION = {
    "L": "8-bit grayscale",
    "LA": "8-bit grayscale with alpha",
    "I16": "16-bit grayscale",
    "RGB": "8-bit colour",
    "RGBA": "8-bit colour with alpha",
}


class Pair(NamedTuple):
    """One matched pair: the shared file stem and the two source files."""

    stem: str
    path_a: Path
    path_b: Path


# --------------------------------------------------------------------------- scanning


def list_images(folder: Path) -> dict[str, Path]:
    """Map file stem -> image path for the images directly inside ``folder``.

    Hidden files and files without an image extension are ignored. Two images with the
    same stem (``1.jpg`` and ``1.png``) are ambiguous and raise a UserError.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not is_image_file(path):
            continue
        if path.stem in by_stem:
            raise UserError(
                f"two images share the name {path.stem!r} in {folder}: "
                f"{by_stem[path.stem].name} and {path.name}; pairs are matched by name, keep one"
            )
        by_stem[path.stem] = path
    return by_stem


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    if len(names) > MAX_LISTED:
        shown += f", ... ({len(names) - MAX_LISTED} more)"
    return shown


def match_pairs(dir_a: Path, dir_b: Path, label: str = "") -> tuple[list[Pair], list[str], list[str]]:
    """Match the images of ``dir_a`` and ``dir_b`` by file stem.

    Returns ``(pairs, only_in_a, only_in_b)``; the unmatched lists hold file names,
    prefixed with ``label + "/"`` when a label (a split name) is given.
    """
    images_a = list_images(dir_a)
    images_b = list_images(dir_b)
    prefix = f"{label}/" if label else ""
    pairs = [Pair(stem, images_a[stem], images_b[stem]) for stem in sorted(images_a) if stem in images_b]
    only_a = [prefix + images_a[s].name for s in sorted(images_a) if s not in images_b]
    only_b = [prefix + images_b[s].name for s in sorted(images_b) if s not in images_a]
    return pairs, only_a, only_b


def _raise_unmatched(only_a: list[str], only_b: list[str], dir_a: Path, dir_b: Path) -> None:
    parts = []
    if only_a:
        parts.append(f"{len(only_a)} image(s) in {dir_a} have no match in {dir_b}: {_listing(only_a)}")
    if only_b:
        parts.append(f"{len(only_b)} image(s) in {dir_b} have no match in {dir_a}: {_listing(only_b)}")
    raise UserError("; ".join(parts) + " (pairs are matched by file name without extension; nothing was written)")


def detect_splits(dir_a: Path, dir_b: Path, splits: list[str] | None = None) -> list[str]:
    """Return the split sub-folders to combine, or ``[]`` when DIR_A holds the images directly.

    With ``splits=None`` the default names (train, val, test) that exist in DIR_A are used;
    with explicit names every one of them must exist. DIR_B must have each chosen split.
    """
    dir_a, dir_b = Path(dir_a), Path(dir_b)
    for name, folder in (("--a", dir_a), ("--b", dir_b)):
        if not folder.is_dir():
            raise UserError(f"{name} is not a folder: {folder}")
    explicit = splits is not None
    wanted = list(splits) if explicit else list(DEFAULT_SPLITS)
    present = [s for s in wanted if (dir_a / s).is_dir()]
    if explicit:
        missing = [s for s in wanted if s not in present]
        if missing:
            raise UserError(f"--splits names {', '.join(missing)} but {dir_a} has no such sub-folder")
    if not present:
        if not any(is_image_file(p) for p in dir_a.iterdir()):
            subdirs = sorted(p.name for p in dir_a.iterdir() if p.is_dir() and not p.name.startswith("."))
            hint = f" (it has the sub-folders {_listing(subdirs)}; name the splits with --splits)" if subdirs else ""
            if {"A", "B"} <= set(subdirs):
                hint = f" (it has the sub-folders A and B: pass --a {dir_a / 'A'} --b {dir_a / 'B'})"
            raise UserError(f"no images found in {dir_a}{hint}")
        return []
    loose = loose_images(dir_a)
    if loose:
        raise UserError(
            f"{dir_a} holds both split sub-folders ({', '.join(present)}) and loose images "
            f"({_listing(loose)}); move the loose images into a split"
        )
    missing_b = [s for s in present if not (dir_b / s).is_dir()]
    if missing_b:
        raise UserError(f"{dir_a} has the split(s) {', '.join(missing_b)} but {dir_b} does not")
    return present


# --------------------------------------------------------------------------- pixels


def _sixteen_bit_colour(image: Image.Image) -> bool:
    """True when Pillow would silently reduce this file's 16-bit colour samples to 8 bits."""
    for tile in getattr(image, "tile", None) or ():
        args = tile[3] if len(tile) > 3 else None
        rawmode = args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args else None)
        if isinstance(rawmode, str) and rawmode.split(";")[0] in ("RGB", "RGBA", "LA") and ";16" in rawmode:
            return True
    return False


def _kind(image: Image.Image, path: Path, rgb: bool) -> str:
    mode = image.mode
    if mode == "P":
        return "RGBA" if "transparency" in image.info and not rgb else "RGB"
    kind = _KIND_OF_MODE.get(mode)
    if kind is None:
        raise UserError(f"{path}: unsupported pixel format {mode!r} "
                        "(convert it to 8-bit RGB, grayscale or 16-bit grayscale)")
    if rgb:
        return "RGB"
    if _sixteen_bit_colour(image):
        raise UserError(
            f"{path}: 16-bit colour images cannot be kept at 16 bits (only 16-bit grayscale can); "
            "pass --rgb to convert everything to 8-bit RGB"
        )
    return kind


def _open(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as err:
        raise UserError(f"cannot read image {path}: {err}") from None


def check_pair(pair: Pair, rgb: bool = False) -> str:
    """Check that the two halves of ``pair`` can form one image; return the output Pillow mode.

    Only the image headers are read. Raises a UserError naming both files when their sizes
    differ or when their pixel formats cannot share one image without loss.
    """
    with _open(pair.path_a) as image_a, _open(pair.path_b) as image_b:
        if image_a.size != image_b.size:
            (wa, ha), (wb, hb) = image_a.size, image_b.size
            raise UserError(
                f"A and B of pair {pair.stem!r} differ in size: {pair.path_a} is {wa}x{ha}, "
                f"{pair.path_b} is {wb}x{hb} (width x height); they must be equal"
            )
        kind_a = _kind(image_a, pair.path_a, rgb)
        kind_b = _kind(image_b, pair.path_b, rgb)
    if kind_a == kind_b:
        return _KIND_TO_MODE[kind_a]
    if {kind_a, kind_b} == {"RGB", "RGBA"}:
        return "RGBA"
    raise UserError(
        f"A and B of pair {pair.stem!r} have different pixel formats: {pair.path_a} is "
        f"{_KIND_DESCRIPTION[kind_a]}, {pair.path_b} is {_KIND_DESCRIPTION[kind_b]}; grayscale and "
        "16-bit images are kept as they are, so both halves must match (or pass --rgb to convert all to 8-bit RGB)"
    )


def _to_mode(image: Image.Image, mode: str, path: Path) -> Image.Image:
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        image = image.convert("I") if image.mode != "I" else image
        low, high = image.getextrema()
        if mode == "I;16":
            if low < 0 or high > 65535:
                raise UserError(f"{path}: values {low}..{high} do not fit in 16 bits")
            return image.convert("I;16")
        # Reduce 16-bit values to 8 bits by scaling (a plain convert would clip at 255).
        image = image.point(lambda v: v * (1 / 257.0) + 0.5).convert("L")
    if image.mode == "P" and mode == "RGBA":
        image = image.convert("RGBA")
    return image if image.mode == mode else image.convert(mode)


def combine_pair(path_a: Path, path_b: Path, mode: str | None = None, rgb: bool = False) -> Image.Image:
    """Return the side-by-side image ``A | B`` for two files of the same size.

    ``mode`` is the output Pillow mode (as returned by :func:`check_pair`); when omitted the
    pair is checked first.
    """
    path_a, path_b = Path(path_a), Path(path_b)
    if mode is None:
        mode = check_pair(Pair(path_a.stem, path_a, path_b), rgb=rgb)
    with _open(path_a) as raw_a, _open(path_b) as raw_b:
        try:
            raw_a.load()
            raw_b.load()
        except OSError as err:
            raise UserError(f"cannot decode image {path_a} or {path_b}: {err}") from None
        half_a = _to_mode(raw_a, mode, path_a)
        half_b = _to_mode(raw_b, mode, path_b)
    width, height = half_a.size
    combined = Image.new(mode, (2 * width, height))
    combined.paste(half_a, (0, 0))
    combined.paste(half_b, (width, 0))
    return combined


# --------------------------------------------------------------------------- output


def _refuse_sources_as_out(out: Path, sources: tuple[Path, ...]) -> None:
    """An output folder that is, holds or lies inside a source would destroy that source when replaced."""
    out_resolved = out.resolve()
    for source in sources:
        src = Path(source).resolve()
        if src == out_resolved or out_resolved in src.parents or src in out_resolved.parents:
            raise UserError(
                f"--out {out} must be a separate folder, not {source} or a folder inside or around it "
                f"(e.g. {out_resolved.parent / (out_resolved.name + '_AB')})"
            )


def _plan(dir_a: Path, dir_b: Path, splits: list[str] | None) -> dict[str, list[Pair]]:
    chosen = detect_splits(dir_a, dir_b, splits)
    plan: dict[str, list[Pair]] = {}
    only_a: list[str] = []
    only_b: list[str] = []
    for split in chosen or [""]:
        pairs, lone_a, lone_b = match_pairs(dir_a / split, dir_b / split, label=split)
        plan[split] = pairs
        only_a += lone_a
        only_b += lone_b
    if only_a or only_b:
        _raise_unmatched(only_a, only_b, dir_a, dir_b)
    for split, pairs in plan.items():
        if not pairs:
            where = dir_a / split if split else dir_a
            raise UserError(f"no images found in {where}")
    return plan


def combine(
    dir_a: str | Path,
    dir_b: str | Path,
    out: str | Path,
    splits: list[str] | None = None,
    overwrite: bool = False,
    rgb: bool = False,
    verbose: bool = False,
) -> dict[str, int]:
    """Combine DIR_A and DIR_B into ``out``, split by split when DIR_A has split sub-folders.

    Returns the number of pairs written per split (key ``""`` when there are no splits).
    Nothing is written unless every pair passes the checks; the output appears atomically.
    """
    dir_a, dir_b, out = Path(dir_a), Path(dir_b), Path(out)
    plan = _plan(dir_a, dir_b, splits)
    _refuse_sources_as_out(out, (dir_a, dir_b))
    check_replaceable(out, overwrite)
    modes = {pair: check_pair(pair, rgb=rgb) for pairs in plan.values() for pair in pairs}

    with staging_dir(out.parent, prefix=f".{out.name}.", suffix=".partial") as staging:
        counts: dict[str, int] = {}
        for split, pairs in plan.items():
            target = staging / split if split else staging
            target.mkdir(parents=True, exist_ok=True)
            for pair in pairs:
                combined = combine_pair(pair.path_a, pair.path_b, mode=modes[pair])
                combined.save(target / f"{pair.stem}.png", format="PNG")
            counts[split] = len(pairs)
            if verbose and split:
                print(f"{split}: {len(pairs)} pair(s)", file=sys.stderr)
        publish_dir(staging, out)
    return counts


def combine_folders(dir_a: str | Path, dir_b: str | Path, out: str | Path, overwrite: bool = False,
                    rgb: bool = False) -> int:
    """Combine the images directly inside ``dir_a`` and ``dir_b`` into ``out``; return the pair count.

    Unlike :func:`combine`, split sub-folders are not looked for: DIR_A must hold the images.
    """
    counts = combine(dir_a, dir_b, out, splits=[], overwrite=overwrite, rgb=rgb)
    return counts[""]


# --------------------------------------------------------------------------- command line


def _parse_splits(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated split names, e.g. train,val,test")
    for name in names:
        if name in (".", "..") or "/" in name or "\\" in name:
            raise argparse.ArgumentTypeError(f"not a split folder name: {name!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="combine_A_and_B.py",
        description="Combine matching images of two folders into side-by-side A|B PNG pairs for pix2pix.",
    )
    parser.add_argument("--a", required=True, metavar="DIR_A",
                        help="folder of A images (left half), or of split sub-folders")
    parser.add_argument("--b", required=True, metavar="DIR_B",
                        help="folder of B images (right half), same layout as DIR_A")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (must not exist or be empty)")
    parser.add_argument(
        "--splits",
        type=_parse_splits,
        default=None,
        metavar="LIST",
        help="comma-separated split sub-folders to combine (default: whichever of train,val,test exist)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--rgb", action="store_true", help="convert every image to 8-bit RGB (lossy for 16-bit input)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    counts = combine(args.a, args.b, args.out, splits=args.splits, overwrite=args.overwrite, rgb=args.rgb, verbose=True)
    total = sum(counts.values())
    detail = ", ".join(f"{split} {n}" for split, n in counts.items() if split)
    print(f"wrote {total} pair(s) to {args.out}" + (f" ({detail})" if detail else ""))


if __name__ == "__main__":
    run_cli(main, "python -m pix2pix_tf.datasets.combine")
