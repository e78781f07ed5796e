import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data import synthetic
from pix2pix_tf.data.palette import FACADES
from pix2pix_tf.data.synthetic import MARKER_NAME, PALETTE, WALL_CLASSES, write_synthetic_facades
from pix2pix_tf.realism.judge import PALETTE_FIT_RGB

SIZE = 32
PARAMS = dict(size=SIZE, n_train=6, n_test=3, seed=5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_synthetic_facades(tmp_path_factory.mktemp("syn") / "ds", **PARAMS)


def halves(path: Path) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.asarray(Image.open(path))
    return pixels[:, :SIZE], pixels[:, SIZE:]


def pixel_map(root: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(root)): np.asarray(Image.open(p)) for p in sorted(root.rglob("*.png"))}


def class_mask(label: np.ndarray, cls: str) -> np.ndarray:
    return (label == PALETTE[cls]).all(axis=-1)


def wall_class(label: np.ndarray) -> str:
    """The one wall material a label map shows."""
    shown = [cls for cls in WALL_CLASSES if class_mask(label, cls).any()]
    assert len(shown) == 1, shown
    return shown[0]


@pytest.fixture(scope="module")
def many_pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    return [synthetic.render_facade_pair(SIZE, np.random.default_rng([3, 0, i])) for i in range(60)]


def test_writes_expected_files_and_sizes(dataset):
    assert [p.name for p in sorted((dataset / "train").iterdir())] == [f"{i:04d}.png" for i in range(1, 7)]
    assert [p.name for p in sorted((dataset / "test").iterdir())] == ["0001.png", "0002.png", "0003.png"]
    for path in dataset.rglob("*.png"):
        with Image.open(path) as im:
            assert im.mode == "RGB"
            assert im.size == (2 * SIZE, SIZE)


def test_marker_records_parameters(dataset):
    marker = json.loads((dataset / MARKER_NAME).read_text())
    assert {k: marker[k] for k in PARAMS} == PARAMS


def test_generation_is_deterministic(dataset, tmp_path):
    again = write_synthetic_facades(tmp_path / "again", **PARAMS)
    first, second = pixel_map(dataset), pixel_map(again)
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_images_differ_between_indices_and_splits(dataset):
    images = list(pixel_map(dataset).values())
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j])


def test_wall_classes_take_turns_so_the_first_test_images_show_different_walls(dataset):
    walls = [wall_class(halves(path)[0]) for path in sorted((dataset / "test").glob("*.png"))]
    assert walls == list(WALL_CLASSES[:len(walls)])


def test_label_half_uses_only_palette_colours(dataset):
    palette = np.array(list(PALETTE.values()))
    for path in dataset.rglob("*.png"):
        label, _ = halves(path)
        colours = np.unique(label.reshape(-1, 3), axis=0)
        assert all((palette == c).all(axis=1).any() for c in colours), path
        for cls in ("sky", wall_class(label), "window", "door"):
            assert class_mask(label, cls).any(), (path, cls)


def test_wall_colour_follows_the_wall_class_of_the_label_map(many_pairs):
    """What lets a two-minute run paint the right colours: the label map's wall class fixes the photo's wall
    colour (a colour the input does not predict is learnt as the beige average of all of them)."""
    medians: dict[str, list[np.ndarray]] = {cls: [] for cls in WALL_CLASSES}
    for label, photo in many_pairs:
        cls = wall_class(label)
        wall = photo[class_mask(label, cls)].astype(float)
        assert wall.std(axis=0).mean() > 4.0, cls  # still textured and shaded, not a flat lookup
        medians[cls].append(np.median(wall, axis=0))
    assert all(len(m) >= 3 for m in medians.values()), {k: len(m) for k, m in medians.items()}
    centres = {cls: np.mean(m, axis=0) for cls, m in medians.items()}
    for cls, values in medians.items():
        spread = np.abs(np.array(values) - centres[cls]).max()
        nearest = {min(centres, key=lambda c: np.abs(v - centres[c]).sum()) for v in values}
        assert spread < 20.0 and nearest == {cls}, (cls, spread, nearest)
    gaps = [np.abs(centres[a] - centres[b]).sum() for i, a in enumerate(WALL_CLASSES) for b in WALL_CLASSES[i + 1:]]
    assert min(gaps) > 40.0, "wall materials a viewer can tell apart"


def test_stone_base_colour_follows_the_label_map_too(many_pairs):
    """A stone ground floor is a class of its own, in a stone colour set by the wall class above it."""
    medians: dict[str, list[np.ndarray]] = {cls: [] for cls in WALL_CLASSES}
    for label, photo in many_pairs:
        if class_mask(label, "stone base").any():
            medians[wall_class(label)].append(photo[class_mask(label, "stone base")].astype(float).mean(axis=0))
    assert 0 < sum(map(len, medians.values())) < len(many_pairs)
    for cls, values in medians.items():
        if values:
            assert np.abs(np.array(values) - np.mean(values, axis=0)).max() < 20.0, cls


def test_label_maps_are_not_mistaken_for_the_facades_palette(many_pairs):
    """The browser demo offers the built-in facades palette only for label maps it fits."""
    for label, _ in many_pairs[:10]:
        assert np.median(FACADES.colors_distance(label.astype(np.float32))) > PALETTE_FIT_RGB


def test_second_call_with_same_parameters_does_not_rewrite(dataset):
    before = {p: p.stat().st_mtime_ns for p in dataset.rglob("*")}
    assert write_synthetic_facades(dataset, **PARAMS) == dataset
    assert {p: p.stat().st_mtime_ns for p in dataset.rglob("*")} == before


def test_a_dataset_in_place_is_never_rewritten(tmp_path):
    """A fit reads the files by path while it trains: another command must not replace them under it."""
    root = write_synthetic_facades(tmp_path / "ds", **PARAMS)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    with pytest.raises(UserError, match="other settings .*never rewritten"):
        write_synthetic_facades(root, **{**PARAMS, "n_train": 2, "seed": 6})
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no staging or old copies left


def test_each_size_of_the_builtin_data_has_a_folder_of_its_own(tmp_path, monkeypatch):
    """Every command on a built-in run rebuilt the one cached dataset at its own size, so a 64 px fit went
    on training on 32 px images once another built-in command ran at 32 px."""
    from pix2pix_tf.core.config import new_config
    from pix2pix_tf.train.rundir import data_root

    monkeypatch.setenv("PIX2PIX_TF_CACHE", str(tmp_path))
    at_64 = data_root(new_config({}))  # what a run made before each size had its folder stores: "builtin"
    files = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in at_64.rglob("*")}
    at_32 = data_root(new_config({"image_size": "32"}))
    assert at_32 != at_64 and {at_32.parent, at_64.parent} == {tmp_path}
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in at_64.rglob("*")} == files
    for root, size in ((at_64, 64), (at_32, 32)):
        with Image.open(root / "train" / "0001.png") as image:
            assert image.size == (2 * size, size)
    assert data_root(new_config({})) == at_64
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in at_64.rglob("*")} == files


def test_test_split_does_not_depend_on_train_count(dataset, tmp_path):
    other = write_synthetic_facades(tmp_path / "ds", **{**PARAMS, "n_train": 1})
    for name in ("0001.png", "0003.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(other / "test" / name)),
                                      np.asarray(Image.open(dataset / "test" / name)))


def test_interrupted_generation_leaves_previous_dataset_intact(tmp_path, monkeypatch):
    root = write_synthetic_facades(tmp_path / "ds", **PARAMS)
    before = pixel_map(root)
    real_render = synthetic.render_facade_pair
    calls = []

    def failing_render(size, rng, wall=None):
        calls.append(1)
        if len(calls) % 3 == 0:
            raise KeyboardInterrupt
        return real_render(size, rng, wall)

    monkeypatch.setattr(synthetic, "render_facade_pair", failing_render)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_facades(tmp_path / "fresh", **PARAMS)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_facades(tmp_path / "other", **{**PARAMS, "seed": 9})
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]
    after = pixel_map(root)
    assert after.keys() == before.keys()
    assert all(np.array_equal(after[k], before[k]) for k in before)


def test_refuses_to_replace_a_foreign_directory(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="refusing"):
        write_synthetic_facades(root, **PARAMS)
    assert (root / "notes.txt").read_text() == "keep me"


def test_fills_an_existing_empty_directory(tmp_path):
    (tmp_path / "ds").mkdir()
    root = write_synthetic_facades(tmp_path / "ds", **{**PARAMS, "n_train": 1, "n_test": 0})
    assert [p.name for p in (root / "train").iterdir()] == ["0001.png"]
    assert list((root / "test").iterdir()) == []


@pytest.mark.parametrize("bad", [dict(size=16), dict(n_train=0), dict(n_test=-1), dict(seed=-1),
                                 dict(size=64.0), dict(n_train=True)])
def test_rejects_unusable_parameters(tmp_path, bad):
    with pytest.raises(UserError):
        write_synthetic_facades(tmp_path / "ds", **{**PARAMS, **bad})
    assert not (tmp_path / "ds").exists()


def test_cache_root_follows_overrides_and_names_size_and_version(monkeypatch, tmp_path):
    monkeypatch.setenv("PIX2PIX_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert synthetic.builtin_root(64) == tmp_path / "cache" / f"synthetic_facades_v{synthetic.GENERATOR_VERSION}-64px"
    monkeypatch.delenv("PIX2PIX_TF_CACHE")
    assert synthetic.cache_root() == tmp_path / "xdg" / "pix2pix_tf"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert synthetic.cache_root() == tmp_path / "home" / ".cache" / "pix2pix_tf"
