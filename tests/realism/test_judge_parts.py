"""The realism judge's parts on constructed inputs: label maps stay label maps through the jitter, the
judge's inference reads population statistics and nothing else of the batch, and the Fréchet distance
against hand computations."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.core.config import Config
from pix2pix_tf.data import pipeline as data_lib
from pix2pix_tf.data.palette import FACADES
from pix2pix_tf.realism.degrade import gaussian_blur
from pix2pix_tf.realism.frechet import FeatureStats, frechet_distance, stats_distance
from pix2pix_tf.realism.network import segmentation_network


def label_map(size: int = 32, seed: int = 0) -> np.ndarray:
    """A [0, 1] colour label map of 4x4-pixel cells in the facades colours."""
    rng = np.random.default_rng(seed)
    classes = np.kron(rng.integers(0, FACADES.num_classes, (size // 4, size // 4)), np.ones((4, 4), int))
    return FACADES.colorize(classes).astype(np.float32) / 255.0


def colours(image) -> set[tuple]:
    return {tuple(c) for c in np.round(np.asarray(image) * 255).astype(int).reshape(-1, 3)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_maps_are_resized_nearest_neighbour_through_the_jitter(seed):
    photo, labels = tf.constant(np.random.default_rng(seed).uniform(size=(32, 32, 3)), tf.float32), label_map(seed=seed)
    judge = Config(task="judge", direction="AtoB", image_size="32")  # 32 -> 36 -> random 32x32 crop
    _, jittered = data_lib._jitter(photo, tf.constant(labels), judge, tf.constant([seed, 7], tf.int64))
    assert colours(jittered) <= colours(labels)  # no class appears that neither neighbour had
    fitted = data_lib._fit_to_size(tf.constant(label_map(size=48, seed=seed)), Config(task="judge", image_size="32"),
                                   "B")
    assert colours(fitted) <= colours(label_map(size=48, seed=seed))
    # A pix2pix run resizes both sides as the paper does, bicubic: in-between colours appear.
    pix2pix = Config(direction="AtoB", image_size="32")
    _, bicubic = data_lib._jitter(photo, tf.constant(labels), pix2pix, tf.constant([seed, 7], tf.int64))
    assert not colours(bicubic) <= colours(labels)


def test_the_judge_photo_side_is_augmented_and_the_label_side_is_not():
    photo, labels = tf.constant(np.full((32, 32, 3), 0.5, np.float32)), tf.constant(label_map())
    config = Config(task="judge", direction="AtoB", image_size="32", preprocess="none", flip=False)
    a, b = data_lib._jitter(photo, labels, config, tf.constant([3, 4], tf.int64))
    np.testing.assert_array_equal(b.numpy(), labels.numpy())
    assert float(tf.reduce_max(tf.abs(a - photo))) > 0.01


@pytest.fixture(scope="module")
def network() -> keras.Model:
    keras.utils.set_random_seed(0)
    net = segmentation_network(3, 5, width=4)
    for layer in net.layers:  # population statistics unlike any one batch's
        if isinstance(layer, keras.layers.BatchNormalization):
            rng = np.random.default_rng(len(layer.name))
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    return net


def test_judge_inference_does_not_depend_on_the_rest_of_the_batch(network):
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    alone = network(image, training=False)[0].numpy()
    for others in (rng.uniform(-1, 1, (3, 32, 32, 3)), np.zeros((3, 32, 32, 3)), 0.1 * rng.normal(size=(5, 32, 32, 3))):
        batch = np.concatenate([image, others.astype(np.float32)])
        np.testing.assert_allclose(network(batch, training=False)[0].numpy()[:1], alone, atol=1e-5)
    # Contrast is not normalised away: a faded copy of the image gives other logits.
    faded = network(0.3 * image, training=False)[0].numpy()
    assert np.abs(faded - alone).max() > 1e-3


def test_judge_inference_uses_the_population_statistics(network):
    image = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    conv = network.get_layer("down1_conv1")
    norm = network.get_layer("down1_bn1")
    before = keras.Model(network.input, conv.output)(image).numpy()
    after = keras.Model(network.input, norm.output)(image, training=False).numpy()
    expected = (before - norm.moving_mean.numpy()) / np.sqrt(norm.moving_variance.numpy() + norm.epsilon)
    expected = expected * norm.gamma.numpy() + norm.beta.numpy()
    np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-4)


def test_frechet_distance_against_hand_computations():
    rng = np.random.default_rng(0)
    # Identical sets: 0.
    features = rng.normal(size=(50, 3, 4))
    a, b = FeatureStats.empty(4), FeatureStats.empty(4)
    a.add(features)
    b.add(features[::-1])
    assert stats_distance(a, b) == pytest.approx(0.0, abs=1e-8)
    # One dimension: (m1 - m2)^2 + (s1 - s2)^2 with the unbiased standard deviations.
    x, y = rng.normal(1.0, 2.0, 200), rng.normal(-0.5, 0.7, 300)
    one_x, one_y = FeatureStats.empty(1), FeatureStats.empty(1)
    one_x.add(x[:, None])
    one_y.add(y[:, None])
    hand = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert stats_distance(one_x, one_y) == pytest.approx(hand, rel=1e-9)
    # Two dimensions, covariances that do not commute: for a 2x2 matrix M with real non-negative
    # eigenvalues, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
    s1, s2 = np.array([[2.0, 0.6], [0.6, 1.0]]), np.array([[0.5, -0.2], [-0.2, 1.5]])
    m1, m2 = np.array([0.3, -1.0]), np.array([1.0, 0.5])
    product = s1 @ s2
    trace_sqrt = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
    hand = np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(hand, rel=1e-9)


def test_feature_stats_stream_and_save(tmp_path):
    rng = np.random.default_rng(2)
    parts = [rng.normal(size=(7, 2, 2, 3)) for _ in range(3)]
    stats = FeatureStats.empty(3)
    for part in parts:
        stats.add(part)
    flat = np.concatenate(parts).reshape(-1, 3)
    np.testing.assert_allclose(stats.mean, flat.mean(0))
    np.testing.assert_allclose(stats.covariance, np.cov(flat, rowvar=False))
    stats.save(tmp_path / "s.npz", step=5)
    loaded, extra = FeatureStats.load(tmp_path / "s.npz")
    assert int(extra["step"]) == 5 and stats_distance(stats, loaded) == pytest.approx(0.0, abs=1e-9)


def test_two_evaluations_saving_the_reference_at_once_leave_one_whole_file(tmp_path, monkeypatch):
    """``judge_reference.npz`` went through one fixed temporary name, so a second evaluation writing it
    meanwhile took the first one's temporary away."""
    path = tmp_path / "judge_reference.npz"
    first, second = FeatureStats.empty(2), FeatureStats.empty(2)
    first.add(np.ones((1, 2)))
    real_savez = np.savez
    writers = []

    def savez_while_another_writes(file, **arrays):
        real_savez(file, **arrays)
        if not writers:
            writers.append(file)
            second.save(path, step=2)

    monkeypatch.setattr(np, "savez", savez_while_another_writes)
    first.save(path, step=1)
    loaded, extra = FeatureStats.load(path)
    assert int(extra["step"]) == 1 and loaded.count == 1
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_gaussian_blur_keeps_the_level_and_spreads_a_point():
    flat = tf.fill([1, 20, 20, 3], 0.4)
    np.testing.assert_allclose(gaussian_blur(flat, 2).numpy(), 0.4, atol=1e-6)  # borders mirrored, not darkened
    point = np.zeros((1, 21, 21, 1), np.float32)
    point[0, 10, 10, 0] = 1.0
    blurred = gaussian_blur(tf.constant(point), 1.5).numpy()[0, :, :, 0]
    assert blurred.sum() == pytest.approx(1.0, abs=1e-5)
    ys, xs = np.mgrid[:21, :21]
    variance = (blurred * ((ys - 10) ** 2)).sum()
    assert variance == pytest.approx(1.5 ** 2, rel=0.02)


def test_the_judge_sees_images_as_its_training_crops_were_made():
    """A facades judge trains on 128 px crops of photos resized bicubic 256 -> 143: it is scored on whole
    images resized the same way to 144 (the nearest size its network takes), not bilinear to 128."""
    from pix2pix_tf.data.geometry import resize_tf
    from pix2pix_tf.realism.judge import Judge

    config = Config(task="judge", direction="BtoA", image_size="128", ngf=4)
    assert config.load_hw == (143, 143)
    judge = Judge(config, FACADES, segmentation_network(3, FACADES.num_classes, width=4), "ckpt-1")
    assert judge.input_hw == (144, 144)
    photo = np.random.default_rng(0).uniform(0, 1, (1, 256, 256, 3)).astype(np.float32)
    np.testing.assert_allclose(judge.prepare(tf.constant(photo * 2 - 1)).numpy(),
                               resize_tf(tf.constant(photo), (144, 144)).numpy() * 2 - 1, atol=1e-5)
    logits, features = judge.run(tf.constant(photo * 2 - 1))
    assert logits.shape[1:3] == (144, 144) and features.shape[1:3] == (9, 9)
