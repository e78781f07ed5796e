"""`python -m pix2pix_tf.fit` end to end: the run directory, periodic validation, refusals."""

import json

import numpy as np
import pytest
from conftest import TINY_FLAGS, error_line, latest_step, pair_arrays, run_fit, tiny_flags, write_paired
from PIL import Image


def test_run_directory_holds_config_checkpoints_logs_and_samples(tiny_data, tmp_path):
    run = tmp_path / "run"
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "6", "--save-every", "3",
                     *tiny_flags(sample_every=3, log_every=None, quiet=False))
    assert result.returncode == 0, result.stderr[-3000:]
    stored = json.loads((run / "config.json").read_text())
    assert stored["format"] == "pix2pix_tf.config"
    config = stored["config"]
    assert (config["input_nc"], config["output_nc"], config["depth"]) == (3, 3, 5)
    assert config["precision"] == "float32" and config["constant_steps"] + config["decay_steps"] == 6
    assert latest_step(run) == 6
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000003.png", "step_0000006.png"]
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    assert "validation L1" in result.stdout and "resume" in result.stdout
    examples = sorted((run / "examples").iterdir())
    assert [p.name for p in examples] == ["101.png", "102.png", "103.png", "104.png"], "held-out inputs to try"
    assert np.array_equal(np.asarray(Image.open(examples[0])), pair_arrays(100, 32)[0]), "the A side, as stored"
    assert f"translate --run-dir {run} {run / 'examples'}" in result.stdout

    again = run_fit("--run-dir", str(run), "--quiet")
    assert again.returncode == 0 and "already trained to step 6" in again.stdout


def test_bad_data_gives_one_line_and_leaves_no_run_directory(tmp_path):
    data = write_paired(tmp_path / "data", count=2)
    (data / "train" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    run = tmp_path / "run"
    result = run_fit("--data", str(data), "--run-dir", str(run), *TINY_FLAGS)
    assert result.returncode == 2
    assert "broken.jpg" in error_line(result) and "Traceback" not in result.stderr
    assert "marker" not in result.stderr  # libjpeg's own words for it ("Unsupported marker type 0x20")
    assert not run.exists()


@pytest.mark.parametrize("flags, message", [
    (["--image-size", "48"], "--image-size 48x48: the short side must be a power of two"),
    (["--data", "/nonexistent/data"], "--data /nonexistent/data: no such directory"),
    (["--batch-size", "64"], "--batch-size 64: larger than the 8 training pairs"),
    (["--stop-at", "0"], "--stop-at 0: must be positive"),
])
def test_flag_mistakes_are_one_line(tiny_data, tmp_path, flags, message):
    result = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "run"), *TINY_FLAGS, *flags)
    assert result.returncode == 2
    assert message in error_line(result)
    assert not (tmp_path / "run").exists()


def test_stop_at_trains_part_of_the_schedule_and_the_next_run_carries_on(tiny_data, tmp_path):
    run = tmp_path / "run"
    first = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "4", "--stop-at", "2", *TINY_FLAGS)
    assert first.returncode == 0, first.stderr[-3000:]
    assert latest_step(run) == 2 and "stopped at step 2 as asked" in first.stdout
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["constant_steps"] + config["decay_steps"] == 4
    rest = run_fit("--run-dir", str(run), "--quiet")
    assert rest.returncode == 0 and "trained steps 2 -> 4" in rest.stdout
    assert latest_step(run) == 4


def test_resume_refuses_contradicting_flags_and_busy_run_dirs(tiny_data, tmp_path):
    run = tmp_path / "run"
    assert run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "2", *TINY_FLAGS).returncode == 0
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    contradicting = run_fit("--run-dir", str(run), "--ngf", "16", "--quiet")
    assert contradicting.returncode == 2
    assert "--ngf 16 (stored: 8)" in error_line(contradicting)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before

    import fcntl

    with open(run / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        busy = run_fit("--run-dir", str(run), "--quiet")
    assert busy.returncode == 2 and "already in use" in error_line(busy)


def test_non_run_directory_is_refused(tiny_data, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    result = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "run"), *TINY_FLAGS)
    assert result.returncode == 2 and "holds no config.json" in error_line(result)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["notes.txt"]


def test_validate_every_logs_held_out_metrics_at_those_steps(tiny_data, tmp_path):
    import tensorflow as tf

    run = tmp_path / "run"
    result = run_fit("--data", str(tiny_data), "--run-dir", str(run), "--steps", "4", "--validate-every", "2",
                     *TINY_FLAGS)
    assert result.returncode == 0, result.stderr[-2000:]
    steps = set()
    for path in (run / "tensorboard").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            steps.update(event.step for value in event.summary.value if value.tag == "val/l1")
    assert {2, 4} <= steps


def test_a_run_saved_with_wrapped_optimizers_resumes(tiny_data, tmp_path):
    """Runs saved before float32 and bfloat16 dropped Keras' loss-scale wrapper keep each optimiser
    under ``inner_optimizer``; they resume (and go on saving in that layout)."""
    import tensorflow as tf

    from pix2pix_tf.core.config import new_config, save_config
    from pix2pix_tf.train.builders import build_model
    from pix2pix_tf.train.rundir import RunDir, checkpoint_manager
    from pix2pix_tf.train.training import prepare

    run = tmp_path / "old"
    spec = prepare(new_config({"data": str(tiny_data), "image_size": "32", "ngf": 8, "ndf": 8,
                               "precision": "float32", "steps": 6, "save_every": 3})).config
    run.mkdir()
    save_config(spec, run)
    model = build_model(spec)
    model.train_steps.assign(3)
    legacy = tf.train.Checkpoint(generator=model.generator, discriminator=model.discriminator,
                                 g_optimizer=tf.train.Checkpoint(inner_optimizer=model.g_optimizer),
                                 d_optimizer=tf.train.Checkpoint(inner_optimizer=model.d_optimizer),
                                 train_steps=model.train_steps)
    checkpoint_manager(legacy, RunDir(run), 5).save(checkpoint_number=3)
    result = run_fit("--run-dir", str(run), "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "resuming" in result.stdout and "at step 3 of 6" in result.stdout
    assert latest_step(run) == 6
    names = [name for name, _ in tf.train.list_variables(str(run / "checkpoints" / "ckpt-6"))]
    assert any(name.startswith("g_optimizer/inner_optimizer/") for name in names)


def test_validation_is_a_fixed_subset_at_a_bounded_cost(tiny_data):
    from pix2pix_tf.core.config import new_config
    from pix2pix_tf.train.training import prepare, validation_dataset, validation_every_epochs, validation_subset

    pairs = [f"pair{i}" for i in range(106)]
    subset = validation_subset(pairs, 64)
    assert len(subset) == 64 == len(set(subset)) and subset == validation_subset(pairs, 64)
    assert subset[0] == "pair0" and subset[-1] in pairs[-3:]  # spread over the whole split
    assert validation_subset(pairs, 0) == pairs and validation_subset(pairs[:5], 64) == pairs[:5]
    assert validation_every_epochs(64, 400) == 1  # facades: every epoch
    assert validation_every_epochs(16, 16) == 3  # 16 pairs: every 3 epochs, 48 steps per 16 validations
    prepared = prepare(new_config({"data": str(tiny_data), "image_size": "32", "precision": "float32",
                                   "val_images": 2}))
    assert len(prepared.val_pairs) == 2
    assert next(iter(validation_dataset(prepared)))[0].shape[0] == 2  # batched beyond the training batch of 1
