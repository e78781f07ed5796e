"""The browser demo written by ``python -m pix2pix_tf.export ... --web``: a static folder that runs one of the
export's verified TFLite files in a phone or desktop browser with LiteRT.js.

Layout of ``OUT/web/`` (works behind any static server, e.g. ``python -m http.server`` inside it)::

    index.html, app.js, style.css         the page (package data: pix2pix_tf/deploy/web/)
    demo.json                             what the page needs: size, channels, direction, mode, model, palette
    <model>_<quant>.tflite                the chosen variant, byte for byte the verified export
    examples/*.png                        a few held-out inputs of the run, at the model's input size
    litert/                               the LiteRT.js runtime (JS + wasm), copied from a node_modules folder

The runtime is npm's ``@litertjs/core``, pinned by pix2pix_tf/deploy/web/package-lock.json, never fetched from a
CDN: the page works offline. ``runtime_dir`` says where it is looked for; ``python -m pix2pix_tf.web_demo
--install-litert-js`` installs it into the user cache.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import importlib.resources
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pix2pix_tf.core.atomic import publish_dir, staging_dir
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.palette import Palette, palette_from_arg

PAGE_FILES = ("index.html", "app.js", "style.css")
NPM_FILES = ("package.json", "package-lock.json")
# Where a source checkout keeps the runtime after `npm ci` in pix2pix_tf/web (an installed package has none).
CHECKOUT_RUNTIME = Path(__file__).resolve().parent / "web" / "node_modules"
RUNTIME_ENV = "PIX2PIX_TF_LITERT_JS"
INSTALL_COMMAND = "python -m pix2pix_tf.web_demo --install-litert-js"
# node_modules path -> path in the web folder. Only the single-threaded builds: the threaded one needs a
# cross-origin-isolated page (COOP/COEP headers a plain static server does not send), and the JSPI one is
# only needed for WebNN or for splitting a model between WebGPU and wasm.
RUNTIME_FILES = {
    "@litertjs/core/dist/index.js": "litert/core.js",
    "@litertjs/wasm-utils/dist/index.js": "litert/wasm-utils.js",
    **{f"@litertjs/core/wasm/{build}{ext}": f"litert/wasm/{build}{ext}"
       for build in ("litert_wasm_internal", "litert_wasm_compat_internal") for ext in (".js", ".wasm")},
}
VARIANT_LABELS = {"float32": "float32", "float16": "float16 weights", "dynamic": "int8 weights (dynamic range)",
                  "int8": "full int8"}
SMALLEST = "smallest"
WEB_DIR = "web"
METADATA_FILE = "demo.json"
METADATA_FORMAT = "pix2pix_tf.web"
METADATA_VERSION = 1
EXAMPLE_COUNT = 4
TEMP_PREFIX = ".tmp-web-"


@dataclass(frozen=True)
class WebRequest:
    """What ``--web`` asked for, checked before the (long) export starts."""

    variant: str
    palette: Palette | None
    runtime: Path


# ----------------------------------------------------------------------------------------------------------
# Command line (the export command owns the flags' home; these functions keep its hook to a few lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("browser demo")
    group.add_argument("--web", action="store_true",
                       help=f"also write OUT/{WEB_DIR}/: a static page that runs a TFLite file in the browser with "
                            f"LiteRT.js (install it once: {INSTALL_COMMAND})")
    group.add_argument("--litert-js", default=None, type=Path, metavar="DIR",
                       help=f"a node_modules folder holding @litertjs/core (default: ${RUNTIME_ENV}, else the "
                            "checkout's pix2pix_tf/deploy/web/node_modules, else the user cache)")
    group.add_argument("--web-model", default=SMALLEST, choices=(SMALLEST, *VARIANT_LABELS),
                       help="the TFLite variant the page runs (default: the smallest file; every variant kept "
                            "has passed the export's check against the Keras generator)")
    group.add_argument("--palette", default=None,
                       help="label colours for the page's drawing tools: 'facades' or a JSON file (default: a built-in "
                            "palette that fits the run's label maps, e.g. facades; else the run's own, e.g. the "
                            "built-in demo data's; else a colour picker)")


def pop_request(args: argparse.Namespace) -> WebRequest | None:
    """Take the demo's flags off the parsed arguments and check them; None without ``--web``."""
    web, variant, palette_arg, runtime = args.web, args.web_model, args.palette, args.litert_js
    del args.web, args.web_model, args.palette, args.litert_js
    if not web:
        if variant != SMALLEST or palette_arg is not None or runtime is not None:
            raise UserError("--web-model, --palette and --litert-js describe the browser demo; add --web")
        return None
    if "tflite" not in args.formats:
        raise UserError(f"--web runs a TFLite file in the browser; --formats {','.join(args.formats)} has no tflite")
    if variant != SMALLEST and variant not in args.quantizations:
        raise UserError(f"--web-model {variant}: not among the exported variants (--tflite-quant "
                        f"{','.join(args.quantizations)})")
    return WebRequest(variant, None if palette_arg is None else palette_from_arg(palette_arg), runtime_dir(runtime))


# ----------------------------------------------------------------------------------------------------------
# The LiteRT.js runtime


def cache_runtime() -> Path:
    """The user cache's copy, written by ``--install-litert-js`` (``PIX2PIX_TF_CACHE`` moves the cache)."""
    from pix2pix_tf.data.synthetic import cache_root

    return cache_root() / "litert-js" / "node_modules"


def runtime_dir(given: Path | None = None) -> Path:
    """The node_modules folder the page's runtime is copied from: ``--litert-js DIR``, else
    ``$PIX2PIX_TF_LITERT_JS``, else the checkout's, else the user cache's. A folder named explicitly must
    hold the runtime; otherwise the first that does wins. Missing: one line saying which was looked at."""
    named = (given, "--litert-js") if given is not None else (os.environ.get(RUNTIME_ENV), f"${RUNTIME_ENV}")
    if named[0]:
        folder = Path(named[0]).expanduser()
        folder = folder / "node_modules" if (folder / "node_modules").is_dir() else folder
        check_runtime(folder, f"{named[1]} {named[0]}")
        return folder
    candidates = (CHECKOUT_RUNTIME, cache_runtime())
    for folder in candidates:
        if not missing_runtime_files(folder):
            return folder
    raise UserError(f"the LiteRT.js runtime for --web is not installed (looked in {candidates[0]} and "
                    f"{candidates[1]}); run `{INSTALL_COMMAND}` (needs npm) or pass --litert-js DIR")


def missing_runtime_files(folder: Path) -> list[str]:
    return [name for name in RUNTIME_FILES if not (folder / name).is_file()]


def check_runtime(folder: Path, named: str | None = None) -> None:
    missing = missing_runtime_files(folder)
    if missing:
        raise UserError(f"{named or folder}: not a LiteRT.js runtime ({folder / missing[0]} is missing); "
                        f"run `{INSTALL_COMMAND}` (needs npm) or name a node_modules folder holding @litertjs/core")


def install_runtime(target: Path | None = None) -> Path:
    """``npm ci`` with the package's pinned package.json and lockfile in the user cache; returns node_modules."""
    folder = (target or cache_runtime()).parent
    folder.mkdir(parents=True, exist_ok=True)
    for name in NPM_FILES:
        (folder / name).write_bytes(page_source(name).read_bytes())
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is not installed (Node.js); install it, or pass --litert-js DIR to export")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=folder)
    if done.returncode:
        raise UserError(f"npm ci in {folder} failed (exit status {done.returncode}); see npm's output above")
    check_runtime(folder / "node_modules")
    return folder / "node_modules"


def page_source(name: str):
    """One of the page's sources, package data of pix2pix_tf (works from a checkout and from a wheel)."""
    return importlib.resources.files("pix2pix_tf.deploy") / "web" / name


def how_to_open(web_dir: Path) -> str:
    return (f"web demo: {web_dir} (serve it: cd {web_dir} && python -m http.server 8000, then open "
            "http://localhost:8000/; from a phone on the same network use this machine's address)")


# ----------------------------------------------------------------------------------------------------------
# Choosing the model


def tflite_variants(tflite_dir: Path) -> dict[str, tuple[Path, dict]]:
    """quantisation -> (file, the JSON the export wrote beside it) for every verified file in the folder."""
    variants = {}
    for path in sorted(Path(tflite_dir).glob("*.tflite")):
        sidecar = path.with_suffix(".json")
        if sidecar.is_file():
            meta = json.loads(sidecar.read_text())
            variants[meta["quantization"]] = (path, meta)
    return variants


def choose_variant(variants: dict[str, tuple[Path, dict]], wanted: str) -> str:
    if not variants:
        raise UserError("no verified TFLite files to put into the web demo")
    if wanted == SMALLEST:
        return min(variants, key=lambda quant: variants[quant][0].stat().st_size)
    if wanted not in variants:
        raise UserError(f"--web-model {wanted}: this export has only {', '.join(sorted(variants))}")
    return wanted


# ----------------------------------------------------------------------------------------------------------
# Example inputs


def example_inputs(config, data: str | None, count: int) -> np.ndarray:
    """Model-side inputs of the run's held-out split (else its training split), at the model's size, as
    validation saw them: what the page offers to click on before anyone draws or uploads."""
    from pix2pix_tf.data import pipeline as data_lib
    from pix2pix_tf.train.rundir import data_root, run_pairs, validation_split

    root = Path(data) if data is not None else data_root(config)
    if not root.is_dir():
        raise UserError(f"{root}: the run's data is not there; pass --data DIR to take the demo's examples from")
    pairs = run_pairs(config, root, validation_split(config, root) or config.train_split)[:count]
    dataset = data_lib.evaluation_dataset(pairs, config, batch_size=1).unbatch()
    return np.stack([source.numpy() for source, _ in dataset])


def write_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    levels = np.round(np.clip((image + 1.0) * 127.5, 0, 255)).astype(np.uint8)
    Image.fromarray(levels[..., 0] if levels.shape[-1] == 1 else levels).save(path)


# ----------------------------------------------------------------------------------------------------------
# The folder


def demo_metadata(model_path: Path, tflite_meta: dict, run_name: str, palette, examples: list[str]) -> dict:
    """demo.json: everything the page reads; the model's own numbers come from the export's sidecar JSON."""
    verification = tflite_meta.get("verification", {})
    noise = tflite_meta.get("noise_signature")
    quant = tflite_meta["quantization"]
    return {
        "format": METADATA_FORMAT, "version": METADATA_VERSION, "title": f"{run_name}, step {tflite_meta['step']}",
        "height": tflite_meta["height"], "width": tflite_meta["width"],
        "input_channels": tflite_meta["input_channels"], "output_channels": tflite_meta["output_channels"],
        "direction": tflite_meta["direction"], "inference_mode": tflite_meta["inference_mode"],
        "inference_mode_meaning": tflite_meta["inference_mode_meaning"],
        "checkpoint": tflite_meta["checkpoint"], "step": tflite_meta["step"],
        "weights": tflite_meta.get("weights", "raw"),
        "model": {"file": model_path.name, "variant": quant, "variant_label": VARIANT_LABELS[quant],
                  "size_bytes": model_path.stat().st_size,
                  # paper mode: the page draws the dropout noise itself (LiteRT.js repeats RANDOM_UNIFORM's draws)
                  "signature": noise["name"] if noise else tflite_meta["signature"],
                  "noise_inputs": noise["inputs"] if noise else {},
                  "input": tflite_meta["input"]["name"], "output": tflite_meta["output"]["name"],
                  "psnr_db_vs_keras": verification.get("psnr_db_vs_keras"),
                  "mean_abs_diff_vs_keras": verification.get("mean_abs_diff")},
        "palette": palette.to_dict() if palette is not None else None,
        "examples": examples,
    }


def copy_runtime(runtime: Path, dest: Path) -> None:
    check_runtime(runtime)
    for name, target in RUNTIME_FILES.items():
        (dest / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(runtime / name, dest / target)


def write_web_demo(tflite_dir: Path, dest: Path, config, *, variant: str = SMALLEST, palette=None,
                   data: str | None = None, run_name: str = "pix2pix", runtime: Path | None = None) -> Path:
    """Write the demo folder ``dest`` for one of the verified files in ``tflite_dir`` (an export's
    ``tflite/<version>/``). Staged beside ``dest`` and moved into place (``atomic``): the old one stays
    whole until the new one is complete."""
    variants = tflite_variants(tflite_dir)
    quant = choose_variant(variants, variant)
    model_path, tflite_meta = variants[quant]
    dest = Path(dest)
    with staging_dir(dest.parent, prefix=f"{TEMP_PREFIX}{os.getpid()}-") as stage:
        for name in PAGE_FILES:
            (stage / name).write_bytes(page_source(name).read_bytes())
        copy_runtime(runtime or runtime_dir(), stage)
        shutil.copyfile(model_path, stage / model_path.name)
        (stage / "examples").mkdir()
        examples = []
        for index, image in enumerate(example_inputs(config, data, EXAMPLE_COUNT), start=1):
            write_png(image, stage / "examples" / f"{index}.png")
            examples.append(f"examples/{index}.png")
        meta = demo_metadata(stage / model_path.name, tflite_meta, run_name, palette, examples)
        (stage / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return publish_dir(stage, dest)


def default_palette(config, label_maps: np.ndarray) -> Palette | None:
    """The page's palette when ``--palette`` is not given: a built-in palette whose colours describe the run's
    label maps (by the judge's fit test: median pixel within ``PALETTE_FIT_RGB`` of a palette colour), else
    the run's own (``run_palette``)."""
    if config.input_nc == 3 and len(label_maps):
        from pix2pix_tf.data.palette import BUILTIN
        from pix2pix_tf.realism.judge import PALETTE_FIT_RGB

        rgb = (np.asarray(label_maps, np.float32) + 1.0) * 127.5
        for palette in BUILTIN.values():
            if float(np.median(palette.colors_distance(rgb))) <= PALETTE_FIT_RGB:
                return palette
    return run_palette(config)


def run_palette(config) -> Palette | None:
    """The label colours a run already knows: a palette stored in its config, or the built-in demo data's."""
    if config.palette:
        return Palette.from_dict(config.palette, "the run's config")
    if config.data == "builtin":
        from pix2pix_tf.data.synthetic import PALETTE

        return Palette(tuple(PALETTE), tuple(PALETTE.values()), "pix2pix_tf built-in demo data")
    return None


def write_for_export(request: WebRequest, result, options) -> str:
    """The export command's ``--web`` step: OUT/web/ for the version just written; returns what to print."""
    from pix2pix_tf.core.config import load_config

    run_dir = Path(options.run_dir)
    config = load_config(run_dir)
    palette = request.palette or default_palette(config, example_inputs(config, options.data, EXAMPLE_COUNT))
    web_dir = write_web_demo(Path(options.out) / "tflite" / str(result.version), Path(options.out) / WEB_DIR,
                             config, variant=request.variant, palette=palette,
                             data=options.data, run_name=run_dir.resolve().name, runtime=request.runtime)
    return how_to_open(web_dir)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def served(folder: Path):
    """``folder`` on 127.0.0.1 as ``python -m http.server`` serves it, on a free port; yields the base URL.
    The browser tests and the web benchmarks open the demo through it."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
