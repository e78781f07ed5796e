"""The networks match the paper's architecture and behave as the paper's inference needs."""

import keras
import numpy as np
import pytest

from pix2pix_tf.networks import patchgan_discriminator, trainable_parameters, unet_generator

PAPER_GENERATOR_PARAMS = 54_414_019  # PyTorch reference unet_256, ngf 64, batch norm
PAPER_DISCRIMINATOR_PARAMS = 2_769_601  # PyTorch reference basic 70x70 PatchGAN, ndf 64


def test_parameter_counts_match_the_reference_at_256():
    generator = unet_generator(3, 3, depth=8, ngf=64)
    discriminator = patchgan_discriminator(3, 3, ndf=64)
    assert abs(trainable_parameters(generator) / PAPER_GENERATOR_PARAMS - 1) < 1e-3
    assert abs(trainable_parameters(discriminator) / PAPER_DISCRIMINATOR_PARAMS - 1) < 1e-3


@pytest.mark.parametrize("n_layers, patches", [(3, 30), (1, 126), (0, 256)])
def test_discriminator_patch_grid(n_layers, patches):
    discriminator = patchgan_discriminator(3, 3, n_layers=n_layers, ndf=8)
    x = np.zeros((1, 256, 256, 3), "float32")
    assert discriminator([x, x]).shape == (1, patches, patches, 1)


def test_innermost_layer_has_no_norm_and_varies_at_batch_one():
    generator = unet_generator(3, 3, depth=8, ngf=8)
    names = [layer.name for layer in generator.layers]
    assert "down8_conv" in names and "down8_norm" not in names and "down7_norm" in names
    bottleneck = keras.Model(generator.input, generator.get_layer("down8_conv").output)
    rng = np.random.default_rng(0)
    outs = [bottleneck(rng.uniform(-1, 1, (1, 256, 256, 3)).astype("float32"), training=True).numpy()
            for _ in range(2)]
    assert outs[0].shape == (1, 1, 1, 64)
    assert np.abs(outs[0]).max() > 1e-4
    assert np.abs(outs[0] - outs[1]).max() > 1e-4


def test_generator_trained_at_256_runs_on_512x768():
    generator = unet_generator(3, 3, depth=8, ngf=4)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 512, 768, 3)).astype("float32")
    y = generator(x, training=False).numpy()
    assert y.shape == (1, 512, 768, 3)
    assert np.all(np.abs(y) <= 1.0)


def test_leaky_slope_and_dropout_follow_the_paper():
    generator = unet_generator(3, 3, depth=8, ngf=4)
    slopes = {layer.negative_slope for layer in generator.layers if isinstance(layer, keras.layers.LeakyReLU)}
    assert slopes == {0.2}
    dropouts = [layer.name for layer in generator.layers if isinstance(layer, keras.layers.Dropout)]
    assert dropouts == ["up1_dropout", "up2_dropout", "up3_dropout"]


def test_inference_uses_each_images_own_statistics_and_updates_nothing():
    generator = unet_generator(3, 3, depth=5, ngf=4)
    before = [w.numpy().copy() for w in generator.weights]
    rng = np.random.default_rng(2)
    batch = rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    together = generator(batch, training=False).numpy()
    alone = np.concatenate([generator(batch[i:i + 1], training=False).numpy() for i in range(4)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    for old, new in zip(before, generator.weights):
        np.testing.assert_array_equal(old, new.numpy())


def test_paper_mode_keeps_dropout_on_at_inference():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    paper = unet_generator(3, 3, depth=5, ngf=8, dropout_at_inference=True)
    deterministic = unet_generator(3, 3, depth=5, ngf=8)
    deterministic.set_weights(paper.get_weights())
    assert np.abs(paper(x, training=False) - paper(x, training=False)).max() > 1e-4
    np.testing.assert_array_equal(deterministic(x, training=False), deterministic(x, training=False))


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_other_norms_build_and_run(norm):
    generator = unet_generator(1, 3, depth=5, ngf=4, norm=norm)
    discriminator = patchgan_discriminator(1, 3, ndf=4, norm=norm)
    x = np.zeros((2, 32, 32, 1), "float32")
    y = generator(x, training=True)
    assert y.shape == (2, 32, 32, 3)
    assert discriminator([x, y.numpy()]).shape == (2, 2, 2, 1)
