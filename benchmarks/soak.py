"""Kill-and-resume soak: train for a wall-clock budget while killing `fit` with SIGKILL at random
moments, resuming each time, and count what survived.

    python benchmarks/soak.py [--minutes 10] [--save-every 5] [--seed 0]

Reports kills survived, checkpoints that failed to load (target 0), steps lost per kill (steps the
killed process had finished beyond its last checkpoint; target: at most one save interval) and
whether the run's step count only ever moved forward. The steps a killed process finished are read from
its Keras progress bar (one update per step).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from pix2pix_tf.train.rundir import checkpoint_step  # noqa: E402

PROGRESS = re.compile(r"(\d+)/\d+ ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def write_dataset(root: Path, count: int = 16, size: int = 32) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", count), ("test", 4)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(root / split / f"{i}.png")
    return root


def steps_finished(progress: str) -> int:
    """Steps shown done by Keras' progress bar, summed over the epochs of every fit() call."""
    epochs = ANSI.sub("", progress).split("Epoch ")
    return sum(max((int(n) for n in PROGRESS.findall(chunk)), default=0) for chunk in epochs)


def latest_step(run: Path) -> int:
    path = tf.train.latest_checkpoint(str(run / "checkpoints"))
    return checkpoint_step(path) if path else 0


def checkpoint_loads(run: Path) -> bool:
    path = tf.train.latest_checkpoint(str(run / "checkpoints"))
    if path is None:
        return True
    try:
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception:  # noqa: BLE001 - any failure to read is what this soak counts
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--save-every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="pix2pix_soak_"))
    data = write_dataset(work / "data")
    run = work / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "pix2pix_tf.fit", "--data", str(data), "--run-dir", str(run),
               "--image-size", "32", "--ngf", "8", "--ndf", "8", "--precision", "float32", "--steps", "1000000",
               "--save-every", str(args.save_every), "--sample-every", "100000", "--log-every", "1"]
    kills, failed_loads, lost, went_back = 0, 0, [], 0
    deadline = time.monotonic() + args.minutes * 60
    while time.monotonic() < deadline:
        before = latest_step(run)
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True, bufsize=1)
        time.sleep(rng.uniform(8.0, 25.0))
        process.send_signal(signal.SIGKILL)
        out, _ = process.communicate()
        kills += 1
        after = latest_step(run)
        went_back += after < before
        if not checkpoint_loads(run):
            failed_loads += 1
        reached = before + steps_finished(out)
        lost.append(max(reached - after, 0))
        print(f"kill {kills}: checkpoint {before} -> {after}, reached ~{reached}, lost {lost[-1]} steps", flush=True)
    print(f"\nkills survived: {kills - failed_loads} of {kills}; checkpoints that failed to load: {failed_loads}; "
          f"checkpoint step went backwards: {went_back} times")
    print(f"steps lost per kill: max {max(lost, default=0)}, mean {np.mean(lost) if lost else 0:.1f} "
          f"(save interval {args.save_every})")
    print(f"run directory: {run}")


if __name__ == "__main__":
    main()
