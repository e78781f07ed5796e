"""The two networks of the paper, as Keras functional models.

Layer order follows the reference implementation: an encoder block is LeakyReLU -> conv -> norm and
its skip is taken after the norm; a decoder block is ReLU -> transposed conv -> norm [-> dropout] and
is concatenated with the matching skip. The innermost (1x1 at 256 px) conv has no normalisation: with
batch norm at batch size 1 its output would be identically zero.
"""

from __future__ import annotations

import contextlib
import threading

import keras
import tensorflow as tf
from keras import layers

from pix2pix_tf.core.config import Config, generator_depth

DROPOUT_LAYERS = 3


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class PerImageBatchNorm(layers.BatchNormalization):
    """Batch statistics in training, each image's own statistics otherwise; never moving averages.

    The paper normalises with the statistics of the batch in training and of the image itself at
    test time, so the moving averages Keras keeps are never read. They are not updated either:
    inference must not change state, and a step skipped for non-finite losses must leave no NaN
    behind. ``synchronized=True`` takes the training statistics over all replicas.
    """

    def call(self, inputs, training=None, mask=None):
        x = keras.ops.cast(inputs, "float32")
        if training:
            mean, variance = self._moments(x, mask)
        else:
            mean, variance = keras.ops.moments(x, axes=[1, 2], keepdims=True)
        x = (x - mean) * keras.ops.rsqrt(variance + self.epsilon)
        x = x * keras.ops.cast(self.gamma, "float32") + keras.ops.cast(self.beta, "float32")
        return keras.ops.cast(x, self.compute_dtype)


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class SeededDropout(layers.Dropout):
    """Dropout whose training mask is a pure function of (seed, step, layer, replica).

    Keras' dropout draws from a seed-generator variable that is mirrored across replicas (so every
    replica drew the same mask) and is not checkpointed (so a resumed run replayed the masks of
    step 0). Inside ``dropout_noise(seed, step)`` this layer instead draws the noise of the whole
    global batch from a stateless seed folded from (seed, step, ``index``) and keeps its replica's
    rows, the rows tf.distribute gives that replica: each replica gets its own mask, and a step on
    several replicas draws exactly the masks one device would. Outside that block (``translate``,
    direct calls) it is Keras' dropout. ``at_inference`` keeps it on outside training, as the paper
    runs its generator at test time.
    """

    def __init__(self, rate: float, *, index: int = 0, at_inference: bool = False, **kwargs):
        super().__init__(rate, **kwargs)
        self.index = index
        self.at_inference = at_inference

    def call(self, inputs, training=None):
        if not (training or self.at_inference) or self.rate == 0:
            return inputs
        key = getattr(_noise, "key", None)
        if key is None:
            return super().call(inputs, training=True)
        keep = _replica_rows(tf.random.experimental.stateless_fold_in(key, self.index), tf.shape(inputs)) >= self.rate
        return tf.where(keep, inputs / tf.cast(1.0 - self.rate, inputs.dtype), tf.zeros_like(inputs))

    def get_config(self):
        return {**super().get_config(), "index": self.index, "at_inference": self.at_inference}


_noise = threading.local()  # per thread: MirroredStrategy traces each replica in its own thread


@contextlib.contextmanager
def dropout_noise(seed, step):
    """Within this block ``SeededDropout`` masks are a function of (``seed``, ``step``) and nothing
    else: no hidden state, so resuming at ``step`` or evaluating several checkpoints at the same
    ``step`` draws the same masks."""
    previous = getattr(_noise, "key", None)
    _noise.key = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    try:
        yield
    finally:
        _noise.key = previous


def _replica_rows(seed: tf.Tensor, shape: tf.Tensor) -> tf.Tensor:
    """Uniform noise for the global batch, this replica's consecutive share of its rows (a global
    batch is split evenly and in order over the replicas)."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    replica = context.replica_id_in_sync_group if context is not None else 0
    rows = shape[0]
    noise = tf.random.stateless_uniform(tf.concat([[rows * replicas], shape[1:]], axis=0), seed)
    return noise[replica * rows:(replica + 1) * rows]


SUBPIXEL_BLOCK = 2


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class ICNR(keras.initializers.Initializer):
    """A sub-pixel convolution's kernel initialised "to convolution NN resize" (ICNR, Aitken et al. 2017):
    ``base`` draws the kernel of one sub-pixel, and every one of the ``block**2`` sub-pixels that
    depth-to-space fills from an output channel gets a copy, so at initialisation the sub-pixels of a
    block are equal (a random init would start with a checkerboard for training to unlearn).

    ``tf.nn.depth_to_space`` takes output channel ``c`` of sub-pixel ``(i, j)`` from input channel
    ``(i * block + j) * channels + c``: the copies are the base kernel tiled along the output axis."""

    def __init__(self, base="glorot_uniform", block: int = 2):
        self.base = keras.initializers.get(base)
        self.block = block

    def __call__(self, shape, dtype=None):
        copies = self.block ** 2
        if shape[-1] % copies:
            raise ValueError(f"ICNR: {shape[-1]} output channels are not a multiple of {copies}")
        one = self.base((*shape[:-1], shape[-1] // copies), dtype=dtype)
        return keras.ops.tile(one, [1] * (len(shape) - 1) + [copies])

    def get_config(self):
        return {"base": keras.initializers.serialize(self.base), "block": self.block}


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class DepthToSpace(layers.Layer):
    """``tf.nn.depth_to_space`` as a layer (Keras has none): channel blocks become ``block`` x ``block``
    pixels. TFLite has it as a builtin (DEPTH_TO_SPACE), in float and int8."""

    def __init__(self, block: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.block = block

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.block)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = lambda side: None if side is None else side * self.block  # noqa: E731
        return batch, grow(height), grow(width), channels // self.block ** 2

    def get_config(self):
        return {**super().get_config(), "block": self.block}


def _conv_init(std: float):
    """The paper's N(0, std) for one layer. A fresh initialiser per layer: Keras 3 gives every call of
    one unseeded initialiser the same draw, so a shared one would start same-shape kernels identical."""
    return keras.initializers.RandomNormal(0.0, std)


def _norm_layer(norm: str, *, epsilon: float, std: float, name: str,
                synchronized: bool = False):
    if norm == "batch":
        return PerImageBatchNorm(epsilon=epsilon, synchronized=synchronized,
                                 gamma_initializer=keras.initializers.RandomNormal(1.0, std), name=name)
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=epsilon, name=name)
    return None


def unet_generator(input_nc: int = 3, output_nc: int = 3, *, depth: int = 8, ngf: int = 64,
                   norm: str = "batch", dropout: float = 0.5, dropout_at_inference: bool = False,
                   leaky_slope: float = 0.2, init_std: float = 0.02, norm_epsilon: float = 1e-5,
                   sync_batch_norm: bool = False, output_activation: str = "tanh", upsample: str = "transpose",
                   name: str = "generator") -> keras.Model:
    """The paper's U-Net; fully convolutional, so it runs on any size divisible by 2**depth.

    ``sync_batch_norm`` takes batch-norm statistics over all replicas of a tf.distribute strategy.
    ``output_activation`` "linear" gives logits. ``upsample`` "resize" replaces each 4x4 stride-2
    transposed convolution by a nearest-neighbour 2x resize and a 3x3 convolution, which cannot paint
    the uneven-overlap checkerboard of a transposed convolution (Odena et al., Distill 2016);
    "subpixel" by a 3x3 convolution at the low resolution to four times the channels and a
    depth-to-space rearrangement (Shi et al. 2016), initialised ICNR-style (Aitken et al. 2017) except
    on the bottleneck.
    """
    inputs = keras.Input((None, None, input_nc), name="input_image")
    x = inputs
    skips = []
    for i in range(depth):
        has_norm = norm != "none" and 0 < i < depth - 1
        if i > 0:
            x = layers.LeakyReLU(leaky_slope, name=f"down{i + 1}_lrelu")(x)
        x = layers.Conv2D(ngf * min(2 ** i, 8), 4, strides=2, padding="same", use_bias=not has_norm,
                          kernel_initializer=_conv_init(init_std), name=f"down{i + 1}_conv")(x)
        if has_norm:
            x = _norm_layer(norm, epsilon=norm_epsilon, std=init_std,
                            synchronized=sync_batch_norm, name=f"down{i + 1}_norm")(x)
        skips.append(x)
    for j, skip in enumerate(reversed(skips[:-1])):
        channels = skip.shape[-1]
        x = layers.ReLU(name=f"up{j + 1}_relu")(x)
        x = _upsampling(x, channels, upsample, use_bias=norm == "none", init=_conv_init(init_std),
                        name=f"up{j + 1}", innermost=j == 0)
        if norm != "none":
            x = _norm_layer(norm, epsilon=norm_epsilon, std=init_std,
                            synchronized=sync_batch_norm, name=f"up{j + 1}_norm")(x)
        if dropout > 0 and j < DROPOUT_LAYERS and channels == ngf * 8:
            x = SeededDropout(dropout, index=j, at_inference=dropout_at_inference, name=f"up{j + 1}_dropout")(x)
        x = layers.Concatenate(name=f"up{j + 1}_skip")([skip, x])
    x = layers.ReLU(name="out_relu")(x)
    x = _upsampling(x, output_nc, upsample, use_bias=True, init=_conv_init(init_std), name="out")
    outputs = layers.Activation(output_activation, dtype="float32", name="output_image")(x)
    return keras.Model(inputs, outputs, name=name)


def _upsampling(x, channels: int, how: str, *, use_bias: bool, init, name: str, innermost: bool = False):
    if how == "resize":
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
        return layers.Conv2D(channels, 3, padding="same", use_bias=use_bias, kernel_initializer=init,
                             name=f"{name}_conv")(x)
    if how == "subpixel":
        # The innermost block upsamples the bottleneck, one pixel on the short side: with equal sub-pixels
        # each channel of its output would be constant, and a per-image normalisation would turn it into its
        # offset alone, cutting the bottleneck off until training made the sub-pixels differ.
        return subpixel_upsampling(x, channels, use_bias=use_bias, init=init, name=name, icnr=not innermost)
    return layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=use_bias,
                                  kernel_initializer=init, name=f"{name}_conv")(x)


def subpixel_upsampling(x, channels: int, *, use_bias: bool = True, init="glorot_uniform", icnr: bool = True,
                        name: str = "up"):
    """2x upsampling by a 3x3 convolution at the low resolution to ``4 * channels``, then depth-to-space.

    The resize-convolution's FLOPs (the same multiply-adds, done before the upsampling instead of after
    it) with its own kernel for each of the four sub-pixels. A 2x2 kernel would have the transposed
    convolution's FLOPs, but all four sub-pixels would read the same 2x2 window, half a low-resolution
    pixel off their centres. ``icnr`` starts the four kernels equal (``ICNR``), so the block starts as
    a convolution followed by a nearest-neighbour upsampling, free of checkerboard; without it each
    sub-pixel's kernel is drawn from ``init`` on its own."""
    x = layers.Conv2D(channels * SUBPIXEL_BLOCK ** 2, 3, padding="same", use_bias=use_bias,
                      kernel_initializer=ICNR(init, SUBPIXEL_BLOCK) if icnr else init, name=f"{name}_conv")(x)
    return DepthToSpace(SUBPIXEL_BLOCK, name=f"{name}_shuffle")(x)


def patchgan_discriminator(input_nc: int = 3, output_nc: int = 3, *, n_layers: int = 3, ndf: int = 64,
                           norm: str = "batch", leaky_slope: float = 0.2, init_std: float = 0.02,
                           norm_epsilon: float = 1e-5, sync_batch_norm: bool = False, scales: int = 1,
                           features: bool = False, name: str = "discriminator") -> keras.Model:
    """PatchGAN on the channel-concatenation of input and target; n_layers 0 is the 1x1 PixelGAN.

    n_layers 3 sees 70x70 patches (30x30 logits at 256 px); 1 sees 16x16, 5 sees 286x286.

    ``scales`` > 1 is pix2pixHD's multi-scale discriminator: as many PatchGANs, each with its own
    weights, on the pair at 1x, 1/2, 1/4 ... scale (a 3x3 stride-2 average pooling whose padding is not
    counted, as pix2pixHD's ``count_include_pad=False``). ``features`` adds each one's hidden
    activations (after the LeakyReLU), which pix2pixHD's feature-matching loss compares. With either,
    the model returns one list per scale, ``[hidden..., logits]`` (hidden only with ``features``);
    without, the paper's logits alone.
    """
    source = keras.Input((None, None, input_nc), name="input_image")
    target = keras.Input((None, None, output_nc), name="target_image")
    pair = layers.Concatenate(name="pair")([source, target])
    per_scale = []
    for scale in range(scales):
        if scale:
            pair = layers.AveragePooling2D(3, strides=2, padding="same", name=f"scale{scale + 1}_pool")(pair)
        hidden = _patchgan(pair, n_layers=n_layers, ndf=ndf, norm=norm, leaky_slope=leaky_slope,
                           init_std=init_std, norm_epsilon=norm_epsilon, sync_batch_norm=sync_batch_norm,
                           prefix=f"scale{scale + 1}_" if scale else "")
        per_scale.append(hidden if features else hidden[-1:])
    if scales == 1 and not features:
        return keras.Model([source, target], per_scale[0][0], name=name)
    return keras.Model([source, target], per_scale, name=name)


def _patchgan(x, *, n_layers: int, ndf: int, norm: str, leaky_slope: float, init_std: float, norm_epsilon: float,
              sync_batch_norm: bool, prefix: str) -> list:
    """One PatchGAN on the pair ``x``: its hidden activations, then its float32 logits."""
    outputs = []
    for k, (channels, kernel, stride, normed) in enumerate(_patchgan_plan(n_layers, ndf)):
        normed = normed and norm != "none"
        if kernel == 4 and stride == 1:
            x = layers.ZeroPadding2D(1, name=f"{prefix}d{k + 1}_pad")(x)
        x = layers.Conv2D(channels, kernel, strides=stride, padding="same" if stride == 2 else "valid",
                          use_bias=not normed, kernel_initializer=_conv_init(init_std),
                          name=f"{prefix}d{k + 1}_conv")(x)
        if normed:
            x = _norm_layer(norm, epsilon=norm_epsilon, std=init_std,
                            synchronized=sync_batch_norm, name=f"{prefix}d{k + 1}_norm")(x)
        x = layers.LeakyReLU(leaky_slope, name=f"{prefix}d{k + 1}_lrelu")(x)
        outputs.append(x)
    last_kernel = 1 if n_layers == 0 else 4
    if last_kernel == 4:
        x = layers.ZeroPadding2D(1, name=f"{prefix}logits_pad")(x)
    x = layers.Conv2D(1, last_kernel, padding="valid", kernel_initializer=_conv_init(init_std),
                      name=f"{prefix}logits_conv")(x)
    outputs.append(layers.Activation("linear", dtype="float32", name=f"{prefix}logits")(x))
    return outputs


def _patchgan_plan(n_layers: int, ndf: int) -> list[tuple[int, int, int, bool]]:
    """(channels, kernel, stride, normalised) per hidden layer, as in the reference."""
    if n_layers == 0:
        return [(ndf, 1, 1, False), (ndf * 2, 1, 1, True)]
    plan = [(ndf, 4, 2, False)]
    plan += [(ndf * min(2 ** n, 8), 4, 2, True) for n in range(1, n_layers)]
    plan.append((ndf * min(2 ** n_layers, 8), 4, 1, True))
    return plan


def build_generator(config: Config, *, dropout_at_inference: bool = False,
                    sync_batch_norm: bool = False) -> keras.Model:
    return unet_generator(
        config.input_nc, config.output_nc, depth=config.depth or generator_depth(config.crop_hw),
        ngf=config.ngf, norm=config.norm, dropout=config.dropout,
        dropout_at_inference=dropout_at_inference, leaky_slope=config.leaky_slope,
        init_std=config.init_std, norm_epsilon=config.norm_epsilon, sync_batch_norm=sync_batch_norm,
        upsample=config.upsample)


def build_discriminator(config: Config, *, sync_batch_norm: bool = False) -> keras.Model:
    """The paper's PatchGAN, or with ``--num-d`` / ``--lambda-fm`` pix2pixHD's scales and hidden features."""
    return patchgan_discriminator(
        config.input_nc, config.output_nc, n_layers=config.d_layers, ndf=config.ndf, norm=config.norm,
        leaky_slope=config.leaky_slope, init_std=config.init_std, norm_epsilon=config.norm_epsilon,
        sync_batch_norm=sync_batch_norm, scales=config.num_d, features=config.lambda_fm > 0)


def trainable_parameters(model: keras.Model) -> int:
    """Parameters an optimiser updates (what the papers count; moving statistics excluded)."""
    return sum(int(keras.ops.size(w)) for w in model.trainable_weights)
