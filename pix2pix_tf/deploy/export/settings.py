"""What an export is, independent of how it is written: the names of its formats, signatures and files,
the tolerances it is verified to, the settings recorded with every artefact, and the error that stops an
export whose artefact computes something other than the Keras generator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_tf.deploy.inference import TrainedGenerator

EXPORT_FORMAT = "pix2pix_tf.export"
EXPORT_FORMAT_VERSION = 1
FORMATS = ("saved_model", "tflite", "keras")
QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")

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
KERAS_FILE = "generator.keras"
SUMMARY_FILE = "export.json"
TEMP_PREFIX = ".tmp-export-"

# Tolerances, on the generator's [-1, 1] output scale.
SAVED_MODEL_MAX_ABS = 1e-4
TFLITE_FLOAT32_MEAN_ABS = 1e-4
MIN_PSNR_DB = {"float16": 35.0, "dynamic": 20.0, "int8": 12.0}
BYTES_MAX_LEVELS = 1.0  # the PNG output may differ from the rounded Keras output by one 8-bit level


class VerificationError(RuntimeError):
    """An exported artefact computes something other than the Keras generator: nothing is kept."""


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
    weights: str  # ema (the moving average of a run trained with --ema) or raw


def export_settings(trained: TrainedGenerator, model_name: str, version: int, max_pixels: int) -> ExportSettings:
    config = trained.config
    return ExportSettings(model_name=model_name, version=version, mode=trained.mode, max_pixels=max_pixels,
                          multiple=2 ** config.depth, input_nc=config.input_nc, output_nc=config.output_nc,
                          crop_hw=tuple(config.crop_hw), direction=config.direction,
                          checkpoint=Path(trained.checkpoint).name, step=trained.step, weights=trained.weights)


def mode_meaning(mode: str) -> str:
    if mode == "paper":
        return ("dropout on and per-image normalisation statistics, as in the paper: one input gives a "
                "different output on every call")
    return "dropout off, per-image normalisation statistics: one input always gives one output"


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


def finite(value):
    """JSON has no infinity: an exact match (infinite PSNR) is written as null."""
    return None if value is None or not np.isfinite(value) else value
