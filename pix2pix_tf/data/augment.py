"""The realism judge's photo augmentation, applied by the judge's training pipeline."""

from __future__ import annotations

import tensorflow as tf


def augment_photo(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mild colour jitter of a [0, 1] photo (brightness, contrast, saturation, hue), a pure function of
    ``seed``: the judge learns classes from shapes and layout under varied lighting, not from one
    exposure. No blur and no noise: a judge taught to ignore blur could not see it."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
    if image.shape[-1] == 3:
        image = tf.image.stateless_random_saturation(image, 0.8, 1.2, seeds[0])
        image = tf.image.stateless_random_hue(image, 0.03, seeds[1])
    image = tf.image.stateless_random_contrast(image, 0.8, 1.2, seeds[2])
    image = tf.image.stateless_random_brightness(image, 0.08, seeds[3])
    return tf.clip_by_value(image, 0.0, 1.0)
