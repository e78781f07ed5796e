"""The package works when installed, not only from a checkout: a wheel built from this tree, installed with its
dependencies into a fresh virtual environment outside the checkout, runs fit, evaluate, translate and
export --web from another folder (page sources are package data; the LiteRT.js runtime comes from
$PIX2PIX_TF_LITERT_JS), and its generator.keras loads there after ``import pix2pix_tf``.

Marked ``wheel`` (``pytest -m wheel`` runs only this). It needs pip to reach the packages (pip's cache or
index) and the LiteRT.js runtime; without them it skips, except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, TINY_FLAGS, write_paired

from pix2pix_tf.core.errors import UserError
from pix2pix_tf.deploy import web_demo

pytestmark = pytest.mark.wheel


def require(ok: bool, reason: str) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the wheel test: {reason}")
        pytest.skip(reason)


def run(args: list, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    """(the fresh environment's python, the environment variables to run it with)."""
    try:
        runtime = web_demo.runtime_dir()
    except UserError as err:
        require(False, str(err))
    root = tmp_path_factory.mktemp("wheel")
    assert REPO not in root.parents
    env = {**os.environ, web_demo.RUNTIME_ENV: str(runtime), "PIX2PIX_TF_CACHE": str(root / "cache")}
    env.pop("PYTHONPATH", None)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", root / "dist",
         REPO], root, env)
    wheel = next((root / "dist").glob("pix2pix_tf-*.whl"))
    run([sys.executable, "-m", "venv", root / "venv"], root, env)
    python = root / "venv" / "bin" / "python"
    installing = subprocess.run([python, "-m", "pip", "install", "-q", f"{wheel}[cpu]"], cwd=root, env=env,
                                capture_output=True, text=True, timeout=900)
    require(installing.returncode == 0, f"pip could not install the wheel's dependencies: {installing.stderr[-500:]}")
    return python, env


def test_installed_wheel_trains_evaluates_translates_and_exports_from_another_folder(installed, tmp_path):
    python, env = installed
    began = time.monotonic()
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = run([python, "-c", "import pix2pix_tf; print(pix2pix_tf.__file__)"], work, env).stdout.strip()
    assert str(python.parents[1]) in where, f"not the installed package: {where}"

    data = write_paired(tmp_path / "data", count=4)
    write_paired(tmp_path / "data", split="test", count=2, start=100)
    run([python, "-m", "pix2pix_tf.fit", "--data", data, "--run-dir", "run", *TINY_FLAGS, "--steps", "2"], work, env)
    run([python, "-m", "pix2pix_tf.evaluate", "--run-dir", "run"], work, env)
    assert json.loads(next((work / "run" / "eval").glob("*/summary.json")).read_text())
    run([python, "-m", "pix2pix_tf.translate", "--run-dir", "run", "run/examples", "--out", "translated"], work, env)
    assert sorted(p.name for p in (work / "translated").iterdir()) == ["101.png", "102.png"]
    run([python, "-m", "pix2pix_tf.export", "--run-dir", "run", "--out", "exported", "--formats", "tflite,keras",
         "--tflite-quant", "float32", "--web"], work, env)
    web = work / "exported" / "web"
    for name in (*web_demo.PAGE_FILES, *web_demo.RUNTIME_FILES.values(), "pix2pix_float32.tflite", "demo.json"):
        assert (web / name).is_file(), name
    assert (web / "index.html").read_bytes() == (REPO / "pix2pix_tf" / "deploy" / "web" / "index.html").read_bytes()
    loads = "import pix2pix_tf, keras; print(keras.saving.load_model('exported/keras/1/generator.keras').name)"
    assert run([python, "-c", loads], work, env).stdout.strip() == "generator"
    print(f"\ninstalled wheel: fit, evaluate, translate, export --web in {time.monotonic() - began:.0f} s")
