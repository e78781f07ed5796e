"""Degradations of images in [-1, 1]: what the judge's ladder shows it, and what the judge's view applies."""

from __future__ import annotations

import tensorflow as tf

MAX_BLUR_RADIUS = 12  # 3 sigma at the largest rung; one kernel size, so sigma can be a graph input


def gaussian_kernel(sigma) -> tf.Tensor:
    x = tf.range(-MAX_BLUR_RADIUS, MAX_BLUR_RADIUS + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / tf.cast(sigma, tf.float32)))
    kernel = tf.where(tf.abs(x) <= tf.math.ceil(3.0 * tf.cast(sigma, tf.float32)), kernel, 0.0)
    return kernel / tf.reduce_sum(kernel)


def gaussian_blur(images: tf.Tensor, sigma) -> tf.Tensor:
    """Separable Gaussian blur of an NHWC batch, mirrored at the borders (so edges keep their level);
    ``sigma`` (pixels, at most 4) may be a tensor, and 0 leaves the images as they are."""
    sigma = tf.convert_to_tensor(sigma, tf.float32)

    def blur():
        kernel = tf.cast(gaussian_kernel(sigma), images.dtype)
        channels = images.shape[-1]
        r = MAX_BLUR_RADIUS
        padded = tf.pad(images, [[0, 0], [r, r], [r, r], [0, 0]], mode="REFLECT")
        rows = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
        cols = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
        padded = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
        return tf.nn.depthwise_conv2d(padded, cols, [1, 1, 1, 1], "VALID")

    return tf.cond(sigma > 0, blur, lambda: tf.identity(images))
