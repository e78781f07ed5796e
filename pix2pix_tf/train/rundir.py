"""Every fact about a run directory: where config, checkpoints, logs and samples live, who may write
there, which checkpoints are kept and at which steps, where the run's data is and which split holds
it out, and how a checkpoint is read back (only our own format; nothing is unpickled)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from pix2pix_tf.core.cli import checkpoint_arg
from pix2pix_tf.core.config import CONFIG_FILE, RunSpec, load_config
from pix2pix_tf.core.errors import UserError, reason
from pix2pix_tf.train.ema import CHECKPOINT_KEYS as AVERAGE_KEYS

CHECKPOINT_PREFIX = "ckpt"
INDEX_FILE = "checkpoint"  # tf.train.CheckpointManager's list of the kept checkpoints
HELD_OUT = "val"  # the validation split: a val/ folder, or the pairs held out of the training split
VAL_SPLITS = (HELD_OUT, "test")


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
    def examples(self) -> Path:
        """A few held-out inputs at the data's own size, written by fit: something to try translate on."""
        return self.root / "examples"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    def exists(self) -> bool:
        return self.config.is_file()


# What each task's runs are called, and the command that trains them.
TASKS = {"pix2pix": ("pix2pix", "python -m pix2pix_tf.fit"), "judge": ("realism judge", "python -m pix2pix_tf.judge")}


def task_config(run: RunDir, task: str) -> RunSpec:
    """The stored spec of a run of ``task``; a run of the other task is refused in one line before
    anything of it is built, trained or written."""
    config = load_config(run.root)
    if config.task != task:
        (found, made_by), (wanted, needs) = TASKS[config.task], TASKS[task]
        raise UserError(f"--run-dir {run.root}: a {found} run (made by {made_by}); this needs a {wanted} "
                        f"run (made by {needs})")
    return config


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


def training_checkpoint(model, layout_of: str | None = None) -> tf.train.Checkpoint:
    """Everything a resumed run needs: both networks, both optimisers (loss-scale state included
    under float16) and the step counter (which fixes the learning rate, the data position and the
    dropout noise), with ``--ema`` the averaged generator (``train.ema``) and with ``--minutes`` the
    learning-rate plan (``train.budget``). A realism judge has no
    discriminator: it keeps the rest.

    ``layout_of``: a checkpoint to resume. Runs saved before float32 and bfloat16 dropped the
    loss-scale wrapper keep each optimiser under ``inner_optimizer``; such a run is read, and goes
    on being saved, in that layout."""
    names = ("generator", "discriminator", "g_optimizer", "d_optimizer", "train_steps", "lr_plan")
    parts = {name: getattr(model, name) for name in names if getattr(model, name, None) is not None}
    if getattr(model, "average", None) is not None:
        parts[AVERAGE_KEYS["ema"]] = model.average.model
    if layout_of is not None and _wrapped_optimizers(layout_of):
        for name in ("g_optimizer", "d_optimizer"):
            if name in parts and not isinstance(parts[name], keras.optimizers.LossScaleOptimizer):
                parts[name] = tf.train.Checkpoint(inner_optimizer=parts[name])
    return tf.train.Checkpoint(**parts)


def _wrapped_optimizers(path: str) -> bool:
    try:
        return any(name.startswith("g_optimizer/inner_optimizer/") for name, _ in tf.train.list_variables(path))
    except (tf.errors.OpError, ValueError):
        return False  # unreadable: restore() reports it


def checkpoint_manager(checkpoint: tf.train.Checkpoint, run: RunDir, keep: int) -> tf.train.CheckpointManager:
    return tf.train.CheckpointManager(checkpoint, run.checkpoints, max_to_keep=keep,
                                      checkpoint_name=CHECKPOINT_PREFIX)


def checkpoint_step(path: str) -> int:
    """The training step a checkpoint path was saved at (``.../ckpt-1200`` -> 1200)."""
    return int(str(path).rsplit("-", 1)[-1])


def kept_checkpoints(run: RunDir) -> list[str]:
    """Every checkpoint the run still keeps, oldest first; none is a ``UserError``."""
    kept = trusted_checkpoints(run)
    if not kept:
        raise UserError(f"{run.checkpoints}: no checkpoint yet; train with "
                        f"`python -m pix2pix_tf.fit --run-dir {run.root}`")
    return kept


def trusted_checkpoints(run: RunDir, *, repair: bool = False, say: bool = True) -> list[str]:
    """The run's checkpoints, oldest first ([] before the first one).

    An index (``checkpoints/checkpoint``) that cannot be trusted, because it is unreadable, missing beside
    checkpoint files, or names a checkpoint whose files are not all there, is recovered from the complete
    checkpoints on disk (``say``: in one line; ``repair``: rewritten to list them). With none complete it
    is a ``UserError`` naming it: a run is never trained again from step 0 over its own checkpoints."""
    index = run.checkpoints / INDEX_FILE
    problem = _index_problem(run)
    if problem is None:
        return _listed(run) or []
    found = complete_checkpoints(run)
    if not found:
        raise UserError(f"{index}: {problem}, and no complete checkpoint is beside it; put the checkpoint "
                        f"files back, or move {run.checkpoints} away to train {run.root} again from step 0")
    if say:
        print(f"note: {index}: {problem}; using the newest complete checkpoint, {Path(found[-1]).name}",
              file=sys.stderr)
    if repair:
        _rewrite_index(run, found)
    return found


def _rewrite_index(run: RunDir, paths: list[str]) -> None:
    """The index as ``tf.train.CheckpointManager`` writes it, listing ``paths`` with their files' times,
    so the manager goes on keeping and deleting them as its own."""
    times = [Path(f"{path}.index").stat().st_mtime for path in paths]
    with _tf_warnings_hidden():  # the v1 function's deprecation notice
        tf.compat.v1.train.update_checkpoint_state(
            str(run.checkpoints), Path(paths[-1]).name, [Path(path).name for path in paths],
            all_model_checkpoint_timestamps=times, last_preserved_timestamp=min(times) - 1)


def _index_problem(run: RunDir) -> str | None:
    """Why the checkpoint index cannot be trusted, or None (also when there is neither index nor checkpoint)."""
    if not (run.checkpoints / INDEX_FILE).exists():  # what a killed first save leaves is no checkpoint
        return "missing" if complete_checkpoints(run) else None
    listed = _listed(run)
    if listed is None:
        return "unreadable (damaged)"
    broken = [path for path in listed if not _complete(Path(path))]
    if broken:
        return f"names {Path(broken[-1]).name}, whose files are missing or incomplete"
    return None


def _listed(run: RunDir) -> list[str] | None:
    """The checkpoints the index lists, or None if it cannot be read (TensorFlow's own warnings hidden:
    the caller says what is wrong in one line)."""
    try:
        with _tf_warnings_hidden():
            state = tf.train.get_checkpoint_state(str(run.checkpoints))
    except ValueError:  # an index without a latest checkpoint
        return None
    if state is None:
        return None if (run.checkpoints / INDEX_FILE).exists() else []
    return list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]


@contextlib.contextmanager
def _tf_warnings_hidden():
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def complete_checkpoints(run: RunDir) -> list[str]:
    """Every checkpoint in the folder whose index and data files are all on disk, oldest first."""
    steps = sorted(int(step) for path in run.checkpoints.glob(f"{CHECKPOINT_PREFIX}-*.index")
                   if (step := path.name[len(CHECKPOINT_PREFIX) + 1: -len(".index")]).isdigit())
    paths = [run.checkpoints / f"{CHECKPOINT_PREFIX}-{step}" for step in steps]
    return [str(path) for path in paths if _complete(path)]


def _complete(prefix: Path) -> bool:
    """``<prefix>.index`` and all N ``<prefix>.data-K-of-N`` shards are there."""
    shards = list(prefix.parent.glob(f"{prefix.name}.data-*-of-*"))
    if not (prefix.parent / f"{prefix.name}.index").is_file() or not shards:
        return False
    total = shards[0].name.rsplit("-of-", 1)[1]
    return total.isdigit() and len(shards) == int(total)


def checkpoint_path(run: RunDir, which: str | int = "latest") -> str:
    """Path prefix of a kept checkpoint: 'latest' or a step number."""
    which = checkpoint_arg(str(which))
    kept = kept_checkpoints(run)
    if which == "latest":
        return kept[-1]
    for path in kept:
        if checkpoint_step(path) == which:
            return path
    steps = ", ".join(str(checkpoint_step(p)) for p in kept)
    raise UserError(f"--checkpoint {which}: not kept in {run.checkpoints} (kept steps: {steps})")


def data_root(config) -> Path:
    """The run's dataset folder; the built-in demo set at the run's size is built in its cache if it is
    not there yet (runs store ``builtin``, not a folder, so runs made before each size had a folder of
    its own find theirs too)."""
    if config.data != "builtin":
        return Path(config.data)
    from pix2pix_tf.data.synthetic import builtin_root, write_synthetic_facades

    size = config.crop_hw[0]
    return write_synthetic_facades(builtin_root(size), size=size)


def validation_split(config, root: Path) -> str | None:
    """The held-out split: the configured one, else ``val`` (a folder, or the pairs the run holds out of its
    training split), else ``test/`` if the data has one."""
    if config.val_split:
        return config.val_split
    if config.val_holdout:
        return HELD_OUT
    return next((s for s in VAL_SPLITS if (Path(root) / s).is_dir()), None)


def run_pairs(config, root: Path, split: str) -> list:
    """The pairs of one split as the run sees them: where it holds pairs out (``config.val_holdout``) and the
    data has no ``val/`` folder, its training split without them and ``val`` those pairs; any other split
    is its folder."""
    from pix2pix_tf.data import pipeline as data_lib

    root, asked = Path(root), Path(split)
    folder = (root / HELD_OUT).is_dir()
    if asked == Path(HELD_OUT) and not folder and not config.val_holdout:
        raise UserError(f"{split}: {root} has no val/ folder, and this run holds none of its training pairs out "
                        f"(it was created before held-out validation pairs, or with --val-holdout 0, and trained "
                        f"on all of {config.train_split}/); use the test split")
    if folder or not config.val_holdout or asked not in (Path(HELD_OUT), Path(config.train_split)):
        return data_lib.list_pairs(root, split)
    kept, held = data_lib.split_off(data_lib.list_pairs(root, config.train_split), config.val_holdout,
                                    config.holdout_seed)
    return held if asked == Path(HELD_OUT) else kept


def describe_split(config, root: Path, split: str) -> str:
    """A split in words: its folder, or the pairs held out of the training split."""
    if Path(split) == Path(HELD_OUT) and config.val_holdout and not (Path(root) / HELD_OUT).is_dir():
        return (f"{Path(root) / HELD_OUT} (the {config.val_holdout} pairs held out of {config.train_split}/, "
                "never trained on)")
    return str(Path(root) / split)


def resolved_holdout(config, root: Path, total: int) -> int:
    """The ``val_holdout`` a run stores: the stored or asked-for count, or for a new run by default
    ``data.holdout_count`` of its ``total`` training pairs, none where the data has a ``val/`` folder or
    another validation split is named."""
    from pix2pix_tf.data import pipeline as data_lib

    other = (f"--data {root} has a val/ folder" if (Path(root) / HELD_OUT).is_dir()
             else f"--val-split {config.val_split} names another validation split"
             if config.val_split not in (None, HELD_OUT) else None)
    if config.val_holdout is None:
        return 0 if other else data_lib.holdout_count(total)
    if config.val_holdout and other:
        raise UserError(f"--val-holdout {config.val_holdout}: {other}, and training pairs are held out only to "
                        "validate on; drop one of the two")
    if config.val_holdout >= total:
        raise UserError(f"--val-holdout {config.val_holdout}: holds out all {total} pairs of "
                        f"{Path(root) / config.train_split}; leave some to train on")
    return config.val_holdout


class CheckpointGone(UserError):
    """The checkpoint's files went away while it was being read: a fit still training the run deletes
    all but its newest ``keep_checkpoints``."""


def restore(checkpoint: tf.train.Checkpoint, path: str) -> None:
    """Restore and insist that every variable we have was in the file: a checkpoint of another
    architecture is an error, never a silent partial load, and says so in one line."""
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError, IndexError, OSError) as err:
        _hide_unrestored_value_warnings()
        if not _complete(Path(path)):
            raise CheckpointGone(f"{path}: deleted while it was being read (a fit still training this run keeps "
                                 "only its newest checkpoints); run the command again, or pick a newer "
                                 "--checkpoint") from None
        raise UserError(f"{path}: checkpoint does not load into this run's networks ({reason(err)})") from None
    status.expect_partial()


def restore_kept(checkpoint: tf.train.Checkpoint, run: RunDir, which: str | int = "latest") -> str:
    """Restore the run's checkpoint ``which`` and return its path. The latest one, deleted by a running
    fit between looking it up and reading it, is looked up again, once."""
    path = checkpoint_path(run, which)
    try:
        restore(checkpoint, path)
    except CheckpointGone:
        if which != "latest":
            raise
        path = checkpoint_path(run, which)
        restore(checkpoint, path)
    return path


class _UnrestoredValueWarnings(logging.Filter):
    """TensorFlow's warnings, one line per value, when the objects of a failed restore are deleted
    (which may be at exit). A successful restore here never leaves values behind (``expect_partial``)."""

    PREFIXES = ("Detecting that an object or model or tf.train.Checkpoint is being deleted with unrestored",
                "Value in checkpoint could not be found in the restored object",
                "An attribute in the restored object could not be found in the checkpoint")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.PREFIXES)


def _hide_unrestored_value_warnings() -> None:
    logger = tf.get_logger()
    if not any(isinstance(f, _UnrestoredValueWarnings) for f in logger.filters):
        logger.addFilter(_UnrestoredValueWarnings())
