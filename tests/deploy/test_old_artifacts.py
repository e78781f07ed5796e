"""What the code wrote before the package moved into subpackages still loads and computes the same:
a run directory (translated, resumed, exported), a ``generator.keras`` whose layers Keras knows by their
registered names, and a TFLite file (tests/fixtures/pre_layout/README.md says how they were made)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, latest_step, run_fit, run_module, write_paired

FIXTURES = REPO / "tests" / "fixtures" / "pre_layout"


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    """A copy of the old run directory whose config names a dataset like the one it trained on."""
    data = tmp_path / "data"
    write_paired(data, split="train", count=4, size=32)
    write_paired(data, split="test", count=2, size=32, start=100)
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "run", run)
    config = json.loads((run / "config.json").read_text())
    config["config"]["data"] = str(data)
    (run / "config.json").write_text(json.dumps(config, indent=2))
    return run


def test_an_old_run_translates_as_it_did(old_run):
    import pix2pix_tf

    output = pix2pix_tf.load(old_run).translate(np.load(FIXTURES / "input.npy"))
    expected = np.load(FIXTURES / "expected_run.npy")
    assert output.shape == expected.shape and output.dtype == expected.dtype
    assert np.abs(output.astype(int) - expected.astype(int)).max() <= 1  # uint8 rounding on another CPU


def test_an_old_generator_keras_loads_and_computes_the_same():
    import keras

    import pix2pix_tf  # noqa: F401  (registers the networks' layers under their saved names)

    model = keras.saving.load_model(FIXTURES / "export" / "generator.keras")
    source = np.load(FIXTURES / "input.npy").astype(np.float32) / 127.5 - 1.0
    output = np.asarray(model(source[None], training=False))[0]
    np.testing.assert_allclose(output, np.load(FIXTURES / "expected_keras.npy"), atol=1e-4)


def test_an_old_tflite_file_runs_in_litert():
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(FIXTURES / "export" / "pix2pix_float32.tflite"))
    runner = interpreter.get_signature_runner(interpreter.get_signature_list().popitem()[0])
    name = next(iter(runner.get_input_details()))
    source = np.load(FIXTURES / "input.npy").astype(np.float32) / 127.5 - 1.0
    output = next(iter(runner(**{name: source[None]}).values()))
    np.testing.assert_allclose(np.squeeze(output), np.load(FIXTURES / "expected_keras.npy"), atol=1e-3)


def test_an_old_run_resumes_and_exports(old_run, tmp_path):
    result = run_fit("--run-dir", str(old_run), "--steps", "3", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    assert latest_step(old_run) == 3
    assert json.loads((old_run / "config.json").read_text())["config"]["upsample"] == "resize"
    out = tmp_path / "export"
    result = run_module("pix2pix_tf.export", "--run-dir", str(old_run), "--out", str(out), "--formats", "keras")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "keras" / "1" / "generator.keras").is_file()
