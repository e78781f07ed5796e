"""``--ema``: the moving average of the generator's weights is the closed-form average of the weights the run
went through, resumes exactly, and is what evaluate, translate, export and ``pix2pix_tf.load`` use unless
``--weights raw``; a run stored before the flag loads as before."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, error_line, make_run, pair_arrays, run_fit, tiny_flags

from pix2pix_tf.core.config import Config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.deploy.inference import load_generator
from pix2pix_tf.train.builders import build_model
from pix2pix_tf.train.ema import decay_at
from pix2pix_tf.train.training import train

DECAY = 0.3  # low, so that a few steps pass both the warm-up ramp and the cap


def test_average_is_the_closed_form_average_of_the_weights_after_each_step():
    config = Config(image_size="32", ngf=8, ndf=8, precision="float32", input_nc=3, output_nc=3, depth=5,
                    constant_steps=100, decay_steps=100, steps_per_epoch=6, ema=DECAY)
    model = build_model(config)
    pairs = [pair_arrays(i, 32) for i in range(6)]
    sources = np.stack([a for a, _ in pairs]).astype("float32") / 127.5 - 1.0
    targets = np.stack([b for _, b in pairs]).astype("float32") / 127.5 - 1.0
    trained = [w.trainable for w in model.generator.weights]
    history = [model.generator.get_weights()]
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda *_, **__: history.append(model.generator.get_weights()))
    model.fit(tf.data.Dataset.from_tensor_slices((sources, targets)).batch(1), epochs=1, steps_per_epoch=6,
              callbacks=[record], verbose=0, shuffle=False)

    expected = [w.astype(np.float64) for w in history[0]]
    for t, weights in enumerate(history[1:]):
        d = min(DECAY, (1 + t) / (10 + t))
        assert d == pytest.approx(decay_at(DECAY, t)) == pytest.approx(float(decay_at(DECAY, tf.constant(t))))
        expected = [d * e + (1 - d) * w if is_trained else e for e, w, is_trained in zip(expected, weights, trained)]
    assert decay_at(DECAY, 5) == DECAY and decay_at(DECAY, 0) == pytest.approx(0.1)  # both regimes were used
    averaged = model.average.model.get_weights()
    assert all(a.dtype == np.float32 for a in averaged)
    for index, (actual, wanted) in enumerate(zip(averaged, expected)):
        np.testing.assert_allclose(actual, wanted, rtol=1e-5, atol=1e-7, err_msg=model.generator.weights[index].path)
    assert max(np.abs(a - r).max() for a, r in zip(averaged, history[-1])) > 1e-5  # not the raw weights


def _run_flags(data, **changes) -> dict:
    values = {**TINY, "data": str(data), "ema": 0.5, "steps": 6, "save_every": 3, **changes}
    return {k: v for k, v in values.items() if k != "quiet"}


def _checkpoint_values(run_dir) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith(("save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH"))}


def test_a_run_trained_in_sittings_has_the_average_of_a_straight_run(tiny_data, tmp_path):
    straight, sittings = tmp_path / "straight", tmp_path / "sittings"
    train(straight, _run_flags(tiny_data), verbose=0)
    train(sittings, _run_flags(tiny_data), verbose=0, stop_at=3)
    summary = train(sittings, {}, verbose=0)
    assert (summary.start_step, summary.end_step) == (3, 6)
    expected, actual = _checkpoint_values(straight), _checkpoint_values(sittings)
    assert sorted(expected) == sorted(actual)
    assert any(name.startswith("generator_ema/") for name in expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(value, actual[name], err_msg=name)


def _outputs(generator, images):
    return generator(images, training=False).numpy()


def test_commands_use_the_average_and_weights_raw_the_trained_generator(tiny_data, tmp_path):
    import pix2pix_tf
    from pix2pix_tf.deploy.export import ExportOptions, export, training_inputs
    from pix2pix_tf.evaluate import evaluate_run

    run = tmp_path / "run"
    train(run, _run_flags(tiny_data, ema=0.9, steps=4, save_every=4), verbose=0)
    average, raw = load_generator(run), load_generator(run, weights="raw")
    assert (average.weights, raw.weights) == ("ema", "raw")
    images = training_inputs(average.config, 2)
    ema_out, raw_out = _outputs(average.generator, images), _outputs(raw.generator, images)
    assert np.abs(ema_out - raw_out).max() > 1e-3

    for weights, wanted in ((None, ema_out), ("raw", raw_out)):
        out = tmp_path / f"export-{weights}"
        result = export(ExportOptions(run_dir=run, out=out, weights=weights, formats=("keras",), verify_images=2))
        exported = keras.saving.load_model(result.keras)
        np.testing.assert_allclose(_outputs(exported, images), wanted, atol=1e-5)
        assert json.loads((out / "export.json").read_text())["weights"] == (weights or "ema")
        translator = pix2pix_tf.load(run, weights=weights)
        np.testing.assert_allclose(_outputs(translator.trained.generator, images), wanted, atol=1e-6)

    scores = {w: evaluate_run(run, weights=w, page=False) for w in (None, "raw")}
    assert scores[None].weights == "ema" and scores["raw"].out_dir.endswith("-raw")
    assert scores[None].mean["l1"] != scores["raw"].mean["l1"]


def test_a_run_stored_before_the_flag_loads_its_trained_weights(tiny_data, tmp_path):
    run = tmp_path / "run"
    generator = make_run(run, tiny_data, steps=(2,))
    stored = json.loads((run / "config.json").read_text())
    del stored["config"]["ema"]
    (run / "config.json").write_text(json.dumps(stored))
    loaded = load_generator(run)
    assert loaded.weights == "raw"
    images = np.zeros((1, 32, 32, 3), np.float32)
    np.testing.assert_array_equal(_outputs(loaded.generator, images), _outputs(generator, images))
    with pytest.raises(UserError, match="--weights ema: .* was trained without --ema"):
        load_generator(run, weights="ema")


def test_a_decay_outside_zero_to_one_is_one_line(tiny_data, tmp_path):
    result = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "run"), *tiny_flags(ema=1.0))
    assert result.returncode == 2 and "--ema 1.0: must be in [0, 1)" in error_line(result)
    assert not (tmp_path / "run").exists()
