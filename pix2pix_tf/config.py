"""The recipe in one place: every number of the paper's setup, the flags that change it, and the
run directory's stored copy that evaluate, translate and export read back.

Two stages: ``Config`` is what the user asked for (``None`` and ``auto`` mean "decide from the data or
the hardware"); ``RunSpec`` is the frozen, fully resolved spec that ``training.prepare()`` returns and
the run directory stores, with every one of those decided, so nothing downstream checks for ``None``."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from pix2pix_tf.atomic import write_text
from pix2pix_tf.errors import UserError

CONFIG_FORMAT = "pix2pix_tf.config"
CONFIG_VERSION = 1
CONFIG_FILE = "config.json"
INFERENCE_MODES = ("paper", "deterministic")  # what each means: pix2pix_tf.inference


def _opt(default, help, *, choices=None, frozen=True, cli=True):
    """A config field: ``frozen`` fields may not change when a run resumes; ``cli`` ones get a flag."""
    return field(default=default, metadata={"help": help, "choices": choices, "frozen": frozen, "cli": cli})


@dataclass(frozen=True)
class Config:
    """Defaults reproduce Isola et al. (2017) and the PyTorch reference implementation."""

    task: str = _opt("pix2pix", "what the run trains: the pix2pix GAN, or a segmentation judge of realism",
                     choices=("pix2pix", "judge"), cli=False)
    # data
    data: str = _opt("builtin", "dataset root with <split>/ folders, or 'builtin' for the generated demo set",
                     frozen=False)
    direction: str = _opt("AtoB", "translate the left/A image into the right/B one, or the reverse",
                          choices=("AtoB", "BtoA"))
    image_size: str = _opt("256", "training crop size, 'S' or 'HxW'; each side a multiple of 2**depth")
    load_size: str | None = _opt(None, "resize size before the random crop (default: image size * 286/256)")
    preprocess: str = _opt("resize_and_crop", "jitter: resize then random crop, crop only, or none",
                           choices=("resize_and_crop", "crop", "none"))
    flip: bool = _opt(True, "random horizontal mirror of both images")
    input_nc: int | None = _opt(None, "input channels, 1 or 3 (default: read from the data)")
    output_nc: int | None = _opt(None, "output channels, 1 or 3 (default: read from the data)")
    train_split: str = _opt("train", "split folder to train on", frozen=False)
    val_split: str | None = _opt(None, "held-out split for validation metrics (default: val or test if present)",
                                 frozen=False)
    palette: dict | None = _opt(None, "a judge's label-map palette (names, colours)", cli=False)
    # networks
    ngf: int = _opt(64, "generator filters in the first layer")
    ndf: int = _opt(64, "discriminator filters in the first layer")
    norm: str = _opt("batch", "normalisation in both networks", choices=("batch", "instance", "none"))
    dropout: float = _opt(0.5, "dropout rate in the first three decoder layers (0 turns it off)")
    d_layers: int = _opt(3, "PatchGAN stride-2 layers: 3 = 70x70 patches, 1 = 16x16, 5 = 286x286, 0 = 1x1 PixelGAN")
    init_std: float = _opt(0.02, "std of the N(0, std) weight initialisation", cli=False)
    leaky_slope: float = _opt(0.2, "LeakyReLU negative slope", cli=False)
    norm_epsilon: float = _opt(1e-5, "normalisation epsilon (the reference's, not Keras' 1e-3)", cli=False)
    load_ratio: float = _opt(286 / 256, "load size over crop size for resize_and_crop", cli=False)
    # objective and optimiser
    gan_mode: str = _opt("vanilla", "adversarial loss: non-saturating cross-entropy or least squares",
                         choices=("vanilla", "lsgan"))
    d_forward: str = _opt("recompute", "G's adversarial gradient from D after its update (recompute: the PyTorch "
                          "reference) or from the D step's forward pass (reuse: the original Torch code, ~12%% "
                          "cheaper)", choices=("recompute", "reuse"))
    lambda_l1: float = _opt(100.0, "weight of the L1 term in the generator loss")
    lambda_gan: float = _opt(1.0, "weight of the adversarial term (0 trains an L1-only generator)")
    lr: float = _opt(2e-4, "Adam learning rate of both networks")
    beta1: float = _opt(0.5, "Adam beta1")
    beta2: float = _opt(0.999, "Adam beta2")
    adam_epsilon: float = _opt(1e-8, "Adam epsilon (PyTorch's default, not Keras' 1e-7)", cli=False)
    batch_size: int = _opt(1, "images per step (global batch)")
    epochs: int = _opt(100, "epochs at the constant learning rate")
    epochs_decay: int = _opt(100, "epochs of linear learning-rate decay to zero after those")
    steps: int | None = _opt(None, "train for this many steps instead, split constant/decay as the epochs are")
    seed: int = _opt(0, "seed of data order, jitter, dropout and initialisation")
    precision: str = _opt("auto", "compute precision; auto picks by hardware",
                          choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    # devices (may change on resume: checkpoints restore on any number of replicas)
    strategy: str = _opt("auto", "tf.distribute strategy; auto = mirrored when several GPUs are visible, "
                         "else one device",
                         choices=("auto", "one_device", "mirrored", "multi_worker", "tpu"), frozen=False)
    sync_batch_norm: str = _opt("auto", "batch-norm statistics over the global batch (all replicas); auto = on "
                                "when there is more than one replica", choices=("auto", "on", "off"), frozen=False)
    on_bad_image: str = _opt("error", "a dataset with unreadable or mis-sized files: stop, or train without them",
                             choices=("error", "skip"), frozen=False)
    max_nonfinite_steps: int = _opt(10, "stop after this many steps in a row with non-finite losses", frozen=False)
    # bookkeeping (may change on resume)
    save_every: int = _opt(500, "write a checkpoint every N steps (and at the end)", frozen=False)
    keep_checkpoints: int = _opt(5, "checkpoints kept on disk", frozen=False)
    sample_every: int = _opt(500, "write an input|output|target sample grid every N steps", frozen=False)
    log_every: int = _opt(100, "write TensorBoard scalars every N steps", frozen=False)
    val_images: int = _opt(64, "validate on at most this many held-out pairs, evenly spread over the split "
                           "(0: all of them)", frozen=False)
    validate_every: int = _opt(0, "also score the held-out split every N steps (0: only after each epoch)",
                               frozen=False)
    # resolved when the run is created, stored, never set by a flag
    depth: int | None = _opt(None, "generator downsamplings, from the image size", cli=False)
    steps_per_epoch: int | None = _opt(None, "training pairs // batch size", cli=False)
    constant_steps: int | None = _opt(None, "steps at the constant learning rate", cli=False)
    decay_steps: int | None = _opt(None, "steps of linear decay", cli=False)
    # None in runs stored before it was recorded: translate then runs at native scale
    data_size: str | None = _opt(None, "native HxW of the training images (one side of a pair), from the first "
                                 "checked pair; translate's training scale is load size / this", cli=False,
                                 frozen=False)

    @property
    def crop_hw(self) -> tuple[int, int]:
        return parse_size(self.image_size, "--image-size")

    @property
    def load_hw(self) -> tuple[int, int]:
        if self.load_size is not None:
            return parse_size(self.load_size, "--load-size")
        h, w = self.crop_hw
        return round(h * self.load_ratio), round(w * self.load_ratio)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Decided by ``prepare()`` from the data, the image size and the hardware.
RESOLVED_FIELDS = ("input_nc", "output_nc", "depth", "steps_per_epoch", "constant_steps", "decay_steps")


@dataclass(frozen=True)
class RunSpec(Config):
    """A run's fully resolved spec: every ``RESOLVED_FIELDS`` value set and the precision a real policy.
    Only ``prepare()`` and ``load_config()`` make one."""

    def __post_init__(self):
        missing = [name for name in RESOLVED_FIELDS if getattr(self, name) is None]
        if missing or self.precision == "auto":
            raise ValueError(f"a RunSpec needs every resolved value; missing {missing or ['precision']}")

    @property
    def total_steps(self) -> int:
        return self.constant_steps + self.decay_steps


def parse_size(text: str, flag: str) -> tuple[int, int]:
    """'256' -> (256, 256); '256x512' -> (256, 512) as height x width."""
    parts = str(text).lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) <= 0:
        raise UserError(f"{flag} {text!r}: expected a positive size like 256 or 256x512 (height x width)")
    return dims[0], dims[1]


def generator_depth(hw: tuple[int, int], flag: str = "--image-size") -> int:
    """Downsamplings so the bottleneck is one pixel on the short side (256 -> 8, 128 -> 7)."""
    short = min(hw)
    depth = int(math.log2(short)) if short > 0 else 0
    if depth < 2 or short != 2 ** depth:
        raise UserError(f"{flag} {hw[0]}x{hw[1]}: the short side must be a power of two >= 4 "
                        f"(the U-Net halves it down to one pixel), e.g. 64, 128, 256")
    if hw[0] % 2 ** depth or hw[1] % 2 ** depth:
        raise UserError(f"{flag} {hw[0]}x{hw[1]}: both sides must be multiples of {2 ** depth} "
                        f"for a generator with {depth} downsamplings")
    return depth


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def cli_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Config) if f.metadata["cli"]]


def save_config(config: RunSpec, run_dir: Path) -> Path:
    """Write atomically so a crash never leaves a truncated config beside good checkpoints."""
    from pix2pix_tf import __version__

    path = Path(run_dir) / CONFIG_FILE
    payload = {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "pix2pix_tf": __version__,
               "config": config.to_dict()}
    return write_text(path, json.dumps(payload, indent=2) + "\n")


def load_config(run_dir: Path) -> RunSpec:
    """Read a run's config; anything that is not our format and version is refused, not guessed."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{path}: no stored config; is {run_dir} a pix2pix_tf run directory?")
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: unreadable config ({err})") from None
    if not isinstance(payload, dict) or payload.get("format") != CONFIG_FORMAT:
        raise UserError(f"{path}: not a pix2pix_tf config")
    if payload.get("version") != CONFIG_VERSION:
        raise UserError(f"{path}: config version {payload.get('version')} written by pix2pix_tf "
                        f"{payload.get('pix2pix_tf')}; this version reads version {CONFIG_VERSION}")
    known = {f.name for f in dataclasses.fields(Config)}
    values = payload.get("config", {})
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"{path}: unknown config keys {unknown} (written by a newer pix2pix_tf?)")
    try:
        return RunSpec(**values)
    except ValueError:
        raise UserError(f"{path}: the stored config is incomplete (was training ever started?)") from None


# The built-in demo: the paper's recipe at a size that trains in minutes on two CPU cores.
BUILTIN_DEMO = {"image_size": "64", "ngf": 32, "ndf": 32, "epochs": 6, "epochs_decay": 4,
                "save_every": 400, "sample_every": 400, "log_every": 50}


def canonical_size(text: str, flag: str) -> str:
    h, w = parse_size(text, flag)
    return str(h) if h == w else f"{h}x{w}"


def new_config(flags: dict) -> Config:
    """A fresh run's config: flags over the defaults (over the demo preset for the built-in data)."""
    values = dict(BUILTIN_DEMO) if flags.get("data", "builtin") == "builtin" else {}
    values.update(flags)
    return Config(**values)


def resumed_config(stored: RunSpec, flags: dict, path: Path) -> Config:
    """The stored spec with the flags that may change on resume, as a ``Config`` for ``prepare()``; a flag
    that contradicts a frozen value (architecture, data format, recipe) is refused rather than silently
    ignored or applied."""
    from pix2pix_tf.precision import resolve_precision

    frozen = {f.name for f in dataclasses.fields(Config) if f.metadata["frozen"]}
    asked = dict(flags)
    if asked.get("precision") == "auto":  # whatever auto chose when the run was created
        del asked["precision"]
    elif "precision" in asked:
        asked["precision"] = resolve_precision(asked["precision"])
    conflicts = [f"{flag_name(name)} {value} (stored: {getattr(stored, name)})"
                 for name, value in asked.items()
                 if name in frozen and value != getattr(stored, name)]
    if conflicts:
        raise UserError(f"{path}: this run was created with other settings: {'; '.join(conflicts)}; "
                        "drop those flags to resume, or use a new --run-dir")
    changes = {k: v for k, v in flags.items() if k not in frozen}
    return Config(**{**stored.to_dict(), **changes})
