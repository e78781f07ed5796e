"""The realism judge: palette mapping through JPEG, the paper's three scores from one confusion
matrix, a judge trained end to end on tiny data, and refusal of a judge that does not fit a run."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import error_line, make_run, run_fit, run_module, write_paired
from PIL import Image

from pix2pix_tf.core.config import Config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.palette import FACADES, Palette, derive_palette, palette_from_arg
from pix2pix_tf.realism.judge import confusion_matrices, load_judge, scores_from_confusion
from pix2pix_tf.realism.ladder import ladder_on

TINY = ["--image-size", "32", "--ngf", "8", "--precision", "float32", "--batch-size", "2", "--steps", "6",
        "--quiet"]


def blocky_label_map(palette: Palette, size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(classes, colour image) of 16x16 blocks, every class present."""
    rng = np.random.default_rng(seed)
    cells = rng.permutation(np.resize(np.arange(palette.num_classes), (size // 16) ** 2)).reshape(size // 16, -1)
    classes = np.kron(cells, np.ones((16, 16), dtype=int))
    return classes, palette.colorize(classes)


def jpeg_round_trip(rgb: np.ndarray, quality: int = 75) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def test_jpeg_smeared_label_colours_go_to_their_class():
    classes, rgb = blocky_label_map(FACADES)
    smeared = jpeg_round_trip(rgb)
    assert np.abs(smeared.astype(int) - rgb).max() > 20  # JPEG really moved colours
    found = FACADES.classify(smeared)
    interior = np.zeros_like(classes, dtype=bool)  # 2 px away from every block edge
    interior.reshape(8, 16, 8, 16)[:, 2:14, :, 2:14] = True
    assert (found[interior] == classes[interior]).all()
    assert (found == classes).mean() > 0.93  # only block edges, where JPEG mixes two colours, may differ
    graph = FACADES.classify_tensor(tf.constant(smeared[None], tf.float32) / 127.5 - 1.0).numpy()[0]
    assert (graph == found).mean() > 0.999  # the graph version agrees (ties aside)


def test_derived_palette_finds_the_label_colours():
    maps = [jpeg_round_trip(blocky_label_map(FACADES, seed=s)[1]) for s in range(3)]
    derived = derive_palette(maps, "test maps")
    assert derived.num_classes == FACADES.num_classes
    for color in FACADES.colors:
        nearest = min(np.linalg.norm(np.subtract(color, c)) for c in derived.colors)
        assert nearest < 8, (color, derived.colors)


def test_palette_files_and_bad_palettes(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"names": ["sky", "ground"], "colors": [[0, 0, 255], [0, 255, 0]]}))
    palette = palette_from_arg(str(path))
    assert palette.names == ("sky", "ground") and palette.colors == ((0, 0, 255), (0, 255, 0))
    assert palette_from_arg("facades") is FACADES
    path.write_text(json.dumps({"names": ["a", "b"], "colors": [[0, 0, 255], [0, 300, 0]]}))
    with pytest.raises(UserError, match="0..255"):
        palette_from_arg(str(path))
    with pytest.raises(UserError, match="neither a built-in palette"):
        palette_from_arg(str(tmp_path / "missing.json"))


def test_scores_from_a_hand_computed_confusion_matrix():
    # rows: true class, columns: predicted. Class 2 never occurs and is never predicted (nan, left
    # out of both means); class 3 never occurs but is predicted once (accuracy nan, IoU 0).
    matrix = np.array([[5, 1, 0, 0],
                       [2, 3, 0, 1],
                       [0, 0, 0, 0],
                       [0, 0, 0, 0]])
    scores = scores_from_confusion(matrix)
    assert scores["pixel_acc"] == pytest.approx(8 / 12)
    assert scores["class_acc"] == pytest.approx((5 / 6 + 3 / 6) / 2)
    iou = [5 / (6 + 7 - 5), 3 / (6 + 4 - 3), float("nan"), 0.0]
    assert scores["class_iou"] == pytest.approx((iou[0] + iou[1] + iou[3]) / 3)
    assert scores["per_class_iou"][:2] == pytest.approx(iou[:2])
    assert math.isnan(scores["per_class_iou"][2]) and scores["per_class_iou"][3] == 0.0


def test_confusion_matrices_count_per_image():
    rng = np.random.default_rng(1)
    true, predicted = rng.integers(0, 5, (3, 7, 9)), rng.integers(0, 5, (3, 7, 9))
    found = confusion_matrices(tf.constant(true), tf.constant(predicted), 5).numpy()
    for i in range(3):
        expected = np.zeros((5, 5), int)
        np.add.at(expected, (true[i].ravel(), predicted[i].ravel()), 1)
        np.testing.assert_array_equal(found[i], expected)


@pytest.fixture(scope="module")
def judge_run(tmp_path_factory) -> tuple[Path, Path]:
    """A judge of the tiny paired data (A: 4-colour label blocks, B: shaded image), trained briefly
    through the command for runs that translate A -> B."""
    root = tmp_path_factory.mktemp("judge")
    data = write_paired(root / "data", split="train", count=8, size=32)
    write_paired(data, split="test", count=4, size=32, start=100)
    judge = root / "judge"
    result = run_module("pix2pix_tf.judge", "--data", str(data), "--direction", "AtoB", "--run-dir", str(judge), *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return data, judge


def test_judge_trains_as_a_run_directory_and_scores_its_ladder(judge_run):
    data, judge = judge_run
    config = json.loads((judge / "config.json").read_text())["config"]
    assert config["task"] == "judge" and config["direction"] == "BtoA"  # it reads B, labels A
    assert len(config["palette"]["colors"]) == 4  # derived from the 4 label colours of the data
    assert (judge / "checkpoints" / "ckpt-6.index").is_file()
    scores = json.loads((judge / "judge_scores.json").read_text())
    assert scores["split"] == "test" and scores["images"] == 4 and scores["step"] == 6
    assert [r["rung"] for r in scores["rungs"]] == ["real", "blur0.5", "blur1", "blur2", "blur4", "blur8", "checker2",
                                                    "mean"]
    for rung in scores["rungs"]:
        for key in ("pixel_acc", "class_acc", "class_iou"):
            assert 0.0 <= rung[key] <= 1.0
        assert rung["distance"] >= 0.0 and rung["kid"]["low"] <= rung["kid"]["kid"] <= rung["kid"]["high"]
        assert set(rung["detail"]["bands"]) == {"2-2.5 px", "2.5-3.3 px", "3.3-5 px", "5-10 px", "10-32 px"}
    rungs = {r["rung"]: r for r in scores["rungs"]}
    assert rungs["real"]["detail"]["gap"] == 0.0 and rungs["real"]["checkerboard"]["gap"] == 0.0
    assert rungs["blur1"]["detail"]["gap"] < rungs["blur0.5"]["detail"]["gap"] < 0.0
    assert rungs["checker2"]["checkerboard"]["gap"] > 0.5
    assert scores["scored_images"] == 2 and len(rungs["real"]["distance_blocks"]) == 2  # 4 images: 2 blocks of 2
    assert len(scores["criteria"]) == 5 and all(isinstance(c["passed"], bool) for c in scores["criteria"])
    assert (judge / "judge_reference.npz").is_file() and (judge / "judge_population.npz").is_file()
    loaded = load_judge(judge)
    assert loaded.step == 6 and loaded.palette.num_classes == 4
    assert ladder_on(loaded, data, "test")["rungs"] == scores["rungs"]  # kept, not scored again
    again = run_module("pix2pix_tf.judge", "--run-dir", str(judge), "--quiet")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "trained steps 6 -> 6" in again.stdout and "real, blurred sigma 2" in again.stdout


def test_a_trained_judge_orders_its_ladder(tmp_path):
    """Real photos above the same blurred, above the more blurred, above the mean photo, on every
    criterion score; and the command says whether the criteria hold."""
    data = write_paired(tmp_path / "data", split="train", count=8, size=32)
    write_paired(data, split="test", count=4, size=32, start=100)
    judge = tmp_path / "judge"
    result = run_module("pix2pix_tf.judge", "--data", str(data), "--direction", "AtoB", "--run-dir", str(judge),
                        *TINY, "--steps", "150", "--lr", "0.003")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((judge / "judge_scores.json").read_text())
    rungs = {r["rung"]: r for r in scores["rungs"]}
    assert rungs["real"]["pixel_acc"] > 0.9, rungs["real"]  # chance is about 0.25 for 4 balanced classes
    for key in ("pixel_acc", "class_iou"):
        assert rungs["real"][key] > rungs["blur4"][key] > rungs["blur8"][key] > rungs["mean"][key], key
    # Sigma 8 flattens a 32 px image further than the mean photo, which keeps the data's shading: the
    # distance orders real < sigma 4 < sigma 8 and real < sigma 4 < mean photo.
    assert rungs["real"]["distance"] < rungs["blur4"]["distance"] < rungs["blur8"]["distance"]
    assert rungs["blur4"]["distance"] < rungs["mean"]["distance"]
    assert "class IoU: real > blur4 > blur8 > mean" in result.stdout


def test_a_judge_that_does_not_fit_is_refused(judge_run, tmp_path):
    data, judge = judge_run
    loaded = load_judge(judge)
    labels = np.stack([np.asarray(Image.open(data / "train" / f"{i}.png"))[:, :32] for i in (1, 2)])
    labels = labels.astype(np.float32) / 127.5 - 1.0
    fits = Config(direction="AtoB", input_nc=3, output_nc=3)
    loaded.check_fits(fits, labels, "run")
    with pytest.raises(UserError, match="--direction AtoB|generates the"):
        loaded.check_fits(Config(direction="BtoA", input_nc=3, output_nc=3), labels, "run")
    with pytest.raises(UserError, match="1-channel"):
        loaded.check_fits(Config(direction="AtoB", input_nc=3, output_nc=1), labels, "run")
    noise = np.random.default_rng(0).uniform(-1, 1, labels.shape).astype(np.float32)
    with pytest.raises(UserError, match="does not describe the label maps"):
        loaded.check_fits(fits, noise, "run")
    result = run_module("pix2pix_tf.judge", "--data", str(data), "--run-dir", str(tmp_path / "j"), *TINY)
    assert result.returncode == 2 and "--direction" in error_line(result)
    make_run(tmp_path / "gan", data, direction="AtoB")
    with pytest.raises(UserError, match="not a judge run directory"):
        load_judge(tmp_path / "gan")


def test_evaluate_with_a_judge_writes_the_realism_columns(judge_run, tmp_path):
    data, judge = judge_run
    run = tmp_path / "run"
    trained = run_fit("--data", str(data), "--run-dir", str(run), "--direction", "AtoB", "--steps", "2",
                      "--image-size", "32", "--ngf", "8", "--ndf", "8", "--precision", "float32", "--quiet")
    assert trained.returncode == 0, trained.stderr[-2000:]
    out = tmp_path / "eval"
    result = run_module("pix2pix_tf.evaluate", "--run-dir", str(run), "--judge", str(judge), "--out", str(out),
                        "--metric", "class_iou")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "class IoU" in result.stdout
    assert "this run" in result.stdout and "mean training photo" in result.stdout and "distance" in result.stdout
    with open(out / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {"pixel_acc", "class_acc", "class_iou"} <= set(rows[0])
    summary = json.loads((out / "summary.json").read_text())
    realism = summary["realism"]
    assert realism["judge_step"] == 6 and len(realism["per_class_iou"]) == 4
    assert 0.0 <= realism["pixel_acc"] <= 1.0
    assert realism["distance"] > 0 and [r["rung"] for r in realism["ladder"]][0] == "real"
    assert realism["kid"]["images"] == 2 and realism["judge_identity"] == load_judge(judge).identity
    assert set(summary["artefacts"]) == {"blotches"} and set(summary["spectrum"]) == {"detail", "checkerboard"}
    assert "detail gap" in result.stdout and "checkerboard prominence gap" in result.stdout and "KID" in result.stdout
    page = (out / "index.html").read_text()
    assert "class IoU" in page and "Realism (FCN-score)" in page and "this run" in page
    assert "KID x1000" in page and "detail gap" in page and "checkerboard" in page
    for metric, higher in (("class_iou", True), ("distance", False)):
        comparison = run_module("pix2pix_tf.evaluate", "--run-dir", str(run), "--judge", str(judge),
                                "--all-checkpoints", "--metric", metric, "--no-page", "--out", str(tmp_path / metric))
        assert comparison.returncode == 0, comparison.stderr[-3000:]
        assert "class IoU" in comparison.stdout and "distance" in comparison.stdout
        assert f"best on {metric}" in comparison.stdout
        listing = json.loads((tmp_path / metric / "test-checkpoints.json").read_text())
        assert listing["higher_is_better"] is higher
        assert listing["checkpoints"][-1]["realism"][metric] == pytest.approx(realism[metric])
    no_judge = run_module("pix2pix_tf.evaluate", "--run-dir", str(run), "--metric", "class_iou")
    assert no_judge.returncode == 2 and "--judge" in error_line(no_judge)
    wrong = run_module("pix2pix_tf.evaluate", "--run-dir", str(run), "--judge", str(run))
    assert wrong.returncode == 2 and "not a judge run directory" in error_line(wrong)


def test_a_run_at_another_pixel_scale_is_refused(judge_run):
    data, judge = judge_run
    loaded = load_judge(judge)
    labels = np.stack([np.asarray(Image.open(data / "train" / f"{i}.png"))[:, :32] for i in (1, 2)])
    labels = labels.astype(np.float32) / 127.5 - 1.0
    same = dict(direction="AtoB", input_nc=3, output_nc=3, data_size="32x32")
    loaded.check_fits(Config(**same, image_size="16"), labels, "run")  # smaller, same field of view: fine
    with pytest.raises(UserError, match="at the run's scale"):  # centre crops: half the scene
        loaded.check_fits(Config(**same, image_size="16", preprocess="crop"), labels, "run")
    with pytest.raises(UserError, match="trained on"):  # crops of a 2x enlargement
        loaded.check_fits(Config(**same, image_size="32", load_size="64"), labels, "run")


def test_evaluate_judges_against_label_maps_as_they_are_on_disk(judge_run, tmp_path, monkeypatch):
    """A run at half the data's size: its generator reads bicubic-resized label maps, as it trained, but the
    judge scores against the label maps at their own 32 px with their own colours only, and the ladder
    beside the run's scores is computed on the split the run is scored on."""
    from pix2pix_tf.evaluate import evaluate_run
    from pix2pix_tf.realism.judge import LADDERS_FILE, RealismTally

    data, judge = judge_run
    run = tmp_path / "run"
    trained = run_fit("--data", str(data), "--run-dir", str(run), "--direction", "AtoB", "--steps", "1",
                      "--image-size", "16", "--ngf", "8", "--ndf", "8", "--d-layers", "1", "--precision", "float32",
                       "--quiet")
    assert trained.returncode == 0, trained.stderr[-2000:]
    seen = []
    add = RealismTally.add
    monkeypatch.setattr(RealismTally, "add", lambda self, outputs, label_maps: seen.append(label_maps.numpy())
                        or add(self, outputs, label_maps))
    summary = evaluate_run(run, judge=judge, split="train", out_dir=tmp_path / "eval", page=False)
    maps = seen[0]  # evaluate's batch of all 8 images (the ladder's batches follow)
    assert maps.shape == (8, 32, 32, 3)
    on_disk = {tuple(c) for i in range(1, 9)
               for c in np.asarray(Image.open(data / "train" / f"{i}.png"))[:, :32].reshape(-1, 3)}
    found = {tuple(c) for c in np.round((maps + 1.0) * 127.5).astype(int).reshape(-1, 3)}
    assert found <= on_disk
    assert summary.split == "train" and summary.realism["ladder"][0]["rung"] == "real"
    assert any(key.endswith(":train") for key in json.loads((judge / LADDERS_FILE).read_text())["ladders"])


def test_the_judge_uses_its_training_photos_population_statistics(judge_run):
    """Batch norm at inference uses the average of the batch statistics over all training photos as the
    judge sees them, not the momentum-0.9 moving average of its last training batches."""
    import keras

    data, judge = judge_run
    loaded = load_judge(judge)
    conv = loaded.network.get_layer("down1_conv1")
    norm = loaded.network.get_layer("down1_bn1")
    outputs = [keras.Model(loaded.network.input, conv.output)(loaded.prepare(images)).numpy()
               for images, _ in loaded.batches(loaded.pairs("train"), loaded.config.batch_size)]
    assert len(outputs) == 4 and all(len(o) == 2 for o in outputs)  # 8 photos in equal batches of 2
    np.testing.assert_allclose(norm.moving_mean.numpy(), np.mean([o.mean(axis=(0, 1, 2)) for o in outputs], axis=0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(norm.moving_variance.numpy(),
                               np.mean([o.var(axis=(0, 1, 2)) for o in outputs], axis=0), rtol=1e-3, atol=1e-5)


def test_stored_judge_results_are_keyed_on_the_checkpoint_and_the_measures(judge_run, monkeypatch):
    import pix2pix_tf.realism.judge as realism

    data, judge = judge_run
    identity = load_judge(judge).identity
    assert load_judge(judge).identity == identity  # a pure function of what is on disk
    monkeypatch.setattr(realism, "MEASURES_VERSION", realism.MEASURES_VERSION + 1)
    changed = load_judge(judge)
    assert changed.identity != identity
    assert ladder_on(changed, data, "test")["identity"] == changed.identity  # scored again, not read back
