"""``--precision auto`` on a CPU with bf16 instructions: measured, not assumed, and remembered.

How much bfloat16 buys on a CPU depends on the CPU (AMX or only avx512_bf16), the TensorFlow build
and the network's size, and it can buy nothing. So the first run that needs the choice times a few
train steps of the actual networks at the actual image and batch size in float32 and in
mixed_bfloat16, in alternating windows (so a machine that drifts in speed drifts for both), prints
both and keeps the faster. The choice is cached per CPU model, TensorFlow version and network shape
in ``~/.cache/pix2pix_tf/precision.json`` (``PIX2PIX_TF_CACHE`` moves the folder); fit's
``--remeasure-precision`` measures again. A cache file that is not ours or is damaged is not
trusted: it is measured again and rewritten.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from pathlib import Path

CACHE_FORMAT = "pix2pix_tf.precision_cache"
CACHE_VERSION = 1
CACHE_FILE = "precision.json"
CANDIDATES = ("float32", "mixed_bfloat16")
WINDOWS = 2
STEPS_PER_WINDOW = 3
# The settings that fix the work of one train step.
SHAPE_FIELDS = ("image_size", "batch_size", "input_nc", "output_nc", "ngf", "ndf", "d_layers", "norm", "depth")


def cache_dir() -> Path:
    return Path(os.environ.get("PIX2PIX_TF_CACHE", Path.home() / ".cache" / "pix2pix_tf"))


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cache_key(config, cpu: str, tf_version: str) -> str:
    shape = ", ".join(f"{name}={getattr(config, name)}" for name in SHAPE_FIELDS)
    return f"{cpu} | tensorflow {tf_version} | {shape}"


def read_cache(path: Path) -> tuple[dict, str | None]:
    """(entries, why the file was not trusted or None)."""
    if not path.is_file():
        return {}, None
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return {}, f"unreadable ({err})"
    entries = payload.get("entries") if isinstance(payload, dict) else None
    if payload.get("format") != CACHE_FORMAT or payload.get("version") != CACHE_VERSION \
            or not isinstance(entries, dict):
        return {}, "not a pix2pix_tf precision cache of this version"
    for key, entry in entries.items():
        if not isinstance(entry, dict) or entry.get("choice") not in CANDIDATES:
            return {}, f"entry {key!r} is damaged"
    return entries, None


def write_cache(path: Path, entries: dict) -> None:
    from pix2pix_tf.atomic import write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps({"format": CACHE_FORMAT, "version": CACHE_VERSION, "entries": entries},
                                indent=2) + "\n")


def measure(config) -> dict[str, float]:
    """Seconds per train step of ``config``'s networks in each candidate precision, on random
    images, in alternating windows after one warm-up step each (which traces the graph)."""
    import keras
    import tensorflow as tf

    from pix2pix_tf.training import build_judge_model, build_model

    height, width = config.crop_hw
    source = tf.random.uniform([config.batch_size, height, width, config.input_nc], -1.0, 1.0)
    target = tf.random.uniform([config.batch_size, height, width, config.output_nc], -1.0, 1.0)
    steps = {}
    for precision in CANDIDATES:
        build = build_model if config.task == "pix2pix" else build_judge_model
        model = build(dataclasses.replace(config, precision=precision))
        iterator = iter(tf.data.Dataset.from_tensors((source, target)).repeat())
        model.make_train_function()
        step = model.train_function
        step(iterator)
        steps[precision] = (step, iterator)
    seconds = {precision: 0.0 for precision in CANDIDATES}
    for _ in range(WINDOWS):
        for precision, (step, iterator) in steps.items():
            began = time.perf_counter()
            for _ in range(STEPS_PER_WINDOW):
                logs = step(iterator)
            float(next(iter(logs.values())))  # wait for the last step to finish
            seconds[precision] += time.perf_counter() - began
    del steps, model
    keras.backend.clear_session()
    return {p: s / (WINDOWS * STEPS_PER_WINDOW) for p, s in seconds.items()}


def measured_choice(config, *, remeasure: bool = False, log=print, measure_fn=measure) -> str:
    """The faster of float32 and mixed_bfloat16 for ``config``, from the cache or measured now."""
    import tensorflow as tf

    path = cache_dir() / CACHE_FILE
    key = cache_key(config, cpu_model(), tf.__version__)
    entries, distrust = read_cache(path)
    if distrust:
        log(f"note: {path}: {distrust}; measuring again")
    entry = entries.get(key)
    if entry and not remeasure:
        log(f"precision: {entry['choice']} (measured before on this CPU: " + _times(entry["seconds"]) +
            f"; cached in {path}, fit --remeasure-precision measures again)")
        return entry["choice"]
    log("precision: timing a few train steps in float32 and mixed_bfloat16 on this CPU ...")
    seconds = measure_fn(config)
    choice = min(CANDIDATES, key=lambda p: seconds[p])
    entries[key] = {"choice": choice, "seconds": seconds, "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        write_cache(path, entries)
        where = f"cached in {path}"
    except OSError as err:
        where = f"not cached: {path}: {err.strerror or err}"
    log(f"precision: {choice} ({_times(seconds)}; {where})")
    return choice


def _times(seconds: dict) -> str:
    return ", ".join(f"{p} {s:.3f} s/step" for p, s in seconds.items())
