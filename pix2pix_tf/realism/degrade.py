"""Degradations of images in [-1, 1], at the size they are scored at: the rungs of the judge's ladder
(``realism.ladder``) and the constructed images its measures are tested on."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

CHECKER_AMPLITUDE = 0.03  # of the [-1, 1] range: +-4 grey levels


def gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian blur of an NHWC batch, out to 3 sigma, mirrored at the borders (so edges keep their
    level); sigma 0 leaves the images as they are."""
    if sigma <= 0:
        return images
    radius = math.ceil(3.0 * sigma)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel = tf.constant(kernel / kernel.sum(), images.dtype)
    channels = images.shape[-1]
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    rows = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    cols = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    padded = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(padded, cols, [1, 1, 1, 1], "VALID")


def checkerboard(height: int, width: int, amplitude: float = CHECKER_AMPLITUDE) -> np.ndarray:
    """(H, W, 1) +-amplitude alternating pixel by pixel: a period-2 checkerboard on both axes."""
    rows, cols = np.mgrid[:height, :width]
    return (np.where((rows + cols) % 2 == 0, 1.0, -1.0) * amplitude)[..., None].astype(np.float32)
