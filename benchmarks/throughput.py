"""Training and inference throughput: the plain float32 recipe against what `fit` does by default.

    python benchmarks/throughput.py [--size 256] [--batches 1,4] [--steps 8] [--repeats 4]
    python benchmarks/throughput.py --loop [--steps 20] [--repeats 6]
    python benchmarks/throughput.py --profile [--steps 8] [--top 15]
    python benchmarks/throughput.py --whole-process [--process-steps 150] [--repeats 4] [--long-run]
    python benchmarks/throughput.py --flops [--size 256] [--json benchmarks/results/flops.json]
    python benchmarks/throughput.py --step-settings [--parts xla,threads] [--steps 8] [--repeats 4] [--json PATH]

The configurations are built once and then timed in alternation (A B A B ...), so drift of a
shared machine falls on both. Prints seconds per step, images per second, the default/baseline
ratio with its spread over the repeats, time to the first step, the input pipeline alone, peak
memory (measured in a fresh process), GFLOP/s from an analytic count of the step's floating-point
operations as a fraction of this CPU's matmul peak (measured on the spot in float32 and bfloat16),
and Keras inference latency (TFLite latency on the exported files is in ``pix2pix_tf.export``'s
table, with the interpreter's threads set to the core count). Five steps are compared:
the tutorial's recipe as settings of this project's own training step (``Pix2Pix.train_step``: float32,
Keras Adam, sequential ``tf.data``, one D forward on the fake serving both losses, the paper's
transposed-convolution generator at the paper's width, 64; the step halves D's loss, the tutorial's loop
does not), the same
with D recomputed after its update (the paper's recipe), `fit`'s default, and the default with the
other ``--d-forward`` and the other ``--upsample`` choice.

``--loop`` measures what ``fit`` costs around its step: inside one ``fit()`` call with the callbacks
``fit`` uses (TensorBoard scalars, sample grids, the non-finite guard, checkpoints, the progress
bar), each epoch of --steps steps is followed by as many bare ``train_function`` calls, so the two
alternate; it also times validation per image against a training step and gives the share of
training time that per-epoch validation costs on facades and on a 16-pair dataset.

``--profile`` runs the TensorFlow profiler over --steps train steps in float32 and in the default
precision and prints where the time goes: op types by their share of the time on TensorFlow's
compute threads, and the casts, optimiser updates and finiteness checks as groups.

``--flops`` only counts: the analytic FLOPs of a training step for each ``--upsample`` and ``--d-forward``
choice at the paper's width, and for `fit`'s narrower default (no timing, so any machine gives the same
numbers); ``--json PATH`` writes them.

``--whole-process`` times what a user waits for instead: ``python -m pix2pix_tf.fit`` against
``benchmarks/tutorial_recipe.py`` as whole processes of --process-steps steps on facades,
alternated --repeats times, with the median ratio; ``--long-run`` adds one 2,000-step fit run.

``--step-settings`` tries the two knobs of issue 26 that leave `fit`'s default step (its batch) as it is:
XLA (``fit --xla on``, Keras' ``jit_compile``), timed in alternation with the plain step in one process after a check
that it computes the same step (the same first batches from the same weights, with the default's dropout
and with dropout off: the first step's losses and the generator's weights after three steps, their largest
difference, beside a second plain run's), and TensorFlow's thread pools (inter-op and
intra-op threads, which must be set before TensorFlow starts, so each setting is a child process of its
own, alternated --repeats times). ``--json PATH`` writes the figures of the parts that ran (``--parts``).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
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

from pix2pix_tf.core.config import Config  # noqa: E402
from pix2pix_tf.core.precision import resolve_precision  # noqa: E402
from pix2pix_tf.data import pipeline as data_lib  # noqa: E402
from pix2pix_tf.nets.networks import DepthToSpace  # noqa: E402
from pix2pix_tf.train.builders import build_model  # noqa: E402
from pix2pix_tf.train.training import prepare  # noqa: E402

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
    if isinstance(layer, keras.layers.UpSampling2D):
        return hw[0] * layer.size[0], hw[1] * layer.size[1]
    if isinstance(layer, DepthToSpace):
        return hw[0] * layer.block, hw[1] * layer.block
    if isinstance(layer, keras.layers.AveragePooling2D):  # --num-d's scales, "same" padding
        return -(-hw[0] // layer.strides[0]), -(-hw[1] // layer.strides[1])
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


def step_flops(model, hw: tuple[int, int], batch: int) -> int:
    return batch * training_step_flops(forward_flops(model.generator, hw), forward_flops(model.discriminator, hw),
                                       model.d_forward, model.lambda_fm)


def training_step_flops(g: int, d: int, d_forward: str, lambda_fm: float = 0.0) -> int:
    """One image's step from the forward counts of G and D (all its --num-d scales). G: forward + backward
    (~2x forward). D: two forwards and backwards in its own step, and in G's step a backward to its input
    (~1x forward) after a forward of its own unless --d-forward reuse; recomputed with --lambda-fm, also a
    forward on the real pair for its features."""
    return 3 * g + 6 * d + (d if d_forward == "reuse" else (3 if lambda_fm > 0 else 2) * d)


def flop_counts(size: int) -> dict:
    """The analytic count alone, nothing timed: per --upsample choice, the generator's trainable parameters,
    the forward GFLOP of G and D at ``size``, a batch-1 training step's GFLOP with D recomputed and reused, and
    the share reuse saves."""
    from pix2pix_tf.core.config import generator_depth
    from pix2pix_tf.nets.networks import build_discriminator, build_generator

    hw = (size, size)
    rows = []
    for (width, upsample) in [(64, "transpose"), (64, "resize"), (64, "subpixel"), (32, "resize")]:
        config = Config(image_size=str(size), input_nc=3, output_nc=3, depth=generator_depth(hw), upsample=upsample,
                        ngf=width, ndf=width)
        generator = build_generator(config)
        g, d = forward_flops(generator, hw), forward_flops(build_discriminator(config), hw)
        steps = {mode: training_step_flops(g, d, mode) for mode in ("recompute", "reuse")}
        weights = sum(int(np.prod(w.shape)) for w in generator.trainable_weights)
        rows.append({"ngf": width, "ndf": width, "upsample": upsample, "generator_trainable_parameters": weights,
                     "generator_forward_gflop": round(g / 1e9, 3),
                     "discriminator_forward_gflop": round(d / 1e9, 3),
                     **{f"step_gflop_d_forward_{mode}": round(n / 1e9, 3) for mode, n in steps.items()},
                     "reuse_saves": round(1 - steps["reuse"] / steps["recompute"], 4)})
        keras.backend.clear_session()
    return {"image_size": size, "batch": 1,
            "what": "analytic: 2 x the multiply-adds of every convolution (throughput.forward_flops); a training "
                    "step is 3 G forwards + 6 D forwards + 1 (--d-forward reuse) or 2 (recompute) more D forwards "
                    "(throughput.training_step_flops); 3-channel images; the paper's width (ngf = ndf = 64) with "
                    "each --upsample, and fit's default (32, resize)", "rows": rows}


def print_flops(args) -> None:
    counts = flop_counts(args.size)
    print(f"analytic GFLOP at {args.size}x{args.size}, batch 1 (nothing timed):")
    print("| --ngf, --ndf | --upsample | G parameters | G forward | D forward | step, D recomputed | step, D reused | "
          "reuse saves |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in counts["rows"]:
        print(f"| {row['ngf']} | {row['upsample']} | {row['generator_trainable_parameters']:,} "
              f"| {row['generator_forward_gflop']:.1f} "
              f"| {row['discriminator_forward_gflop']:.1f} "
              f"| {row['step_gflop_d_forward_recompute']:.1f} | {row['step_gflop_d_forward_reuse']:.1f} "
              f"| {row['reuse_saves']:.1%} |")
    if args.json:
        command = " ".join(["python benchmarks/throughput.py", *sys.argv[1:]])
        Path(args.json).write_text(json.dumps({"command": command, **counts}, indent=2) + "\n")
        print(f"written: {args.json}")


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


def cpu_description() -> str:
    """Vendor, family/model and the flags that decide bfloat16's worth, from /proc/cpuinfo."""
    info = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    flags = set(info.get("flags", "").split())
    bf16 = [f for f in ("avx512_bf16", "amx_bf16", "amx_tile", "avx512f") if f in flags]
    return (f"{info.get('model name', '?')} ({info.get('vendor_id', '?')}, family {info.get('cpu family', '?')} "
            f"model {info.get('model', '?')}), {os.cpu_count()} cores; flags: {', '.join(bf16) or 'no bf16/AMX'}")


def matmul_peak_gflops(dtype: tf.DType, n: int = 2048, reps: int = 10) -> float:
    """What this CPU does at best on one large matrix product, the ceiling for the convolutions."""
    a = tf.random.uniform((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    product = tf.function(lambda x, y: tf.matmul(x, y))
    product(a, b).numpy()
    began = time.perf_counter()
    for _ in range(reps):
        product(a, b).numpy()
    return 2 * n ** 3 * reps / (time.perf_counter() - began) / 1e9


def whole_process(args) -> None:
    """fit and the tutorial recipe as the processes a user runs, alternated; median ratio."""
    if not FACADES.is_dir():
        raise SystemExit(f"--whole-process needs the facades data at {FACADES}")
    import shutil
    import tempfile

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    work = Path(tempfile.mkdtemp(prefix="throughput-"))
    commands = {
        "fit": [sys.executable, "-m", "pix2pix_tf.fit", "--data", str(FACADES), "--direction", "BtoA",
                "--batch-size", "1", "--steps", str(args.process_steps), "--quiet"],  # the tutorial's batch
        "tutorial": [sys.executable, str(REPO / "benchmarks" / "tutorial_recipe.py"), "--data", str(FACADES),
                     "--steps", str(args.process_steps)]}
    times = {name: [] for name in commands}
    try:
        for k in range(args.repeats):
            for name, command in commands.items():
                run = ["--run-dir", str(work / f"{name}{k}")] if name == "fit" else []
                began = time.perf_counter()
                subprocess.run(command + run, env=env, check=True, capture_output=True, cwd=REPO)
                times[name].append(time.perf_counter() - began)
                print(f"  {name} run {k + 1}: {times[name][-1]:.1f} s", flush=True)
        ratios = [t / f for t, f in zip(times["tutorial"], times["fit"])]
        print(f"\nwhole process, {args.process_steps} steps on facades at 256x256, batch 1: fit "
              f"{statistics.median(times['fit']):.1f} s, tutorial recipe {statistics.median(times['tutorial']):.1f} s "
              f"(medians of {args.repeats}); fit is {statistics.median(ratios):.2f}x as fast "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")
        if args.long_run:
            began = time.perf_counter()
            subprocess.run(commands["fit"][:-3] + ["--steps", "2000", "--quiet", "--run-dir", str(work / "long")],
                           env=env, check=True, capture_output=True, cwd=REPO)
            print(f"fit, 2,000 steps end to end (per-epoch validation included): {time.perf_counter() - began:.0f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


class AlternateBareSteps(keras.callbacks.Callback):
    """After each epoch of ``fit()``, as many bare ``train_function`` calls on a second iterator: fit's
    window runs from the end of the previous bare window to this epoch's end (everything fit does
    between epochs included); the bare window is the steps alone."""

    def __init__(self, iterator, steps: int):
        super().__init__()
        self.iterator, self.steps = iterator, steps
        self.fit_times, self.bare_times = [], []
        self.mark = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.mark is None:
            self.mark = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        int(self.model.train_steps.numpy())
        self.fit_times.append(time.perf_counter() - self.mark)
        began = time.perf_counter()
        for _ in range(self.steps):
            logs = self.model.train_function(self.iterator)
        float(np.asarray(logs["g_l1"]))
        self.bare_times.append(time.perf_counter() - began)
        self.mark = time.perf_counter()


THREAD_SETTINGS = ((0, 0), (1, 2), (2, 2), (1, 1))  # (inter-op, intra-op); 0: TensorFlow's choice


def same_batches(config: Config, pairs, n: int) -> tf.data.Dataset:
    """n training batches, jittered once and then repeated as they are: both steps see the same pixels."""
    return data_lib.training_dataset(pairs, config).take(n).cache().repeat()


def xla_check(config: Config, pairs, steps: int = 3) -> dict:
    """The plain step twice and the XLA step once, from the same weights on the same batches: the first
    step's losses (a forward pass from identical weights) and the generator's weights after ``steps`` steps,
    their largest differences from the first plain run. The second plain run is the control: what two runs
    of the same program differ by (Adam's first steps move a weight by about the learning rate whatever
    the gradient's size, so a gradient near zero that changes sign moves it twice that)."""
    batches = same_batches(config, pairs, steps)
    runs = []
    for xla in ("off", "off", "on"):
        model = build_model(dataclasses.replace(config, xla=xla))
        model.make_train_function()
        iterator = iter(batches)
        logs = [{k: float(np.asarray(v)) for k, v in model.train_function(iterator).items()} for _ in range(steps)]
        runs.append((logs[0], [w.numpy() for w in model.generator.weights]))
    (first, weights), *others = runs
    differences = [(max(abs(first[k] - logs[k]) / max(abs(first[k]), 1e-6) for k in ("g_l1", "g_gan", "d_loss")),
                    max(float(np.max(np.abs(a - b))) for a, b in zip(weights, other)))
                   for logs, other in others]
    return {"steps": steps, "lr": config.lr,
            "plain again: first-step relative loss difference": differences[0][0],
            "plain again: largest generator weight difference": differences[0][1],
            "xla: first-step relative loss difference": differences[1][0],
            "xla: largest generator weight difference": differences[1][1]}


def thread_child(args) -> None:
    """One thread setting's process: set the pools before TensorFlow starts, time the default step."""
    inter, intra = (int(x) for x in args.thread_child.split(","))
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    config, pairs = base_config(args, Config().batch_size)
    candidate = make_candidate("threads", config, pairs, baseline=False)
    for _ in range(args.repeats):
        candidate.run(args.steps)
    print(json.dumps({"s_per_step": statistics.median(candidate.times)}))


def step_settings(args) -> None:
    """XLA against the plain step in one process; thread settings as alternated child processes. With
    ``--json``, the parts that ran replace theirs in the file and the others are kept."""
    config, pairs = base_config(args, Config().batch_size)
    parts = args.parts.split(",")
    print(f"fit's default step: {config.precision}, --ngf {config.ngf} --ndf {config.ndf}, --upsample "
          f"{config.upsample}, --d-forward {config.d_forward}, --norm {config.norm}, batch {config.batch_size}, "
          f"{args.size}x{args.size}\n")
    results = {}
    if "xla" in parts:
        results["xla"] = xla_timing(args, config, pairs)
    if "threads" in parts:
        results["threads"] = thread_timing(args)
    if args.json:
        path = Path(args.json)
        stored = json.loads(path.read_text()) if path.is_file() else {}
        for part in results:
            stored[part] = {"command": " ".join(["python benchmarks/throughput.py", *sys.argv[1:]]),
                            "cpu": cpu_description(),
                            "config": {"precision": config.precision, "ngf": config.ngf, "ndf": config.ndf,
                                       "upsample": config.upsample, "d_forward": config.d_forward,
                                       "norm": config.norm, "batch_size": config.batch_size, "size": args.size},
                            "figures": results[part]}
        path.write_text(json.dumps(stored, indent=2) + "\n")
        print(f"written: {args.json}")


def xla_timing(args, config: Config, pairs) -> dict:
    checks = {}
    for dropout in dict.fromkeys((config.dropout, 0.0)):
        check = checks[f"dropout {dropout:g}"] = xla_check(dataclasses.replace(config, dropout=dropout), pairs)
        print(f"XLA computes the same step? dropout {dropout:g}: first step's losses (same weights, same batch) "
              f"{check['xla: first-step relative loss difference']:.1e} apart, relative (plain run again: "
              f"{check['plain again: first-step relative loss difference']:.1e}); generator weights after "
              f"{check['steps']} steps: {check['xla: largest generator weight difference']:.1e} at most (plain run "
              f"again: {check['plain again: largest generator weight difference']:.1e}; learning rate "
              f"{check['lr']:g})")
    plain = make_candidate("plain", config, pairs, baseline=False)
    xla = make_candidate("xla", dataclasses.replace(config, xla="on"), pairs, baseline=False)
    for _ in range(args.repeats):
        plain.run(args.steps)
        xla.run(args.steps)
    ratios = [x / p for x, p in zip(xla.times, plain.times)]
    row = {"plain s/step": statistics.median(plain.times), "xla s/step": statistics.median(xla.times),
           "xla/plain time": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
           "windows": len(ratios), "steps per window": args.steps, "xla build and first step s": xla.first_step_s,
           "plain build and first step s": plain.first_step_s, "same step": checks}
    print(f"XLA: {row['xla s/step']:.3f} s/step against {row['plain s/step']:.3f}, {row['xla/plain time']:.2f}x "
          f"the time (min {min(ratios):.2f}, max {max(ratios):.2f} over {len(ratios)} windows of {args.steps} "
          f"steps); building it and its first step (the compilation) {xla.first_step_s:.0f} s, the plain step's "
          f"{plain.first_step_s:.0f} s\n")
    return row


def thread_timing(args) -> list[dict]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    times = {setting: [] for setting in THREAD_SETTINGS}
    for _ in range(args.repeats):
        for setting in THREAD_SETTINGS:
            out = subprocess.run([sys.executable, __file__, "--thread-child", ",".join(map(str, setting)),
                                  "--size", str(args.size), "--steps", str(args.steps), "--repeats", "2"],
                                 env=env, check=True, capture_output=True, text=True, cwd=REPO).stdout
            times[setting].append(json.loads(out.strip().splitlines()[-1])["s_per_step"])
    print("| inter-op threads | intra-op threads | s/step (median of processes) | time against TensorFlow's choice |")
    print("| ---: | ---: | ---: | --- |")
    rows = []
    for setting in THREAD_SETTINGS:
        ratios = [t / d for t, d in zip(times[setting], times[THREAD_SETTINGS[0]])]
        name = [str(x) if x else "auto" for x in setting]
        rows.append({"inter_op": setting[0], "intra_op": setting[1], "s_per_step": statistics.median(times[setting]),
                     "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
                     "processes": len(ratios)})
        print(f"| {name[0]} | {name[1]} | {rows[-1]['s_per_step']:.3f} | {rows[-1]['ratio']:.2f}x (min "
              f"{min(ratios):.2f}, max {max(ratios):.2f}) |")
    return rows


def loop_overhead(args) -> None:
    """fit's loop against its bare step, and validation's share of training time."""
    import tempfile

    from pix2pix_tf.train.rundir import RunDir, checkpoint_manager, training_checkpoint
    from pix2pix_tf.train.training import (
        VALIDATION_STEPS_PER_IMAGE,
        training_callbacks,
        validation_dataset,
        validation_every_epochs,
    )

    data = str(FACADES) if FACADES.is_dir() else "builtin"
    prepared = prepare(Config(data=data, direction="BtoA", image_size=str(args.size), steps=10_000))
    config = prepared.config
    print(f"data: {data}; {args.size}x{args.size}, batch {config.batch_size}, {config.precision}; {args.repeats} "
          f"alternating "
          f"windows of {args.steps} steps after one warm-up pair; callbacks as fit runs them (scalars every "
          f"{config.log_every}, sample grid every {config.sample_every}, checkpoint every {config.save_every} steps)")
    model = build_model(config)
    model.make_train_function()
    bare = AlternateBareSteps(iter(data_lib.training_dataset(prepared.train_pairs, config)), args.steps)
    with tempfile.TemporaryDirectory(prefix="loop-") as tmp:
        run = RunDir(Path(tmp))
        run.checkpoints.mkdir(parents=True)
        manager = checkpoint_manager(training_checkpoint(model), run, 2)
        callbacks = training_callbacks(run, prepared, manager, None)
        model.fit(data_lib.training_dataset(prepared.train_pairs, config), epochs=args.repeats + 1,
                  steps_per_epoch=args.steps, callbacks=[*callbacks, bare], verbose=1, shuffle=False)
    ratios = [f / b for f, b in zip(bare.fit_times[1:], bare.bare_times[1:])]
    step = statistics.median(bare.bare_times[1:]) / args.steps
    print(f"\nfit loop: {statistics.median(bare.fit_times[1:]) / args.steps:.3f} s/step, bare train_function "
          f"{step:.3f} s/step; fit takes {statistics.median(ratios) - 1:+.1%} over its step (median of "
          f"{len(ratios)} pairs; min {min(ratios) - 1:+.1%}, max {max(ratios) - 1:+.1%})")
    val_pairs = prepared.val_pairs
    val_ds = validation_dataset(prepared)
    model.evaluate(val_ds, verbose=0)
    began = time.perf_counter()
    model.evaluate(val_ds, verbose=0)
    per_image = (time.perf_counter() - began) / len(val_pairs)
    print(f"validation: {per_image:.3f} s per image = {per_image / step:.2f} training steps "
          f"(fit validates N images at most every {VALIDATION_STEPS_PER_IMAGE}N steps)")
    for name, train_pairs, val_images in (("facades", len(prepared.train_pairs), len(val_pairs)),
                                          ("a 16-pair dataset with 16 held out", 16, 16)):
        every = validation_every_epochs(val_images, train_pairs)
        share = val_images * per_image / (every * train_pairs * step)
        print(f"  {name}: {val_images} images every {every} epoch(s) of {train_pairs} steps = "
              f"{share:.1%} of training time")


OP_GROUPS = {  # a group's share, from op types and names on the compute threads
    "convolutions (forward and both backprops)": lambda kind, name: "Conv2D" in kind,
    "casts float32 <-> bfloat16": lambda kind, name: kind == "Cast",
    "optimiser updates (Adam)": lambda kind, name: "Apply" in kind,
    "finiteness checks of the gradients": lambda kind, name: "finite_check" in name,
}


def op_profile(model, iterator, steps: int) -> tuple[float, dict[str, float], dict[str, tuple[float, float]]]:
    """(seconds per step, op type -> share, group -> (share, op milliseconds per step)) over ``steps``
    profiled train steps. Op time is summed over the compute threads, so it exceeds wall time."""
    import collections
    import glob
    import tempfile

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory(prefix="profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        began = time.perf_counter()
        for _ in range(steps):
            logs = model.train_function(iterator)
        float(np.asarray(logs["g_l1"]))
        per_step = (time.perf_counter() - began) / steps
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        space.ParseFromString(Path(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0]).read_bytes())
    kinds, groups = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                meta = plane.event_metadata[event.metadata_id]
                if not meta.display_name:  # executor bookkeeping, not an op
                    continue
                kinds[meta.display_name] += event.duration_ps
                for group, member in OP_GROUPS.items():
                    if member(meta.display_name, meta.name):
                        groups[group] += event.duration_ps
    total = sum(kinds.values()) or 1
    return (per_step, {k: v / total for k, v in kinds.most_common()},
            {g: (groups[g] / total, groups[g] / steps / 1e9) for g in OP_GROUPS})


def profile_precisions(args) -> None:
    config, pairs = base_config(args, 1)
    policies = ["float32"] + ([config.precision] if config.precision != "float32" else [])
    results = {}
    for policy in policies:
        candidate = make_candidate(policy, dataclasses.replace(config, precision=policy), pairs, baseline=False)
        candidate.run(2)
        results[policy] = op_profile(candidate.model, candidate.iterator, args.steps)
        del candidate
    print(f"\nop time on TensorFlow's compute threads, {args.steps} profiled steps at {args.size}x{args.size}, "
          "batch 1 (shares of each precision's own op time)\n")
    print("| op type | " + " | ".join(policies) + " |")
    print("| --- |" + " ---: |" * len(policies))
    top = []
    for policy in policies:
        top += [k for k in list(results[policy][1])[:args.top] if k not in top]
    for kind in top:
        print(f"| {kind} | " + " | ".join(f"{results[p][1].get(kind, 0):.1%}" for p in policies) + " |")
    for group in OP_GROUPS:
        print(f"| **{group}** | " + " | ".join(f"{results[p][2][group][0]:.1%} ({results[p][2][group][1]:.0f} ms)"
                                                 for p in policies) + " |")
    print("| **seconds per step (profiler on)** | " + " | ".join(f"{results[p][0]:.3f}" for p in policies) + " |")


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
    for policy, upsample in itertools.product(("float32", default_policy), ("resize", "transpose")):
        model = build_model(dataclasses.replace(config, precision=policy, upsample=upsample))
        generator = tf.function(lambda x, g=model.generator: g(x, training=False))
        for batch in (1, 8):
            x = tf.random.uniform((batch, *hw, config.input_nc), -1, 1)
            generator(x).numpy()
            began = time.perf_counter()
            reps = 5
            for _ in range(reps):
                generator(x).numpy()
            per_image = (time.perf_counter() - began) / reps / batch
            rows.append(f"| Keras generator, {policy}, --upsample {upsample} | {batch} | {per_image * 1000:.1f} ms | "
                        f"{1 / per_image:.1f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", default="1,4")
    parser.add_argument("--steps", type=int, default=8, help="steps per timed window")
    parser.add_argument("--repeats", type=int, default=4, help="A/B windows per configuration")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--whole-process", action="store_true", help="time the fit command against the tutorial "
                        "recipe as whole processes instead")
    parser.add_argument("--loop", action="store_true", help="time fit's loop against its bare step, and "
                        "validation's share of training time, instead")
    parser.add_argument("--profile", action="store_true", help="profile the step's ops in float32 and the "
                        "default precision instead")
    parser.add_argument("--flops", action="store_true", help="only the analytic FLOP count of a training step for "
                        "each --upsample and --d-forward choice, nothing timed")
    parser.add_argument("--json", default=None, metavar="PATH", help="with --flops: also write the counts there "
                        "(benchmarks/results/flops.json)")
    parser.add_argument("--top", type=int, default=15, help="with --profile: op types listed per precision")
    parser.add_argument("--process-steps", type=int, default=150, help="steps of each whole-process run")
    parser.add_argument("--long-run", action="store_true", help="with --whole-process: also a 2,000-step fit run")
    parser.add_argument("--step-settings", action="store_true", help="XLA and thread settings on fit's default step")
    parser.add_argument("--parts", default="xla,threads", help="with --step-settings: which of xla,threads")
    parser.add_argument("--thread-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.thread_child:
        return thread_child(args)
    if args.memory_probe:
        return memory_probe(args)
    if args.flops:
        return print_flops(args)
    print(f"CPU: {cpu_description()}")
    if args.whole_process:
        return whole_process(args)
    if args.loop:
        return loop_overhead(args)
    if args.profile:
        return profile_precisions(args)
    if args.step_settings:
        return step_settings(args)

    hw = (args.size, args.size)
    default_policy = resolve_precision("auto")
    print(f"machine: {tf.config.threading.get_inter_op_parallelism_threads() or 'auto'} inter-op threads, "
          f"{len(tf.config.list_physical_devices('CPU'))} CPU device, TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__}; default precision here: {default_policy}")
    print(f"data: {FACADES if FACADES.is_dir() else 'built-in synthetic'}; {args.size}x{args.size}; "
          f"{args.repeats} alternating windows of {args.steps} steps\n")
    peaks = {"float32": matmul_peak_gflops(tf.float32), "mixed_bfloat16": matmul_peak_gflops(tf.bfloat16)}
    peaks["mixed_float16"] = peaks["float32"]
    print(f"matmul peak on this CPU: float32 {peaks['float32']:.0f} GFLOP/s, bfloat16 "
          f"{peaks['mixed_bfloat16']:.0f} GFLOP/s\n")
    print("| batch | config | s/step | images/s | first step | GFLOP/s (of its precision's matmul peak) |")
    print("| --- | --- | --- | --- | --- | --- |")
    summary = []
    for batch in [int(b) for b in args.batches.split(",")]:
        config, pairs = base_config(args, batch)
        paper = dataclasses.replace(config, precision="float32", upsample="transpose", ngf=64, ndf=64)
        tutorial = make_candidate("tutorial recipe (float32, Keras Adam, plain tf.data, shared D forward, "
                                  "transposed convolutions)", dataclasses.replace(paper, d_forward="reuse"), pairs,
                                  baseline=True)
        baseline = make_candidate("baseline (the paper's recipe: float32, Keras Adam, plain tf.data, D recomputed)",
                                  dataclasses.replace(paper, d_forward="recompute"), pairs, baseline=True)
        default = make_candidate(f"default ({default_policy}, fused Adam, tuned tf.data, --d-forward "
                                 f"{config.d_forward}, --upsample {config.upsample})", config, pairs, baseline=False)
        other = "reuse" if config.d_forward == "recompute" else "recompute"
        variant = make_candidate(f"default with --d-forward {other}",
                                 dataclasses.replace(config, d_forward=other), pairs, baseline=False)
        other_up = "transpose" if config.upsample == "resize" else "resize"
        up_variant = make_candidate(f"default with --upsample {other_up}",
                                    dataclasses.replace(config, upsample=other_up), pairs, baseline=False)
        candidates = (tutorial, baseline, default, variant, up_variant)
        for _ in range(args.repeats):
            for candidate in candidates:
                candidate.run(args.steps)
        for c in candidates:
            work = step_flops(c.model, hw, batch)
            peak = peaks["float32"] if c in (tutorial, baseline) else peaks[default_policy]
            step = statistics.median(c.times)
            print(f"| {batch} | {c.name} | {step:.3f} | {batch / step:.2f} | {c.first_step_s:.1f} s | "
                  f"{work / step / 1e9:.0f} ({work / step / 1e9 / peak:.0%} of peak) |")
        ratios = [b / d for b, d in zip(baseline.times, default.times)]
        tutorial_ratios = [t / d for t, d in zip(tutorial.times, default.times)]
        flops = step_flops(default.model, hw, batch)
        for name, c in ((f"--d-forward {other}", variant), (f"--upsample {other_up}", up_variant)):
            times = [v / d for v, d in zip(c.times, default.times)]
            summary.append(f"batch {batch}: {name} takes {statistics.median(times):.2f}x the default's time per step "
                           f"(min {min(times):.2f}, max {max(times):.2f}); analytic "
                           f"{step_flops(c.model, hw, batch) / flops:.2f}x its FLOPs")
        summary.append(f"batch {batch}: default/tutorial recipe images/s = {statistics.median(tutorial_ratios):.2f}x "
                       f"(min {min(tutorial_ratios):.2f}, max {max(tutorial_ratios):.2f})")
        pipeline = pipeline_images_per_s(pairs, config)
        summary.append(f"batch {batch}: default/baseline images/s = {statistics.median(ratios):.2f}x "
                       f"(min {min(ratios):.2f}, max {max(ratios):.2f} over {len(ratios)} windows); "
                       f"input pipeline alone {pipeline:.0f} images/s = "
                       f"{pipeline / (batch / statistics.median(default.times)):.0f}x the default step; "
                       f"analytic {flops / 1e9:.1f} GFLOP per step")
        del tutorial, baseline, default, variant, up_variant, candidates
    print()
    for line in summary:
        print(line)
    print(f"peak resident memory, default configuration, batch 1: {peak_memory_mb(args):.0f} MB")
    print("\n| inference | batch | per image | images/s |")
    print("| --- | --- | --- | --- |")
    config, _ = base_config(args, 1)
    for row in inference_rows(config, hw, default_policy):
        print(row)
    print("\nTFLite latency (interpreter threads = core count) is measured on the real exported files by "
          "`python -m pix2pix_tf.export`.")


if __name__ == "__main__":
    main()
