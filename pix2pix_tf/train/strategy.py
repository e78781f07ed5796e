"""Where training runs: one device, several GPUs of one host, several hosts, or a TPU.

The strategy must exist before anything else touches TensorFlow's devices (MultiWorkerMirrored
configures collective ops at start-up), so ``training.train`` creates it first, from the config's
``strategy`` and nothing else. Everything that holds state (networks, optimisers, the step counter)
is then created under ``strategy.scope()``, and ``fit()`` splits each global batch over the replicas.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
CHIEF_TASK_TYPES = ("chief", None)


class UnsyncedBatchNormWarning(UserWarning):
    """Per-replica batch norm: training will not match one device on the same global batch."""


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy called ``name``; ``auto`` is MirroredStrategy when this host sees several GPUs and
    TensorFlow's default (single-device) strategy otherwise."""
    if name == "auto":
        gpus = tf.config.list_physical_devices("GPU")
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "one_device":
        device = "/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return _multi_worker_strategy()
    if name == "tpu":
        return _tpu_strategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")


def _multi_worker_strategy() -> tf.distribute.Strategy:
    from pix2pix_tf.core.errors import UserError

    if not os.environ.get("TF_CONFIG"):
        raise UserError("--strategy multi_worker: set TF_CONFIG on every host, e.g. "
                        "TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
                        "\"task\": {\"type\": \"worker\", \"index\": 0}}'")
    try:
        json.loads(os.environ["TF_CONFIG"])
    except ValueError as err:
        raise UserError(f"TF_CONFIG: not valid JSON ({err})") from None
    return tf.distribute.MultiWorkerMirroredStrategy()


def _tpu_strategy() -> tf.distribute.Strategy:
    """A Cloud TPU named by $TPU_NAME (or the TPU VM's local one when unset)."""
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def task_of(strategy: tf.distribute.Strategy) -> tuple[str | None, int | None]:
    """(task type, task id) of this process in a multi-worker cluster; (None, None) elsewhere."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The one process that writes the run directory: worker 0 when the cluster has no 'chief' task."""
    task_type, task_id = task_of(strategy)
    if task_type in CHIEF_TASK_TYPES:
        return True
    if task_type == "worker":
        cluster = getattr(strategy.cluster_resolver, "cluster_spec", lambda: None)()
        has_chief = cluster is not None and "chief" in cluster.as_dict()
        return task_id == 0 and not has_chief
    return False


def use_sync_batch_norm(setting: str, norm: str, replicas: int) -> bool:
    """``auto`` synchronises batch norm exactly when its statistics would otherwise be per replica."""
    if norm != "batch":
        return False
    if setting == "auto":
        return replicas > 1
    return setting == "on"


def warn_if_not_reproducible(norm: str, synchronized: bool, replicas: int) -> str | None:
    """Per-replica batch norm normalises each replica's share of the batch with that share's own
    statistics, so the step differs from one device's step on the same global batch."""
    if norm != "batch" or synchronized or replicas <= 1:
        return None
    message = (f"batch norm without synchronisation over {replicas} replicas normalises each replica's "
               "share of the batch separately, so training will not reproduce single-device training; "
               "use --sync-batch-norm on (or auto), or --norm instance")
    warnings.warn(message, UnsyncedBatchNormWarning, stacklevel=2)
    return message


@dataclass
class CheckpointTarget:
    """Where this process writes checkpoints: the run's directory on the chief, a throw-away one on
    other workers (they must still call save, as saving can involve collective ops)."""

    directory: Path
    chief: bool
    _temporary: Path | None = field(default=None, repr=False)

    @classmethod
    def for_process(cls, run_checkpoints: Path, strategy: tf.distribute.Strategy) -> CheckpointTarget:
        if is_chief(strategy):
            return cls(Path(run_checkpoints), True)
        _, task_id = task_of(strategy)
        temporary = Path(tempfile.mkdtemp(prefix=f"pix2pix_tf_worker{task_id}_"))
        return cls(temporary / "checkpoints", False, temporary)

    def cleanup(self) -> None:
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None


def describe(strategy: tf.distribute.Strategy) -> str:
    task_type, task_id = task_of(strategy)
    where = f", {task_type} {task_id}" if task_type is not None else ""
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "MultiWorkerMirroredStrategy"
    elif strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        name = "default strategy"
    else:
        name = type(strategy).__name__
    return f"{name} with {strategy.num_replicas_in_sync} replica(s){where}"
