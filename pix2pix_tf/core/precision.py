"""Which number format the hardware runs fastest, and the Keras policy that applies it."""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """bfloat16 only pays on CPUs with native bf16 instructions; elsewhere it is emulated and slow."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def nvidia_gpu_supports_float16() -> bool:
    """Tensor cores (compute capability 7.0+) are what make float16 faster than float32."""
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and capability >= (7, 0):
            return True
    return False


def auto_precision() -> str:
    if tf.config.list_physical_devices("TPU"):
        return "mixed_bfloat16"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16" if nvidia_gpu_supports_float16() else "float32"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"


def resolve_precision(requested: str) -> str:
    """The hardware rule; on a bf16 CPU ``prepare()`` then measures (``autoprecision``)."""
    return auto_precision() if requested == "auto" else requested


def measure_on_this_cpu(requested: str) -> bool:
    """Does ``auto`` need a measurement here: a CPU-only host whose CPU has bf16 instructions."""
    return (requested == "auto" and cpu_has_bf16() and not tf.config.list_physical_devices("GPU")
            and not tf.config.list_physical_devices("TPU"))


def apply_precision(policy: str) -> None:
    """Set the global Keras policy; call before building the networks."""
    keras.mixed_precision.set_global_policy(policy)


def uses_loss_scaling(policy: str) -> bool:
    """float16's narrow exponent underflows small gradients; bfloat16 has float32's range."""
    return policy == "mixed_float16"
