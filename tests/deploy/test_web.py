"""The browser demo: ``export --web`` writes a page that runs the TFLite generator with LiteRT.js in a real
headless Chromium and computes what ai-edge-litert computes on the same file.

Needs Debian's ``chromium`` (Playwright's own browser download is not reachable here), the ``playwright``
package (the ``test`` extra) and the LiteRT.js runtime (``python -m pix2pix_tf.web_demo --install-litert-js``,
or ``npm ci`` in pix2pix_tf/web). Without them these tests skip, except under CI
(``CI=true``), where a missing piece is a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TINY_FLAGS, make_run, pair_arrays, run_fit, write_paired
from PIL import Image

from pix2pix_tf import export as export_cli_module
from pix2pix_tf.core.config import Config, load_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.palette import FACADES
from pix2pix_tf.deploy import web_demo
from pix2pix_tf.deploy.export import settings as ex
from pix2pix_tf.deploy.export.verify import psnr_db

CHROMIUM = Path("/usr/bin/chromium")
SIZE = 32
WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"]  # software WebGPU, if present
READY = "window.pix2pix && (pix2pix.state === 'error' || (pix2pix.state === 'ready' && pix2pix.translations > 0))"


def require(ok: bool, reason: str) -> None:
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)


def require_browser_pieces() -> None:
    require(importlib.util.find_spec("playwright") is not None,
            "playwright is not installed (pip install -e '.[test]')")
    require(CHROMIUM.is_file(), f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        web_demo.runtime_dir()
    except UserError as err:
        require(False, str(err))


@pytest.fixture(scope="module")
def playwright():
    require_browser_pieces()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@contextlib.contextmanager
def launched(playwright, args: list[str]):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def browser(playwright):
    with launched(playwright, []) as chromium:
        yield chromium


class Page:
    """An opened demo page with everything it logged: console errors, uncaught exceptions, requested URLs."""

    def __init__(self, browser, url: str, viewport=None):
        self.page = browser.new_page(viewport=viewport or {"width": 1000, "height": 800})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_function(READY, timeout=120_000)

    def state(self) -> dict:
        return self.page.evaluate("({state: pix2pix.state, error: pix2pix.error, accelerator: pix2pix.accelerator,"
                                  " translations: pix2pix.translations})")

    def translate(self, array: np.ndarray) -> np.ndarray:
        values = self.page.evaluate("async (x) => Array.from(await pix2pix.translate(x))", array.ravel().tolist())
        return np.asarray(values, np.float32).reshape(array.shape)

    def last_output(self) -> np.ndarray:
        return np.asarray(self.page.evaluate("Array.from(pix2pix.lastOutput)"), np.float32).reshape(1, SIZE, SIZE, 3)

    def input_array(self) -> np.ndarray:
        return np.asarray(self.page.evaluate("Array.from(pix2pix.inputArray())"), np.float32).reshape(1, SIZE, SIZE, 3)

    def after_next_translation(self, action) -> None:
        count = self.state()["translations"]
        action()
        self.page.wait_for_function(f"pix2pix.translations > {count} || pix2pix.state === 'error'", timeout=60_000)

    def close(self) -> None:
        self.page.close()


@contextlib.contextmanager
def opened(browser, folder: Path, query: str = "", viewport=None):
    with web_demo.served(folder) as base:
        page = Page(browser, base + query, viewport)
        try:
            yield page, base
        finally:
            page.close()


def litert_output(model: Path, array: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(model)).get_signature_runner(ex.TFLITE_SIGNATURE)
    return runner(**{ex.TFLITE_INPUT: array})[ex.TFLITE_OUTPUT]


def fixed_input(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# The export


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("web")
    data = write_paired(root / "data", split="train", count=6, size=SIZE)
    write_paired(data, split="test", count=4, size=SIZE, start=100)
    run = root / "run"
    result = run_fit("--run-dir", str(run), "--data", str(data), *TINY_FLAGS, "--steps", "3", "--save-every", "3")
    assert result.returncode == 0, result.stderr[-3000:]
    return run


def export_cli(run_dir: Path, out: Path, *flags: str) -> Path:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-m", "pix2pix_tf.export", "--run-dir", str(run_dir), "--out", str(out),
                             "--formats", "tflite", "--verify-images", "2", "--calibration-images", "4", "--web",
                             *flags], capture_output=True, text=True, env=env, cwd=REPO, timeout=600, check=False)
    if result.returncode != 0 and "npm ci" in result.stderr:
        require(False, result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"web demo: {out / 'web'}" in result.stdout
    return out


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    """``python -m pix2pix_tf.export --web --palette facades``, every TFLite variant."""
    return export_cli(run_dir, tmp_path_factory.mktemp("out") / "export", "--palette", "facades")


@pytest.fixture(scope="module")
def paper_exported(run_dir, tmp_path_factory) -> Path:
    return export_cli(run_dir, tmp_path_factory.mktemp("paper") / "export", "--inference", "paper",
                      "--tflite-quant", "float32")


def variant_folder(exported: Path, run_dir: Path, quant: str, dest: Path) -> Path:
    return web_demo.write_web_demo(exported / "tflite" / "1", dest, load_config(run_dir), variant=quant,
                                   palette=FACADES)


def test_web_folder_holds_page_runtime_model_metadata_and_examples(exported):
    web = exported / "web"
    meta = json.loads((web / web_demo.METADATA_FILE).read_text())
    sizes = {p.name: p.stat().st_size for p in (exported / "tflite" / "1").glob("*.tflite")}
    smallest = min(sizes, key=sizes.get)
    assert meta["model"]["file"] == smallest, "the default is the smallest verified variant"
    assert (web / smallest).read_bytes() == (exported / "tflite" / "1" / smallest).read_bytes()
    assert meta["model"]["size_bytes"] == sizes[smallest]
    assert (meta["height"], meta["width"], meta["input_channels"], meta["output_channels"]) == (SIZE, SIZE, 3, 3)
    assert (meta["direction"], meta["inference_mode"], meta["step"]) == ("AtoB", "deterministic", 3)
    assert meta["palette"] == FACADES.to_dict()
    for name in (*web_demo.PAGE_FILES, *web_demo.RUNTIME_FILES.values()):
        assert (web / name).is_file(), name
    assert meta["examples"] == [f"examples/{i}.png" for i in range(1, 5)]
    first = np.asarray(Image.open(web / meta["examples"][0]))
    assert first.shape == (SIZE, SIZE, 3)
    expected_a, _ = pair_arrays(100, SIZE)  # the first test pair's A side (direction AtoB): the model's input
    assert np.abs(first.astype(int) - expected_a.astype(int)).max() <= 1
    assert not [p for p in exported.iterdir() if p.name.startswith(web_demo.TEMP_PREFIX)]


@pytest.mark.parametrize("argv, message", [
    (["--formats", "saved_model", "--web"], "has no tflite"),
    (["--tflite-quant", "float32", "--web", "--web-model", "int8"], "--web-model int8: not among"),
    (["--palette", "facades"], "add --web"),
    (["--web", "--palette", "no-such-palette.json"], "--palette no-such-palette.json"),
])
def test_bad_web_flags_are_refused_before_anything_is_written(argv, message, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UserError, match=message):
        export_cli_module.main(["--run-dir", str(tmp_path / "run"), "--out", str(out), *argv])
    assert not out.exists()


def test_palette_defaults_to_the_runs_own():
    builtin = web_demo.run_palette(Config(data="builtin"))
    assert builtin.names[0] == "sky" and len(builtin.colors) == len(builtin.names) > 2
    assert web_demo.run_palette(Config(data="/some/photos")) is None
    assert web_demo.run_palette(Config(data="/x", palette=FACADES.to_dict())) == FACADES


def test_palette_defaults_to_a_builtin_one_that_fits_the_label_maps():
    facades_maps = np.asarray(FACADES.colors, np.float32)[np.arange(64) % 12].reshape(1, 8, 8, 3) / 127.5 - 1.0
    assert web_demo.default_palette(Config(data="/x", input_nc=3), facades_maps) == FACADES
    noise = np.random.default_rng(0).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    builtin = web_demo.default_palette(Config(data="builtin", input_nc=3), noise)
    assert builtin.names[0] == "sky", "no built-in palette fits: the run's own"
    assert web_demo.default_palette(Config(data="/x", input_nc=3), noise) is None


def fake_runtime(folder: Path) -> Path:
    for name in web_demo.RUNTIME_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("//")
    return folder


def test_runtime_is_found_from_the_flag_then_the_environment(tmp_path, monkeypatch):
    flagged, env = fake_runtime(tmp_path / "a" / "node_modules"), fake_runtime(tmp_path / "b")
    monkeypatch.setenv(web_demo.RUNTIME_ENV, str(env))
    assert web_demo.runtime_dir() == env
    assert web_demo.runtime_dir(tmp_path / "a") == flagged, "a folder with node_modules/ inside is accepted"
    monkeypatch.setenv(web_demo.RUNTIME_ENV, str(tmp_path / "empty"))
    with pytest.raises(UserError, match=rf"^\${web_demo.RUNTIME_ENV} .*empty: not a LiteRT.js runtime .*install"):
        web_demo.runtime_dir()


def test_missing_runtime_says_where_it_looked_and_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv(web_demo.RUNTIME_ENV, raising=False)
    monkeypatch.setenv("PIX2PIX_TF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(web_demo, "CHECKOUT_RUNTIME", tmp_path / "checkout" / "node_modules")
    with pytest.raises(UserError) as err:
        web_demo.runtime_dir()
    message = str(err.value)
    assert "\n" not in message and "checkout" in message and str(tmp_path / "cache") in message
    assert web_demo.INSTALL_COMMAND in message and "--litert-js DIR" in message
def fake_tflite(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "m_float32.tflite").write_bytes(b"model")
    meta = {"quantization": "float32", "step": 3, "height": SIZE, "width": SIZE, "input_channels": 3,
            "output_channels": 3, "direction": "AtoB", "inference_mode": "deterministic",
            "inference_mode_meaning": "", "checkpoint": "ckpt-3", "signature": "generate",
            "input": {"name": "image"}, "output": {"name": "image"}}
    (folder / "m_float32.json").write_text(json.dumps(meta))
    return folder


def test_the_demo_folder_is_replaced_whole_or_not_at_all_with_a_plain_folder_mode(tmp_path):
    from conftest import make_run

    data = write_paired(tmp_path / "data", count=2, size=SIZE)
    make_run(tmp_path / "run", data, steps=(3,))
    config, runtime, tflite = load_config(tmp_path / "run"), fake_runtime(tmp_path / "rt"), fake_tflite(tmp_path / "t")
    dest = tmp_path / "out" / "web"
    dest.mkdir(parents=True)
    (dest / "old.txt").write_text("the demo before")
    with pytest.raises(UserError, match="the run's data is not there"):
        web_demo.write_web_demo(tflite, dest, config, data=str(tmp_path / "gone"), runtime=runtime)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["web"] and (dest / "old.txt").is_file()
    mask = os.umask(0o022)
    try:
        web_demo.write_web_demo(tflite, dest, config, runtime=runtime)
    finally:
        os.umask(mask)
    assert not (dest / "old.txt").exists() and (dest / "demo.json").is_file()
    assert dest.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["web"]


# ---------------------------------------------------------------------------------------------------------
# The page in Chromium


@pytest.mark.parametrize("quant", ["float32", "float16", "dynamic", "int8"])
def test_page_computes_what_litert_computes(quant, browser, exported, run_dir, tmp_path):
    folder = variant_folder(exported, run_dir, quant, tmp_path / "web")
    model = folder / json.loads((folder / web_demo.METADATA_FILE).read_text())["model"]["file"]
    with opened(browser, folder, "?accelerator=wasm") as (page, _):
        assert page.state()["state"] == "ready", page.state()
        assert page.state()["accelerator"] == "wasm"
        image = fixed_input()
        found, expected = page.translate(image), litert_output(model, image)
        assert page.errors == []
    if quant == "float32":
        assert np.abs(found - expected).mean() < ex.TFLITE_FLOAT32_MEAN_ABS
    else:
        assert psnr_db(expected, found) >= ex.MIN_PSNR_DB[quant]


def test_a_subpixel_generator_computes_in_the_page_what_litert_computes(browser, tmp_path):
    """LiteRT.js runs depth-to-space (``--upsample subpixel``) as ai-edge-litert does, in int8 too."""
    data = write_paired(tmp_path / "data", split="train", count=4, size=SIZE)
    make_run(tmp_path / "run", data, upsample="subpixel")
    out = export_cli(tmp_path / "run", tmp_path / "export", "--tflite-quant", "int8")
    folder = out / "web"
    model = folder / json.loads((folder / web_demo.METADATA_FILE).read_text())["model"]["file"]
    with opened(browser, folder, "?accelerator=wasm") as (page, _):
        assert page.state()["state"] == "ready", page.state()
        image = fixed_input()
        found, expected = page.translate(image), litert_output(model, image)
        assert page.errors == []
    assert psnr_db(expected, found) >= ex.MIN_PSNR_DB["int8"]


def test_webgpu_when_the_browser_has_it(playwright, exported, run_dir, tmp_path):
    """Software WebGPU (SwiftShader) stands in for a GPU: the page must pick WebGPU and compute the same."""
    folder = variant_folder(exported, run_dir, "float32", tmp_path / "web")
    with launched(playwright, WEBGPU_FLAGS) as chromium, opened(chromium, folder) as (page, _):
        if page.state()["accelerator"] != "webgpu":
            pytest.skip("this Chromium offers no WebGPU adapter, not even SwiftShader")
        image = fixed_input(1)
        found, expected = page.translate(image), litert_output(folder / "pix2pix_float32.tflite", image)
        assert "WebGPU" in page.page.inner_text("#stat-accelerator")
        assert page.errors == []
    assert np.abs(found - expected).mean() < ex.TFLITE_FLOAT32_MEAN_ABS


def test_paper_mode_page_draws_fresh_noise_and_computes_litert_with_the_same_noise(browser, paper_exported):
    from ai_edge_litert.interpreter import Interpreter

    web = paper_exported / "web"
    meta = json.loads((web / web_demo.METADATA_FILE).read_text())
    assert meta["model"]["signature"] == ex.TFLITE_NOISE_SIGNATURE and meta["model"]["noise_inputs"]
    rng = np.random.default_rng(2)
    noise = {name: rng.random(shape, dtype=np.float32) for name, shape in meta["model"]["noise_inputs"].items()}
    image = fixed_input(2)
    with opened(browser, web) as (page, _):
        fixed = page.page.evaluate("async ([x, noise]) => Array.from(await pix2pix.translate(x, noise))",
                                   [image.ravel().tolist(), {k: v.ravel().tolist() for k, v in noise.items()}])
        first, second = page.translate(image), page.translate(image)
        assert page.errors == []
    runner = Interpreter(model_path=str(web / meta["model"]["file"])).get_signature_runner(ex.TFLITE_NOISE_SIGNATURE)
    expected = runner(**{ex.TFLITE_INPUT: image}, **noise)[ex.TFLITE_OUTPUT]
    assert np.abs(np.reshape(fixed, image.shape) - expected).mean() < ex.TFLITE_FLOAT32_MEAN_ABS
    assert np.abs(first - second).mean() > 1e-4, "paper mode must give a different output on every call"


def test_drawing_a_rectangle_changes_the_output_and_undo_restores_it(browser, exported):
    web = exported / "web"
    meta = json.loads((web / web_demo.METADATA_FILE).read_text())
    model = web / meta["model"]["file"]
    with opened(browser, web, viewport={"width": 375, "height": 800}) as (page, base):
        before_in, before_out = page.input_array(), page.last_output()
        page.page.click("button.brush[data-name='window']")
        box = page.page.locator("#input-canvas").bounding_box()

        def drag():
            page.page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.25 * box["height"])
            page.page.mouse.down()
            page.page.mouse.move(box["x"] + 0.75 * box["width"], box["y"] + 0.75 * box["height"], steps=5)
            page.page.mouse.up()

        page.after_next_translation(drag)
        drawn_in, drawn_out = page.input_array(), page.last_output()
        window = np.array(FACADES.colors[FACADES.names.index("window")]) / 127.5 - 1
        np.testing.assert_allclose(drawn_in[0, 12:20, 12:20], np.broadcast_to(window, (8, 8, 3)), atol=1e-6)
        np.testing.assert_array_equal(drawn_in[0, :4], before_in[0, :4])  # outside the rectangle: untouched
        assert np.abs(drawn_out - before_out).mean() > 1e-3
        assert psnr_db(litert_output(model, drawn_in), drawn_out) >= ex.MIN_PSNR_DB[meta["model"]["variant"]]
        page.after_next_translation(lambda: page.page.click("#undo"))
        np.testing.assert_array_equal(page.input_array(), before_in)
        np.testing.assert_allclose(page.last_output(), before_out, atol=1e-6)
        assert page.errors == []
        assert all(url.startswith((base, "data:")) for url in page.requests), "no CDN at run time"


def test_page_fits_a_375_px_phone_and_says_what_ran(browser, exported):
    with opened(browser, exported / "web", viewport={"width": 375, "height": 700}) as (page, _):
        assert page.page.evaluate("document.documentElement.scrollWidth") <= 375
        for canvas in ("#input-canvas", "#output-canvas"):
            box = page.page.locator(canvas).bounding_box()
            assert box["width"] > 120 and box["x"] + box["width"] <= 375
        camera = page.page.locator("#camera")
        assert (camera.get_attribute("accept"), camera.get_attribute("capture")) == ("image/*", "environment")
        stats = page.page.inner_text("#stats")
        assert "ms" in page.page.inner_text("#stat-time")
        assert "WebAssembly" in stats and "KB" in stats and "32x32" in stats
        page.after_next_translation(lambda: page.page.click("#clear"))
        background = np.array(FACADES.colors[0]) / 127.5 - 1
        np.testing.assert_allclose(page.input_array()[0], np.broadcast_to(background, (SIZE, SIZE, 3)), atol=1e-6)
        assert page.errors == []


def test_upload_of_another_size_is_resized_and_back_and_says_so(browser, exported, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(photo)
    with opened(browser, exported / "web") as (page, _):
        page.after_next_translation(lambda: page.page.set_input_files("#upload", str(photo)))
        note = page.page.inner_text("#resize-note")
        assert "48x40" in note and f"{SIZE}x{SIZE}" in note
        size = page.page.evaluate("[document.getElementById('output-canvas').width,"
                                  " document.getElementById('output-canvas').height]")
        assert size == [48, 40]
        assert page.errors == []


@pytest.mark.parametrize("damage, message", [
    ("garbage", "is not a TFLite model"),
    ("truncated", "truncated"),
    ("missing", "HTTP 404"),
])
def test_broken_or_missing_model_shows_a_clear_error(damage, message, browser, exported, tmp_path):
    folder = tmp_path / "web"
    shutil.copytree(exported / "web", folder)
    model = folder / json.loads((folder / web_demo.METADATA_FILE).read_text())["model"]["file"]
    if damage == "garbage":
        model.write_bytes(np.random.default_rng(0).bytes(model.stat().st_size))
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    else:
        model.unlink()
    with opened(browser, folder) as (page, _):
        assert page.state()["state"] == "error"
        box = page.page.locator("#error")
        assert box.is_visible() and message in box.inner_text() and model.name in box.inner_text()
        assert not page.page.locator("#demo").is_visible()
        assert not [e for e in page.errors if e.startswith("uncaught")]


def test_opened_as_a_file_the_page_says_to_serve_it(browser, exported):
    page = browser.new_page()
    try:
        page.goto((exported / "web" / "index.html").as_uri())
        box = page.locator("#error")
        assert box.is_visible() and "python -m http.server" in box.inner_text()
    finally:
        page.close()
