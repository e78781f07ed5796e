"""Training under tf.distribute: two replicas take the same step as one device on the same global
batch (dropout on: each replica draws its own rows of the mask one device would draw; a step that is
not finite on one replica is skipped on all), and a two-worker run on 127.0.0.1 writes checkpoints
from its chief only and resumes on one device. Device splitting must happen before TensorFlow
initialises its devices, so the replica comparison runs in a fresh process (this file run as a script)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))  # conftest's helpers, also when this file runs as a script

TIMEOUT = 240
ATOL, RTOL = 1e-5, 1e-5  # float32 summation order differs; one Adam step moves weights ~2e-4


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


# ---------------------------------------------------------------- replica comparison (subprocess)

def compare_replicas(norm: str, sync: str, global_batch: int, steps: int) -> dict:
    """Max |difference| of every weight after ``steps`` fit() steps on 2 logical CPUs vs one device."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import numpy as np
    from conftest import pair_arrays

    from pix2pix_tf.core.config import Config
    from pix2pix_tf.train.builders import build_model
    from pix2pix_tf.train.strategy import use_sync_batch_norm

    # Transposed convolutions: with resize-convolution at this size the innermost decoder layer
    # upsamples a 1x1 map to a constant 2x2 one, so the centre tap of its 3x3 kernel shifts all four
    # outputs alike and the norm cancels it. That tap's gradient is rounding noise, which Adam's first
    # steps scale up to the learning rate: the comparison would compare noise (2e-4 apart).
    config = Config(image_size="32", ngf=8, ndf=8, norm=norm, dropout=0.5, precision="float32",
                    input_nc=3, output_nc=3, depth=5, upsample="transpose", sync_batch_norm=sync,
                    constant_steps=100, decay_steps=100, steps_per_epoch=steps, ema=0.5)
    pairs = [pair_arrays(i, 32) for i in range(global_batch * steps)]
    sources = np.stack([a for a, _ in pairs]).astype("float32") / 127.5 - 1.0
    targets = np.stack([b for _, b in pairs]).astype("float32") / 127.5 - 1.0

    def dataset():
        return tf.data.Dataset.from_tensor_slices((sources, targets)).batch(global_batch, drop_remainder=True)

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = build_model(config, tf.distribute.OneDeviceStrategy("/cpu:0"))
    replicated = build_model(config, mirrored)
    assert replicated.distribute_strategy.num_replicas_in_sync == 2
    replicated.generator.set_weights(single.generator.get_weights())
    replicated.discriminator.set_weights(single.discriminator.get_weights())
    replicated.average.model.set_weights(single.average.model.get_weights())
    initial = [w.copy() for w in single.generator.get_weights() + single.discriminator.get_weights()]
    histories = [model.fit(dataset(), epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False).history
                 for model in (single, replicated)]
    logged = {name: [history[name][-1] for history in histories] for name in ("g_gan", "g_l1", "d_loss", "d_real")}

    def weights(model):  # with the moving average of the generator's weights (--ema), updated on every replica
        return model.generator.get_weights() + model.discriminator.get_weights() + model.average.model.get_weights()

    pairs_after = list(zip(weights(single), weights(replicated)))
    diff = max(float(np.max(np.abs(a - b))) for a, b in pairs_after)
    # allclose-style: |a - b| <= ATOL + RTOL * |a| everywhere iff excess <= 1
    excess = max(float(np.max(np.abs(a - b) / (ATOL + RTOL * np.abs(a)))) for a, b in pairs_after)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(weights(single), initial))

    counters = {"steps": [int(m.train_steps.numpy()) for m in (single, replicated)],
                "iterations": [int(m.g_optimizer.iterations.numpy()) for m in (single, replicated)]}

    # One poisoned step, NaN only in the second replica's share: both replicas must skip it.
    before = weights(replicated)
    poisoned = targets[:global_batch].copy()
    poisoned[-1, 0, 0, 0] = np.nan
    poisoned_logs = replicated.fit(tf.data.Dataset.from_tensors((sources[:global_batch], poisoned)), epochs=1,
                                   verbose=0, shuffle=False).history
    skipped = all(np.array_equal(a, b) for a, b in zip(before, weights(replicated)))
    counted = {"skipped": poisoned_logs["skipped"][-1], "streak": int(replicated.nonfinite_streak.numpy())}
    masks = {name: dropout_masks(model, global_batch, config.seed)
             for name, model in (("single", single), ("replicated", replicated))}
    half = global_batch // 2
    return {"max_diff": diff, "excess": excess, "moved": moved, "poisoned_step_skipped": skipped,
            "masks_equal_single": bool(np.array_equal(masks["single"], masks["replicated"])),
            "replica_masks_differ": bool(not np.array_equal(masks["replicated"][:half],
                                                           masks["replicated"][half:2 * half])),
            "synchronized": use_sync_batch_norm(sync, norm, 2), "logged": logged, "poisoned_counted": counted,
            **counters}


def float16_poisoned_step() -> dict:
    """Under float16 (loss scaling) on 2 logical CPUs: a NaN only in the second replica's share (instance
    norm, so nothing carries it to the first replica before the gradients are all-reduced)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    import numpy as np
    from conftest import pair_arrays

    from pix2pix_tf.core.config import Config
    from pix2pix_tf.train.builders import build_model

    config = Config(image_size="32", ngf=8, ndf=8, norm="instance", precision="mixed_float16", input_nc=3,
                    output_nc=3, depth=5, constant_steps=100, decay_steps=100, steps_per_epoch=1)
    model = build_model(config, tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    pairs = [pair_arrays(i, 32) for i in range(4)]
    sources = np.stack([a for a, _ in pairs]).astype("float32") / 127.5 - 1.0
    targets = np.stack([b for _, b in pairs]).astype("float32") / 127.5 - 1.0
    poisoned = targets.copy()
    poisoned[-1, 0, 0, 0] = np.nan
    before = model.generator.get_weights() + model.discriminator.get_weights()
    logs = model.fit(tf.data.Dataset.from_tensors((sources, poisoned)), epochs=1, verbose=0, shuffle=False).history
    after = model.generator.get_weights() + model.discriminator.get_weights()
    return {"unchanged": all(np.array_equal(a, b) for a, b in zip(before, after)),
            "scales": [float(o.dynamic_scale.numpy()) for o in (model.g_optimizer, model.d_optimizer)],
            "skipped": logs["skipped"][-1], "streak": int(model.nonfinite_streak.numpy())}


def dropout_masks(model, global_batch: int, seed: int):
    """The first dropout layer's kept/dropped pattern over the global batch at step 7, each
    replica's rows drawn on that replica and concatenated in replica order."""
    import numpy as np
    import tensorflow as tf

    from pix2pix_tf.nets.networks import dropout_noise

    strategy = model.distribute_strategy
    layer = next(layer for layer in model.generator.layers if "dropout" in layer.name)
    rows = global_batch // strategy.num_replicas_in_sync

    def draw():
        with dropout_noise(seed, 7):
            return layer(tf.ones((rows, 2, 2, 16)), training=True)

    per_replica = tf.function(lambda: strategy.run(draw))()
    return np.concatenate([t.numpy() for t in strategy.experimental_local_results(per_replica)]) > 0


CASES = (("instance", "auto"), ("batch", "on"), ("batch", "off"))


@pytest.fixture(scope="module")
def comparisons() -> dict:
    """{(norm, sync): result}, each case in its own fresh process (a second MirroredStrategy in one
    process collides with the first one's collective keys), all started at once."""
    processes = {case: subprocess.Popen([sys.executable, __file__, "compare", *case, "4", "2"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=_env(), cwd=REPO)
                 for case in CASES}
    results = {}
    try:
        for case, process in processes.items():
            out, err = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, err[-3000:]
            results[case] = json.loads(out.strip().splitlines()[-1])
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


@pytest.mark.parametrize("norm, sync", CASES[:2])
def test_two_replicas_take_the_single_device_step(comparisons, norm, sync):
    result = comparisons[(norm, sync)]
    assert result["steps"] == [2, 2] and result["iterations"] == [2, 2]
    assert result["moved"] > 1e-4, result
    assert result["excess"] <= 1.0, result


def test_replicas_draw_their_own_rows_of_the_single_device_dropout_mask(comparisons):
    result = comparisons[("instance", "auto")]
    assert result["replica_masks_differ"], result
    assert result["masks_equal_single"], result


def test_a_step_non_finite_on_one_replica_is_skipped_on_all(comparisons):
    for result in comparisons.values():
        assert result["poisoned_step_skipped"], result
        assert result["poisoned_counted"] == {"skipped": 1.0, "streak": 1}, result  # the NaN was on replica 2


@pytest.mark.parametrize("norm, sync", CASES[:2])
def test_two_replicas_log_the_losses_one_device_logs(comparisons, norm, sync):
    for name, (single, replicated) in comparisons[(norm, sync)]["logged"].items():
        assert replicated == pytest.approx(single, rel=1e-4), name


def test_float16_step_non_finite_on_one_replica_is_skipped_on_all_and_halves_the_scale():
    process = subprocess.run([sys.executable, __file__, "float16"], capture_output=True, text=True,
                             env=_env(), cwd=REPO, timeout=TIMEOUT, check=False)
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result == {"unchanged": True, "scales": [2.0 ** 14, 2.0 ** 14], "skipped": 1.0, "streak": 1}, result


def test_unsynchronised_batch_norm_differs_and_warns(comparisons):
    import warnings

    from pix2pix_tf.train.strategy import UnsyncedBatchNormWarning, warn_if_not_reproducible

    with pytest.warns(UnsyncedBatchNormWarning, match="will not reproduce single-device training"):
        warn_if_not_reproducible("batch", False, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_not_reproducible("batch", True, 2) is None
        assert warn_if_not_reproducible("instance", False, 8) is None
        assert warn_if_not_reproducible("batch", False, 1) is None
    result = comparisons[("batch", "off")]
    assert not result["synchronized"]
    assert result["excess"] > 10.0, result


# ---------------------------------------------------------------- two workers on 127.0.0.1

def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_two_workers_train_chief_checkpoints_and_resume_on_one_device(tiny_data, tmp_path):
    from conftest import TINY_FLAGS, latest_step, run_fit

    run = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    worker_tmp = tmp_path / "worker_tmp"
    worker_tmp.mkdir()
    args = [sys.executable, "-m", "pix2pix_tf.fit", "--strategy", "multi_worker", "--data", str(tiny_data),
            "--run-dir", str(run), "--steps", "4", "--save-every", "2", "--batch-size", "2", *TINY_FLAGS]
    workers = []
    try:
        for index in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            env = _env(TF_CONFIG=tf_config, TMPDIR=str(worker_tmp))
            workers.append(subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True))
        outputs = [w.communicate(timeout=TIMEOUT) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, (out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
        assert "MultiWorkerMirroredStrategy with 2 replica(s)" in out, out
    assert "trained steps 0 -> 4" in outputs[0][0]

    assert latest_step(run) == 4
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert kept == ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index",
                    "ckpt-4.data-00000-of-00001", "ckpt-4.index"], kept
    assert sorted(p.name for p in run.iterdir()) == [".lock", "checkpoints", "config.json", "examples", "samples",
                                                     "tensorboard"]
    assert list(worker_tmp.iterdir()) == [], "the non-chief worker left its temporary checkpoints"
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["strategy"] == "multi_worker"

    # Lengthen the finished run by two steps and continue it on one device.
    text = (run / "config.json").read_text()
    text = re.sub(r'"steps": 4', '"steps": 6', text)
    text = re.sub(r'"decay_steps": (\d+)', lambda m: f'"decay_steps": {int(m.group(1)) + 2}', text)
    (run / "config.json").write_text(text)
    resumed = run_fit("--run-dir", str(run), "--strategy", "one_device", "--quiet", timeout=TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "OneDeviceStrategy with 1 replica(s)" in resumed.stdout
    assert f"resuming {run} at step 4 of 6" in resumed.stdout
    assert "trained steps 4 -> 6" in resumed.stdout
    assert latest_step(run) == 6


def test_multi_worker_without_tf_config_is_one_line(tiny_data, tmp_path):
    from conftest import TINY_FLAGS, error_line, run_fit

    result = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "run"), "--strategy", "multi_worker",
                     *TINY_FLAGS, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "set TF_CONFIG" in error_line(result)


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        norm, sync, batch, steps = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        print(json.dumps(compare_replicas(norm, sync, batch, steps)))
    elif sys.argv[1] == "float16":
        print(json.dumps(float16_poisoned_step()))
