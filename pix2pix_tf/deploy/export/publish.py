"""Where an export goes and how it gets there: refusing a non-empty ``--out``, choosing the version
number, clearing temporary folders of exports that died, and moving verified artefacts into place
(the SavedModel version last) with ``export.json`` describing them."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pix2pix_tf.core.atomic import publish_dir, write_text
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.deploy.export.serving import models_config
from pix2pix_tf.deploy.export.settings import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MODEL_NAME,
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    FORMATS,
    KERAS_FILE,
    QUANTIZATIONS,
    SUMMARY_FILE,
    TEMP_PREFIX,
    ExportSettings,
    Row,
    finite,
    mode_meaning,
)


@dataclass
class ExportOptions:
    run_dir: Path
    out: Path
    checkpoint: str = "latest"
    weights: str | None = None  # None: the run's moving average if it keeps one (--ema), else its trained weights
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
    weights: str = "raw"
    tflite: list[Path] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    keras: Path | None = None


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
    versions += existing_versions(options.out / "tflite") + existing_versions(options.out / "keras")
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


def summary(options: ExportOptions, settings: ExportSettings, rows: list[Row]) -> dict:
    return {"format": EXPORT_FORMAT, "version": EXPORT_FORMAT_VERSION, "run_dir": str(options.run_dir.resolve()),
            "checkpoint": settings.checkpoint, "step": settings.step, "weights": settings.weights,
            "model_name": settings.model_name,
            "model_version": settings.version, "inference_mode": settings.mode,
            "inference_mode_meaning": mode_meaning(settings.mode), "max_pixels": settings.max_pixels,
            "artefacts": [{**asdict(r), "psnr_db": finite(r.psnr_db)} for r in rows]}


def publish(options: ExportOptions, settings: ExportSettings, work: Path, result: ExportResult) -> None:
    """Move verified artefacts into place; the SavedModel version last, so a server that sees it finds
    everything else already there."""
    out, name, version = options.out, settings.model_name, settings.version
    for row in result.rows:
        if row.artefact.startswith(("tflite", "saved_model", "keras")):
            row.path = row.path.replace(str(work / "saved_model"), str(out / "saved_model" / name / str(version)))
            row.path = row.path.replace(str(work / "tflite"), str(out / "tflite" / str(version)))
            row.path = row.path.replace(str(work / "keras"), str(out / "keras" / str(version)))
    if "tflite" in options.formats:
        publish_dir(work / "tflite", out / "tflite" / str(version))
        result.tflite = sorted((out / "tflite" / str(version)).glob("*.tflite"))
    if "keras" in options.formats:
        publish_dir(work / "keras", out / "keras" / str(version))
        result.keras = out / "keras" / str(version) / KERAS_FILE
    write_text(out / SUMMARY_FILE, json.dumps(summary(options, settings, result.rows), indent=2) + "\n")
    if "saved_model" in options.formats:
        base = out / "saved_model"
        base.mkdir(exist_ok=True)
        write_text(base / "models.config", models_config(name, (base / name).resolve()))
        result.saved_model = base / name / str(version)
        publish_dir(work / "saved_model", result.saved_model)
