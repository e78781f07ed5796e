"""Training and inference throughput: the plain float32 recipe against what `fit` does by default.

    python benchmarks/throughput.py [--size 256] [--batches 1,4] [--steps 8] [--repeats 4]

Both configurations are built once and then timed in alternation (A B A B ...), so drift of a
shared machine falls on both. Prints seconds per step, images per second, the default/baseline
ratio with its spread over the repeats, time to the first step, the input pipeline alone, peak
memory (measured in a fresh process), and GFLOP/s from an analytic count of the step's
floating-point operations.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from pix2pix_tf import data as data_lib  # noqa: E402
from pix2pix_tf.config import Config  # noqa: E402
from pix2pix_tf.precision import resolve_precision  # noqa: E402
from pix2pix_tf.training import build_model, prepare  # noqa: E402

FACADES = REPO.parent / "shared" / "data" / "facades"


# ---- analytic FLOP count -------------------------------------------------------------------------

def _spatial_after(layer, hw: tuple[int, int]) -> tuple[int, int]:
    if isinstance(layer, keras.layers.Conv2DTranspose):
        return hw[0] * layer.strides[0], hw[1] * layer.strides[1]
    if isinstance(layer, keras.layers.Conv2D):
        if layer.padding == "same":
            return -(-hw[0] // layer.strides[0]), -(-hw[1] // layer.strides[1])
        k = layer.kernel_size
        return (hw[0] - k[0]) // layer.strides[0] + 1, (hw[1] - k[1]) // layer.strides[1] + 1
    if isinstance(layer, keras.layers.ZeroPadding2D):
        (top, bottom), (left, right) = layer.padding
        return hw[0] + top + bottom, hw[1] + left + right
    return hw


def forward_flops(model: keras.Model, hw: tuple[int, int]) -> int:
    """Multiply-adds x 2 of every convolution, walking the functional graph with spatial sizes."""
    spatial = {id(t): hw for t in model.inputs}
    total = 0
    for layer in model.layers:
        for node in layer._inbound_nodes:
            inputs = node.input_tensors
            if not inputs:
                continue
            in_hw = spatial.get(id(inputs[0]), hw)
            out_hw = _spatial_after(layer, in_hw)
            for out in node.output_tensors:
                spatial[id(out)] = out_hw
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
                k = layer.kernel_size[0] * layer.kernel_size[1]
                cin, cout = inputs[0].shape[-1], layer.filters
                transposed = isinstance(layer, keras.layers.Conv2DTranspose)
                positions = in_hw[0] * in_hw[1] if transposed else out_hw[0] * out_hw[1]
                total += 2 * positions * k * cin * cout
    return total


def train_step_flops(model, hw: tuple[int, int], batch: int) -> int:
    """G: forward + backward (~2x forward). D: two forwards and backwards in its own step, and one
    forward plus a backward to its input (~1x forward) in G's step."""
    g = forward_flops(model.generator, hw)
    d = forward_flops(model.discriminator, hw)
    return batch * (3 * g + 6 * d + 2 * d)


# ---- the two configurations ------------------------------------------------------------------------

@dataclasses.dataclass
class Candidate:
    name: str
    model: object
    iterator: object
    batch: int
    first_step_s: float
    times: list = dataclasses.field(default_factory=list)

    def run(self, steps: int) -> float:
        began = time.perf_counter()
        logs = None
        for _ in range(steps):
            logs = self.model.train_function(self.iterator)
        float(np.asarray(logs["g_l1"]))  # wait for the last step
        elapsed = (time.perf_counter() - began) / steps
        self.times.append(elapsed)
        return elapsed


def plain_dataset(pairs, config: Config) -> tf.data.Dataset:
    """The tutorial's pipeline: sequential map, no prefetch or parallelism tuning."""
    tuned = data_lib.training_dataset(pairs, config)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return tuned.unbatch().batch(config.batch_size).with_options(options)


def plain_adam(config: Config) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(config.lr, beta_1=config.beta1, beta_2=config.beta2)


def make_candidate(name: str, config: Config, pairs, baseline: bool) -> Candidate:
    began = time.perf_counter()
    model = build_model(config)
    if baseline:
        model.compile(plain_adam(config), plain_adam(config))
    dataset = plain_dataset(pairs, config) if baseline else data_lib.training_dataset(pairs, config)
    model.make_train_function()
    iterator = iter(dataset)
    float(np.asarray(model.train_function(iterator)["g_l1"]))
    return Candidate(name, model, iterator, config.batch_size, time.perf_counter() - began)


def pipeline_images_per_s(pairs, config: Config, batches: int = 40) -> float:
    iterator = iter(data_lib.training_dataset(pairs, config))
    next(iterator)
    began = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * config.batch_size / (time.perf_counter() - began)


def base_config(args, batch: int) -> tuple[Config, list]:
    data = str(FACADES) if FACADES.is_dir() else "builtin"
    config = Config(data=data, direction="BtoA", image_size=str(args.size), batch_size=batch, steps=10_000)
    prepared = prepare(config, measure_precision=False)
    return prepared.config, prepared.train_pairs


def peak_rss_mb() -> float:
    """VmHWM, the process's own high-water mark (``ru_maxrss`` would include the parent's memory
    at fork, which Linux carries across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_probe(args) -> None:
    """Runs in a fresh process: peak resident memory of the default configuration."""
    config, pairs = base_config(args, 1)
    candidate = make_candidate("default", config, pairs, baseline=False)
    candidate.run(3)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def peak_memory_mb(args) -> float:
    out = subprocess.run([sys.executable, __file__, "--size", str(args.size), "--memory-probe"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_rss_mb"]


def inference_rows(config: Config, hw, default_policy: str) -> list[str]:
    rows = []
    for policy in ("float32", default_policy):
        model = build_model(dataclasses.replace(config, precision=policy))
        generator = tf.function(lambda x, g=model.generator: g(x, training=False))
        for batch in (1, 8):
            x = tf.random.uniform((batch, *hw, config.input_nc), -1, 1)
            generator(x).numpy()
            began = time.perf_counter()
            reps = 5
            for _ in range(reps):
                generator(x).numpy()
            per_image = (time.perf_counter() - began) / reps / batch
            rows.append(f"| Keras generator, {policy} | {batch} | {per_image * 1000:.1f} ms | {1 / per_image:.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--steps", type=int, default=8, help="steps per timed window")
    parser.add_argument("--repeats", type=int, default=4, help="A/B windows per configuration")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_probe:
        return memory_probe(args)

    hw = (args.size, args.size)
    default_policy = resolve_precision("auto")
    print(f"machine: {tf.config.threading.get_inter_op_parallelism_threads() or 'auto'} inter-op threads, "
          f"{len(tf.config.list_physical_devices('CPU'))} CPU device, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}; default precision here: {default_policy}")
    print(f"data: {FACADES if FACADES.is_dir() else 'built-in synthetic'}; {args.size}x{args.size}; "
          f"{args.repeats} alternating windows of {args.steps} steps\n")
    print("| batch | config | s/step | images/s | first step | GFLOP/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    summary = []
    for batch in [int(b) for b in args.batches.split(",")]:
        config, pairs = base_config(args, batch)
        baseline = make_candidate("baseline (float32, Keras Adam, plain tf.data)",
                                  dataclasses.replace(config, precision="float32"), pairs, baseline=True)
        default = make_candidate(f"default ({default_policy}, fused Adam, tuned tf.data)", config, pairs,
                                 baseline=False)
        for _ in range(args.repeats):
            baseline.run(args.steps)
            default.run(args.steps)
        flops = train_step_flops(default.model, hw, batch)
        for c in (baseline, default):
            step = statistics.median(c.times)
            print(f"| {batch} | {c.name} | {step:.3f} | {batch / step:.2f} | {c.first_step_s:.1f} s | "
                  f"{flops / step / 1e9:.0f} |")
        ratios = [b / d for b, d in zip(baseline.times, default.times)]
        pipeline = pipeline_images_per_s(pairs, config)
        summary.append(f"batch {batch}: default/baseline images/s = {statistics.median(ratios):.2f}x "
                       f"(min {min(ratios):.2f}, max {max(ratios):.2f} over {len(ratios)} windows); "
                       f"input pipeline alone {pipeline:.0f} images/s = "
                       f"{pipeline / (batch / statistics.median(default.times)):.0f}x the default step; "
                       f"analytic {flops / 1e9:.1f} GFLOP per step")
        del baseline, default
    print()
    for line in summary:
        print(line)
    print(f"peak resident memory, default configuration, batch 1: {peak_memory_mb(args):.0f} MB")
    print("\n| inference | batch | per image | images/s |")
    print("| --- | --- | --- | --- |")
    config, _ = base_config(args, 1)
    for row in inference_rows(config, hw, default_policy):
        print(row)


if __name__ == "__main__":
    main()
