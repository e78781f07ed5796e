"""Image sizes: resizing (anti-aliased whenever a side shrinks), the reflect-pad-to-a-multiple rule
that lets the generator take any size, and that rule's minimum side, one rule for translate and the
served model alike.

As in ``pix2pix_tf.data.images``, each rule has a NumPy version for the host and a TensorFlow version for
graphs side by side; ``tests/data/test_images.py`` proves each pair computes the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pix2pix_tf.core.errors import ImageError

if TYPE_CHECKING:
    import tensorflow as tf  # imported where used, so the dataset tools load without TensorFlow


# --------------------------------------------------------------------------- any size in, the same size out


def min_side(multiple: int) -> int:
    """Half the generator's multiple: below it, more than half of what the generator sees would be
    mirrored padding. Translate and the served model refuse smaller images (``check_min_side`` and
    ``assert_min_side_tf``); the padding itself works down to 2 px."""
    return max(2, multiple // 2)


def _min_side_rule(multiple: int) -> str:
    return f"is too small: this model needs at least {min_side(multiple)} px on each side (it pads to " \
           f"multiples of {multiple})"


def check_min_side(height: int, width: int, multiple: int, context: str = "") -> None:
    """Refuse an image with a side under ``min_side(multiple)``; ``context`` says where the size came from."""
    if min(height, width) < min_side(multiple):
        raise ImageError(f"{width}x{height} (WxH){context} {_min_side_rule(multiple)}")


def assert_min_side_tf(height, width, multiple: int, what: str) -> tf.Operation:
    """The graph version of ``check_min_side``."""
    import tensorflow as tf

    return tf.debugging.Assert(tf.minimum(height, width) >= min_side(multiple),
                               [f"{what}: image of", height, "x", width, f"pixels (HxW) {_min_side_rule(multiple)}"],
                               name="min_side")


# --------------------------------------------------------------------------- resizing

# The most an image is enlarged to the training scale: fit refuses data pairs far smaller than the crop,
# and translate caps its training scale here (a run whose data set a larger factor, stored before fit
# refused such pairs, would turn a 256 px photo into an 8192 px one).
MAX_ENLARGEMENT = 4


def resize_tf(image: tf.Tensor, hw) -> tf.Tensor:
    """Bicubic resize of [0, 1] image(s) to ``hw``, clipped to [0, 1]. Whenever a side shrinks the kernel
    is widened by the shrink factor (``antialias``), as PIL's resize filters in the PyTorch reference:
    without it a 600 -> 286 shrink folds fine detail into false patterns. Enlarging is plain bicubic."""
    import tensorflow as tf

    hw = tf.convert_to_tensor(hw, tf.int32)
    shrinks = tf.reduce_any(tf.shape(image)[-3:-1] > hw)
    resized = tf.cond(shrinks, lambda: tf.image.resize(image, hw, method="bicubic", antialias=True),
                      lambda: tf.image.resize(image, hw, method="bicubic"))
    return tf.clip_by_value(resized, 0.0, 1.0)


def resize_labels_tf(image: tf.Tensor, hw) -> tf.Tensor:
    """Nearest-neighbour resize, for colour-coded label maps: every output pixel is one of the input's
    colours, so no class appears that neither neighbour had."""
    import tensorflow as tf

    return tf.image.resize(image, hw, method="nearest")


def resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The host version of ``resize_tf`` (the same ops, run eagerly)."""
    import tensorflow as tf

    return resize_tf(tf.constant(image, tf.float32), hw).numpy()


def padding(height: int, width: int, multiple: int):
    """(padded height, padded width, top, left): up to the next multiple, split evenly so the content
    stays centred. Works on ints and on scalar tensors alike."""
    padded_h = (height + multiple - 1) // multiple * multiple
    padded_w = (width + multiple - 1) // multiple * multiple
    return padded_h, padded_w, (padded_h - height) // 2, (padded_w - width) // 2


def reflect_pad(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Mirror-pad H and W of an HxWxC array up to multiples of ``multiple``; returns the padded image
    and the (top, left) offset of the original."""
    h, w = image.shape[:2]
    padded_h, padded_w, top, left = padding(h, w, multiple)
    padded = np.pad(image, ((top, padded_h - h - top), (left, padded_w - w - left), (0, 0)), mode="reflect")
    return padded, (top, left)


def reflect_indices_tf(size, before, padded) -> tf.Tensor:
    """Indices that extend an axis of ``size`` to ``padded`` entries by mirror reflection (edge not
    repeated, as ``np.pad``'s reflect), for any amount of padding: a 10-pixel image can be padded to 256."""
    import tensorflow as tf

    j = tf.range(padded) - before
    period = tf.maximum(2 * (size - 1), 1)
    m = tf.math.floormod(j, period)
    return tf.where(m < size, m, period - m)


def reflect_pad_tf(images: tf.Tensor, multiple: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The graph version of ``reflect_pad`` for an NHWC batch: (padded, top, left)."""
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    padded_h, padded_w, top, left = padding(height, width, multiple)
    images = tf.gather(images, reflect_indices_tf(height, top, padded_h), axis=1)
    images = tf.gather(images, reflect_indices_tf(width, left, padded_w), axis=2)
    return images, top, left
