"""Proof that a written SavedModel computes what the Keras generator computes: loaded as TF Serving
loads it (a TF1 session) and with ``tf.saved_model.load``, on real training images, with no variable
updates in the served graph; plus the comparison helpers the TFLite checks share."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf.data import images as image_lib
from pix2pix_tf.deploy.export.serving import seed_keras_dropout
from pix2pix_tf.deploy.export.settings import (
    BYTES_KEY,
    BYTES_MAX_LEVELS,
    FLOAT_KEY,
    SAVED_MODEL_MAX_ABS,
    SEED_KEY,
    SIGNATURE_BYTES,
    SIGNATURE_FLOAT,
    SIGNATURE_METADATA,
    SIGNATURE_SEEDED,
    ExportSettings,
    Row,
    VerificationError,
)
from pix2pix_tf.deploy.inference import TrainedGenerator


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
    return [tf.io.encode_png(image_lib.to_uint8(image)).numpy() for image in images]


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
    eight_bit = image_lib.from_uint8(image_lib.to_uint8(images))
    expected = image_lib.to_uint8(keras_reference(trained, eight_bit)).astype(np.float64)
    max_levels = float(np.abs(outputs - expected).max())
    if max_levels > BYTES_MAX_LEVELS:
        raise VerificationError(f"{path}: {SIGNATURE_BYTES} differs from the Keras generator by {max_levels:.0f} "
                                f"8-bit levels (tolerance {BYTES_MAX_LEVELS:.0f})")
    max_abs, mean_abs, psnr = differences(image_lib.from_uint8(expected), image_lib.from_uint8(outputs))
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
