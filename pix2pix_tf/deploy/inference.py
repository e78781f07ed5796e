"""A trained generator read back from a run directory, in an explicit inference mode.

``paper``: dropout stays on and each image is normalised with its own statistics, exactly as the
paper runs the generator at test time. ``deterministic``: the same without dropout, so one input
always gives one output. Neither mode reads or updates moving statistics, and neither lets one
image's output depend on the rest of its batch.

Which weights: a run trained with ``--ema`` keeps the moving average of its generator's weights beside the
trained ones, and loads the average unless ``weights="raw"`` (``pix2pix_tf.train.ema``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from pix2pix_tf.core.config import INFERENCE_MODES, Config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.nets.networks import build_generator
from pix2pix_tf.train.ema import CHECKPOINT_KEYS, chosen_weights
from pix2pix_tf.train.rundir import RunDir, checkpoint_step, restore, restore_kept, task_config


@dataclass
class TrainedGenerator:
    config: Config
    generator: keras.Model
    mode: str
    checkpoint: str
    weights: str = "raw"

    @property
    def step(self) -> int:
        return checkpoint_step(self.checkpoint)

    def restore(self, path: str) -> None:
        """Load another checkpoint of the same run into this generator (no rebuild, no retrace)."""
        restore(tf.train.Checkpoint(**{CHECKPOINT_KEYS[self.weights]: self.generator}), path)
        check_finite_weights(self.generator, path)
        self.checkpoint = path


def load_generator(run_dir: str | Path, checkpoint: str | int = "latest", mode: str = "deterministic",
                   weights: str | None = None) -> TrainedGenerator:
    """The run's generator at ``checkpoint``, in float32 whatever precision it trained in. ``weights``:
    ``ema`` (the default for a run trained with ``--ema``) or ``raw``."""
    if mode not in INFERENCE_MODES:
        raise ValueError(f"mode must be one of {INFERENCE_MODES}, not {mode!r}")
    run = RunDir(Path(run_dir))
    config = task_config(run, "pix2pix")
    weights = chosen_weights(config, weights, run.root)
    keras.mixed_precision.set_global_policy("float32")
    generator = build_generator(config, dropout_at_inference=mode == "paper")
    path = restore_kept(tf.train.Checkpoint(**{CHECKPOINT_KEYS[weights]: generator}), run, checkpoint)
    check_finite_weights(generator, path)
    return TrainedGenerator(config, generator, mode, path, weights)


def check_finite_weights(generator: keras.Model, path: str) -> None:
    """A generator with a NaN or infinite weight turns every image into NaN, which an 8-bit PNG shows as
    black: a checkpoint saved after training diverged is refused in one line, before anything uses it."""
    bad = [weight.path for weight in generator.weights if not bool(tf.reduce_all(tf.math.is_finite(weight)))]
    if bad:
        raise UserError(f"{path}: the checkpoint's generator has NaN or infinite weights ({len(bad)} of "
                        f"{len(generator.weights)} variables, first {bad[0]}): training diverged before it was "
                        "saved; use an earlier --checkpoint, or train again (a lower --lr)")
