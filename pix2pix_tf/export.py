"""python -m pix2pix_tf.export: write a trained generator as a TF Serving SavedModel and as TFLite models,
and prove each one computes what the Keras generator computes before it is kept.

Layout of ``--out DIR``::

    DIR/export.json                                   what was exported, from which checkpoint, how it verified
    DIR/saved_model/models.config                     ready for ``tensorflow_model_server --model_config_file``
    DIR/saved_model/<name>/<version>/                 the SavedModel (tag ``serve``)
    DIR/saved_model/<name>/<version>/assets.extra/pix2pix_export.json
    DIR/tflite/<version>/<name>_<quant>.tflite        one per quantisation, with <name>_<quant>.json beside it

Everything is written into a hidden temporary folder inside DIR, verified there, and only then moved into
place, so an interrupted or failed export never leaves a half-written version directory for a server to load.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before TensorFlow is imported: keep its start-up chatter off the terminal
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf import web_demo
from pix2pix_tf.config import Config
from pix2pix_tf.errors import UserError, run_cli
from pix2pix_tf.inference import INFERENCE_MODES, TrainedGenerator, load_generator

EXPORT_FORMAT = "pix2pix_tf.export"
EXPORT_FORMAT_VERSION = 1
FORMATS = ("saved_model", "tflite")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")

# SavedModel signatures (tag "serve").
SIGNATURE_FLOAT = "serving_default"
SIGNATURE_BYTES = "image_bytes"
SIGNATURE_SEEDED = "serving_seeded"
SIGNATURE_METADATA = "metadata"
FLOAT_KEY = "images"
BYTES_KEY = "image_bytes"
SEED_KEY = "seed"

# TFLite signatures.
TFLITE_SIGNATURE = "generate"
TFLITE_NOISE_SIGNATURE = "generate_with_noise"
TFLITE_INPUT = "image"
TFLITE_OUTPUT = "image"

DEFAULT_MAX_PIXELS = 2048 * 2048
DEFAULT_MODEL_NAME = "pix2pix"
METADATA_FILE = "pix2pix_export.json"
SUMMARY_FILE = "export.json"
TEMP_PREFIX = ".tmp-export-"
INT32_SEED_MODULUS = 2**31 - 2  # what Keras' TensorFlow backend reduces int64 seeds by

# Tolerances, on the generator's [-1, 1] output scale.
SAVED_MODEL_MAX_ABS = 1e-4
TFLITE_FLOAT32_MEAN_ABS = 1e-4
MIN_PSNR_DB = {"float16": 35.0, "dynamic": 20.0, "int8": 12.0}
BYTES_MAX_LEVELS = 1.0  # the PNG output may differ from the rounded Keras output by one 8-bit level

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


class VerificationError(RuntimeError):
    """An exported artefact computes something other than the Keras generator: nothing is kept."""


# ----------------------------------------------------------------------------------------------------------
# The network that gets exported


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


# ----------------------------------------------------------------------------------------------------------
# Any size in, the same size out


def reflect_indices(size, before, padded) -> tf.Tensor:
    """Indices that extend an axis of ``size`` to ``padded`` entries by mirror reflection (edge not
    repeated, as tf.pad's REFLECT), for any amount of padding: a 10-pixel image can still be padded to 256."""
    j = tf.range(padded) - before
    period = tf.maximum(2 * (size - 1), 1)
    m = tf.math.floormod(j, period)
    return tf.where(m < size, m, period - m)


def pad_to_multiple(images: tf.Tensor, multiple: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Reflect-pad height and width up to the generator's multiple, centred; returns the offsets to crop back."""
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    padded_h = (height + multiple - 1) // multiple * multiple
    padded_w = (width + multiple - 1) // multiple * multiple
    top, left = (padded_h - height) // 2, (padded_w - width) // 2
    images = tf.gather(images, reflect_indices(height, top, padded_h), axis=1)
    images = tf.gather(images, reflect_indices(width, left, padded_w), axis=2)
    return images, top, left


def generate_any_size(network: keras.Model, images: tf.Tensor, multiple: int) -> tf.Tensor:
    """Run the generator on images of any size: pad to its multiple, run, crop back to the input's size."""
    shape = tf.shape(images)
    padded, top, left = pad_to_multiple(images, multiple)
    outputs = network(padded, training=False)
    return outputs[:, top: top + shape[1], left: left + shape[2], :]


def assert_pixel_limit(height, width, max_pixels: int, what: str) -> tf.Operation:
    """A graph-side refusal of anything larger than the documented limit, so one request cannot make the
    server allocate unbounded memory."""
    pixels = tf.cast(height, tf.int64) * tf.cast(width, tf.int64)
    return tf.debugging.Assert(
        tf.logical_and(pixels <= max_pixels, pixels > 0),
        [f"{what}: image of", height, "x", width, f"pixels (HxW) is empty or larger than the limit of "
         f"{max_pixels} pixels set at export (--max-pixels)"], name="pixel_limit")


# ----------------------------------------------------------------------------------------------------------
# Encoded images: the size is read from the header before anything is decoded


def header_size(contents: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(is JPEG or PNG, height, width) from the file header alone.

    A decompression bomb is a small file whose header claims a huge image; reading the claim first lets
    the limit refuse it before the decoder allocates anything.
    """
    head = tf.strings.substr(contents + tf.constant(b"\0" * 24), 0, 24)
    is_png = tf.equal(tf.strings.substr(head, 0, 8), PNG_MAGIC)
    is_jpeg = tf.equal(tf.strings.substr(head, 0, 3), JPEG_MAGIC)
    ihdr = tf.cast(tf.io.decode_raw(tf.strings.substr(head, 16, 8), tf.uint8), tf.int32)
    png_w = ((ihdr[0] * 256 + ihdr[1]) * 256 + ihdr[2]) * 256 + ihdr[3]
    png_h = ((ihdr[4] * 256 + ihdr[5]) * 256 + ihdr[6]) * 256 + ihdr[7]
    jpeg_hw = tf.cond(is_jpeg, lambda: tf.image.extract_jpeg_shape(contents)[:2],
                      lambda: tf.zeros([2], tf.int32))
    height = tf.where(is_png, png_h, jpeg_hw[0])
    width = tf.where(is_png, png_w, jpeg_hw[1])
    return tf.logical_or(is_png, is_jpeg), height, width


def decode_checked(contents: tf.Tensor, channels: int, max_pixels: int) -> tf.Tensor:
    """One encoded JPEG/PNG -> float32 HxWxC in [-1, 1], refused (not decoded) if it is not an image or is
    over the size limit. 16-bit PNGs keep their precision on the way in, as in training."""
    is_image, height, width = header_size(contents)
    checks = [
        tf.debugging.Assert(is_image, [f"{BYTES_KEY}: not a JPEG or PNG image (the input must be the file's "
                                       f"bytes, base64-encoded only by the REST transport)"], name="is_image"),
        assert_pixel_limit(height, width, max_pixels, BYTES_KEY),
    ]
    with tf.control_dependencies(checks):
        image = tf.io.decode_image(contents, channels=channels, dtype=tf.uint16, expand_animations=False)
    image = tf.image.convert_image_dtype(image, tf.float32)
    return tf.ensure_shape(image, [None, None, channels]) * 2.0 - 1.0


def encode_png(image: tf.Tensor) -> tf.Tensor:
    """[-1, 1] HxWxC -> an 8-bit PNG (round to nearest level)."""
    levels = tf.round(tf.clip_by_value((image + 1.0) * 127.5, 0.0, 255.0))
    return tf.io.encode_png(tf.cast(levels, tf.uint8))


# ----------------------------------------------------------------------------------------------------------
# The SavedModel


@dataclass(frozen=True)
class ExportSettings:
    """What an export is, independent of where it goes: recorded in the SavedModel and in every JSON."""

    model_name: str
    version: int
    mode: str
    max_pixels: int
    multiple: int
    input_nc: int
    output_nc: int
    crop_hw: tuple[int, int]
    direction: str
    checkpoint: str
    step: int


def export_settings(trained: TrainedGenerator, model_name: str, version: int, max_pixels: int) -> ExportSettings:
    config = trained.config
    return ExportSettings(model_name=model_name, version=version, mode=trained.mode, max_pixels=max_pixels,
                          multiple=2 ** config.depth, input_nc=config.input_nc, output_nc=config.output_nc,
                          crop_hw=tuple(config.crop_hw), direction=config.direction,
                          checkpoint=Path(trained.checkpoint).name, step=trained.step)


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
        with tf.control_dependencies([assert_pixel_limit(shape[1], shape[2], max_pixels, FLOAT_KEY)]):
            return {FLOAT_KEY: generate_any_size(network, images, multiple)}

    def encoded_images(image_bytes):
        def one(contents):
            image = decode_checked(contents, nc, max_pixels)
            return encode_png(generate_any_size(network, image[None], multiple)[0])

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
        SIGNATURE_FLOAT: {"inputs": {FLOAT_KEY: "float32 [batch, height, width, %d] in [-1, 1]" % settings.input_nc},
                          "outputs": {FLOAT_KEY: "float32 [batch, height, width, %d] in [-1, 1]" % settings.output_nc}},
        SIGNATURE_BYTES: {"inputs": {BYTES_KEY: "string [batch]: encoded JPEG or PNG files"},
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
            "checkpoint": settings.checkpoint, "step": settings.step, "tags": ["serve"],
            "signatures": signatures, "any_size": f"padded by reflection to a multiple of {settings.multiple} "
                                                  "and cropped back; the output has the input's size",
            "max_pixels": settings.max_pixels, "trained_size": list(settings.crop_hw)}


def mode_meaning(mode: str) -> str:
    if mode == "paper":
        return ("dropout on and per-image normalisation statistics, as in the paper: one input gives a "
                "different output on every call")
    return "dropout off, per-image normalisation statistics: one input always gives one output"


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


# ----------------------------------------------------------------------------------------------------------
# Verification of the SavedModel


@dataclass
class Row:
    """One line of the export table."""

    artefact: str
    path: str
    size_bytes: int
    max_abs: float | None = None
    mean_abs: float | None = None
    psnr_db: float | None = None
    latency_ms: float | None = None
    note: str = ""


def psnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """PSNR on the [-1, 1] scale with peak-to-peak 2 (the same number as on a [0, 1] image)."""
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(other, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(4.0 / mse)


def differences(reference: np.ndarray, other: np.ndarray) -> tuple[float, float, float]:
    diff = np.abs(np.asarray(reference, np.float64) - np.asarray(other, np.float64))
    return float(diff.max()), float(diff.mean()), psnr_db(reference, other)


def keras_reference(trained: TrainedGenerator, images: np.ndarray, seed: int | None = None) -> np.ndarray:
    """What the trained Keras generator computes, one image at a time (paper mode: at this seed)."""
    outputs = []
    for image in images:
        if seed is not None:
            seed_keras_dropout(trained.generator, seed)
        outputs.append(keras.ops.convert_to_numpy(trained.generator(image[None], training=False))[0])
    return np.stack(outputs)


def keras_reference_batch(trained: TrainedGenerator, images: np.ndarray, seed: int | None = None) -> np.ndarray:
    if seed is not None:
        seed_keras_dropout(trained.generator, seed)
    return keras.ops.convert_to_numpy(trained.generator(images, training=False))


class TF1Session:
    """A SavedModel loaded the way TF Serving loads it: a TF1 session with tag ``serve``, signatures run
    by their tensor names."""

    def __init__(self, path: Path):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        logger, level = tf.get_logger(), tf.get_logger().level
        logger.setLevel("ERROR")  # the TF1 loader is deprecated, and TF Serving is exactly what still uses it
        try:
            with self.graph.as_default():
                self.meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], str(path))
        finally:
            logger.setLevel(level)

    def run(self, signature: str, feeds: dict) -> dict:
        sig = self.meta.signature_def[signature]
        fetches = {key: info.name for key, info in sig.outputs.items()}
        feed_dict = {sig.inputs[key].name: value for key, value in feeds.items()}
        return self.session.run(fetches, feed_dict)

    def served_ops(self) -> set[str]:
        """Every op a signature can run: the functions its outputs call, followed through nested calls and
        control flow (the restore ops that load the variables are not part of any signature)."""
        graph_def = self.meta.graph_def
        functions = {f.signature.name: f for f in graph_def.library.function}
        by_name = {n.name: n for n in graph_def.node}
        pending = [by_name[info.name.split(":")[0]] for key, sig in self.meta.signature_def.items()
                   if not key.startswith("__") for info in sig.outputs.values()]
        ops, seen = set(), set()
        while pending:
            node = pending.pop()
            ops.add(node.op)
            for value in node.attr.values():
                names = [value.func.name] if value.HasField("func") else [f.name for f in value.list.func]
                for name in names:
                    if name in functions and name not in seen:
                        seen.add(name)
                        pending.extend(functions[name].node_def)
        return ops

    def assigning_ops(self) -> list[str]:
        """Served ops that could change a variable: serving must never do that."""
        return sorted(op for op in self.served_ops() if op.startswith(("Assign", "ResourceApply", "ResourceScatter")))

    def close(self) -> None:
        self.session.close()


def png_bytes(images: np.ndarray) -> list[bytes]:
    """[-1, 1] float images -> PNG files, the way a client would send them."""
    levels = np.round((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)
    return [tf.io.encode_png(image).numpy() for image in levels]


def decode_png_batch(encoded) -> np.ndarray:
    return np.stack([tf.io.decode_png(e).numpy() for e in encoded]).astype(np.float64)


def verify_saved_model(trained: TrainedGenerator, settings: ExportSettings, path: Path,
                       images: np.ndarray, seed: int = 1234) -> list[Row]:
    """Compare the written SavedModel with the Keras generator through both loaders.

    Deterministic mode is compared directly. Paper mode is random by design, so the exact comparison runs
    through ``serving_seeded``, which shares every op with ``serving_default`` except the noise source and
    draws the noise Keras draws from the same seed; ``serving_default`` is then checked to be random.
    """
    paper = settings.mode == "paper"
    float_signature = SIGNATURE_SEEDED if paper else SIGNATURE_FLOAT
    feeds = {FLOAT_KEY: images, **({SEED_KEY: np.int64(seed)} if paper else {})}
    reference = keras_reference_batch(trained, images, seed if paper else None)
    tf1_out, encoded = tf1_session_outputs(path, settings, float_signature, feeds)
    loaded = tf.saved_model.load(str(path))
    tf2_out = loaded.signatures[float_signature](**{k: tf.constant(v) for k, v in feeds.items()})[FLOAT_KEY].numpy()
    worst = (0.0, 0.0, float("inf"))
    for label, output in (("TF1 session", tf1_out), ("tf.saved_model.load", tf2_out)):
        found = differences(reference, output)
        if not found[0] <= SAVED_MODEL_MAX_ABS:
            raise VerificationError(f"{path}: {float_signature} via {label} differs from the Keras generator by "
                                    f"up to {found[0]:.3g} (tolerance {SAVED_MODEL_MAX_ABS})")
        worst = max(worst, found)
    if paper:
        check_random(loaded.signatures[SIGNATURE_FLOAT], images[:1], path)
    bytes_row = verify_bytes_output(trained, images, encoded, path, seed if paper else None)
    latency = median_latency(lambda: loaded.signatures[SIGNATURE_FLOAT](**{FLOAT_KEY: tf.constant(images[:1])}))
    note = ("via serving_seeded; " if paper else "") + "TF1 session + tf.saved_model.load"
    return [Row(f"saved_model ({settings.mode})", str(path), directory_size(path), *worst, latency, note), bytes_row]


def tf1_session_outputs(path: Path, settings: ExportSettings, float_signature: str, feeds: dict):
    """Everything checked through the TF Serving-style loader: no variable updates in the served graph,
    the recorded mode, the float signature's output and the bytes signature's PNGs."""
    session = TF1Session(path)
    try:
        assigning = session.assigning_ops()
        if assigning:
            raise VerificationError(f"{path}: the served graph contains variable updates ({', '.join(assigning)})")
        mode = session.run(SIGNATURE_METADATA, {})["inference_mode"].decode()
        if mode != settings.mode:
            raise VerificationError(f"{path}: records inference mode {mode!r}, not {settings.mode!r}")
        output = session.run(float_signature, feeds)[FLOAT_KEY]
        files = np.array(png_bytes(feeds[FLOAT_KEY]), dtype=object)
        encoded = session.run(SIGNATURE_BYTES, {BYTES_KEY: files})[BYTES_KEY]
    finally:
        session.close()
    return output, encoded


def verify_bytes_output(trained, images, encoded, path: Path, seed: int | None) -> Row:
    """The bytes signature on PNG-encoded training inputs: same size back, and within one 8-bit level of
    the Keras output on the same 8-bit input (paper mode: compared for size and range only)."""
    outputs = decode_png_batch(encoded)
    if outputs.shape[1:3] != images.shape[1:3]:
        raise VerificationError(f"{path}: {SIGNATURE_BYTES} returned {outputs.shape[1:3]} images for "
                                f"{images.shape[1:3]} inputs")
    note = "PNG round trip"
    if seed is not None:
        return Row("saved_model image_bytes", str(path), 0, note=note + "; random, size checked")
    eight_bit = np.round((np.clip(images, -1, 1) + 1) * 127.5) / 127.5 - 1
    expected = np.round((keras_reference(trained, eight_bit.astype(np.float32)) + 1) * 127.5)
    max_levels = float(np.abs(outputs - expected).max())
    if max_levels > BYTES_MAX_LEVELS:
        raise VerificationError(f"{path}: {SIGNATURE_BYTES} differs from the Keras generator by {max_levels:.0f} "
                                f"8-bit levels (tolerance {BYTES_MAX_LEVELS:.0f})")
    max_abs, mean_abs, psnr = differences(expected / 127.5 - 1, outputs / 127.5 - 1)
    return Row("saved_model image_bytes", str(path), 0, max_abs, mean_abs, psnr, None, note)


def check_random(signature, image: np.ndarray, path: Path) -> None:
    """Paper mode must really be stochastic when served, or the recorded mode would be a lie."""
    first = signature(**{FLOAT_KEY: tf.constant(image)})[FLOAT_KEY].numpy()
    second = signature(**{FLOAT_KEY: tf.constant(image)})[FLOAT_KEY].numpy()
    if np.array_equal(first, second):
        raise VerificationError(f"{path}: paper mode gave identical outputs on two calls; dropout is not active")


def median_latency(call, runs: int = 5, warmup: int = 1) -> float:
    """Median wall time of one call, in milliseconds, after warm-up (first calls pay for graph setup)."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# ----------------------------------------------------------------------------------------------------------
# TFLite


def tflite_archive(trained: TrainedGenerator, settings: ExportSettings) -> tuple[keras.export.ExportArchive, list]:
    """Fixed-size endpoints for conversion (a phone app runs one size). Paper mode gets a second signature
    whose dropout noise is an input, so the same file can be checked exactly against Keras."""
    network, dropouts = serving_network(trained)
    height, width = settings.crop_hw
    image_spec = tf.TensorSpec([1, height, width, settings.input_nc], tf.float32, name=TFLITE_INPUT)
    archive = untracked_archive(network)
    archive.add_endpoint(TFLITE_SIGNATURE, lambda image: {TFLITE_OUTPUT: network(image, training=False)},
                         [image_spec])
    shapes = noise_shapes(network, dropouts, image_spec.shape)
    if dropouts:
        def with_noise(image, *noise):
            with noise_from(dropouts, [lambda shape, dtype, n=n: n for n in noise]):
                return {TFLITE_OUTPUT: network(image, training=False)}

        specs = [tf.TensorSpec(shape, tf.float32, name=f"noise_{k + 1}") for k, shape in enumerate(shapes)]
        archive.add_endpoint(TFLITE_NOISE_SIGNATURE, with_noise, [image_spec, *specs])
    return archive, shapes


def noise_shapes(network: keras.Model, dropouts: list[SampledDropout], image_shape) -> list[tuple[int, ...]]:
    """The shape of each dropout layer's noise at the fixed TFLite size, found by one probe run."""
    if not dropouts:
        return []
    shapes = []

    def recorder(shape, dtype):
        shapes.append(tuple(int(s) for s in shape))
        return tf.random.uniform(shape, dtype=dtype)

    with noise_from(dropouts, [recorder] * len(dropouts)):
        network(tf.zeros(image_shape), training=False)
    return shapes


def seeded_noise(shapes: list[tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """The noise Keras' dropout layers draw at seed ``seed`` (see ``seed_keras_dropout``)."""
    samplers = seeded_samplers(len(shapes), seed)
    return {f"noise_{k + 1}": samplers[k](shape, tf.float32).numpy() for k, shape in enumerate(shapes)}


def tflite_converter(saved_model: Path, signatures: list[str], quant: str, calibration: np.ndarray,
                     shapes: list) -> tf.lite.TFLiteConverter:
    """One converter per variant. Builtin ops only (no Flex): what a stock LiteRT runtime on a phone has."""
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=signatures)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quant in ("float16", "dynamic", "int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quant == "int8":
        converter.representative_dataset = lambda: representative_samples(calibration, signatures, shapes)
        # Integer kernels everywhere they exist; float I/O so an app feeds the same [-1, 1] floats as for
        # the other variants. Paper mode's RANDOM_UNIFORM has no integer kernel and stays float.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def representative_samples(calibration: np.ndarray, signatures: list[str], shapes: list):
    """Training inputs for int8 calibration, fed through every signature of the file."""
    rng = np.random.default_rng(0)
    for image in calibration:
        for signature in signatures:
            sample = {TFLITE_INPUT: image[None].astype(np.float32)}
            if signature == TFLITE_NOISE_SIGNATURE:
                sample.update({f"noise_{k + 1}": rng.random(s, dtype=np.float32) for k, s in enumerate(shapes)})
            yield signature, sample


def convert_tflite(saved_model: Path, signatures: list[str], quant: str, calibration: np.ndarray,
                   shapes: list) -> bytes:
    converter = tflite_converter(saved_model, signatures, quant, calibration, shapes)
    try:
        with warnings.catch_warnings():  # int8 calibration runs the converter's own (deprecated) interpreter
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
            return converter.convert()
    except Exception as err:  # the converter raises several unrelated types; all mean "cannot convert"
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise VerificationError(f"TFLite conversion ({quant}) failed: {first}") from None


def litert_interpreter(model_path: Path):
    """The ai-edge-litert interpreter (XNNPACK applied by default); tf.lite.Interpreter is deprecated."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(model_path), num_threads=os.cpu_count() or 1)


def builtin_op_names(interpreter) -> set[str]:
    return {op["op_name"] for op in interpreter._get_ops_details()}


def verify_tflite(path: Path, quant: str, trained: TrainedGenerator, images: np.ndarray,
                  shapes: list, seed: int = 1234) -> Row:
    """Run the file in ai-edge-litert and compare with Keras on the same inputs (paper mode: the same
    dropout noise, through ``generate_with_noise``). float32 must match to 1e-4 mean absolute difference;
    quantised variants are held to a minimum PSNR and the PSNR is reported."""
    interpreter = litert_interpreter(path)
    ops = builtin_op_names(interpreter)
    if any(op in ("DELEGATE", "CUSTOM") or op.startswith("Flex") for op in ops):
        raise VerificationError(f"{path}: uses non-builtin ops ({', '.join(sorted(ops))})")
    paper = trained.mode == "paper"
    runner = interpreter.get_signature_runner(TFLITE_NOISE_SIGNATURE if paper else TFLITE_SIGNATURE)
    outputs = []
    for image in images:
        feeds = {TFLITE_INPUT: image[None].astype(np.float32)}
        if paper:
            feeds.update(seeded_noise(shapes, seed))
        outputs.append(runner(**feeds)[TFLITE_OUTPUT][0])
    reference = keras_reference(trained, images, seed if paper else None)
    max_abs, mean_abs, psnr = differences(reference, np.stack(outputs))
    check_tolerance(path, quant, mean_abs, psnr)
    generate = interpreter.get_signature_runner(TFLITE_SIGNATURE)
    sample = {TFLITE_INPUT: images[:1].astype(np.float32)}
    if paper and np.array_equal(generate(**sample)[TFLITE_OUTPUT], generate(**sample)[TFLITE_OUTPUT]):
        raise VerificationError(f"{path}: paper mode gave identical outputs on two calls; dropout is not active")
    latency = median_latency(lambda: generate(**sample))
    note = ("via generate_with_noise; " if paper else "") + "builtin ops, XNNPACK"
    return Row(f"tflite {quant} ({trained.mode})", str(path), path.stat().st_size, max_abs, mean_abs, psnr,
               latency, note)


def check_tolerance(path: Path, quant: str, mean_abs: float, psnr: float) -> None:
    if quant == "none":
        if not mean_abs <= TFLITE_FLOAT32_MEAN_ABS:
            raise VerificationError(f"{path}: float32 TFLite differs from Keras by {mean_abs:.3g} mean absolute "
                                    f"(tolerance {TFLITE_FLOAT32_MEAN_ABS})")
    elif not psnr >= MIN_PSNR_DB[quant]:
        raise VerificationError(f"{path}: {quant} TFLite reaches only {psnr:.1f} dB PSNR against Keras "
                                f"(minimum {MIN_PSNR_DB[quant]:.0f} dB)")


def tflite_metadata(settings: ExportSettings, quant: str, shapes: list, row: Row | None) -> dict:
    """The JSON beside each .tflite: what a mobile app needs to feed it and read it back."""
    height, width = settings.crop_hw
    meta = {
        "format": "pix2pix_tf.tflite", "version": EXPORT_FORMAT_VERSION, "model_name": settings.model_name,
        "model_version": settings.version, "quantization": quant, "signature": TFLITE_SIGNATURE,
        "input": {"name": TFLITE_INPUT, "shape": [1, height, width, settings.input_nc], "dtype": "float32",
                  "range": [-1.0, 1.0], "from_8bit": "pixel / 127.5 - 1"},
        "output": {"name": TFLITE_OUTPUT, "shape": [1, height, width, settings.output_nc], "dtype": "float32",
                   "range": [-1.0, 1.0], "to_8bit": "round((value + 1) * 127.5)"},
        "height": height, "width": width, "input_channels": settings.input_nc,
        "output_channels": settings.output_nc, "channel_order": "RGB" if settings.input_nc == 3 else "grey",
        "direction": settings.direction, "inference_mode": settings.mode,
        "inference_mode_meaning": mode_meaning(settings.mode),
        "resize": f"the model runs at exactly {height}x{width} (HxW); resize or pad other images to it",
        "checkpoint": settings.checkpoint, "step": settings.step,
    }
    if settings.mode == "paper":
        meta["noise_signature"] = {
            "name": TFLITE_NOISE_SIGNATURE,
            "inputs": {f"noise_{k + 1}": list(s) for k, s in enumerate(shapes)},
            "meaning": "uniform [0, 1) noise per dropout layer (kept where noise >= rate): reproducible paper-mode "
                       "outputs and exact verification; 'generate' draws it with the builtin RANDOM_UNIFORM op"}
    if row is not None:
        meta["verification"] = {"max_abs_diff": row.max_abs, "mean_abs_diff": row.mean_abs,
                                "psnr_db_vs_keras": _finite(row.psnr_db), "latency_ms": row.latency_ms,
                                "interpreter": "ai-edge-litert (XNNPACK)"}
    return meta


def _finite(value):
    return None if value is None or not np.isfinite(value) else value


def export_tflite(trained: TrainedGenerator, settings: ExportSettings, quants: list[str], folder: Path,
                  work: Path, images: np.ndarray, calibration: np.ndarray) -> list[Row]:
    """Convert and verify every requested variant into ``folder``."""
    archive, shapes = tflite_archive(trained, settings)
    source = work / "tflite_source"
    with contextlib.redirect_stdout(io.StringIO()):
        archive.write_out(str(source), verbose=False)
    signatures = [TFLITE_SIGNATURE] + ([TFLITE_NOISE_SIGNATURE] if shapes else [])
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for quant in quants:
        path = folder / f"{settings.model_name}_{quant}.tflite"
        path.write_bytes(convert_tflite(source, signatures, quant, calibration, shapes))
        row = verify_tflite(path, quant, trained, images, shapes)
        path.with_suffix(".json").write_text(json.dumps(tflite_metadata(settings, quant, shapes, row), indent=2) + "\n")
        rows.append(row)
    shutil.rmtree(source, ignore_errors=True)
    return rows


# ----------------------------------------------------------------------------------------------------------
# Images from the run's training data


def training_inputs(config: Config, count: int, data: str | None = None) -> np.ndarray:
    """Source images of the run's training split at the trained size, as training saw them un-jittered:
    verification and int8 calibration use real inputs, not noise."""
    from pix2pix_tf import data as data_lib

    if data is not None:
        root = Path(data)
    elif config.data == "builtin":
        from pix2pix_tf.training import data_root

        root = data_root(config)
    else:
        root = Path(config.data)
    if not root.is_dir():
        raise UserError(f"{root}: the run's training data is not there; pass --data DIR with images of the "
                        "same kind (a <split>/ folder of pairs) to verify the export on")
    pairs = data_lib.list_pairs(root, config.train_split)[:count]
    sources = [source.numpy() for source, _ in data_lib.evaluation_dataset(pairs, config, batch_size=1).unbatch()]
    return np.stack(sources).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# Where things go


@dataclass
class ExportOptions:
    run_dir: Path
    out: Path
    checkpoint: str = "latest"
    formats: tuple[str, ...] = FORMATS
    quantizations: tuple[str, ...] = QUANTIZATIONS
    mode: str = "deterministic"
    model_name: str = DEFAULT_MODEL_NAME
    version: int | None = None
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    data: str | None = None
    verify_images: int = 4
    calibration_images: int = 16


@dataclass
class ExportResult:
    out: Path
    version: int
    mode: str
    saved_model: Path | None
    tflite: list[Path] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def visible_entries(out: Path) -> list[str]:
    """What is in ``out`` apart from our own temporary folders (which a killed export may leave)."""
    if not out.exists():
        return []
    return sorted(p.name for p in out.iterdir() if not p.name.startswith(TEMP_PREFIX))


def check_target(options: ExportOptions) -> None:
    """Refuse to write into a non-empty --out unless told to, and refuse a --out that is a file."""
    out = options.out
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    entries = visible_entries(out)
    if entries and not options.overwrite:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise UserError(f"--out {out}: not empty ({shown}); pass --overwrite to write into it (other versions "
                        "are kept) or choose an empty directory")


def existing_versions(model_dir: Path) -> list[int]:
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def choose_version(options: ExportOptions) -> int:
    """The requested version, or the next free number: TF Serving serves the highest one."""
    versions = existing_versions(options.out / "saved_model" / options.model_name)
    versions += existing_versions(options.out / "tflite")
    if options.version is not None:
        if options.version < 1:
            raise UserError(f"--version {options.version}: must be a positive integer")
        return options.version
    return max(versions, default=0) + 1


def remove_stale_temps(out: Path) -> None:
    """Temporary folders of exports that died (their process is gone) are garbage."""
    if not out.is_dir():
        return
    for path in out.glob(TEMP_PREFIX + "*"):
        pid = path.name[len(TEMP_PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def move_into_place(src: Path, dst: Path) -> None:
    """Atomic on one filesystem: a server polling ``dst``'s parent sees no version or a whole one."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
    os.replace(src, dst)


def summary(options: ExportOptions, settings: ExportSettings, rows: list[Row]) -> dict:
    return {"format": EXPORT_FORMAT, "version": EXPORT_FORMAT_VERSION, "run_dir": str(options.run_dir.resolve()),
            "checkpoint": settings.checkpoint, "step": settings.step, "model_name": settings.model_name,
            "model_version": settings.version, "inference_mode": settings.mode,
            "inference_mode_meaning": mode_meaning(settings.mode), "max_pixels": settings.max_pixels,
            "artefacts": [{**asdict(r), "psnr_db": _finite(r.psnr_db)} for r in rows]}


# ----------------------------------------------------------------------------------------------------------
# The export


def export(options: ExportOptions) -> ExportResult:
    """Load, write into a temporary folder, verify, then move into place; on any failure nothing is kept."""
    validate_options(options)
    check_target(options)
    trained = load_generator(options.run_dir, options.checkpoint, options.mode)
    version = choose_version(options)
    settings = export_settings(trained, options.model_name, version, options.max_pixels)
    inputs = training_inputs(trained.config, max(options.verify_images, options.calibration_images), options.data)
    images, calibration = inputs[: options.verify_images], inputs[: options.calibration_images]
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    work = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=out))
    try:
        result = ExportResult(out, version, options.mode, None)
        if "saved_model" in options.formats:
            staged = work / "saved_model"
            write_saved_model(trained, settings, staged)
            result.rows += verify_saved_model(trained, settings, staged, images)
        if "tflite" in options.formats:
            result.rows += export_tflite(trained, settings, list(options.quantizations), work / "tflite", work,
                                         images, calibration)
        publish(options, settings, work, result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def publish(options: ExportOptions, settings: ExportSettings, work: Path, result: ExportResult) -> None:
    """Move verified artefacts into place; the SavedModel version last, so a server that sees it finds
    everything else already there."""
    out, name, version = options.out, settings.model_name, settings.version
    for row in result.rows:
        if row.artefact.startswith("tflite") or row.artefact.startswith("saved_model"):
            row.path = row.path.replace(str(work / "saved_model"), str(out / "saved_model" / name / str(version)))
            row.path = row.path.replace(str(work / "tflite"), str(out / "tflite" / str(version)))
    if "tflite" in options.formats:
        move_into_place(work / "tflite", out / "tflite" / str(version))
        result.tflite = sorted((out / "tflite" / str(version)).glob("*.tflite"))
    (out / SUMMARY_FILE).write_text(json.dumps(summary(options, settings, result.rows), indent=2) + "\n")
    if "saved_model" in options.formats:
        base = out / "saved_model"
        base.mkdir(exist_ok=True)
        (base / "models.config").write_text(models_config(name, (base / name).resolve()))
        result.saved_model = base / name / str(version)
        move_into_place(work / "saved_model", result.saved_model)


def validate_options(options: ExportOptions) -> None:
    if options.checkpoint != "latest" and not str(options.checkpoint).isdigit():
        raise UserError(f"--checkpoint {options.checkpoint}: use 'latest' or a step number")
    if options.mode not in INFERENCE_MODES:
        raise UserError(f"--inference {options.mode}: choose one of {', '.join(INFERENCE_MODES)}")
    bad = [f for f in options.formats if f not in FORMATS]
    if bad or not options.formats:
        raise UserError(f"--formats {','.join(options.formats)}: choose from {','.join(FORMATS)}")
    bad = [q for q in options.quantizations if q not in QUANTIZATIONS]
    if bad or not options.quantizations:
        raise UserError(f"--tflite-quant {','.join(options.quantizations)}: choose from {','.join(QUANTIZATIONS)}")
    if options.max_pixels < 1:
        raise UserError(f"--max-pixels {options.max_pixels}: must be positive")
    if not options.model_name or not options.model_name.replace("_", "").replace("-", "").isalnum():
        raise UserError(f"--model-name {options.model_name!r}: use letters, digits, '-' and '_' only")
    if options.verify_images < 1 or options.calibration_images < 1:
        raise UserError("--verify-images and --calibration-images must be at least 1")


# ----------------------------------------------------------------------------------------------------------
# Command line


def format_table(rows: list[Row]) -> str:
    """artefact | size | max abs diff | mean abs diff | PSNR | latency, differences on the [-1, 1] scale."""
    header = ("artefact", "size", "max |diff|", "mean |diff|", "PSNR dB", "latency ms", "note")
    lines = [header]
    for r in rows:
        psnr = "inf" if r.psnr_db is not None and np.isinf(r.psnr_db) else _num(r.psnr_db, "{:.1f}")
        lines.append((r.artefact, human_size(r.size_bytes) if r.size_bytes else "-", _num(r.max_abs, "{:.2e}"),
                      _num(r.mean_abs, "{:.2e}"), psnr, _num(r.latency_ms, "{:.1f}"), r.note))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["  ".join(cell.ljust(w) if i in (0, len(header) - 1) else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(line, widths))).rstrip() for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def _num(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pix2pix_tf.export", description=__doc__.splitlines()[0],
        epilog="Architecture, channels, size and direction come from the run's config.json. Differences in the "
               "table are on the generator's [-1, 1] output scale, against the Keras generator on images of the "
               "run's training data.")
    parser.add_argument("--run-dir", required=True, type=Path, help="the training run to export")
    parser.add_argument("--checkpoint", default="latest", help="'latest' or a kept step number (default: latest)")
    parser.add_argument("--out", required=True, type=Path, help="export directory (TF Serving layout inside)")
    parser.add_argument("--formats", default=",".join(FORMATS), type=_csv,
                        help=f"comma-separated, from {','.join(FORMATS)} (default: both)")
    parser.add_argument("--tflite-quant", dest="quantizations", default=",".join(QUANTIZATIONS), type=_csv,
                        help=f"TFLite variants, from {','.join(QUANTIZATIONS)} (default: all)")
    parser.add_argument("--inference", dest="mode", default="deterministic", choices=INFERENCE_MODES,
                        help="paper: dropout on at inference, as in the paper (random outputs); deterministic: "
                             "dropout off (default: deterministic). Both normalise with each image's own statistics")
    parser.add_argument("--model-name", default=DEFAULT_MODEL_NAME, help=f"TF Serving model name (default: {DEFAULT_MODEL_NAME})")
    parser.add_argument("--version", type=int, default=None, help="SavedModel version number (default: next free)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty --out (other versions are kept; the same version is replaced)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"largest image (height x width) the SavedModel accepts, checked from the file header "
                             f"before decoding (default: {DEFAULT_MAX_PIXELS} = 2048x2048)")
    parser.add_argument("--data", default=None, help="images to verify on if the run's training data has moved")
    parser.add_argument("--verify-images", type=int, default=4, help="training images compared (default: 4)")
    parser.add_argument("--calibration-images", type=int, default=16,
                        help="training images for int8 calibration (default: 16)")
    web_demo.add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    web = web_demo.pop_request(args)
    options = ExportOptions(**vars(args))
    print(f"exporting {options.run_dir} ({options.checkpoint}) in {options.mode} mode to {options.out}", flush=True)
    try:
        result = export(options)
    except VerificationError as err:
        print(f"error: export verification failed, nothing was kept: {err}", file=sys.stderr)
        sys.exit(1)
    print(format_table(result.rows))
    print(f"\ninference mode: {result.mode} ({mode_meaning(result.mode)})")
    if result.saved_model:
        print(f"SavedModel: {result.saved_model} (signatures {SIGNATURE_FLOAT}, {SIGNATURE_BYTES}"
              f"{', ' + SIGNATURE_SEEDED if result.mode == 'paper' else ''}, {SIGNATURE_METADATA})")
        print(f"TF Serving: tensorflow_model_server --rest_api_port=8501 --port=8500 "
              f"--model_config_file={(result.out / 'saved_model' / 'models.config').resolve()}")
    for path in result.tflite:
        print(f"TFLite: {path} (+ {path.with_suffix('.json').name})")
    if result.mode == "paper" and result.tflite:
        print(f"TFLite paper mode: '{TFLITE_SIGNATURE}' draws dropout noise with the builtin RANDOM_UNIFORM op; "
              f"'{TFLITE_NOISE_SIGNATURE}' takes it as inputs (verified exactly against Keras through that one)")
    if web is not None:
        print(web_demo.write_for_export(web, result, options))


if __name__ == "__main__":
    sys.argv[0] = "python -m pix2pix_tf.export"
    run_cli(main)
