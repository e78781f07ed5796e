"""The generator as a native Keras 3 file, ``generator.keras``: for Keras users who fine-tune it or put it
inside a model of their own. ``keras.saving.load_model`` reads it after ``import pix2pix_tf`` (which registers
the networks' own layers). It keeps the export's inference mode (paper mode: dropout on outside training),
and it is verified against the run's generator before it is kept, like every other artefact."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from pix2pix_tf.deploy.export.settings import (
    EXPORT_FORMAT_VERSION,
    KERAS_FILE,
    SAVED_MODEL_MAX_ABS,
    ExportSettings,
    Row,
    VerificationError,
    finite,
    mode_meaning,
)
from pix2pix_tf.deploy.export.verify import differences, keras_reference, median_latency
from pix2pix_tf.deploy.inference import TrainedGenerator


def export_keras(trained: TrainedGenerator, settings: ExportSettings, folder: Path, images: np.ndarray,
                 seed: int = 1234) -> Row:
    """Write ``folder/generator.keras`` and the JSON beside it, load it back and compare."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KERAS_FILE
    trained.generator.save(path)
    row = verify_keras(path, trained, images, seed)
    meta = keras_metadata(settings, row)
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return row


def verify_keras(path: Path, trained: TrainedGenerator, images: np.ndarray, seed: int) -> Row:
    """The loaded file against the run's generator on the same inputs; paper mode with both generators'
    dropout at the same seed state, then checked to be random."""
    loaded = keras.saving.load_model(path, compile=False)
    paper = trained.mode == "paper"
    reference = keras_reference(trained, images, seed if paper else None)
    found = keras_reference(dataclasses.replace(trained, generator=loaded), images, seed if paper else None)
    max_abs, mean_abs, psnr = differences(reference, found)
    if not max_abs <= SAVED_MODEL_MAX_ABS:
        raise VerificationError(f"{path}: differs from the run's generator by up to {max_abs:.3g} "
                                f"(tolerance {SAVED_MODEL_MAX_ABS})")
    sample = images[:1]

    def once():
        return keras.ops.convert_to_numpy(loaded(sample, training=False))

    if paper and np.array_equal(once(), once()):
        raise VerificationError(f"{path}: paper mode gave identical outputs on two calls; dropout is not active")
    latency = median_latency(once)
    note = ("seeded dropout; " if paper else "") + "keras.saving.load_model"
    return Row(f"keras ({trained.mode})", str(path), path.stat().st_size, max_abs, mean_abs, psnr, latency, note)


def keras_metadata(settings: ExportSettings, row: Row) -> dict:
    """The JSON beside ``generator.keras``: what it expects and how it was made."""
    return {
        "format": "pix2pix_tf.keras", "version": EXPORT_FORMAT_VERSION, "file": KERAS_FILE,
        "load": "import pix2pix_tf, keras; keras.saving.load_model(path)",
        "input": "float32 images in [-1, 1], (batch, height, width, channels), height and width multiples of "
                 f"{settings.multiple}",
        "input_channels": settings.input_nc, "output_channels": settings.output_nc, "multiple": settings.multiple,
        "trained_size": list(settings.crop_hw), "direction": settings.direction,
        "inference_mode": settings.mode, "inference_mode_meaning": mode_meaning(settings.mode),
        "checkpoint": settings.checkpoint, "step": settings.step, "weights": settings.weights,
        "verification": {"max_abs_diff": row.max_abs, "mean_abs_diff": row.mean_abs,
                         "psnr_db_vs_keras": finite(row.psnr_db)},
    }
