"""Adam for both networks on the paper's schedule, inside Keras' LossScaleOptimizer.

Under float16 the wrapper does dynamic loss scaling. In every precision it also skips a step whose
gradients are not finite instead of writing NaN into the weights; outside float16 its scale starts
at 1 and never grows, and a power-of-two scale changes no gradient bit, so it is only that guard.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from pix2pix_tf.config import Config
from pix2pix_tf.precision import uses_loss_scaling


NEVER = 2**31 - 1


@keras.saving.register_keras_serializable("pix2pix_tf")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant learning rate, then linear decay to zero, as a function of the optimiser's step.

    Being a function of the step (not of an epoch counter in a callback) is what lets a resumed run
    continue the schedule exactly where it stopped.
    """

    def __init__(self, initial_learning_rate: float, constant_steps: int, decay_steps: int):
        self.initial_learning_rate = initial_learning_rate
        self.constant_steps = constant_steps
        self.decay_steps = decay_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        progress = (step - self.constant_steps) / max(self.decay_steps, 1)
        return self.initial_learning_rate * (1.0 - tf.clip_by_value(progress, 0.0, 1.0))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "constant_steps": self.constant_steps, "decay_steps": self.decay_steps}


def make_optimizer(config: Config, policy: str, name: str) -> keras.optimizers.Optimizer:
    schedule = ConstantThenLinearDecay(config.lr, config.constant_steps, config.decay_steps)
    optimizer = keras.optimizers.Adam(schedule, beta_1=config.beta1, beta_2=config.beta2,
                                      epsilon=config.adam_epsilon, name=name)
    if uses_loss_scaling(policy):
        return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    return keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=1.0, dynamic_growth_steps=NEVER,
                                               name=f"{name}_finite_guard")
