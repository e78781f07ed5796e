"""``--ema DECAY``: an exponential moving average of the generator's weights, the generator that samples,
validation, ``evaluate``, ``translate`` and ``export`` use when a run has one (``--weights raw`` picks the
trained weights instead).

GAN weights swing from step to step; their average over the last ~1/(1 - DECAY) steps does not, and
usually looks better (StyleGAN, BigGAN). After each generator update::

    average = d * average + (1 - d) * weights,   d = min(DECAY, (1 + t) / (10 + t))

with ``t`` the steps trained before this one: the warm-up of ``tf.train.ExponentialMovingAverage``'s
``num_updates``, so the early average forgets the random initialisation within tens of steps instead of
thousands.

The average is a second generator (same builder, float32 variables under every precision policy, never
trained), checkpointed as ``generator_ema`` beside ``generator``: a checkpoint loads either into a plain
generator. Normalisation: only trainable weights are averaged (kernels, biases, and the scale and offset
of each normalisation layer). The generator normalises every image with its own statistics at inference
(``networks.PerImageBatchNorm``; instance norm does the same), so the averaged model needs no statistics of
its own: nothing is recomputed or averaged for it, and the moving statistics Keras keeps (never read,
never updated) stay at their initial values.

Keras' own ``use_ema`` optimiser option is not used: it has no warm-up, and ``fit()`` ends by overwriting
the trained weights with the average, where a run must keep both.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from pix2pix_tf.core.config import GENERATOR_WEIGHTS, Config
from pix2pix_tf.core.errors import UserError

CHECKPOINT_KEYS = {"raw": "generator", "ema": "generator_ema"}  # each set of weights in a training checkpoint
WARMUP = 10  # the (1 + t) / (WARMUP + t) ramp of the decay


def decay_at(decay: float, steps_done):
    """The decay applied by the update after ``steps_done`` steps (a number or a tensor)."""
    if isinstance(steps_done, (int, float)):
        return min(decay, (1 + steps_done) / (WARMUP + steps_done))
    steps = tf.cast(steps_done, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), (1.0 + steps) / (WARMUP + steps))


class GeneratorAverage:
    """The averaged copy of ``generator`` and its update, run inside the train step (under any
    ``tf.distribute`` strategy: the update is applied on every replica's copy, in cross-replica context
    as the optimisers apply theirs)."""

    def __init__(self, generator: keras.Model, build_copy: Callable[[], keras.Model], decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), not {decay}")
        self.decay = decay
        self.model = build_copy()
        self.model.set_weights(generator.get_weights())  # the average starts at the initial weights
        self.model.trainable = False
        trained = [w.trainable for w in generator.weights]
        self._pairs = [(average, raw) for average, raw, is_trained in zip(self.model.weights, generator.weights,
                                                                           trained) if is_trained]
        if len(self.model.weights) != len(generator.weights) or any(
                a.shape != r.shape or a.dtype != "float32" for a, r in self._pairs):
            raise ValueError("the averaged generator must be a float32 copy of the generator")

    def update(self, steps_done: tf.Variable, skipped: tf.Tensor) -> None:
        """Move the average towards the generator's weights; call after the generator's update. A step whose
        updates were skipped (not finite) leaves the average as it is, as it leaves the weights."""
        decay = tf.where(skipped, 1.0, decay_at(self.decay, steps_done))

        def move(average, raw, decay):
            return average.assign(decay * average + (1.0 - decay) * tf.cast(raw, tf.float32))

        def cross_replica(strategy, decay):
            for average, raw in self._pairs:
                strategy.extended.update(average.value, move, args=(raw.value, decay), group=False)

        tf.distribute.get_replica_context().merge_call(cross_replica, args=(decay,))


def average_for(config: Config, generator: keras.Model,
                build_copy: Callable[[], keras.Model]) -> GeneratorAverage | None:
    """The run's average, or None when ``--ema`` is off (0)."""
    return GeneratorAverage(generator, build_copy, config.ema) if config.ema > 0 else None


def chosen_weights(config: Config, asked: str | None, run_dir) -> str:
    """Which weights a command loads: ``asked`` (``--weights``), else the average when the run keeps one.
    A run without an average (trained without ``--ema``, or stored before the flag) has only ``raw``."""
    if asked is None:
        return "ema" if config.ema > 0 else "raw"
    if asked not in GENERATOR_WEIGHTS:
        raise UserError(f"--weights {asked!r}: choose one of {', '.join(GENERATOR_WEIGHTS)}")
    if asked == "ema" and not config.ema > 0:
        raise UserError(f"--weights ema: {run_dir} was trained without --ema, so it keeps no averaged weights; "
                        "use --weights raw (its default)")
    return asked
