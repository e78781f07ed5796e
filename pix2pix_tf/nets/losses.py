"""The paper's objective and the image metrics, per example, so a strategy can average them over
the global batch (``tf.nn.compute_average_loss``) instead of per replica."""

from __future__ import annotations

import tensorflow as tf


def _per_example_mean(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def adversarial_loss(logits: tf.Tensor, is_real: bool, gan_mode: str) -> tf.Tensor:
    """Per-example loss of patch logits against an all-real or all-fake label.

    ``vanilla`` is the non-saturating cross-entropy of the paper (G maximises log D(x, G(x)));
    ``lsgan`` is least squares on the raw outputs.
    """
    labels = tf.ones_like(logits) if is_real else tf.zeros_like(logits)
    if gan_mode == "vanilla":
        loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    elif gan_mode == "lsgan":
        loss = tf.square(logits - labels)
    else:
        raise ValueError(f"unknown gan_mode {gan_mode!r}")
    return _per_example_mean(loss)


def discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor, gan_mode: str) -> tf.Tensor:
    """Halved, as in the paper, to slow D down relative to G."""
    return 0.5 * (adversarial_loss(real_logits, True, gan_mode) + adversarial_loss(fake_logits, False, gan_mode))


def averaged_over_scales(loss, logits_per_scale: list, *args) -> tf.Tensor:
    """A per-example loss of each discriminator's logits, averaged over ``--num-d`` discriminators (pix2pixHD
    sums them; the mean keeps the adversarial term on the scale ``--lambda-l1`` was set against)."""
    return tf.add_n([loss(logits, *args) for logits in logits_per_scale]) / len(logits_per_scale)


def feature_matching(real_features: list, fake_features: list) -> tf.Tensor:
    """pix2pixHD's feature-matching loss, per example: L1 between the discriminators' hidden activations on
    the real pair and on the generated one, each layer weighted 4 / (hidden layers) and the discriminators
    averaged, so ``--lambda-fm 10`` weighs what pix2pixHD's ``lambda_feat`` 10 does. The real side is a
    constant: the term moves the generator, never the discriminator.

    ``real_features``, ``fake_features``: one list of hidden activations per discriminator."""
    per_scale = []
    for real, fake in zip(real_features, fake_features, strict=True):
        layers = [l1_distance(tf.stop_gradient(r), f) for r, f in zip(real, fake, strict=True)]
        per_scale.append(tf.add_n(layers) * (4.0 / len(layers)))
    return tf.add_n(per_scale) / len(per_scale)


def l1_distance(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Per-example mean absolute difference, in the units of the inputs."""
    return _per_example_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def discriminator_confidence(logits: tf.Tensor, gan_mode: str) -> tf.Tensor:
    """Per-example mean D output on its own scale: probability for vanilla, raw score for lsgan."""
    return _per_example_mean(tf.sigmoid(logits) if gan_mode == "vanilla" else logits)


def to_unit_range(images: tf.Tensor) -> tf.Tensor:
    """[-1, 1] network range -> [0, 1], the scale the metrics are reported on."""
    return tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)


def image_metrics(output: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
    """Per-example L1, PSNR and SSIM on the [0, 1] scale, for images in [-1, 1]."""
    out, tgt = to_unit_range(output), to_unit_range(target)
    return {
        "l1": l1_distance(out, tgt),
        "psnr": tf.image.psnr(out, tgt, max_val=1.0),
        "ssim": tf.image.ssim(out, tgt, max_val=1.0),
    }
