"""Options that change the images against the paper's recipe: resize-convolution upsampling (the default),
sub-pixel upsampling and the discriminator's learning rate (the paper's by default). Each does what it says."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.core.config import Config
from pix2pix_tf.nets import losses
from pix2pix_tf.nets.networks import (
    build_generator,
    patchgan_discriminator,
    subpixel_upsampling,
    trainable_parameters,
    unet_generator,
)
from pix2pix_tf.train.model import Pix2Pix
from pix2pix_tf.train.optim import make_optimizer


def test_resize_upsampling_replaces_every_transposed_convolution():
    paper = unet_generator(3, 3, depth=5, ngf=8)
    resized = unet_generator(3, 3, depth=5, ngf=8, upsample="resize")
    kinds = {type(layer).__name__ for layer in resized.layers}
    assert "Conv2DTranspose" not in kinds and "UpSampling2D" in kinds
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in paper.layers)
    # Each 4x4 transposed kernel becomes a 3x3 kernel over the same channels: 9/16 of the decoder weights.
    decoder = lambda model: sum(int(np.prod(layer.kernel.shape)) for layer in model.layers  # noqa: E731
                                if layer.name.startswith(("up", "out")) and hasattr(layer, "kernel"))
    assert decoder(resized) * 16 == decoder(paper) * 9
    image = tf.random.uniform((2, 64, 96, 3), -1, 1)
    assert resized(image).shape == (2, 64, 96, 3)


def test_resize_upsampling_is_the_default_and_the_paper_is_one_flag_away():
    config = Config(image_size="32", ngf=8, input_nc=3, output_nc=3, depth=5)
    paper = Config(**{**config.to_dict(), "upsample": "transpose"})
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in build_generator(config).layers)
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in build_generator(paper).layers)
    assert trainable_parameters(build_generator(config)) < trainable_parameters(build_generator(paper))


@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_discriminator_learning_rate_ratio(ratio):
    config = Config(d_lr_ratio=ratio, lr=2e-4, steps=100)
    config = Config(**{**config.to_dict(), "constant_steps": 50, "decay_steps": 50})
    step = tf.Variable(0, dtype=tf.int64)
    g = make_optimizer(config, "float32", "g_adam", step)
    d = make_optimizer(config, "float32", "d_adam", step)
    assert float(g.learning_rate) == pytest.approx(2e-4)
    assert float(d.learning_rate) == pytest.approx(2e-4 * ratio)


def test_a_subpixel_block_starts_with_four_equal_sub_pixels():
    """ICNR: at initialisation each 2x2 block of the output repeats one value, for any input, so a sub-pixel
    generator starts as free of checkerboard as a resize one; the kernels are random across channels."""
    keras.utils.set_random_seed(0)
    image = keras.Input((None, None, 5))
    block = keras.Model(image, subpixel_upsampling(image, 3, init=keras.initializers.RandomNormal(0.0, 0.02)))
    x = tf.random.normal((2, 6, 10, 5))
    out = block(x).numpy()
    assert out.shape == (2, 12, 20, 3)
    for dy, dx in ((0, 1), (1, 0), (1, 1)):
        np.testing.assert_array_equal(out[:, dy::2, dx::2], out[:, 0::2, 0::2])
    assert np.abs(out).max() > 0 and not np.allclose(out[..., 0], out[..., 1])
    kernel = block.get_layer("up_conv").kernel.numpy()
    assert kernel.shape == (3, 3, 5, 12) and np.unique(kernel).size == 3 * 3 * 5 * 3


def test_a_subpixel_generator_passes_the_bottleneck_on_from_the_start():
    """The innermost block upsamples the one-pixel bottleneck: equal sub-pixels there would make each channel
    constant, and per-image normalisation would erase it. That block starts with independent sub-pixels; the
    next ones start equal."""
    keras.utils.set_random_seed(0)
    generator = unet_generator(3, 3, depth=5, ngf=8, upsample="subpixel")
    names = ("up1_norm", "up2_shuffle")
    probe = keras.Model(generator.input, [generator.get_layer(name).output for name in names])
    for training in (True, False):
        innermost, second = (out.numpy() for out in probe(tf.random.uniform((1, 32, 32, 3), -1, 1),
                                                          training=training))
        assert innermost.shape[1:3] == (2, 2) and innermost.std(axis=(1, 2)).min() > 0.5
        np.testing.assert_array_equal(second[:, 1::2, 1::2], second[:, 0::2, 0::2])


def test_subpixel_costs_the_resize_convolutions_flops_with_four_times_its_weights():
    """A 3x3 kernel at the low resolution to 4x the channels: four times the resize-convolution's weights,
    each applied at a quarter of the positions (resize's 3x3 kernel runs after the upsampling), so the
    same multiply-adds; 36/16 of the transposed convolution's 4x4 weights."""
    nets = {how: unet_generator(3, 3, depth=5, ngf=8, upsample=how) for how in ("transpose", "resize", "subpixel")}

    def decoder(model) -> list:
        return [layer for layer in model.layers if layer.name.startswith(("up", "out")) and hasattr(layer, "kernel")]

    def weights(model) -> int:
        return sum(int(np.prod(layer.kernel.shape)) for layer in decoder(model))

    def multiply_adds(model) -> int:
        layers = decoder(model)
        outputs = keras.Model(model.input, [layer.output for layer in layers])(tf.zeros((1, 32, 32, 3)))
        return sum(int(np.prod(out.shape[1:3])) * int(np.prod(layer.kernel.shape))
                   for layer, out in zip(layers, outputs))

    assert weights(nets["subpixel"]) == 4 * weights(nets["resize"])
    assert weights(nets["subpixel"]) * 16 == weights(nets["transpose"]) * 36
    assert multiply_adds(nets["subpixel"]) == multiply_adds(nets["resize"])
    kinds = {type(layer).__name__ for layer in nets["subpixel"].layers}
    assert "DepthToSpace" in kinds and not {"Conv2DTranspose", "UpSampling2D"} & kinds
    assert nets["subpixel"](tf.random.uniform((2, 64, 96, 3), -1, 1)).shape == (2, 64, 96, 3)


def test_a_subpixel_generator_learns():
    keras.utils.set_random_seed(0)
    config = Config(lr=1e-3, constant_steps=100, decay_steps=100)
    model = Pix2Pix(unet_generator(3, 3, depth=5, ngf=8, upsample="subpixel"), patchgan_discriminator(3, 3, ndf=8))
    model.compile(make_optimizer(config, "float32", "g", model.train_steps),
                  make_optimizer(config, "float32", "d", model.train_steps))
    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    target = np.tanh(source[..., ::-1] * 1.5).astype("float32")

    def l1() -> float:
        return float(np.mean(losses.l1_distance(model.generator(source, training=False), target)))

    before = l1()
    step = tf.function(model.train_step)
    for _ in range(30):
        step((tf.constant(source), tf.constant(target)))
    assert l1() < 0.8 * before
