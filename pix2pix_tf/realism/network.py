"""The realism judge's network: an ordinary segmentation U-Net (the photo augmentation it trains with is
``pix2pix_tf.data.augment``).

It is deliberately not the pix2pix generator. The generator normalises each image with its own
statistics at test time (the paper's rule); a judge must not: per-image normalisation scales the weak
feature maps of a blurred image back to full strength, and on the 2x2 and 1x1 maps deep in a depth-8
U-Net it normalises over four values or none. Here batch norm uses batch statistics in training and the
population (moving-average) statistics at inference, so the judge's verdict on an image depends on the
image alone, never on its contrast or on the rest of the batch. Two 3x3 convolutions per level, max
pooling down and bilinear upsampling up (no transposed convolution to leave its own checkerboard in
the features), and a small bottleneck whose activations the Fréchet distance compares
(``pix2pix_tf.realism.frechet``).
"""

from __future__ import annotations

import keras
from keras import layers

DEPTH = 4  # poolings: a 128x128 input has an 8x8 bottleneck, each cell seeing a 16x16 patch and its context
FEATURES = "features"  # the bottleneck layer the distance reads
BN_MOMENTUM = 0.9  # the moving statistics settle within the judge's short training
BN_EPSILON = 1e-5


def _conv_block(x, channels: int, name: str):
    for k in (1, 2):
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False, kernel_initializer="he_normal",
                          name=f"{name}_conv{k}")(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn{k}")(x)
        x = layers.ReLU(name=f"{name}_relu{k}")(x)
    return x


def segmentation_network(input_nc: int, num_classes: int, *, width: int = 32, depth: int = DEPTH,
                         name: str = "segmenter") -> keras.Model:
    """Image in [-1, 1] -> (per-pixel class logits, bottleneck features); any size divisible by 2**depth."""
    inputs = keras.Input((None, None, input_nc), name="input_image")
    x, skips = inputs, []
    for i in range(depth):
        x = _conv_block(x, width * 2 ** min(i, 3), f"down{i + 1}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{i + 1}_pool")(x)
    features = layers.Identity(name=FEATURES)(_conv_block(x, width * 2 ** min(depth, 3), "bottleneck"))
    x = features
    for i in reversed(range(depth)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i + 1}_resize")(x)
        x = layers.Concatenate(name=f"up{i + 1}_skip")([skips[i], x])
        x = _conv_block(x, width * 2 ** min(i, 3), f"up{i + 1}")
    logits = layers.Conv2D(num_classes, 1, dtype="float32", name="logits")(x)
    features = layers.Activation("linear", dtype="float32", name="features_float32")(features)
    return keras.Model(inputs, [logits, features], name=name)
