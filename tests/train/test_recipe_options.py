"""Options that change the images against the paper's recipe: resize-convolution upsampling (the default)
and the discriminator's learning rate (the paper's by default). Each does what it says."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.core.config import Config
from pix2pix_tf.nets.networks import build_generator, trainable_parameters, unet_generator
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
