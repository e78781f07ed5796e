"""What ``fit()`` does besides stepping: checkpoints, TensorBoard scalars, sample grids.

All of them count in global training steps (the checkpointed counter), not in Keras' per-call batch
index, so a resumed run logs and saves on the same steps an uninterrupted one would.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pix2pix_tf.core.atomic import make_durable, replacing
from pix2pix_tf.core.errors import UserError, filesystem_failure, reason
from pix2pix_tf.nets.losses import image_metrics, to_unit_range
from pix2pix_tf.train.rundir import CHECKPOINT_PREFIX, INDEX_FILE


class _StepCallback(keras.callbacks.Callback):
    """Knows the global step after each batch with one device read per epoch, not per step. ``work_seconds``:
    how long its latest ``on_step`` took (what a ``--minutes`` run keeps back for the work at its end)."""

    def __init__(self, every: int):
        super().__init__()
        self.every = max(int(every), 1)
        self.work_seconds = 0.0
        self._epoch_start = 0
        self._last = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = int(self.model.train_steps.numpy())
        self._last = self._epoch_start

    def on_train_batch_end(self, batch, logs=None):
        step = self._epoch_start + batch + 1
        due = step // self.every > self._last // self.every
        self._last = step
        if due:
            began = time.monotonic()
            self.on_step(step, logs or {})
            self.work_seconds = time.monotonic() - began

    def on_step(self, step: int, logs: dict) -> None:
        raise NotImplementedError


class PeriodicCheckpoint(_StepCallback):
    """Saves every ``every`` steps and when training ends (also when it ends early)."""

    def __init__(self, manager: tf.train.CheckpointManager, every: int):
        super().__init__(every)
        self.manager = manager

    def on_step(self, step, logs):
        self.save(step)

    def on_train_end(self, logs=None):
        self.save(int(self.model.train_steps.numpy()))

    def save(self, step: int) -> None:
        """A failed write (disk full, permissions) stops training with one line; TensorFlow writes
        the data files before it points the ``checkpoint`` index at them, so the previous
        checkpoint stays the latest and loads. What the failed write left is removed.

        The index and the folder's list of names are flushed to the disk (a few hundred bytes); the
        data files are left to the system's own writeback (docs/training.md: what a power loss keeps)."""
        previous = self.manager.latest_checkpoint
        if previous and previous.endswith(f"-{step}"):
            return
        try:
            self.manager.save(checkpoint_number=step)
            make_durable(Path(self.manager.directory) / INDEX_FILE, self.manager.directory)
        except (OSError, tf.errors.OpError) as err:
            self._remove_unfinished(step)
            failure = filesystem_failure(err)
            cause = failure[1] if failure else reason(err, 200)
            kept = f"{previous} is intact" if previous else "no earlier checkpoint exists"
            raise UserError(f"cannot write the checkpoint for step {step} in {self.manager.directory} "
                            f"({cause}); {kept}") from None

    def _remove_unfinished(self, step: int) -> None:
        """TensorFlow stages a checkpoint in ``<prefix>-<step>_temp/`` and then writes its
        ``.index``/``.data`` files; none of it is listed in the ``checkpoint`` file yet."""
        prefix = Path(self.manager.directory) / f"{CHECKPOINT_PREFIX}-{step}"
        for path in [*prefix.parent.glob(f"{prefix.name}_temp*"), *prefix.parent.glob(f"{prefix.name}.*")]:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


class NonFiniteGuard(keras.callbacks.Callback):
    """Stops a run whose updates keep being skipped (non-finite losses or gradients on any replica). The
    optimisers skip such updates, so the weights stay finite; after ``limit`` in a row the run is not
    going to recover by itself."""

    def __init__(self, limit: int, manager: tf.train.CheckpointManager):
        super().__init__()
        self.limit = limit
        self.manager = manager

    def on_train_batch_end(self, batch, logs=None):
        streak = int(self.model.nonfinite_streak.numpy())
        if streak >= self.limit:
            step = int(self.model.train_steps.numpy())
            kept = self.manager.latest_checkpoint or "none"
            raise UserError(f"training stopped at step {step}: {streak} steps in a row had non-finite losses or "
                            f"gradients (updates skipped, weights untouched); last checkpoint kept: {kept}; "
                            "try a lower --lr or --precision float32")


class ScalarLogger(_StepCallback):
    """Training scalars every ``every`` steps and validation metrics after each epoch, to TensorBoard."""

    def __init__(self, log_dir: Path, every: int):
        super().__init__(every)
        self.writer = tf.summary.create_file_writer(str(log_dir))

    def on_step(self, step, logs):
        with self.writer.as_default(step=step):
            for name, value in logs.items():
                tf.summary.scalar(f"train/{name}", float(value))

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.train_steps.numpy())
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                if name.startswith("val_"):
                    tf.summary.scalar(f"val/{name[4:]}", float(value))
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.flush()


class PeriodicValidation(_StepCallback):
    """The held-out metrics of ``test_step`` every ``every`` steps, for runs whose epochs are long.

    Computed here rather than with ``model.evaluate`` so the training metrics of the epoch in
    progress are not reset; logged under ``val/`` at the global step, as the per-epoch ones are."""

    def __init__(self, dataset: tf.data.Dataset, log_dir: Path, every: int):
        super().__init__(every)
        self.dataset = dataset
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self._metrics = None

    def on_step(self, step, logs):
        if self._metrics is None:
            generator = self.model.inference_generator
            self._metrics = tf.function(lambda s, t: image_metrics(generator(s, training=False), t))
        sums, count = {}, 0
        for source, target in self.dataset:
            for name, values in self._metrics(source, target).items():
                sums[name] = sums.get(name, 0.0) + float(tf.reduce_sum(values))
            count += int(source.shape[0])
        with self.writer.as_default(step=step):
            for name, total in sums.items():
                tf.summary.scalar(f"val/{name}", total / count)
        self.writer.flush()


class SampleGrid(_StepCallback):
    """input | output | target rows for a fixed set of pairs: a PNG per save and a TensorBoard image."""

    def __init__(self, sources: np.ndarray, targets: np.ndarray, out_dir: Path, log_dir: Path, every: int):
        super().__init__(every)
        self.sources, self.targets = sources, targets
        self.out_dir = Path(out_dir)
        self.writer = tf.summary.create_file_writer(str(log_dir))

    def on_step(self, step, logs):
        self.write(step)

    def on_train_end(self, logs=None):
        self.write(int(self.model.train_steps.numpy()))

    def write(self, step: int) -> Path:
        outputs = self.model.sample_images(self.sources).numpy()
        rows = [[to_unit_range(s).numpy(), o, to_unit_range(t).numpy()]
                for s, o, t in zip(self.sources, outputs, self.targets)]
        path = self.out_dir / f"step_{step:07d}.png"
        try:
            save_grid(rows, ("input", "output", "target"), path, title=f"step {step}")
        except OSError as err:
            raise UserError(f"cannot write the sample grid {path} ({err.strerror or err})") from None
        with self.writer.as_default(step=step):
            tf.summary.image("samples/input_output_target", _grid_tensor(rows), step=step)
        self.writer.flush()
        return path


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def _grid_tensor(rows: list[list[np.ndarray]]) -> np.ndarray:
    return np.concatenate([np.concatenate([_as_rgb(i) for i in row], axis=1) for row in rows], axis=0)[None]


def save_grid(rows: list[list[np.ndarray]], headers: tuple[str, ...], path: Path, title: str = "") -> Path:
    """A grid of [0, 1] images drawn with matplotlib, written atomically."""
    n_rows, n_cols = len(rows), len(headers)
    fig = Figure(figsize=(2.2 * n_cols, 2.2 * n_rows + 0.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            ax = axes[r][c]
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
            else:
                ax.imshow(np.clip(image, 0.0, 1.0))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(headers[c])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        fig.savefig(tmp)
    return path
