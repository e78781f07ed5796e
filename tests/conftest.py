"""Shared fixtures: tiny paired datasets written as real image files, and a small-model config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
FACADES = REPO.parent / "shared" / "data" / "facades"


def pair_arrays(index: int, size: int, channels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A (blocky label-like pattern) and B (a shaded function of A), uint8 HxWxC."""
    rng = np.random.default_rng(index)
    cells = rng.integers(0, 4, size=(4, 4))
    labels = np.kron(cells, np.ones((size // 4, size // 4), dtype=int))
    palette = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [220, 220, 40]], dtype=np.uint8)
    a = palette[labels]
    ramp = np.linspace(0.6, 1.0, size)[:, None, None]
    b = (255 - a) * ramp
    if channels == 1:
        a, b = a.mean(axis=-1, keepdims=True), b.mean(axis=-1, keepdims=True)
    return a.astype(np.uint8), b.astype(np.uint8)


def save_image(array: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(path)
    return path


def write_paired(root: Path, *, split: str = "train", count: int = 8, size: int = 32, channels: int = 3,
                 suffix: str = ".png", start: int = 0) -> Path:
    for i in range(start, start + count):
        a, b = pair_arrays(i, size, channels)
        save_image(np.concatenate([a, b], axis=1), root / split / f"{i + 1}{suffix}")
    return root


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_paired(root, split="train", count=8)
    write_paired(root, split="test", count=4, start=100)
    return root


TINY = {"image_size": "32", "ngf": 8, "ndf": 8, "precision": "float32", "log_every": 2, "sample_every": 1000,
        "quiet": True}


def tiny_flags(**changes) -> list[str]:
    """Command-line flags of a tiny fast run; a change of ``None`` (or ``quiet=False``) drops that flag."""
    flags = []
    for name, value in {**TINY, **changes}.items():
        if value is None or value is False:
            continue
        flags += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return flags


TINY_FLAGS = tiny_flags()


def make_run(root: Path, data: Path, *, steps=(1,), **changes):
    """A run directory exactly as fit leaves it (its resolved spec and generator checkpoints at ``steps``),
    made through the library without training; returns the generator."""
    import keras
    import tensorflow as tf

    from pix2pix_tf.core.config import new_config, save_config
    from pix2pix_tf.nets.networks import build_generator
    from pix2pix_tf.train.rundir import RunDir, checkpoint_manager
    from pix2pix_tf.train.training import prepare

    flags = {k: v for k, v in {**TINY, **changes}.items() if k != "quiet"}
    spec = prepare(new_config({"data": str(data), **flags})).config
    root.mkdir(parents=True)
    save_config(spec, root)
    keras.mixed_precision.set_global_policy(spec.precision)
    keras.utils.set_random_seed(spec.seed)
    generator = build_generator(spec)
    manager = checkpoint_manager(tf.train.Checkpoint(generator=generator), RunDir(root), spec.keep_checkpoints)
    for step in steps:
        manager.save(checkpoint_number=step)
    return generator


def latest_step(run_dir: Path) -> int:
    """The step of the run's latest checkpoint, 0 before the first one."""
    from pix2pix_tf.core.errors import UserError
    from pix2pix_tf.train.rundir import RunDir, checkpoint_path, checkpoint_step

    try:
        return checkpoint_step(checkpoint_path(RunDir(Path(run_dir))))
    except UserError:
        return 0


def run_module(module: str, *args: str, timeout: float = 300, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """``python -m module args`` on this checkout, as a user runs a command."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def run_fit(*args: str, timeout: float = 300, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return run_module("pix2pix_tf.fit", *args, timeout=timeout, cwd=cwd)


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines, f"no 'error:' line in stderr:\n{result.stderr[-3000:]}"
    return lines[-1]


@pytest.fixture(autouse=True, scope="session")
def _private_precision_cache(tmp_path_factory):
    """--precision auto caches its measured choice per user; tests keep theirs out of ~/.cache. The LiteRT.js
    runtime that ``--install-litert-js`` put in the real user cache stays found, through its variable."""
    from pix2pix_tf.deploy.web_demo import RUNTIME_ENV, cache_runtime, missing_runtime_files

    if RUNTIME_ENV not in os.environ and not missing_runtime_files(cache_runtime()):
        os.environ[RUNTIME_ENV] = str(cache_runtime())
    os.environ["PIX2PIX_TF_CACHE"] = str(tmp_path_factory.mktemp("precision-cache"))
