"""--precision auto on bf16 CPUs: measured once per CPU model, core count, versions and step settings,
reused from the cache, measured again when any of those changes or the cache is damaged in any way,
never the slower of the two, and bfloat16 only when it is clearly faster."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import tensorflow as tf

from pix2pix_tf.train import autoprecision

NETWORK = SimpleNamespace(task="pix2pix", d_forward="reuse", image_size="32", batch_size=1, input_nc=3, output_nc=3,
                          ngf=8, ndf=8, d_layers=3, norm="batch", depth=5, upsample="transpose", num_d=1,
                          lambda_fm=0.0, palette=None)


class FakeTimer:
    """Stands in for the timing, so the cache logic is tested without depending on the machine."""

    def __init__(self, float32: float, bfloat16: float):
        self.seconds = {"float32": float32, "mixed_bfloat16": bfloat16}
        self.calls = 0

    def __call__(self, config):
        self.calls += 1
        return dict(self.seconds)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PIX2PIX_TF_CACHE", str(tmp_path))
    monkeypatch.setattr(autoprecision, "cpu_model", lambda: "Test CPU 9000")
    return tmp_path / autoprecision.CACHE_FILE


def test_the_faster_one_is_chosen_and_cached(cache):
    timer = FakeTimer(float32=0.30, bfloat16=0.20)
    lines = []
    assert autoprecision.measured_choice(NETWORK, log=lines.append, measure_fn=timer) == "mixed_bfloat16"
    assert timer.calls == 1 and "float32 0.300 s/step" in lines[-1] and "mixed_bfloat16 0.200" in lines[-1]
    entries = json.loads(cache.read_text())["entries"]
    (key, entry), = entries.items()
    assert "Test CPU 9000" in key and tf.__version__ in key and "ngf=8" in key
    assert entry["choice"] == "mixed_bfloat16"
    assert autoprecision.measured_choice(NETWORK, log=lines.append, measure_fn=timer) == "mixed_bfloat16"
    assert timer.calls == 1 and "measured before" in lines[-1]


def test_float32_wins_when_bfloat16_is_slower(cache):
    assert autoprecision.measured_choice(NETWORK, log=print, measure_fn=FakeTimer(0.2, 0.5)) == "float32"


def test_another_cpu_tf_version_or_network_measures_again(cache, monkeypatch):
    timer = FakeTimer(0.3, 0.2)
    autoprecision.measured_choice(NETWORK, log=print, measure_fn=timer)
    monkeypatch.setattr(autoprecision, "cpu_model", lambda: "Other CPU")
    autoprecision.measured_choice(NETWORK, log=print, measure_fn=timer)
    monkeypatch.setattr(tf, "__version__", "9.99.0")
    autoprecision.measured_choice(NETWORK, log=print, measure_fn=timer)
    autoprecision.measured_choice(SimpleNamespace(**{**vars(NETWORK), "ngf": 16}), log=print, measure_fn=timer)
    assert timer.calls == 4
    assert len(json.loads(cache.read_text())["entries"]) == 4


@pytest.mark.parametrize("change", [{"d_forward": "recompute"}, {"upsample": "resize"}, {"upsample": "subpixel"},
                                    {"num_d": 2}, {"lambda_fm": 10.0}, {"task": "judge"},
                                    {"task": "judge", "palette": {"colors": [[0, 0, 0]] * 5}}, "cores", "version"])
def test_whatever_changes_a_steps_cost_measures_again(cache, monkeypatch, change):
    import pix2pix_tf.core

    judge = {"task": "judge", "palette": {"colors": [[0, 0, 0]] * 3}}
    base = SimpleNamespace(**{**vars(NETWORK), **(judge if "palette" in str(change) else {})})
    timer = FakeTimer(0.3, 0.2)
    autoprecision.measured_choice(base, log=print, measure_fn=timer)
    if change == "cores":
        monkeypatch.setattr(autoprecision, "cpu_cores", lambda: 999)
    elif change == "version":
        monkeypatch.setattr(pix2pix_tf.core, "__version__", "99.0")
    else:
        base = SimpleNamespace(**{**vars(base), **change})
    autoprecision.measured_choice(base, log=print, measure_fn=timer)
    assert timer.calls == 2


@pytest.mark.parametrize("float32, bfloat16, choice", [(0.30, 0.28, "float32"), (0.30, 0.27, "mixed_bfloat16")])
def test_bfloat16_is_kept_only_when_clearly_faster(cache, float32, bfloat16, choice):
    assert autoprecision.BFLOAT16_MARGIN == 0.10
    assert autoprecision.measured_choice(NETWORK, log=print, measure_fn=FakeTimer(float32, bfloat16)) == choice


def test_remeasure_ignores_the_cached_choice(cache):
    autoprecision.measured_choice(NETWORK, log=print, measure_fn=FakeTimer(0.3, 0.2))
    faster_now = FakeTimer(0.1, 0.2)
    assert autoprecision.measured_choice(NETWORK, remeasure=True, log=print, measure_fn=faster_now) == "float32"
    assert faster_now.calls == 1
    assert autoprecision.measured_choice(NETWORK, log=print, measure_fn=FakeTimer(9, 9)) == "float32"


def ours(entries) -> str:
    return json.dumps({"format": autoprecision.CACHE_FORMAT, "version": 1, "entries": entries})


@pytest.mark.parametrize("contents", ["{not json", json.dumps({"format": "other", "entries": {}}), "[1, 2]",
                                      '"a string"', "null", ours({"k": {"choice": "float64"}}), ours([]),
                                      ours({"k": {"choice": "float32"}}), ours({"k": {"choice": "float32",
                                                                                      "seconds": {"float32": "x"}}})])
def test_a_damaged_cache_is_not_trusted(cache, contents):
    cache.write_text(contents)
    lines = []
    timer = FakeTimer(0.3, 0.2)
    assert autoprecision.measured_choice(NETWORK, log=lines.append, measure_fn=timer) == "mixed_bfloat16"
    assert timer.calls == 1 and any("measuring again" in line for line in lines)
    assert json.loads(cache.read_text())["format"] == autoprecision.CACHE_FORMAT


def test_measure_times_both_precisions_on_the_real_networks(tiny_data):
    from pix2pix_tf.core.config import new_config
    from pix2pix_tf.train.training import prepare

    spec = prepare(new_config({"data": str(tiny_data), "image_size": "32", "ngf": 8, "ndf": 8,
                               "precision": "float32"})).config
    seconds = autoprecision.measure(spec)
    assert set(seconds) == {"float32", "mixed_bfloat16"} and all(s > 0 for s in seconds.values())


def test_fit_with_auto_precision_uses_and_reports_the_measured_choice(tiny_data, tmp_path, monkeypatch):
    """End to end on a CPU with bf16 (skipped elsewhere): the first run measures, the next reuses."""
    from conftest import run_fit, tiny_flags

    from pix2pix_tf.core.precision import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no bf16 instructions: auto is float32 without measuring")
    monkeypatch.setenv("PIX2PIX_TF_CACHE", str(tmp_path / "cache"))
    first = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "a"), *tiny_flags(precision="auto", steps=1))
    assert first.returncode == 0, first.stderr[-2000:]
    assert "timing a few train steps" in first.stdout
    choice = json.loads((tmp_path / "a" / "config.json").read_text())["config"]["precision"]
    assert choice in ("float32", "mixed_bfloat16") and f"precision: {choice} (" in first.stdout
    second = run_fit("--data", str(tiny_data), "--run-dir", str(tmp_path / "b"), *tiny_flags(precision="auto", steps=1))
    assert second.returncode == 0 and "measured before on this CPU" in second.stdout
