"""``--precision auto`` on a CPU with bf16 instructions: measured, not assumed, and remembered.

How much bfloat16 buys on a CPU depends on the CPU (AMX or only avx512_bf16), the TensorFlow build
and the network's size, and it can buy nothing. So the first run that needs the choice times train
steps of the actual networks at the actual image and batch size in float32 and in mixed_bfloat16, in
alternating windows (so a machine that drifts in speed drifts for both), compares the median window
of each (so one disturbed window does not decide), prints both, and keeps float32 unless bfloat16 is
clearly faster (``BFLOAT16_MARGIN``). The choice is cached per CPU model, core count, TensorFlow and
pix2pix_tf version and everything that sets a step's work, in ``~/.cache/pix2pix_tf/precision.json``
(``PIX2PIX_TF_CACHE`` moves the folder); fit's ``--remeasure-precision`` measures again. A cache file
that is not ours or is damaged in any way is not trusted: it is measured again and rewritten, whole
(two runs writing it at once leave one of their files, never a torn one).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

CACHE_FORMAT = "pix2pix_tf.precision_cache"
CACHE_VERSION = 1
CACHE_FILE = "precision.json"
CANDIDATES = ("float32", "mixed_bfloat16")
WINDOWS = 5
STEPS_PER_WINDOW = 3
# mixed_bfloat16 is chosen only when its median step is at least this much faster than float32's:
# within it, the two are the same speed up to run-to-run noise, and float32 is the exact one.
BFLOAT16_MARGIN = 0.10
# The settings that fix the work of one train step (a judge's class count is added to them).
STEP_FIELDS = ("task", "d_forward", "image_size", "batch_size", "input_nc", "output_nc", "ngf", "ndf", "d_layers",
               "norm", "depth", "upsample", "num_d", "lambda_fm")


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


def cpu_cores() -> int:
    """The cores this process may run on (a container or ``taskset`` may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cache_key(config, cpu: str, tf_version: str, cores: int) -> str:
    from pix2pix_tf.core import __version__

    classes = len(config.palette["colors"]) if getattr(config, "palette", None) else 0
    step = ", ".join(f"{name}={getattr(config, name)}" for name in STEP_FIELDS)
    return f"{cpu} | {cores} cores | tensorflow {tf_version} | pix2pix_tf {__version__} | {step}, classes={classes}"


def read_cache(path: Path) -> tuple[dict, str | None]:
    """(entries, why the file was not trusted or None)."""
    if not path.is_file():
        return {}, None
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return {}, f"unreadable ({err})"
    if not isinstance(payload, dict) or payload.get("format") != CACHE_FORMAT \
            or payload.get("version") != CACHE_VERSION or not isinstance(payload.get("entries"), dict):
        return {}, "not a pix2pix_tf precision cache of this version"
    for key, entry in payload["entries"].items():
        if not _sound(entry):
            return {}, f"entry {key!r} is damaged"
    return payload["entries"], None


def _sound(entry) -> bool:
    """An entry as ``measured_choice`` writes it: a known choice and a time for every candidate."""
    if not isinstance(entry, dict) or entry.get("choice") not in CANDIDATES or not isinstance(entry.get("seconds"),
                                                                                              dict):
        return False
    return all(isinstance(entry["seconds"].get(p), (int, float)) and not isinstance(entry["seconds"][p], bool)
               for p in CANDIDATES)


def write_cache(path: Path, entries: dict) -> None:
    from pix2pix_tf.core.atomic import write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps({"format": CACHE_FORMAT, "version": CACHE_VERSION, "entries": entries},
                                indent=2) + "\n")


def measure(config) -> dict[str, float]:
    """Seconds per train step of ``config``'s networks in each candidate precision, on random
    images: the median of alternating windows, after one warm-up step each (which traces the graph)."""
    import keras
    import tensorflow as tf

    from pix2pix_tf.train.builders import model_builder

    height, width = config.crop_hw
    source = tf.random.uniform([config.batch_size, height, width, config.input_nc], -1.0, 1.0)
    target = tf.random.uniform([config.batch_size, height, width, config.output_nc], -1.0, 1.0)
    steps = {}
    for precision in CANDIDATES:
        model = model_builder(config.task)(dataclasses.replace(config, precision=precision))
        iterator = iter(tf.data.Dataset.from_tensors((source, target)).repeat())
        model.make_train_function()
        step = model.train_function
        step(iterator)
        steps[precision] = (step, iterator)
    windows = {precision: [] for precision in CANDIDATES}
    for _ in range(WINDOWS):
        for precision, (step, iterator) in steps.items():
            began = time.perf_counter()
            for _ in range(STEPS_PER_WINDOW):
                logs = step(iterator)
            float(next(iter(logs.values())))  # wait for the last step to finish
            windows[precision].append(time.perf_counter() - began)
    del steps, model
    keras.backend.clear_session()
    return {p: statistics.median(times) / STEPS_PER_WINDOW for p, times in windows.items()}


def faster(seconds: dict[str, float]) -> str:
    """float32, unless mixed_bfloat16 is faster by more than the noise (``BFLOAT16_MARGIN``)."""
    if seconds["mixed_bfloat16"] <= (1.0 - BFLOAT16_MARGIN) * seconds["float32"]:
        return "mixed_bfloat16"
    return "float32"


def measured_choice(config, *, remeasure: bool = False, log=print, measure_fn=measure) -> str:
    """The faster of float32 and mixed_bfloat16 for ``config``, from the cache or measured now."""
    import tensorflow as tf

    path = cache_dir() / CACHE_FILE
    key = cache_key(config, cpu_model(), tf.__version__, cpu_cores())
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
    choice = faster(seconds)
    entries = read_cache(path)[0]  # as it is now: another run may have written it while this one measured
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
