"""The run directory: where config, checkpoints, logs and samples live, who may write there, and how
a checkpoint is read back (only our own format; nothing is unpickled)."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from pix2pix_tf.config import CONFIG_FILE
from pix2pix_tf.errors import UserError

CHECKPOINT_PREFIX = "ckpt"


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def exists(self) -> bool:
        return self.config.is_file()


class RunLock:
    """An exclusive ``flock`` on the run directory; the kernel drops it when the process dies, so a
    killed run never leaves a stale lock behind."""

    def __init__(self, run: RunDir):
        self.run = run
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self._fd = os.open(self.run.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 64).decode(errors="replace").strip() or "another process"
            os.close(self._fd)
            self._fd = None
            raise UserError(f"{self.run.root}: already in use by a running fit (pid {holder}); "
                            "wait for it to finish or stop it first") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def training_checkpoint(model) -> tf.train.Checkpoint:
    """Everything a resumed run needs: both networks, both optimisers (loss-scale state included)
    and the step counter (which fixes the learning rate and the data position). A realism judge has
    no discriminator: it keeps the rest."""
    parts = ("generator", "discriminator", "g_optimizer", "d_optimizer", "train_steps")
    return tf.train.Checkpoint(**{name: getattr(model, name) for name in parts
                                  if getattr(model, name, None) is not None})


def checkpoint_manager(checkpoint: tf.train.Checkpoint, run: RunDir, keep: int) -> tf.train.CheckpointManager:
    return tf.train.CheckpointManager(checkpoint, run.checkpoints, max_to_keep=keep,
                                      checkpoint_name=CHECKPOINT_PREFIX)


def checkpoint_path(run: RunDir, which: str | int = "latest") -> str:
    """Path prefix of a kept checkpoint: 'latest' or a step number."""
    state = tf.train.get_checkpoint_state(str(run.checkpoints))
    kept = list(state.all_model_checkpoint_paths) if state else []
    if not kept:
        raise UserError(f"{run.checkpoints}: no checkpoint yet; train with `python -m pix2pix_tf.fit --run-dir {run.root}`")
    if which == "latest":
        return state.model_checkpoint_path
    for path in kept:
        if path.endswith(f"{CHECKPOINT_PREFIX}-{int(which)}"):
            return path
    steps = ", ".join(p.rsplit("-", 1)[-1] for p in kept)
    raise UserError(f"--checkpoint {which}: not kept in {run.checkpoints} (kept steps: {steps})")


def restore(checkpoint: tf.train.Checkpoint, path: str) -> None:
    """Restore and insist that every variable we have was in the file: a checkpoint of another
    architecture is an error, never a silent partial load."""
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError, IndexError, OSError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: checkpoint does not load into this run's networks ({first})") from None
    status.expect_partial()
