"""The training step: the objective learns, precision modes stay finite, the schedule is the paper's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.core.config import Config
from pix2pix_tf.nets import losses
from pix2pix_tf.nets.networks import patchgan_discriminator, unet_generator
from pix2pix_tf.train.model import Pix2Pix
from pix2pix_tf.train.optim import ConstantThenLinearDecay, FusedAdam, make_optimizer


@pytest.fixture(autouse=True)
def restore_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def tiny_model(policy: str = "float32", lr: float = 2e-4, constant_steps: int = 100, decay_steps: int = 100,
               **kwargs) -> Pix2Pix:
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    config = Config(lr=lr, constant_steps=constant_steps, decay_steps=decay_steps)
    model = Pix2Pix(unet_generator(3, 3, depth=5, ngf=8), patchgan_discriminator(3, 3, ndf=8), **kwargs)
    model.compile(make_optimizer(config, policy, "g", model.train_steps),
                  make_optimizer(config, policy, "d", model.train_steps))
    return model


def fixed_batch(batch: int = 2, size: int = 32):
    rng = np.random.default_rng(0)
    source = rng.uniform(-1, 1, (batch, size, size, 3)).astype("float32")
    return source, np.tanh(source[..., ::-1] * 1.5).astype("float32")


def test_steps_on_a_fixed_batch_lower_l1():
    model = tiny_model(lr=1e-3)
    source, target = fixed_batch()

    def l1() -> float:
        return float(np.mean(losses.l1_distance(model.generator(source, training=False), target)))

    before = l1()
    for _ in range(40):
        model.train_step((tf.constant(source), tf.constant(target)))
    assert l1() < 0.8 * before
    assert int(model.train_steps.numpy()) == 40
    assert int(model.g_optimizer.iterations.numpy()) == 40
    assert int(model.d_optimizer.iterations.numpy()) == 40


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_steps_are_finite(policy):
    model = tiny_model(policy)
    assert model.generator.get_layer("down2_conv").compute_dtype == policy.split("_")[1]
    assert model.generator.output.dtype == "float32"
    source, target = fixed_batch()
    history = model.fit(tf.data.Dataset.from_tensors((source, target)).repeat(), steps_per_epoch=3,
                        epochs=1, verbose=0, shuffle=False)
    for name, values in history.history.items():
        assert np.isfinite(values[-1]), name


def poisoned_steps(model: Pix2Pix, count: int) -> None:
    """``count`` steps whose losses and gradients are NaN (a NaN pixel in the target)."""
    source, target = fixed_batch()
    target = target.copy()
    target[0, 0, 0, 0] = np.nan
    for _ in range(count):
        model.train_step((tf.constant(source), tf.constant(target)))


def trainable_state(model: Pix2Pix) -> list[np.ndarray]:
    return [w.numpy().copy() for w in model.generator.trainable_weights + model.discriminator.trainable_weights]


def optimiser_state(model: Pix2Pix) -> list[np.ndarray]:
    return [v.numpy().copy() for opt in (model.g_optimizer, model.d_optimizer) for v in opt.variables]


def test_non_finite_steps_are_skipped_and_counted():
    model = tiny_model()
    source, target = fixed_batch()
    model.train_step((tf.constant(source), tf.constant(target)))
    weights = trainable_state(model)
    poisoned = target.copy()
    poisoned[0, 0, 0, 0] = np.nan
    for expected_streak in (1, 2):
        logs = model.train_step((tf.constant(source), tf.constant(poisoned)))
        assert int(model.nonfinite_streak.numpy()) == expected_streak
    assert float(logs["skipped"]) == 2.0
    for old, new in zip(weights, trainable_state(model)):
        np.testing.assert_array_equal(old, new)
    model.train_step((tf.constant(source), tf.constant(target)))
    assert int(model.nonfinite_streak.numpy()) == 0


def test_a_float16_overflow_with_finite_losses_is_a_skipped_update_and_counted():
    model = tiny_model("mixed_float16")
    source, target = fixed_batch()
    weights = trainable_state(model)
    for optimizer in (model.g_optimizer, model.d_optimizer):
        optimizer.dynamic_scale.assign(2.0 ** 100)  # the scaled gradients overflow float16; the losses do not
    logs = model.train_step((tf.constant(source), tf.constant(target)))
    assert np.isfinite(float(logs["g_l1"])) and np.isfinite(float(logs["d_loss"]))
    assert float(logs["skipped"]) == 1.0 and int(model.nonfinite_streak.numpy()) == 1
    for old, new in zip(weights, trainable_state(model)):
        np.testing.assert_array_equal(old, new)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_skipped_steps_leave_the_optimiser_state_untouched(policy):
    """No loss scale to drift: outside float16 a skipped step changes no optimiser variable, so
    the next finite step is the one an uninterrupted run would take."""
    model = tiny_model(policy)
    source, target = fixed_batch()
    model.train_step((tf.constant(source), tf.constant(target)))
    before = optimiser_state(model)
    weights = trainable_state(model)
    poisoned_steps(model, 3)
    for old, new in zip(before, optimiser_state(model)):
        np.testing.assert_array_equal(old, new)
    for old, new in zip(weights, trainable_state(model)):
        np.testing.assert_array_equal(old, new)
    assert int(model.g_optimizer.iterations.numpy()) == 1 and int(model.train_steps.numpy()) == 4


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_schedule_is_keyed_to_train_steps_across_skipped_steps(policy):
    """Skipped steps advance ``train_steps`` (what resume restores) but not the optimiser's
    ``iterations``; the learning rate must follow the former or it lags after every skip."""
    model = tiny_model(policy, constant_steps=0, decay_steps=10)
    source, target = fixed_batch()
    model.train_step((tf.constant(source), tf.constant(target)))
    poisoned_steps(model, 2)
    assert int(model.train_steps.numpy()) == 3 and int(model.g_optimizer.iterations.numpy()) == 1
    for optimizer in (model.g_optimizer, model.d_optimizer):
        np.testing.assert_allclose(float(optimizer.learning_rate), 2e-4 * 0.7, rtol=1e-6)
    logs = model.train_step((tf.constant(source), tf.constant(target)))
    np.testing.assert_allclose(float(logs["lr"]), 2e-4 * 0.6, rtol=1e-6)


def test_float16_scales_the_loss_and_halves_the_scale_on_a_skipped_step():
    model = tiny_model("mixed_float16")
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert float(optimizer.dynamic_scale.numpy()) == 2.0 ** 15
        assert float(optimizer.scale_loss(tf.constant(1.0))) == 2.0 ** 15
    weights = trainable_state(model)
    poisoned_steps(model, 1)
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert float(optimizer.dynamic_scale.numpy()) == 2.0 ** 14
    for old, new in zip(weights, trainable_state(model)):
        np.testing.assert_array_equal(old, new)


def test_fused_adam_matches_keras_adam():
    start = np.random.default_rng(5).normal(size=(4, 3, 3, 8)).astype("float32")
    results = []
    for optimizer in (keras.optimizers.Adam(1e-2, beta_1=0.5, epsilon=1e-8),
                      FusedAdam(1e-2, beta_1=0.5, epsilon=1e-8)):
        variable = keras.Variable(start)
        optimizer.build([variable])
        update = tf.function(lambda gradient: optimizer.apply([gradient], [variable]))  # noqa: B023
        for step in range(5):
            update(tf.constant(start * (step + 1) - 0.5))
        results.append((variable.numpy(), int(optimizer.iterations.numpy())))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    assert results[0][1] == results[1][1] == 5
    assert not np.allclose(results[0][0], start)


def test_schedule_is_constant_then_linear_to_zero():
    schedule = ConstantThenLinearDecay(2e-4, constant_steps=100, decay_steps=100)
    values = [float(schedule(step)) for step in (0, 99, 100, 150, 200, 250)]
    np.testing.assert_allclose(values, [2e-4, 2e-4, 2e-4, 1e-4, 0.0, 0.0], atol=1e-10)


def test_discriminator_loss_is_halved_and_generator_loss_non_saturating():
    logits = tf.zeros((1, 30, 30, 1))
    np.testing.assert_allclose(losses.discriminator_loss(logits, logits, "vanilla"), [np.log(2.0)], rtol=1e-6)
    very_fake = tf.fill((1, 30, 30, 1), -10.0)
    # non-saturating: G's loss is -log D(G(x)), large (not ~0) when D confidently rejects the fake
    assert float(losses.adversarial_loss(very_fake, True, "vanilla")[0]) > 9.0
    np.testing.assert_allclose(losses.adversarial_loss(very_fake, True, "lsgan"), [121.0])


@pytest.mark.parametrize("d_forward", ["recompute", "reuse"])
def test_both_d_forward_options_take_the_hand_computed_gradients(d_forward):
    """With plain SGD at rate 1, one step moves each weight by minus its gradient. The hand-built
    tapes: D's gradient from real and fake; G's adversarial gradient through D after its update
    (recompute) or through D as it was in the D step (reuse)."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    generator = unet_generator(3, 3, depth=5, ngf=8, dropout=0.0)
    discriminator = patchgan_discriminator(3, 3, ndf=8)
    model = Pix2Pix(generator, discriminator, d_forward=d_forward)
    model.compile(keras.optimizers.SGD(1.0), keras.optimizers.SGD(1.0))
    source, target = (tf.constant(a) for a in fixed_batch())
    d_vars, g_vars = discriminator.trainable_variables, generator.trainable_variables
    before_d, before_g = [v.numpy() for v in d_vars], [v.numpy() for v in g_vars]

    with tf.GradientTape() as tape:
        fake = generator(source, training=True)
        real_logits = discriminator([source, target], training=True)
        fake_logits = discriminator([source, tf.stop_gradient(fake)], training=True)
        d_loss = tf.reduce_mean(losses.discriminator_loss(real_logits, fake_logits, "vanilla"))
    d_grads = tape.gradient(d_loss, d_vars)
    if d_forward == "recompute":
        for v, g in zip(d_vars, d_grads):
            v.assign_sub(g)
    with tf.GradientTape() as tape:
        fake = generator(source, training=True)
        g_logits = discriminator([source, fake], training=True)
        g_loss = tf.reduce_mean(losses.adversarial_loss(g_logits, True, "vanilla")
                                + 100.0 * losses.l1_distance(fake, target))
    g_grads = tape.gradient(g_loss, g_vars)
    assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    for v, value in zip(d_vars, before_d):
        v.assign(value)

    logs = model.train_step((source, target))
    assert all(np.isfinite(float(logs[k])) for k in ("g_gan", "g_l1", "d_loss"))
    for v, start, grad in zip(d_vars, before_d, d_grads):
        np.testing.assert_allclose(start - v.numpy(), grad.numpy(), rtol=1e-3, atol=1e-5)
    for v, start, grad in zip(g_vars, before_g, g_grads):
        np.testing.assert_allclose(start - v.numpy(), grad.numpy(), rtol=1e-3, atol=1e-5)


def test_the_two_d_forward_options_differ_in_gs_adversarial_gradient():
    """The choice is real: after one step from the same weights the generators differ."""
    results = []
    for d_forward in ("recompute", "reuse"):
        model = tiny_model(lr=1e-2, d_forward=d_forward, lambda_l1=0.0)
        model.train_step(tuple(tf.constant(a) for a in fixed_batch()))
        results.append([v.numpy() for v in model.generator.trainable_variables])
    assert max(np.abs(a - b).max() for a, b in zip(*results)) > 1e-6
