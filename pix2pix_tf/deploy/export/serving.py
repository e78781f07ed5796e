"""The SavedModel for TF Serving: the generator as served (paper-mode dropout with a swappable noise
source), any size in and the same size out, encoded images in and PNGs out, and its signatures and
recorded metadata. Image rules (header checks, padding, range) come from ``pix2pix_tf.data.images``."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf.data import geometry
from pix2pix_tf.data import images as image_lib
from pix2pix_tf.deploy.export.settings import (
    BYTES_KEY,
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    FLOAT_KEY,
    METADATA_FILE,
    SEED_KEY,
    SIGNATURE_BYTES,
    SIGNATURE_FLOAT,
    SIGNATURE_METADATA,
    SIGNATURE_SEEDED,
    ExportSettings,
    mode_meaning,
)
from pix2pix_tf.deploy.inference import TrainedGenerator

INT32_SEED_MODULUS = 2**31 - 2  # what Keras' TensorFlow backend reduces int64 seeds by


class SampledDropout(keras.layers.Layer):
    """Dropout whose uniform noise comes from a swappable sampler.

    Keras' own dropout draws its seed from a ``SeedGenerator`` variable that it increments on every call: a
    served model would change a variable per request, and TFLite has no builtin for the stateless random ops
    it uses. Here the noise comes from ``tf.random.uniform`` (a stateful op with no variable, and a TFLite
    builtin) when serving, from ``tf.random.stateless_uniform`` when a seed is given (bit-identical to what
    Keras draws from that seed, which is how paper mode is verified exactly), or from a caller's tensor.
    """

    def __init__(self, rate: float, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.sampler = tf.random.uniform

    def call(self, inputs):
        return tf.nn.experimental.general_dropout(inputs, self.rate, uniform_sampler=self.sampler)

    def compute_output_shape(self, input_shape):
        return input_shape


def serving_network(trained: TrainedGenerator) -> tuple[keras.Model, list[SampledDropout]]:
    """The generator as served: the same layers and weights, with dropout swapped for ``SampledDropout``
    in paper mode (deterministic mode needs no swap: its dropout is off outside training)."""
    generator = trained.generator
    if trained.mode != "paper":
        return generator, []

    def swap(layer):
        if isinstance(layer, keras.layers.Dropout):
            return SampledDropout(layer.rate, name=layer.name)
        return layer  # shared, so the export holds the trained variables themselves

    network = keras.models.clone_model(generator, clone_function=swap)
    return network, [layer for layer in network.layers if isinstance(layer, SampledDropout)]


@contextlib.contextmanager
def noise_from(dropouts: list[SampledDropout], samplers: list):
    """Trace the network with these noise samplers, one per dropout layer, then restore the default."""
    for layer, sampler in zip(dropouts, samplers):
        layer.sampler = sampler
    try:
        yield
    finally:
        for layer in dropouts:
            layer.sampler = tf.random.uniform


def layer_seed(seed, index: int) -> tf.Tensor:
    """The int32 seed pair that Keras' dropout layer ``index`` uses when its seed state is [seed, index]."""
    pair = tf.stack([tf.cast(seed, tf.int64), tf.constant(index, tf.int64)])
    return tf.cast(tf.math.floormod(pair, INT32_SEED_MODULUS), tf.int32)


def seeded_samplers(count: int, seed) -> list:
    def sampler(index):
        return lambda shape, dtype: tf.random.stateless_uniform(shape, layer_seed(seed, index), dtype=dtype)

    return [sampler(k) for k in range(count)]


def seed_keras_dropout(generator: keras.Model, seed: int) -> None:
    """Put every paper-mode dropout layer of the Keras generator at seed state [seed, index], the state
    ``serving_seeded`` and ``seeded_samplers`` reproduce, so both draw identical masks."""
    layers = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dropout)]
    for index, layer in enumerate(layers):
        layer.seed_generator.state.assign(np.array([seed, index], dtype="int64"))


def generate_any_size(network: keras.Model, images: tf.Tensor, multiple: int) -> tf.Tensor:
    """Run the generator on images of any size: pad to its multiple, run, crop back to the input's size."""
    shape = tf.shape(images)
    padded, top, left = geometry.reflect_pad_tf(images, multiple)
    outputs = network(padded, training=False)
    return outputs[:, top: top + shape[1], left: left + shape[2], :]


def untracked_archive(network: keras.Model) -> keras.export.ExportArchive:
    """An ExportArchive that stores each weight once.

    ``ExportArchive.track(model)`` saves every weight twice (the Keras wrappers under ``variables`` and the
    ``tf.Variable``s the endpoints capture under ``_all_variables``; keras-team/keras#23553), which doubles
    the SavedModel on disk and the variable memory of every server that loads it. The endpoints capture
    what they use anyway; the ``variables`` collection is filled with those same ``tf.Variable`` objects
    (``.value`` on the TensorFlow backend), so it costs nothing and ``loaded.variables`` still lists them.
    """
    archive = keras.export.ExportArchive()
    archive.add_variable_collection("variables", [weight.value for weight in network.weights])
    return archive


def serving_archive(trained: TrainedGenerator, settings: ExportSettings) -> keras.export.ExportArchive:
    """The SavedModel's endpoints. Each image's output depends on that image alone (per-image
    normalisation; independent dropout noise), and no endpoint assigns a variable."""
    network, dropouts = serving_network(trained)
    archive = untracked_archive(network)
    nc, multiple, max_pixels = settings.input_nc, settings.multiple, settings.max_pixels
    float_spec = tf.TensorSpec([None, None, None, nc], tf.float32, name=FLOAT_KEY)

    def float_images(images):
        shape = tf.shape(images)
        with tf.control_dependencies([image_lib.assert_pixel_limit_tf(shape[1], shape[2], max_pixels, FLOAT_KEY),
                                      geometry.assert_min_side_tf(shape[1], shape[2], multiple, FLOAT_KEY)]):
            return {FLOAT_KEY: generate_any_size(network, images, multiple)}

    def encoded_images(image_bytes):
        def one(contents):
            image = image_lib.decode_checked_tf(contents, nc, max_pixels, multiple, BYTES_KEY)
            return image_lib.encode_png_tf(generate_any_size(network, image[None], multiple)[0])

        return {BYTES_KEY: tf.map_fn(one, image_bytes, fn_output_signature=tf.TensorSpec([], tf.string))}

    archive.add_endpoint(SIGNATURE_FLOAT, float_images, [float_spec])
    archive.add_endpoint(SIGNATURE_BYTES, encoded_images, [tf.TensorSpec([None], tf.string, name=BYTES_KEY)])
    if dropouts:
        def seeded_images(images, seed):
            with noise_from(dropouts, seeded_samplers(len(dropouts), seed)):
                return float_images(images)

        archive.add_endpoint(SIGNATURE_SEEDED, seeded_images,
                             [float_spec, tf.TensorSpec([], tf.int64, name=SEED_KEY)])
    constants = metadata_constants(settings)
    archive.add_endpoint(SIGNATURE_METADATA, lambda: {k: tf.constant(v) for k, v in constants.items()}, [])
    return archive


def metadata_constants(settings: ExportSettings) -> dict:
    """What the ``metadata`` signature returns: enough for a client to know how the model behaves."""
    return {"inference_mode": settings.mode, "format": EXPORT_FORMAT, "direction": settings.direction,
            "input_channels": settings.input_nc, "output_channels": settings.output_nc,
            "size_multiple": settings.multiple, "max_pixels": settings.max_pixels, "step": settings.step}


def saved_model_metadata(settings: ExportSettings) -> dict:
    """The JSON written into the SavedModel's assets.extra/ (TF Serving ignores it; it travels with the model)."""
    signatures = {
        SIGNATURE_FLOAT: {"inputs": {FLOAT_KEY: f"float32 [batch, height, width, {settings.input_nc}] in [-1, 1]"},
                          "outputs": {FLOAT_KEY: f"float32 [batch, height, width, {settings.output_nc}] in [-1, 1]"}},
        SIGNATURE_BYTES: {"inputs": {BYTES_KEY: f"string [batch]: encoded JPEG or PNG files, each side at least "
                                                f"{geometry.min_side(settings.multiple)} px; pixels as stored "
                                                "(EXIF orientation is not applied)"},
                          "outputs": {BYTES_KEY: "string [batch]: 8-bit PNG files of the inputs' sizes"}},
        SIGNATURE_METADATA: {"inputs": {}, "outputs": {k: "scalar" for k in metadata_constants(settings)}},
    }
    if settings.mode == "paper":
        signatures[SIGNATURE_SEEDED] = {
            "inputs": {FLOAT_KEY: signatures[SIGNATURE_FLOAT]["inputs"][FLOAT_KEY],
                       SEED_KEY: "int64 scalar: one seed for the whole batch, reproducible dropout"},
            "outputs": signatures[SIGNATURE_FLOAT]["outputs"]}
    return {"format": EXPORT_FORMAT, "version": EXPORT_FORMAT_VERSION, "model_name": settings.model_name,
            "model_version": settings.version, "inference_mode": settings.mode,
            "inference_mode_meaning": mode_meaning(settings.mode), "direction": settings.direction,
            "checkpoint": settings.checkpoint, "step": settings.step, "weights": settings.weights,
            "tags": ["serve"],
            "signatures": signatures, "any_size": f"padded by reflection to a multiple of {settings.multiple} "
                                                  "and cropped back; the output has the input's size",
            "max_pixels": settings.max_pixels, "trained_size": list(settings.crop_hw)}


def models_config(name: str, base_path: Path) -> str:
    """TF Serving's --model_config_file for this export (text protobuf)."""
    return ("model_config_list {\n  config {\n"
            f"    name: \"{name}\"\n    base_path: \"{base_path}\"\n    model_platform: \"tensorflow\"\n"
            "  }\n}\n")


def write_saved_model(trained: TrainedGenerator, settings: ExportSettings, path: Path) -> None:
    archive = serving_archive(trained, settings)
    with contextlib.redirect_stdout(io.StringIO()):
        archive.write_out(str(path), verbose=False)
    extra = path / "assets.extra"
    extra.mkdir(exist_ok=True)
    (extra / METADATA_FILE).write_text(json.dumps(saved_model_metadata(settings), indent=2) + "\n")
