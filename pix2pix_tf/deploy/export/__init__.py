"""Export a trained generator as a TF Serving SavedModel and as TFLite models, and prove each one computes
what the Keras generator computes before it is kept: ``export(ExportOptions(...))``; the command is
``python -m pix2pix_tf.export``.

Layout of ``--out DIR``::

    DIR/export.json                                   what was exported, from which checkpoint, how it verified
    DIR/saved_model/models.config                     ready for ``tensorflow_model_server --model_config_file``
    DIR/saved_model/<name>/<version>/                 the SavedModel (tag ``serve``)
    DIR/saved_model/<name>/<version>/assets.extra/pix2pix_export.json
    DIR/tflite/<version>/<name>_<quant>.tflite        one per quantisation, with <name>_<quant>.json beside it
    DIR/keras/<version>/generator.keras               the Keras 3 generator, with generator.json beside it

Everything is written into a hidden temporary folder inside DIR, verified there, and only then moved into
place, so an interrupted or failed export never leaves a half-written version directory for a server to load.

One module per concern: ``settings`` (names, tolerances, what is recorded), ``serving`` (the SavedModel),
``verify`` (SavedModel checks), ``tflite`` (conversion and its checks), ``keras_file`` (the .keras
file), ``publish`` (where it goes),
``__main__`` (the command). This module ties them together.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from pix2pix_tf.core.atomic import new_folders, staging_dir
from pix2pix_tf.core.config import INFERENCE_MODES, Config
from pix2pix_tf.core.errors import UserError, filesystem_failure
from pix2pix_tf.core.tf_logs import quiet_native_lines
from pix2pix_tf.deploy.export.keras_file import export_keras
from pix2pix_tf.deploy.export.publish import (
    ExportOptions,
    ExportResult,
    check_target,
    choose_version,
    publish,
    remove_stale_temps,
)
from pix2pix_tf.deploy.export.serving import write_saved_model
from pix2pix_tf.deploy.export.settings import FORMATS, QUANTIZATIONS, TEMP_PREFIX, VerificationError, export_settings
from pix2pix_tf.deploy.export.tflite import export_tflite
from pix2pix_tf.deploy.export.verify import verify_saved_model
from pix2pix_tf.deploy.inference import load_generator
from pix2pix_tf.train.rundir import data_root

__all__ = ["ExportOptions", "ExportResult", "VerificationError", "export", "training_inputs"]


def export(options: ExportOptions) -> ExportResult:
    """Load, write into a temporary folder, verify, then move into place; on any failure nothing is kept."""
    validate_options(options)
    check_target(options)
    trained = load_generator(options.run_dir, options.checkpoint, options.mode, options.weights)
    version = choose_version(options)
    settings = export_settings(trained, options.model_name, version, options.max_pixels)
    inputs = training_inputs(trained.config, max(options.verify_images, options.calibration_images), options.data)
    images, calibration = inputs[: options.verify_images], inputs[: options.calibration_images]
    out = options.out
    try:
        with new_folders(out), staging_dir(out, prefix=f"{TEMP_PREFIX}{os.getpid()}-") as work:
            remove_stale_temps(out)
            result = ExportResult(out, version, options.mode, None, trained.weights)
            if "saved_model" in options.formats:
                staged = work / "saved_model"
                write_saved_model(trained, settings, staged)
                result.rows += verify_saved_model(trained, settings, staged, images)
            if "tflite" in options.formats:
                with quiet_native_lines():
                    result.rows += export_tflite(trained, settings, list(options.quantizations), work / "tflite",
                                                 work, images, calibration)
            if "keras" in options.formats:
                result.rows.append(export_keras(trained, settings, work / "keras", images))
            publish(options, settings, work, result)
    except (OSError, tf.errors.OpError) as err:
        failure = filesystem_failure(err)
        if failure is None:
            raise
        raise UserError(f"--out {out}: cannot write the export ({failure[1]}); nothing was kept") from None
    return result


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


def training_inputs(config: Config, count: int, data: str | None = None) -> np.ndarray:
    """Source images of the run's training split at the trained size, as training saw them un-jittered:
    verification and int8 calibration use real inputs, not noise."""
    from pix2pix_tf.data import pipeline as data_lib

    if data is not None:
        root = Path(data)
    else:
        root = data_root(config)
    if not root.is_dir():
        raise UserError(f"{root}: the run's training data is not there; pass --data DIR with images of the "
                        "same kind (a <split>/ folder of pairs) to verify the export on")
    split = data_lib.inspect_split(data_lib.list_pairs(root, config.train_split)[:count], config,
                                   what=config.train_split)
    data_lib.report_problems([split])  # a file that changed since training is named, not a traceback
    pairs = split.pairs
    sources = [source.numpy() for source, _ in data_lib.evaluation_dataset(pairs, config, batch_size=1).unbatch()]
    return np.stack(sources).astype(np.float32)
