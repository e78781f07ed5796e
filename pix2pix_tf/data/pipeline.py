"""Paired images on disk -> checked file lists -> ``tf.data`` pipelines of (source, target) in [-1, 1].

Two layouts: one file per pair with A on the left and B on the right (``<root>/<split>/*.jpg|png``),
or ``<root>/<split>/A/`` and ``<root>/<split>/B/`` with matching names. Images keep their channel
count (1 or 3) and bit depth (8- or 16-bit PNG).

Training order and jitter are pure functions of (seed, position in the stream): a run resumed at
step N sees exactly the batches an uninterrupted run would have seen from step N on.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from pix2pix_tf.core.config import Config
from pix2pix_tf.core.errors import UserError, printable
from pix2pix_tf.data.geometry import MAX_ENLARGEMENT, resize_labels_tf, resize_tf
from pix2pix_tf.data.images import (
    GRAPH_IMAGE_SUFFIXES,
    ImageError,
    checked_header,
    decode_host,
    decode_tf,
    is_image_name,
    loose_images,
    not_a_file,
    to_network_range,
    undecodable,
)

SUPPORTED_CHANNELS = (1, 3)
MAX_LISTED_PROBLEMS = 20
# A dataset without a val/ split gives one training pair in HOLDOUT_SHARE to validation, at most
# HOLDOUT_MAX (enough for a distribution score with an interval), and none when that would be fewer than
# HOLDOUT_MIN pairs (a smaller set measures nothing; such data validates on test/ as before).
HOLDOUT_SHARE = 8
HOLDOUT_MAX = 500
HOLDOUT_MIN = 8


class EmptySplit(UserError):
    """A split folder (or its A/ and B/) without a single image."""


@dataclass(frozen=True)
class Pair:
    """One training example: a side-by-side file (``b`` is None) or an A file and a B file."""

    a: str
    b: str | None = None

    @property
    def label(self) -> str:
        return self.a if self.b is None else f"{self.a} + {self.b}"


@dataclass(frozen=True)
class PairInfo:
    """What decoding a pair revealed: channels and size of each half."""

    a_channels: int
    b_channels: int
    a_hw: tuple[int, int]
    b_hw: tuple[int, int]


def _image_files(folder: Path) -> list[Path]:
    """Everything named like a JPEG or PNG, files or not: a folder or broken link with such a name is
    listed so that the check reports it."""
    return sorted((p for p in folder.iterdir() if is_image_name(p, GRAPH_IMAGE_SUFFIXES)),
                  key=lambda p: (len(p.stem), p.stem))


def data_folder(root: str | Path) -> Path:
    """``--data`` as a folder, or a ``UserError`` saying what is there instead."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"--data {root}: " + ("a file, not a folder of split folders" if root.exists()
                                              else "no such directory"))
    return root


def list_pairs(root: str | Path, split: str) -> list[Pair]:
    """The pairs of one split, in a stable order; a wrong layout is a ``UserError`` naming the folder."""
    root = data_folder(root)
    folder = root / split
    if not folder.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise UserError(f"{folder}: no '{split}' split folder in --data {root} (found: {', '.join(present) or 'none'})")
    if (folder / "A").is_dir() or (folder / "B").is_dir():
        loose = loose_images(folder)
        if loose:
            raise UserError(f"{folder}: holds both A/ and B/ folders and side-by-side pairs ({', '.join(loose[:5])}"
                            f"{', ...' if len(loose) > 5 else ''}); a split has one layout: move the loose "
                            "images out, or split them into A/ and B/")
        return _folder_pairs(folder)
    files = _image_files(folder)
    if not files:
        raise EmptySplit(f"{folder}: no .jpg or .png images")
    return [Pair(str(p)) for p in files]


def holdout_count(total: int) -> int:
    """How many of ``total`` training pairs a new run holds out for validation when the data has no val/:
    facades' 400 give 50."""
    count = min(total // HOLDOUT_SHARE, HOLDOUT_MAX)
    return count if count >= HOLDOUT_MIN else 0


def split_off(pairs: list[Pair], count: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(kept, held out): the ``count`` pairs whose file names hash lowest under ``seed`` are held out, both
    lists in their listing order. A pure function of the names and the seed (SHA-256, not Python's salted
    ``hash``), so every process on every machine, every run and the judge hold out the same pairs of the
    same data, wherever it lies; a pair added later leaves the others' choice as it was."""
    def rank(pair: Pair) -> bytes:
        return hashlib.sha256(f"{seed}/{Path(pair.a).name}".encode()).digest()

    held = set(sorted(pairs, key=rank)[:count])
    return [p for p in pairs if p not in held], [p for p in pairs if p in held]


def _folder_pairs(folder: Path) -> list[Pair]:
    if not ((folder / "A").is_dir() and (folder / "B").is_dir()):
        raise UserError(f"{folder}: has only one of the A/ and B/ folders; both are needed")
    a_files, b_files = _by_stem(folder / "A"), _by_stem(folder / "B")
    only_a, only_b = sorted(set(a_files) - set(b_files)), sorted(set(b_files) - set(a_files))
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} in A/ without a B/ match ({', '.join(only_a[:5])})")
        if only_b:
            parts.append(f"{len(only_b)} in B/ without an A/ match ({', '.join(only_b[:5])})")
        raise UserError(f"{folder}: A/ and B/ names do not match: {'; '.join(parts)}")
    if not a_files:
        raise EmptySplit(f"{folder}: A/ and B/ hold no .jpg or .png images")
    return [Pair(str(a_files[s]), str(b_files[s])) for s in sorted(a_files, key=lambda s: (len(s), s))]


def _by_stem(folder: Path) -> dict[str, Path]:
    """A/ or B/ by file name without suffix, the key that pairs them; two files with one stem (``1.jpg``
    and ``1.png``) would pair either of them, so that is a ``UserError`` listing them."""
    files: dict[str, list[Path]] = {}
    for path in _image_files(folder):
        files.setdefault(path.stem, []).append(path)
    ambiguous = [" and ".join(p.name for p in paths) for paths in files.values() if len(paths) > 1]
    if ambiguous:
        raise UserError(f"{folder}: {len(ambiguous)} name(s) with more than one file, so which one pairs is "
                        f"ambiguous ({'; '.join(ambiguous[:5])}); keep one file per name")
    return {stem: paths[0] for stem, paths in files.items()}


def inspect_pair(pair: Pair) -> PairInfo:
    """Decode a pair fully (truncated files fail here, not mid-training) and describe it."""
    halves = [_decode_file(path) for path in (pair.a, pair.b) if path is not None]
    if pair.b is None:
        width = halves[0].shape[1]
        if width % 2:
            raise UserError(f"{pair.a}: width {width} is odd; a side-by-side pair needs two equal halves")
        halves = [halves[0][:, : width // 2], halves[0][:, width // 2:]]
    a, b = halves
    return PairInfo(a.shape[-1], b.shape[-1], tuple(a.shape[:2]), tuple(b.shape[:2]))


def _decode_file(path: str) -> np.ndarray:
    """One data file decoded as the pipeline decodes it, or a ``UserError`` saying in words what is wrong."""
    problem = not_a_file(Path(path))
    if problem:
        raise UserError(f"{path}: {problem}")
    try:
        contents = Path(path).read_bytes()
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror or type(err).__name__})") from None
    try:
        header = checked_header(contents)
        return decode_host(contents)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        raise UserError(f"{path}: {undecodable(contents, header)}") from None
    except ImageError as err:
        raise UserError(f"{path}: {err}") from None


@dataclass
class CheckedSplit:
    """One split's pairs after decoding each: the usable ones, a line per unusable one, the first
    usable pair's description, and each usable pair's size (HxW of one side)."""

    what: str
    pairs: list[Pair]
    good: list[Pair]
    problems: list[str]
    reference: PairInfo | None
    sizes: list[tuple[int, int]] = field(default_factory=list)


def inspect_split(pairs: list[Pair], config: Config, *, what: str,
                  reference: PairInfo | None = None) -> CheckedSplit:
    """Decode and check every pair, collecting every problem (``reference``: another split's first
    pair, whose channels these must match)."""
    problems: list[str] = []
    good: list[Pair] = []
    sizes: list[tuple[int, int]] = []
    for pair in pairs:
        try:
            info = inspect_pair(pair)
            _check_pair_info(pair, info, config, reference)
        except UserError as err:
            problems.append(str(err))
            continue
        good.append(pair)
        sizes.append(info.a_hw)
        reference = reference or info
    return CheckedSplit(what, pairs, good, problems, reference, sizes)


def native_size(split: CheckedSplit) -> tuple[int, int]:
    """The data's own size (HxW of one side of a pair), which ``translate --scale training`` scales from: the
    median height and width of the usable pairs, so that a few odd pairs do not set it; a one-line note
    says when the sizes vary."""
    size = (statistics.median_low(h for h, _ in split.sizes), statistics.median_low(w for _, w in split.sizes))
    if len(set(split.sizes)) > 1:
        areas = sorted(split.sizes, key=lambda hw: hw[0] * hw[1])
        print(f"note: the {split.what} images come in {len(set(split.sizes))} sizes, {areas[0][1]}x{areas[0][0]} to "
              f"{areas[-1][1]}x{areas[-1][0]} (WxH); their median, {size[1]}x{size[0]}, is the size "
              "translate --scale training scales from", file=sys.stderr)
    return size


def report_problems(splits: list[CheckedSplit], on_bad: str | None = None) -> None:
    """One report of every split's unusable pairs, then one ``UserError`` unless ``on_bad`` (fit's
    ``--on-bad-image``; None where there is no such choice) is ``skip`` and every split still has a
    usable pair."""
    bad = [split for split in splits if split.problems]
    if not bad:
        return
    for split in bad:
        for line in split.problems[:MAX_LISTED_PROBLEMS]:
            print(f"  bad {split.what} pair: {printable(line)}", file=sys.stderr)
    counts = " and ".join(f"{len(split.problems)} of {len(split.pairs)} {split.what}" for split in bad)
    more = (f" (first {MAX_LISTED_PROBLEMS} per split listed above)"
            if any(len(split.problems) > MAX_LISTED_PROBLEMS for split in bad) else "")
    summary = f"{counts} pairs are unusable{more}"
    empty = [split.what for split in splits if not split.good]
    if on_bad == "skip" and not empty:
        print(f"warning: {summary}; going on without them (--on-bad-image skip)", file=sys.stderr)
        return
    hint = (f"; none is usable in {', '.join(empty)}" if empty
            else "; --on-bad-image skip trains without them" if on_bad else "")
    raise UserError(f"{summary}; first: {bad[0].problems[0]}{hint}")


def check_pairs(pairs: list[Pair], config: Config, *, what: str,
                on_bad: str | None = None) -> tuple[list[Pair], PairInfo]:
    """Check every pair of one split and report every bad one, not only the first.

    Returns the usable pairs (all of them, unless ``on_bad`` is ``skip``) and the first good
    pair's description, from which missing channel counts are filled.
    """
    split = inspect_split(pairs, config, what=what)
    report_problems([split], on_bad)
    return split.good, split.reference


def _check_pair_info(pair: Pair, info: PairInfo, config: Config, reference: PairInfo | None) -> None:
    source_nc, target_nc = _oriented(config, info.a_channels, info.b_channels)
    source, target = _oriented(config, "A", "B")
    for side, channels, flag, want in ((f"input ({source})", source_nc, "--input-nc", config.input_nc),
                                       (f"output ({target})", target_nc, "--output-nc", config.output_nc)):
        if channels not in SUPPORTED_CHANNELS:
            raise UserError(f"{pair.label}: the {side} image has {channels} channels; "
                            "only 1 (grey) or 3 (RGB) are supported")
        if want is not None and channels != want:
            raise UserError(f"{pair.label}: the {side} image has {channels} channels but {flag} is {want}")
    if reference is not None and (info.a_channels, info.b_channels) != (reference.a_channels, reference.b_channels):
        raise UserError(f"{pair.label}: channels {info.a_channels}/{info.b_channels} (A/B) differ from the "
                        f"dataset's {reference.a_channels}/{reference.b_channels}")
    crop_h, crop_w = config.crop_hw
    if pair.b is None and info.a_hw[1] * crop_h != info.a_hw[0] * crop_w:
        height, width = info.a_hw[0], 2 * info.a_hw[1]
        raise UserError(f"{pair.a}: a {width}x{height} (WxH) side-by-side pair should be {2 * crop_w}:{crop_h} "
                        f"wide:high (two {crop_h}x{crop_w} halves); check the layout or --image-size")
    if pair.b is not None and info.a_hw != info.b_hw:
        raise UserError(f"{pair.label}: A is {info.a_hw[1]}x{info.a_hw[0]} "
                        f"but B is {info.b_hw[1]}x{info.b_hw[0]} (WxH)")
    height, width = info.a_hw
    enlarged = max(crop_h / height, crop_w / width)
    if config.preprocess == "resize_and_crop" and enlarged > MAX_ENLARGEMENT:
        raise UserError(f"{pair.label}: {width}x{height} (WxH) is far smaller than the {crop_w}x{crop_h} crop "
                        f"(--image-size {config.image_size}): enlarged over {MAX_ENLARGEMENT}x it holds next to "
                        "nothing to learn from; use larger images or a smaller --image-size")
    if config.preprocess == "crop" and (height < crop_h or width < crop_w):
        raise UserError(f"{pair.label}: {width}x{height} (WxH) is smaller than the {crop_w}x{crop_h} crop "
                        f"(--image-size {config.image_size}); use --preprocess resize_and_crop")
    if config.preprocess == "none" and (height, width) != (crop_h, crop_w):
        raise UserError(f"{pair.label}: {width}x{height} (WxH) is not the training size {crop_w}x{crop_h} that "
                        f"--preprocess none needs; use --preprocess resize_and_crop or --image-size")


def _oriented(config: Config, a, b):
    """(source, target) of anything that comes as (A, B)."""
    return (a, b) if config.direction == "AtoB" else (b, a)


def channel_counts(config: Config, info: PairInfo) -> tuple[int, int]:
    return _oriented(config, info.a_channels, info.b_channels)


def _load_pair(a_path, b_path, side_by_side: bool, a_nc: int, b_nc: int):
    if side_by_side:
        image = decode_tf(tf.io.read_file(a_path), a_nc)
        half = tf.shape(image)[1] // 2
        return image[:, :half], image[:, half: 2 * half]
    return decode_tf(tf.io.read_file(a_path), a_nc), decode_tf(tf.io.read_file(b_path), b_nc)


def _pair_tensors(pairs: list[Pair]) -> tuple[tf.Tensor, tf.Tensor, bool]:
    side_by_side = pairs[0].b is None
    a = tf.constant([p.a for p in pairs])
    b = tf.constant([p.a if side_by_side else p.b for p in pairs])
    return a, b, side_by_side


def labels_side(config: Config) -> str | None:
    """Which side of a pair is a colour-coded label map, resized nearest-neighbour only (any other
    resize invents in-between colours at every edge, classes present on neither side): a judge's
    target. A pix2pix run does not know whether its input is a label map, and resizes both sides as
    the paper does."""
    return _oriented(config, "A", "B")[1] if config.task == "judge" else None


def _resizer(config: Config, side: str):
    return resize_labels_tf if labels_side(config) == side else resize_tf


def _jitter(a: tf.Tensor, b: tf.Tensor, config: Config, seed: tf.Tensor):
    """The paper's jitter, applied to A and B stacked on the channel axis so both get one window."""
    if config.preprocess == "resize_and_crop":
        a, b = _resizer(config, "A")(a, config.load_hw), _resizer(config, "B")(b, config.load_hw)
    stacked = tf.concat([a, b], axis=-1)
    a_nc = tf.shape(a)[-1]
    if config.preprocess != "none":
        crop_h, crop_w = config.crop_hw
        size = tf.stack([crop_h, crop_w, tf.shape(stacked)[-1]])
        stacked = tf.image.stateless_random_crop(stacked, size, seed=seed)
    if config.flip:
        stacked = tf.image.stateless_random_flip_left_right(stacked, seed=seed[::-1])
    a, b = stacked[..., :a_nc], stacked[..., a_nc:]
    if config.task == "judge":  # the judge's own augmentation of its input photos
        from pix2pix_tf.data.augment import augment_photo

        if config.direction == "AtoB":
            a = augment_photo(a, seed)
        else:
            b = augment_photo(b, seed)
    return a, b


def _fit_to_size(image: tf.Tensor, config: Config, side: str) -> tf.Tensor:
    """The deterministic counterpart of the jitter, for validation and samples."""
    crop_h, crop_w = config.crop_hw
    if config.preprocess == "resize_and_crop":
        return _resizer(config, side)(image, (crop_h, crop_w))
    if config.preprocess == "crop":
        return tf.image.resize_with_crop_or_pad(image, crop_h, crop_w)
    return image


def _finish(a, b, config: Config):
    crop_h, crop_w = config.crop_hw
    a = tf.ensure_shape(to_network_range(a), [crop_h, crop_w, None])
    b = tf.ensure_shape(to_network_range(b), [crop_h, crop_w, None])
    source, target = _oriented(config, a, b)
    return (tf.ensure_shape(source, [crop_h, crop_w, config.input_nc]),
            tf.ensure_shape(target, [crop_h, crop_w, config.output_nc]))


def _channels_ab(config: Config) -> tuple[int, int]:
    return _oriented(config, config.input_nc, config.output_nc)


def training_dataset(pairs: list[Pair], config: Config, *, start_step: int = 0) -> tf.data.Dataset:
    """An endless stream of jittered batches, starting at ``start_step`` of the run.

    Epoch ``e`` visits the pairs in the order ``index_shuffle(k, (seed, e))``; the example at stream
    position ``p`` is jittered with seed ``(seed, p)``. Both are stateless, so resuming needs no
    iterator state, only the step.
    """
    a_paths, b_paths, side_by_side = _pair_tensors(pairs)
    a_nc, b_nc = _channels_ab(config)
    per_epoch = config.steps_per_epoch * config.batch_size
    count = len(pairs)

    def locate(position):
        epoch, offset = position // per_epoch, position % per_epoch
        index = tf.random.experimental.index_shuffle(
            offset, seed=tf.stack([tf.cast(config.seed, tf.int64), epoch]),
            max_index=count - 1)
        return index, position

    def load(index, position):
        a, b = _load_pair(a_paths[index], b_paths[index], side_by_side, a_nc, b_nc)
        seed = tf.stack([tf.cast(config.seed, tf.int64), position])
        a, b = _jitter(a, b, config, seed)
        return _finish(a, b, config)

    dataset = tf.data.Dataset.range(start_step * config.batch_size, sys.maxsize)
    dataset = dataset.map(locate).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(config.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def evaluation_dataset(pairs: list[Pair], config: Config, batch_size: int | None = None) -> tf.data.Dataset:
    """Every pair once, in order, without jitter."""
    a_paths, b_paths, side_by_side = _pair_tensors(pairs)
    a_nc, b_nc = _channels_ab(config)

    def load(a_path, b_path):
        a, b = _load_pair(a_path, b_path, side_by_side, a_nc, b_nc)
        return _finish(_fit_to_size(a, config, "A"), _fit_to_size(b, config, "B"), config)

    dataset = tf.data.Dataset.from_tensor_slices((a_paths, b_paths))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size or config.batch_size).prefetch(tf.data.AUTOTUNE)
