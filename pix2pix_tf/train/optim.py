"""Adam for both networks on the paper's schedule, with a step whose gradients are not finite
skipped instead of writing NaN into the weights.

Only float16 needs Keras' LossScaleOptimizer (dynamic loss scaling). float32 and bfloat16 need no
scaling, and the wrapper there would halve its scale on every skipped step and never grow it back,
so they get a plain finite check. ``apply_update`` takes that decision over all replicas.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from pix2pix_tf.core.config import Config
from pix2pix_tf.core.precision import uses_loss_scaling


def _float64(value) -> tf.Tensor:
    """A step count as float64: a Python float is read as float64 (``tf.cast`` alone reads it as float32
    first), a tensor or variable of any type is cast."""
    return tf.cast(tf.convert_to_tensor(value, dtype_hint=tf.float64), tf.float64)


@keras.saving.register_keras_serializable("pix2pix_tf")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant learning rate, then linear decay to zero, as a function of the training step.

    Being a function of the step (not of an epoch counter in a callback) is what lets a resumed run
    continue the schedule exactly where it stopped.

    The two step counts may be variables: a ``--minutes`` run revises them while it trains (``train.budget``).
    """

    def __init__(self, initial_learning_rate: float, constant_steps, decay_steps):
        self.initial_learning_rate = initial_learning_rate
        self.constant_steps = constant_steps
        self.decay_steps = decay_steps

    def __call__(self, step):
        # float64, as the plan's variables: in float32 the rate at a plan's last step came out 1e-11, not 0
        step = _float64(step)
        decay = tf.maximum(_float64(self.decay_steps), 1.0)
        progress = (step - _float64(self.constant_steps)) / decay
        return tf.cast(self.initial_learning_rate * (1.0 - tf.clip_by_value(progress, 0.0, 1.0)), tf.float32)

    @classmethod
    def for_run(cls, config: Config, scale: float = 1.0, steps: tuple | None = None) -> ConstantThenLinearDecay:
        """``steps``: (constant, decay) variables that replace the config's (a ``--minutes`` run's plan)."""
        return cls(config.lr * scale, *(steps or (config.constant_steps, config.decay_steps)))

    def rate_at(self, step: int) -> float:
        return float(self(step))

    def describe(self) -> str:
        end = self.constant_steps + self.decay_steps
        return (f"{self.initial_learning_rate:.3g} to step {self.constant_steps}, then linear decay to 0 "
                f"at step {end}")

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "constant_steps": self.constant_steps, "decay_steps": self.decay_steps}


class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam with each variable's update done by TensorFlow's fused ``ResourceApplyAdam``
    kernel: one pass over memory instead of Keras' chain of elementwise ops. The generator's 54M
    parameters make the update memory-bound: measured 58 ms against 161 ms per update on a 2-core CPU
    (benchmarks/throughput.py). Same rule and state (``m``, ``v``, ``iterations``), so checkpoints
    are interchangeable. Under a tf.distribute strategy Keras' own update runs, since it handles the
    replicas' variables."""

    def update_step(self, gradient, variable, learning_rate):
        if tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, variable.dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(self._momentums[index]), v=_handle(self._velocities[index]),
            beta1_power=tf.pow(tf.cast(self.beta_1, variable.dtype), step),
            beta2_power=tf.pow(tf.cast(self.beta_2, variable.dtype), step),
            lr=tf.cast(learning_rate, variable.dtype), beta1=tf.cast(self.beta_1, variable.dtype),
            beta2=tf.cast(self.beta_2, variable.dtype), epsilon=tf.cast(self.epsilon, variable.dtype),
            grad=tf.cast(gradient, variable.dtype))


def _handle(variable):
    return variable.value.handle if isinstance(variable, keras.Variable) else variable.handle


def make_optimizer(config: Config, policy: str, name: str, step: tf.Variable,
                   plan: tuple | None = None) -> keras.optimizers.Optimizer:
    """Adam at the schedule's rate for ``step``, the model's train step counter (what resume
    restores). The optimiser's own ``iterations`` counts applied updates, which is right for Adam's
    bias correction but lags the training step once a non-finite step has been skipped. ``plan``: the
    schedule's (constant, decay) step variables of a ``--minutes`` run."""
    schedule = ConstantThenLinearDecay.for_run(config, config.d_lr_ratio if name == "d_adam" else 1.0, plan)
    optimizer = FusedAdam(lambda: schedule(step), beta_1=config.beta1, beta_2=config.beta2,
                          epsilon=config.adam_epsilon, name=name)
    if uses_loss_scaling(policy):
        return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
    return optimizer


def apply_update(optimizer: keras.optimizers.Optimizer, grads: list, variables: list) -> tf.Tensor:
    """``optimizer.apply``, skipped when any gradient on any replica is not finite; returns whether it was
    skipped, the same on every replica (what ``skipped`` and ``--max-nonfinite-steps`` count: under
    float16 an overflow of the scaled gradients is skipped although the loss is finite).

    The replicas first agree on that flag: Keras' LossScaleOptimizer checks only the first
    replica's gradients before the all-reduce, so a NaN on another replica would reach the weights.
    The condition is then taken in cross-replica context, as that wrapper does (tf.distribute does
    not support a ``tf.cond`` around the gradient all-reduce inside a replica). Under float16 the two
    branches are the wrapper's own: unscale and apply (growing the scale on schedule), or halve it.
    """
    context = tf.distribute.get_replica_context()
    nonfinite = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(~_all_finite(grads), tf.int32))
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        update, skip = optimizer._stateful_handle_finite_grads, optimizer._stateful_handle_non_finite_grads
    else:
        update, skip = optimizer.apply, lambda: None

    def cross_replica(strategy, grads, nonfinite):
        tf.cond(strategy.experimental_local_results(nonfinite)[0] == 0,
                lambda: strategy.extended.call_for_each_replica(update, args=(grads, variables)), skip)

    context.merge_call(cross_replica, args=(grads, nonfinite))
    return nonfinite > 0


def _all_finite(grads: list) -> tf.Tensor:
    """Whether every gradient element is finite, in one pass over each gradient: a NaN or an
    infinity makes its tensor's sum non-finite (``is_finite`` then ``reduce_all`` reads each
    gradient and then writes and reads a boolean copy of it). A sum of finite values that overflows
    also counts as non-finite; such a step deserves skipping as much."""
    with tf.name_scope("finite_check"):
        return tf.math.is_finite(tf.add_n([tf.reduce_sum(tf.cast(g, tf.float32)) for g in grads if g is not None]))
