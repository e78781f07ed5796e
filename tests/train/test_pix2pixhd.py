"""pix2pixHD's weight-free parts, off by default: --num-d discriminators on the pair at 1x, 1/2, 1/4 ... scale
with their GAN losses averaged, and --lambda-fm's feature-matching term (L1 between the discriminators' hidden
features on the real and the generated pair, the real side held constant). Checked against hand-built tapes
under both --d-forward choices and both --gan-mode losses."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.core.config import Config, new_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.nets import losses
from pix2pix_tf.nets.networks import build_discriminator, patchgan_discriminator, trainable_parameters, unet_generator
from pix2pix_tf.train.model import Pix2Pix
from pix2pix_tf.train.training import prepare


def pair(batch: int = 2, size: int = 32, seed: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    rng = np.random.default_rng(seed)
    source = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    return tf.constant(source), tf.constant(np.tanh(source[..., ::-1] * 1.5))


def test_two_scales_are_two_patchgans_on_the_pair_and_its_half():
    keras.utils.set_random_seed(0)
    single = patchgan_discriminator(3, 3, ndf=8)
    double = patchgan_discriminator(3, 3, ndf=8, scales=2, features=True)
    assert trainable_parameters(double) == 2 * trainable_parameters(single)
    source, target = pair(size=64)
    outputs = double([source, target])
    assert len(outputs) == 2 and all(len(scale) == 4 + 1 for scale in outputs)  # 4 hidden layers, then logits
    assert outputs[0][-1].shape == single([source, target]).shape == (2, 6, 6, 1)
    assert outputs[1][-1].shape == (2, 2, 2, 1)  # the 70x70 PatchGAN on the 32x32 half
    assert [h.shape[1] for h in outputs[1][:-1]] == [16, 8, 4, 3]
    assert outputs[0][-1].dtype == outputs[1][-1].dtype == tf.float32
    # Each scale has its own weights, drawn independently.
    first, second = double.get_layer("d1_conv").kernel, double.get_layer("scale2_d1_conv").kernel
    assert first.shape == second.shape and not np.allclose(first.numpy(), second.numpy())


def test_the_half_scale_pair_is_averaged_without_counting_padding():
    double = patchgan_discriminator(3, 3, ndf=8, scales=2)
    pooled = keras.Model(double.inputs, double.get_layer("scale2_pool").output)
    ones = tf.ones((1, 7, 10, 3))
    np.testing.assert_allclose(pooled([ones, -ones]).numpy(), np.concatenate([np.ones((1, 4, 5, 3)),
                                                                               -np.ones((1, 4, 5, 3))], -1))


def test_the_paper_discriminator_is_unchanged_by_default():
    config = Config(input_nc=3, output_nc=3, ndf=8)
    model = build_discriminator(config)
    assert tf.is_tensor(model([*pair()])) and "scale2_pool" not in [layer.name for layer in model.layers]
    assert [len(scale) for scale in build_discriminator(Config(**{**config.to_dict(), "num_d": 3}))([*pair(size=96)])] \
        == [1, 1, 1]  # logits only, without --lambda-fm


def test_feature_matching_is_zero_on_the_real_pair_and_moves_only_the_fake_side():
    keras.utils.set_random_seed(0)
    discriminator = patchgan_discriminator(3, 3, ndf=8, n_layers=2, scales=2, features=True)
    source, target = pair()
    real = [scale[:-1] for scale in discriminator([source, target])]
    np.testing.assert_array_equal(losses.feature_matching(real, real).numpy(), [0.0, 0.0])
    fake_image = tf.Variable(target + 0.3)
    real_image = tf.Variable(target)
    with tf.GradientTape(persistent=True) as tape:
        fake = [scale[:-1] for scale in discriminator([source, fake_image])]
        real = [scale[:-1] for scale in discriminator([source, real_image])]
        loss = tf.reduce_mean(losses.feature_matching(real, fake))
    assert float(loss) > 0
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, fake_image)))) > 0
    assert tape.gradient(loss, real_image) is None


def test_feature_matching_weighs_layers_as_pix2pixhd():
    """Each of a discriminator's K hidden layers weighs 4 / K; the discriminators are averaged."""
    real = [[tf.zeros((1, 2, 2, 1))] * 4, [tf.zeros((1, 2, 2, 1))] * 2]
    fake = [[tf.fill((1, 2, 2, 1), 1.0)] * 4, [tf.fill((1, 2, 2, 1), 2.0)] * 2]
    # scale 1: 4 layers x (4/4) x 1 = 4; scale 2: 2 layers x (4/2) x 2 = 8; averaged: 6
    np.testing.assert_allclose(losses.feature_matching(real, fake).numpy(), [6.0])


@pytest.mark.parametrize("d_forward, gan_mode", [("reuse", "vanilla"), ("recompute", "lsgan")])
def test_two_scales_and_feature_matching_take_the_hand_computed_gradients(d_forward, gan_mode):
    """With plain SGD at rate 1 one step moves each weight by minus its gradient. By hand: D's loss is the mean
    of the two scales' halved losses; G's is the mean of their adversarial losses + 100 L1 + 10 x feature
    matching, through D as it was in the D step (reuse) or after its update, on both pairs (recompute)."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    generator = unet_generator(3, 3, depth=5, ngf=8, dropout=0.0)
    discriminator = patchgan_discriminator(3, 3, ndf=8, n_layers=2, scales=2, features=True)
    model = Pix2Pix(generator, discriminator, d_forward=d_forward, gan_mode=gan_mode, lambda_fm=10.0)
    model.compile(keras.optimizers.SGD(1.0), keras.optimizers.SGD(1.0))
    source, target = pair()
    d_vars, g_vars = discriminator.trainable_variables, generator.trainable_variables
    before_d, before_g = [v.numpy() for v in d_vars], [v.numpy() for v in g_vars]

    with tf.GradientTape() as tape:
        fake = generator(source, training=True)
        real_out = discriminator([source, target], training=True)
        fake_out = discriminator([source, tf.stop_gradient(fake)], training=True)
        d_loss = tf.reduce_mean(sum(losses.discriminator_loss(r[-1], f[-1], gan_mode)
                                    for r, f in zip(real_out, fake_out)) / 2)
    d_grads = tape.gradient(d_loss, d_vars)
    if d_forward == "recompute":
        for v, g in zip(d_vars, d_grads):
            v.assign_sub(g)
        real_out = discriminator([source, target], training=True)
    real_features = [[tf.constant(h) for h in scale[:-1]] for scale in real_out]
    with tf.GradientTape() as tape:
        fake = generator(source, training=True)
        g_out = discriminator([source, fake], training=True)
        g_gan = tf.reduce_mean(sum(losses.adversarial_loss(s[-1], True, gan_mode) for s in g_out) / 2)
        g_fm = tf.reduce_mean(losses.feature_matching(real_features, [s[:-1] for s in g_out]))
        g_loss = g_gan + 100.0 * tf.reduce_mean(losses.l1_distance(fake, target)) + 10.0 * g_fm
    g_grads = tape.gradient(g_loss, g_vars)
    for v, value in zip(d_vars, before_d):
        v.assign(value)

    logs = model.train_step((source, target))
    np.testing.assert_allclose(float(logs["d_loss"]), float(d_loss), rtol=1e-5)
    np.testing.assert_allclose([float(logs["g_gan"]), float(logs["g_fm"])], [float(g_gan), float(g_fm)], rtol=1e-5)
    assert float(g_fm) > 0
    for v, start, grad in zip(d_vars, before_d, d_grads):
        np.testing.assert_allclose(start - v.numpy(), grad.numpy(), rtol=1e-3, atol=1e-5)
    moved = 0.0
    for v, start, grad in zip(g_vars, before_g, g_grads):
        np.testing.assert_allclose(start - v.numpy(), grad.numpy(), rtol=1e-3, atol=1e-5)
        moved = max(moved, float(np.abs(start - v.numpy()).max()))
    assert moved > 0


def test_feature_matching_alone_moves_the_generator():
    """With the adversarial and L1 weights at zero, G still learns from the discriminators' features."""
    keras.utils.set_random_seed(0)
    generator = unet_generator(3, 3, depth=5, ngf=8, dropout=0.0)
    model = Pix2Pix(generator, patchgan_discriminator(3, 3, ndf=8, n_layers=2, scales=2, features=True),
                    lambda_gan=0.0, lambda_l1=0.0, lambda_fm=10.0)
    model.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.0))
    before = [v.numpy() for v in generator.trainable_variables]
    model.train_step(pair())
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, generator.trainable_variables))


def test_feature_matching_needs_the_discriminators_features():
    with pytest.raises(ValueError, match="features"):
        Pix2Pix(unet_generator(3, 3, depth=5, ngf=8), patchgan_discriminator(3, 3, ndf=8, scales=2), lambda_fm=10.0)


def test_a_scale_too_small_for_its_patchgan_is_refused_before_the_run_starts(tiny_data):
    flags = {"data": str(tiny_data), "image_size": "32", "precision": "float32", "num_d": 2}
    with pytest.raises(UserError) as refused:
        prepare(new_config(flags))
    assert str(refused.value) == ("--num-d 2: the PatchGAN at 1/2 scale would see 16 pixels on the short side of the "
                                  "32x32 crop, too few for --d-layers 3 (at least 17); use a smaller --num-d or "
                                  "--d-layers, or a larger --image-size")
    assert prepare(new_config({**flags, "d_layers": 2})).config.num_d == 2
