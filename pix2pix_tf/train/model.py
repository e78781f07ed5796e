"""The training model: one discriminator step, then one generator step, per batch."""

from __future__ import annotations

import keras
import tensorflow as tf

from pix2pix_tf.nets import losses
from pix2pix_tf.nets.networks import dropout_noise
from pix2pix_tf.train.ema import GeneratorAverage
from pix2pix_tf.train.optim import apply_update

TRAIN_METRICS = ("g_gan", "g_l1", "d_loss", "d_real", "d_fake")
FEATURE_MATCHING = "g_fm"  # logged only when --lambda-fm is on
SKIPPED = "skipped"
VAL_METRICS = ("l1", "psnr", "ssim")
# Where G's adversarial gradient comes from: D after its update, or D's forward pass of the D step.
D_FORWARD = ("recompute", "reuse")


class SteppedModel(keras.Model):
    """What the run machinery (checkpoints, callbacks, resume) needs of a training model.

    A checkpointed step counter (the learning rate, the data position and the dropout noise are
    functions of it), the count of skipped updates in a row for the guard, completeness before
    ``fit()``, and losses logged at their global value under any number of replicas. Subclasses set
    ``generator`` (the network that is saved, sampled and exported) and ``g_optimizer``, and name the
    validation metric that ``fit`` reports.
    """

    VAL_METRIC = "l1"

    def __init__(self, tracked: dict[str, keras.metrics.Metric], **kwargs):
        super().__init__(**kwargs)
        self.train_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="train_steps",
                                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.nonfinite_streak = tf.Variable(0, dtype=tf.int64, trainable=False, name="nonfinite_streak",
                                            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self._trackers = tracked

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras builds a model under an explicit strategy by pulling one batch from the training
        iterator, which would skip that batch (breaking exact resume) and fails under
        MultiWorkerMirroredStrategy. These models are complete before ``fit()``: networks by
        construction, optimisers in ``compile()``, metrics in ``__init__``."""

    @property
    def metrics(self):
        return list(self._trackers.values())

    @property
    def inference_generator(self) -> keras.Model:
        """The generator that samples and validation run: the trained one, unless a subclass keeps another."""
        return self.generator

    def _count_step(self, skipped: tf.Tensor) -> None:
        """``skipped``: an update of this step was not applied (``optim.apply_update``, same on every replica)."""
        self.train_steps.assign_add(1)
        self.nonfinite_streak.assign(tf.where(skipped, self.nonfinite_streak + 1, tf.constant(0, tf.int64)))

    def _logged(self, share: tf.Tensor) -> tf.Tensor:
        """A loss averaged over the global batch (``tf.nn.compute_average_loss``) is, on each replica, that
        replica's share of it, and Keras averages the replicas' logs: each logs its share times their
        count, so the log is the global loss on any number of replicas."""
        return share * tf.distribute.get_strategy().num_replicas_in_sync


class Pix2Pix(SteppedModel):
    """Holds both networks; ``fit()`` runs ``train_step`` and ``evaluate()`` runs ``test_step``.

    Losses are averaged over the global batch with ``tf.nn.compute_average_loss``, so under a
    ``tf.distribute`` strategy the summed replica gradients equal single-device gradients. Dropout
    noise is drawn from (``seed``, ``train_steps``), so it is part of the resumable state. ``average``
    (``--ema``): the moving average of the generator's weights, updated after each generator update and
    used for samples and validation.

    The discriminator is the paper's PatchGAN (logits) or pix2pixHD's multi-scale one (a list per scale,
    ``[hidden..., logits]``, ``networks.patchgan_discriminator``): the adversarial losses are averaged over
    its scales, and ``lambda_fm`` > 0 adds the feature-matching term, which needs its hidden features.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, gan_mode: str = "vanilla",
                 lambda_l1: float = 100.0, lambda_gan: float = 1.0, lambda_fm: float = 0.0, seed: int = 0,
                 d_forward: str = "reuse", average: GeneratorAverage | None = None, **kwargs):
        self.train_metrics = TRAIN_METRICS + ((FEATURE_MATCHING,) if lambda_fm > 0 else ())
        trackers = {name: keras.metrics.Mean(name=name) for name in self.train_metrics + VAL_METRICS}
        trackers[SKIPPED] = keras.metrics.Sum(name=SKIPPED)
        super().__init__(trackers, **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.gan_mode = gan_mode
        self.lambda_l1 = lambda_l1
        self.lambda_gan = lambda_gan
        self.lambda_fm = lambda_fm
        self.seed = seed
        if d_forward not in D_FORWARD:
            raise ValueError(f"d_forward must be one of {D_FORWARD}, not {d_forward!r}")
        self.d_forward = d_forward
        if lambda_fm > 0 and not (isinstance(discriminator.output, list) and len(discriminator.output[0]) > 1):
            raise ValueError("lambda_fm > 0 needs a discriminator built with features=True")
        self.average = average

    @property
    def inference_generator(self) -> keras.Model:
        return self.average.model if self.average is not None else self.generator

    def compile(self, g_optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer,
                **kwargs):
        """Builds both optimisers now, so a checkpoint restores their slots before the first step."""
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(tf.cast(per_example, tf.float32))

    def _discriminate(self, source, image) -> tuple[list, list]:
        """D on the pair: (logits, hidden features), one entry per scale (the paper's PatchGAN: one, no features)."""
        outputs = self.discriminator([source, image], training=True)
        if tf.is_tensor(outputs):
            return [outputs], [[]]
        return [scale[-1] for scale in outputs], [list(scale[:-1]) for scale in outputs]

    def _discriminator_step(self, source, target, fake):
        with tf.GradientTape() as tape:
            real_logits, _ = self._discriminate(source, target)
            fake_logits, _ = self._discriminate(source, fake)
            d_loss = self._average(self._d_loss(real_logits, fake_logits))
            scaled = self.d_optimizer.scale_loss(d_loss)
        variables = self.discriminator.trainable_variables
        skipped = apply_update(self.d_optimizer, tape.gradient(scaled, variables), variables)
        return d_loss, real_logits, fake_logits, skipped

    def _d_loss(self, real_logits: list, fake_logits: list) -> tf.Tensor:
        per_scale = [losses.discriminator_loss(r, f, self.gan_mode) for r, f in zip(real_logits, fake_logits)]
        return tf.add_n(per_scale) / len(per_scale)

    def _generator_loss(self, fake, target, g_logits: list, g_features: list, real_features: list):
        """G's total loss and its logged terms: the adversarial one averaged over D's scales, L1, and with
        ``lambda_fm`` the feature-matching one (the real pair's features held constant)."""
        terms = {"g_gan": self._average(losses.averaged_over_scales(losses.adversarial_loss, g_logits, True,
                                                                    self.gan_mode)),
                 "g_l1": self._average(losses.l1_distance(fake, target))}
        total = self.lambda_gan * terms["g_gan"] + self.lambda_l1 * terms["g_l1"]
        if self.lambda_fm > 0:
            terms[FEATURE_MATCHING] = self._average(losses.feature_matching(real_features, g_features))
            total += self.lambda_fm * terms[FEATURE_MATCHING]
        return total, terms

    def _steps_with_updated_d(self, source, target):
        """D steps first; G's adversarial gradient then comes from D after its update (the PyTorch
        reference): D runs on the fake twice, and with feature matching on the real pair twice too, so
        that both sides of that term come from the same, updated D."""
        with tf.GradientTape() as tape:
            with dropout_noise(self.seed, self.train_steps):
                fake = self.generator(source, training=True)
            with tape.stop_recording():
                d_loss, real_logits, fake_logits, d_skipped = self._discriminator_step(
                    source, target, tf.stop_gradient(fake))
                real_features = self._discriminate(source, target)[1] if self.lambda_fm > 0 else []
            g_logits, g_features = self._discriminate(source, fake)
            g_loss, terms = self._generator_loss(fake, target, g_logits, g_features, real_features)
            scaled = self.g_optimizer.scale_loss(g_loss)
        variables = self.generator.trainable_variables
        g_skipped = apply_update(self.g_optimizer, tape.gradient(scaled, variables), variables)
        return {**terms, "d_loss": d_loss}, real_logits, fake_logits, d_skipped | g_skipped

    def _steps_with_shared_d_forward(self, source, target):
        """One forward of D on the fake serves both losses, so G's adversarial gradient comes from D
        before its update (the original Torch code, the TensorFlow tutorial and pix2pixHD): one D forward
        fewer, 5.5% of a step's FLOPs with the default networks (5.4% at width 64), 7.3% with
        transposed convolutions at width 64 (``benchmarks/throughput.py --flops``). Feature matching reads
        the same forward passes.
        Both gradients are taken before either update is applied."""
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            with dropout_noise(self.seed, self.train_steps):
                fake = self.generator(source, training=True)
            real_logits, real_features = self._discriminate(source, target)
            fake_logits, fake_features = self._discriminate(source, fake)
            d_loss = self._average(self._d_loss(real_logits, fake_logits))
            g_loss, terms = self._generator_loss(fake, target, fake_logits, fake_features, real_features)
            d_scaled = self.d_optimizer.scale_loss(d_loss)
            g_scaled = self.g_optimizer.scale_loss(g_loss)
        d_variables = self.discriminator.trainable_variables
        g_variables = self.generator.trainable_variables
        d_grads = d_tape.gradient(d_scaled, d_variables)
        g_grads = g_tape.gradient(g_scaled, g_variables)
        d_skipped = apply_update(self.d_optimizer, d_grads, d_variables)
        g_skipped = apply_update(self.g_optimizer, g_grads, g_variables)
        return {**terms, "d_loss": d_loss}, real_logits, fake_logits, d_skipped | g_skipped

    def train_step(self, data):
        source, target = data
        step = self._steps_with_updated_d if self.d_forward == "recompute" else self._steps_with_shared_d_forward
        terms, real_logits, fake_logits, skipped = step(source, target)
        if self.average is not None:
            self.average.update(self.train_steps, skipped)
        self._count_step(skipped)
        self._trackers[SKIPPED].update_state(tf.cast(skipped, tf.float32))
        values = {name: self._logged(value) for name, value in terms.items()}
        values["d_real"] = losses.averaged_over_scales(losses.discriminator_confidence, real_logits, self.gan_mode)
        values["d_fake"] = losses.averaged_over_scales(losses.discriminator_confidence, fake_logits, self.gan_mode)
        for name, value in values.items():
            self._trackers[name].update_state(value)
        logs = {name: self._trackers[name].result() for name in self.train_metrics + (SKIPPED,)}
        logs["lr"] = self.g_optimizer.learning_rate
        return logs

    def sample_images(self, sources) -> tf.Tensor:
        """Generated images on the [0, 1] scale of the sample grids, deterministic mode."""
        return losses.to_unit_range(self.inference_generator(sources, training=False))

    def test_step(self, data):
        """Validation in deterministic mode: dropout off, per-image normalisation statistics."""
        source, target = data
        fake = self.inference_generator(source, training=False)
        for name, value in losses.image_metrics(fake, target).items():
            self._trackers[name].update_state(value)
        return {name: self._trackers[name].result() for name in VAL_METRICS}
