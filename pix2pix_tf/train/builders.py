"""Which training model a run's task builds. ``pix2pix`` is built here; the realism judge registers its
``judge`` builder when ``pix2pix_tf.realism.judge`` is imported, so the training layer never imports the
layer above it. Every builder creates its variables under the given strategy and its precision policy."""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from pix2pix_tf.core.config import Config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.core.precision import apply_precision
from pix2pix_tf.nets.networks import build_discriminator, build_generator
from pix2pix_tf.train.budget import plan_for
from pix2pix_tf.train.ema import average_for
from pix2pix_tf.train.model import Pix2Pix
from pix2pix_tf.train.optim import make_optimizer
from pix2pix_tf.train.strategy import use_sync_batch_norm, warn_if_not_reproducible

Builder = Callable[[Config, "tf.distribute.Strategy | None"], keras.Model]
_BUILDERS: dict[str, Builder] = {}


def register_model_builder(task: str, build: Builder) -> None:
    _BUILDERS[task] = build


def model_builder(task: str) -> Builder:
    """The builder of ``task``'s training model."""
    if task not in _BUILDERS:
        raise UserError(f"task {task!r}: no model builder registered (the judge's registers when "
                        "pix2pix_tf.realism.judge is imported; python -m pix2pix_tf.judge trains judges)")
    return _BUILDERS[task]


def build_model(config: Config, strategy: tf.distribute.Strategy | None = None) -> Pix2Pix:
    """Networks and optimisers for ``config``, under its precision policy and seed, with every
    variable created under ``strategy`` (default: the current one) so ``fit()`` runs on its replicas."""
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    synchronized = use_sync_batch_norm(config.sync_batch_norm, config.norm, replicas)
    warn_if_not_reproducible(config.norm, synchronized, replicas)
    apply_precision(config.precision)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
        generator = build_generator(config, sync_batch_norm=synchronized)
        discriminator = build_discriminator(config, sync_batch_norm=synchronized)
        model = Pix2Pix(generator, discriminator,
                        gan_mode=config.gan_mode, lambda_l1=config.lambda_l1, lambda_gan=config.lambda_gan,
                        lambda_fm=config.lambda_fm, seed=config.seed, d_forward=config.d_forward,
                        average=average_for(config, generator, lambda: build_generator(config)))
        model.lr_plan = plan_for(config)
        plan = model.lr_plan.steps if model.lr_plan is not None else None
        model.compile(make_optimizer(config, config.precision, "g_adam", model.train_steps, plan),
                      make_optimizer(config, config.precision, "d_adam", model.train_steps, plan),
                      jit_compile=config.xla == "on")
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Keras reduces logs across workers with strategy.reduce("MEAN", v, axis=0), which needs
        # at least one dimension: give each log a length-1 axis.
        model.train_step = _logs_with_batch_axis(model.train_step)
        model.test_step = _logs_with_batch_axis(model.test_step)
    return model


def _logs_with_batch_axis(step):
    def wrapped(data):
        return {name: tf.reshape(value, [1]) for name, value in step(data).items()}
    return wrapped


register_model_builder("pix2pix", build_model)
