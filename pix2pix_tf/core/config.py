"""The recipe in one place: every number of the paper's setup, the flags that change it, and the
run directory's stored copy that evaluate, translate and export read back.

Two stages: ``Config`` is what the user asked for (``None`` and ``auto`` mean "decide from the data or
the hardware"); ``RunSpec`` is the frozen, fully resolved spec that ``training.prepare()`` returns and
the run directory stores, with every one of those decided, so nothing downstream checks for ``None``."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from pix2pix_tf.core.atomic import write_text
from pix2pix_tf.core.errors import UserError

CONFIG_FORMAT = "pix2pix_tf.config"  # a file format name, kept when the module moved
CONFIG_VERSION = 1
CONFIG_FILE = "config.json"
INFERENCE_MODES = ("paper", "deterministic")  # what each means: pix2pix_tf.deploy.inference
GENERATOR_WEIGHTS = ("ema", "raw")  # the averaged weights of --ema, or the trained ones: pix2pix_tf.train.ema


@dataclass(frozen=True)
class Range:
    """The values a number field accepts; an open end excludes the bound itself."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return ("positive" if self.low == 0 else f"above {self.low}") if self.low_open else f"at least {self.low}"
        return (f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}")


COUNT = Range(1)
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, low_open=True)
FRACTION = Range(0, 1, high_open=True)
# Network widths: 4x the paper's 64 filters is 16x its parameters (the generator's 54M become 870M, about
# 14 GB with Adam's two slots and the gradients); wider does not fit an accelerator's memory.
WIDTH = Range(1, 256)


def _opt(default, help, *, choices=None, range=None, check=None, frozen=True, cli=True, schedule=False):
    """A config field. Its type comes from the type hint; ``choices``, ``range`` or ``check(value, name)``
    (which raises a ``UserError``) bound its value. ``frozen`` fields may not change when a run resumes;
    ``schedule`` ones may (they lengthen or shorten the run); ``cli`` ones get a flag."""
    frozen = frozen and not schedule
    return field(default=default, metadata={"help": help, "choices": choices, "range": range, "check": check,
                                            "frozen": frozen, "cli": cli, "schedule": schedule})


@dataclass(frozen=True)
class Config:
    """Defaults reproduce Isola et al. (2017) and the PyTorch reference implementation, except those the
    facades benchmarks chose (README: where the defaults differ from the paper), listed in ``PAPER_RECIPE``."""

    task: str = _opt("pix2pix", "what the run trains: the pix2pix GAN, or a segmentation judge of realism",
                     choices=("pix2pix", "judge"), cli=False)
    # data
    data: str = _opt("builtin", "dataset root with <split>/ folders, or 'builtin' for the generated demo set",
                     frozen=False)
    direction: str = _opt("AtoB", "translate the left/A image into the right/B one, or the reverse",
                          choices=("AtoB", "BtoA"))
    image_size: str = _opt("256", "training crop size, 'S' or 'HxW'; each side a multiple of 2**depth",
                           check=lambda text, name: parse_size(text, name))
    load_size: str | None = _opt(None, "resize size before the random crop (default: image size * 286/256)",
                                 check=lambda text, name: parse_size(text, name))
    preprocess: str = _opt("resize_and_crop", "jitter: resize then random crop, crop only, or none",
                           choices=("resize_and_crop", "crop", "none"))
    flip: bool = _opt(True, "random horizontal mirror of both images")
    input_nc: int | None = _opt(None, "input channels, 1 or 3 (default: read from the data)", choices=(1, 3))
    output_nc: int | None = _opt(None, "output channels, 1 or 3 (default: read from the data)", choices=(1, 3))
    train_split: str = _opt("train", "split folder to train on", frozen=False,
                            check=lambda text, name: split_folder(text, name))
    val_split: str | None = _opt(None, "held-out split for validation metrics (default: val, which is the pairs "
                                 "held out of the training split when the data has no val/ folder; else test)",
                                 frozen=False, check=lambda text, name: split_folder(text, name))
    val_holdout: int | None = _opt(None, "training pairs held out as the validation split 'val' when the data has "
                                   "no val/ folder, the same ones in every run and judge on that data (default: "
                                   "one pair in 8, at most 500, none from fewer than 64; 0: train on all of them "
                                   "and validate on test/)", range=NON_NEGATIVE)
    holdout_seed: int = _opt(0, "seed of the choice of held-out pairs (a hash of it and each file name)",
                             range=Range(0, 2 ** 32 - 1), cli=False)
    palette: dict | None = _opt(None, "a judge's label-map palette (names, colours)", cli=False)
    # networks
    ngf: int = _opt(32, "generator filters in the first layer (the paper's: 64; 32 reaches more realism per "
                    "minute of training, with a quarter of the FLOPs)", range=WIDTH)
    ndf: int = _opt(32, "discriminator filters in the first layer (the paper's: 64)", range=WIDTH)
    norm: str = _opt("batch", "normalisation in both networks", choices=("batch", "instance", "none"))
    upsample: str = _opt("resize", "generator upsampling: nearest-neighbour 2x resize then a 3x3 convolution (no "
                         "checkerboard, more realistic at equal minutes on facades), the paper's 4x4 stride-2 "
                         "transposed convolution, or a sub-pixel convolution (3x3 at the low resolution to 4x "
                         "the channels, then depth-to-space, initialised free of checkerboard)",
                         choices=("resize", "transpose", "subpixel"))
    dropout: float = _opt(0.5, "dropout rate in the first three decoder layers (0 turns it off)",
                          range=FRACTION)
    d_layers: int = _opt(3, "PatchGAN stride-2 layers: 3 = 70x70 patches, 1 = 16x16, 5 = 286x286, 0 = 1x1 PixelGAN",
                         range=NON_NEGATIVE)
    num_d: int = _opt(1, "identical PatchGANs on the pair at 1x, 1/2, 1/4 ... scale, their GAN losses averaged "
                      "(pix2pixHD: 2; the paper: 1)", range=COUNT)
    init_std: float = _opt(0.02, "std of the N(0, std) weight initialisation", range=POSITIVE, cli=False)
    leaky_slope: float = _opt(0.2, "LeakyReLU negative slope", range=FRACTION, cli=False)
    norm_epsilon: float = _opt(1e-5, "normalisation epsilon (the reference's, not Keras' 1e-3)", range=POSITIVE,
                               cli=False)
    load_ratio: float = _opt(286 / 256, "load size over crop size for resize_and_crop", range=Range(1),
                             cli=False)
    # objective and optimiser
    gan_mode: str = _opt("vanilla", "adversarial loss: non-saturating cross-entropy or least squares",
                         choices=("vanilla", "lsgan"))
    d_forward: str = _opt("reuse", "G's adversarial gradient from the D step's forward pass (reuse: the original "
                          "Torch code and the TF tutorial, 5.5%% fewer FLOPs a step with the default networks and "
                          "7.3%% with --ngf 64 --upsample transpose) or from D after its update (recompute: the "
                          "PyTorch reference; more detail at 15 minutes on facades, tied at 30: docs/speed.md)",
                          choices=("reuse", "recompute"))
    lambda_l1: float = _opt(100.0, "weight of the L1 term in the generator loss", range=NON_NEGATIVE)
    lambda_gan: float = _opt(1.0, "weight of the adversarial term (0 trains an L1-only generator)",
                             range=NON_NEGATIVE)
    lambda_fm: float = _opt(0.0, "weight of pix2pixHD's feature-matching term: L1 between the discriminators' "
                            "hidden features on the real and the generated pair (pix2pixHD: 10; the paper: 0)",
                            range=NON_NEGATIVE)
    lr: float = _opt(2e-4, "Adam learning rate of both networks", range=POSITIVE)
    d_lr_ratio: float = _opt(1.0, "the discriminator's learning rate over the generator's (the paper: 1)",
                             range=POSITIVE)
    beta1: float = _opt(0.5, "Adam beta1", range=FRACTION)
    beta2: float = _opt(0.999, "Adam beta2", range=FRACTION)
    adam_epsilon: float = _opt(1e-8, "Adam epsilon (PyTorch's default, not Keras' 1e-7)", range=POSITIVE,
                               cli=False)
    batch_size: int = _opt(1, "images per step (global batch)", range=COUNT)
    epochs: int = _opt(100, "epochs at the constant learning rate", range=NON_NEGATIVE, schedule=True)
    epochs_decay: int = _opt(100, "epochs of linear learning-rate decay to zero after those",
                             range=NON_NEGATIVE, schedule=True)
    steps: int | None = _opt(None, "train for this many steps instead, split constant/decay as the epochs are",
                             range=COUNT, schedule=True)
    minutes: float | None = _opt(None, "train for this wall-clock budget instead of a step count: the run measures "
                                 "its step rate and ends its learning-rate decay at the deadline",
                                 range=POSITIVE, schedule=True)
    decay_fraction: float = _opt(0.5, "with --minutes: the share of the budget spent in the linear decay (the "
                                 "paper's 1:1 split)", range=Range(0, 1, low_open=True), schedule=True)
    ema: float = _opt(0.0, "keep an exponential moving average of the generator's weights with this decay (e.g. "
                      "0.999; 0: off) and sample, validate, evaluate, translate and export with it",
                      range=FRACTION)
    seed: int = _opt(0, "seed of data order, jitter, dropout and initialisation",
                     range=Range(0, 2 ** 32 - 1))
    precision: str = _opt("auto", "compute precision; auto picks by hardware",
                          choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"))
    xla: str = _opt("off", "compile the training step with XLA (jit_compile): the same step up to rounding and "
                    "dropout's random stream; faster on some CPUs, slower on others (docs/speed.md)",
                    choices=("off", "on"), frozen=False)
    # devices (may change on resume: checkpoints restore on any number of replicas)
    strategy: str = _opt("auto", "tf.distribute strategy; auto = mirrored when several GPUs are visible, "
                         "else one device",
                         choices=("auto", "one_device", "mirrored", "multi_worker", "tpu"), frozen=False)
    sync_batch_norm: str = _opt("auto", "batch-norm statistics over the global batch (all replicas); auto = on "
                                "when there is more than one replica", choices=("auto", "on", "off"), frozen=False)
    on_bad_image: str = _opt("error", "a dataset with unreadable or mis-sized files: stop, or train without them",
                             choices=("error", "skip"), frozen=False)
    max_nonfinite_steps: int = _opt(10, "stop after this many steps in a row with non-finite losses",
                                    range=COUNT, frozen=False)
    # bookkeeping (may change on resume)
    save_every: int = _opt(500, "write a checkpoint every N steps (and at the end)", range=COUNT, frozen=False)
    keep_checkpoints: int = _opt(5, "checkpoints kept on disk", range=COUNT, frozen=False)
    sample_every: int = _opt(500, "write an input|output|target sample grid every N steps", range=COUNT,
                            frozen=False)
    log_every: int = _opt(100, "write TensorBoard scalars every N steps", range=COUNT, frozen=False)
    val_images: int = _opt(64, "validate on at most this many held-out pairs, evenly spread over the split "
                           "(0: all of them)", range=NON_NEGATIVE, frozen=False)
    validate_every: int = _opt(0, "also score the held-out split every N steps (0: only after each epoch)",
                               range=NON_NEGATIVE, frozen=False)
    # resolved when the run is created, stored, never set by a flag
    depth: int | None = _opt(None, "generator downsamplings, from the image size", range=Range(2), cli=False)
    steps_per_epoch: int | None = _opt(None, "training pairs // batch size", range=COUNT, cli=False)
    constant_steps: int | None = _opt(None, "steps at the constant learning rate", range=NON_NEGATIVE, cli=False)
    decay_steps: int | None = _opt(None, "steps of linear decay", range=NON_NEGATIVE, cli=False)
    # None in runs stored before it was recorded: translate then runs at native scale
    data_size: str | None = _opt(None, "native HxW of the training images (one side of a pair), the median of "
                                 "the training pairs' sizes; translate's training scale is crop size / this",
                                 check=lambda text, name: parse_size(text, name), cli=False, frozen=False)

    @property
    def crop_hw(self) -> tuple[int, int]:
        return parse_size(self.image_size, "--image-size")

    @property
    def load_hw(self) -> tuple[int, int]:
        if self.load_size is not None:
            return parse_size(self.load_size, "--load-size")
        h, w = self.crop_hw
        return round(h * self.load_ratio), round(w * self.load_ratio)

    def __post_init__(self):
        validate(self.values())

    def values(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Decided by ``prepare()`` from the data, the image size and the hardware.
RESOLVED_FIELDS = ("input_nc", "output_nc", "depth", "steps_per_epoch", "constant_steps", "decay_steps",
                   "val_holdout")


@dataclass(frozen=True)
class RunSpec(Config):
    """A run's fully resolved spec: every ``RESOLVED_FIELDS`` value set and the precision a real policy.
    Only ``prepare()`` and ``load_config()`` make one."""

    def __post_init__(self):
        super().__post_init__()
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


def split_folder(text: str, flag: str) -> str:
    """A split names a folder inside the dataset root (``test``, ``test/hard``): an absolute path or ``..``
    would read pairs from outside ``--data``, and name results after them."""
    path = PurePath(text)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise UserError(f"{flag} {text!r}: name a split folder inside --data, like train, val or test")
    return text


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


def check_discriminator_scales(hw: tuple[int, int], num_d: int, d_layers: int) -> None:
    """Every one of the ``num_d`` PatchGANs must see at least one patch. Each scale halves the crop (a 3x3
    stride-2 average pooling, rounding up); a PatchGAN of ``d_layers`` stride-2 layers and its two
    stride-1 4x4 ones gives a grid of ceil(side / 2**d_layers) - 2 logits (the 1x1 PixelGAN: side)."""
    side = min(hw)
    for scale in range(num_d):
        if d_layers and math.ceil(side / 2 ** d_layers) < 3:
            where = f"--num-d {num_d}: the PatchGAN at 1/{2 ** scale} scale" if scale else "the PatchGAN"
            raise UserError(f"{where} would see {side} pixels on the short side of the {hw[0]}x{hw[1]} crop, too "
                            f"few for --d-layers {d_layers} (at least {2 ** (d_layers + 1) + 1}); use a smaller "
                            f"{'--num-d or ' if num_d > 1 else ''}--d-layers, or a larger --image-size")
        side = math.ceil(side / 2)


# What a training step can hold in memory: the paper's generator at a 2048x2048 crop needs several GB of
# activations (pix2pixHD trains at 2048x1024); the image the crop is cut from, decoded and resized as float32
# pairs in the input pipeline, about 400 MB at 4096x4096.
MAX_CROP_PIXELS = 2048 * 2048
MAX_LOAD_PIXELS = 4096 * 4096
SSIM_WINDOW = 11  # tf.image.ssim's filter: validation and evaluate score SSIM on the training crop
DISCRIMINATOR_MIN_SIDE = 3  # what the PatchGAN's last two 4x4 convolutions (padding 1) need to leave one logit
BUILTIN_MIN_SIZE = 32  # the built-in demo set's smallest size (square; pix2pix_tf.data.synthetic)


def check_together(values: dict, name=None) -> None:
    """The rules that tie settings together, in one place: the sizes (the generator's depth, the
    discriminator's layers, the load size, SSIM's window, what fits in memory, the built-in data's shape)
    and the run's length. Every run's config passes here when it is made (``new_config``, ``resumed_config``,
    ``restarted_config``) or read back (``load_config``), so a fit refuses them before it creates its run
    directory. ``name(field)`` says where a value came from (default: its flag)."""
    name = name or flag_name
    size, crop = values["image_size"], parse_size(values["image_size"], name("image_size"))
    if crop[0] * crop[1] > MAX_CROP_PIXELS:
        raise UserError(f"{name('image_size')} {size}: over the {MAX_CROP_PIXELS:,} pixels (2048x2048) a training "
                        "step fits in memory; train at a smaller size (translate runs any size, in tiles)")
    load_flag = name("load_size" if values["load_size"] is not None else "load_ratio")
    load = (parse_size(values["load_size"], load_flag) if values["load_size"] is not None
            else (round(crop[0] * values["load_ratio"]), round(crop[1] * values["load_ratio"])))
    if load[0] * load[1] > MAX_LOAD_PIXELS:
        raise UserError(f"{load_flag} {values['load_size'] or values['load_ratio']}: the {load[0]}x{load[1]} image "
                        f"the crop is cut from is over the {MAX_LOAD_PIXELS:,} pixels (4096x4096) that fit in "
                        f"memory; use a load size nearer the crop ({name('image_size')} {size})")
    if load[0] < crop[0] or load[1] < crop[1]:
        raise UserError(f"{load_flag} {values['load_size'] or values['load_ratio']}: smaller than the "
                        f"{crop[0]}x{crop[1]} crop ({name('image_size')} {size}) the random crop cuts from it; "
                        f"use at least {size}")
    depth = generator_depth(crop, name("image_size"))
    if values["depth"] is not None and values["depth"] != depth:
        raise UserError(f"{name('depth')} {values['depth']}: {name('image_size')} {size} needs {depth}")
    if values["task"] == "pix2pix":
        _check_pix2pix_sizes(values, crop, name)
    if values["data"] == "builtin" and (crop[0] != crop[1] or crop[0] < BUILTIN_MIN_SIZE):
        raise UserError(f"{name('image_size')} {size}: the built-in data comes square, {BUILTIN_MIN_SIZE} px or more; "
                        f"use e.g. {name('image_size')} 64 (its default), or your own --data")
    if values["steps"] is None and values["epochs"] + values["epochs_decay"] == 0:
        raise UserError(f"{name('epochs')} 0 {name('epochs_decay')} 0: a run of no steps; give at least one "
                        f"epoch, or {name('steps')} N")


def _check_pix2pix_sizes(values: dict, crop: tuple[int, int], name) -> None:
    """What the GAN's parts need of the crop: SSIM's window, and enough of it left for the PatchGAN's
    last two 4x4 convolutions after its stride-2 layers (each halves it, rounding up)."""
    size, short, layers = values["image_size"], min(crop), values["d_layers"]
    if short < SSIM_WINDOW:
        raise UserError(f"{name('image_size')} {size}: smaller than SSIM's {SSIM_WINDOW} px window (validation "
                        f"and evaluate score SSIM on the training crop); use 16 or more")
    fitting = 0
    while -(-short // 2 ** (fitting + 1)) >= DISCRIMINATOR_MIN_SIDE:
        fitting += 1
    if layers > fitting:
        left = -(-short // 2 ** layers) if layers < short.bit_length() else 1
        raise UserError(f"{name('d_layers')} {layers} at {name('image_size')} {size}: the discriminator's stride-2 "
                        f"layers halve the {short} px side to {left} px, under the {DISCRIMINATOR_MIN_SIDE} its last "
                        f"convolutions need; use {name('d_layers')} {fitting} or fewer, or a larger "
                        f"{name('image_size')}")


# The largest whole number TensorFlow holds (its step counter is int64): past it, a traceback.
MAX_WHOLE_NUMBER = 2 ** 63 - 1


def validate(values: dict, name=None) -> None:
    """The one check of config values, by type (the field's type hint) and by its ``choices``, ``range``
    or ``check``: flags, stored configs and the Python API all pass through it before anything uses them.
    ``name(field)`` says where a value came from in the error (default: its flag)."""
    name = name or flag_name
    kinds = _field_types()
    for field_ in dataclasses.fields(Config):
        if field_.name not in values:
            continue
        value, where = values[field_.name], name(field_.name)
        if not _has_type(value, kinds[field_.name]):
            raise UserError(f"{where} {value!r}: expected {_type_words(kinds[field_.name])}")
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):  # NaN passes an open-ended range
            raise UserError(f"{where} {value}: must be a finite number")
        meta = field_.metadata
        if meta["choices"] is not None and value not in meta["choices"]:
            raise UserError(f"{where} {value!r}: choose one of {', '.join(map(str, meta['choices']))}")
        if meta["range"] is not None and value not in meta["range"]:
            raise UserError(f"{where} {value}: must be {meta['range']}")
        if isinstance(value, int) and value > MAX_WHOLE_NUMBER:
            raise UserError(f"{where} {value}: too large (at most {MAX_WHOLE_NUMBER})")
        if meta["check"] is not None:
            meta["check"](value, where)


@functools.cache
def _field_types() -> dict:
    return {name: typing.get_args(hint) or (hint,) for name, hint in typing.get_type_hints(Config).items()}


def _has_type(value, kinds: tuple) -> bool:
    """JSON and flag values as the hint says: a bool is not a number, an int is a valid float."""
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int) and float in kinds:
        return True
    return isinstance(value, tuple(k for k in kinds if k is not bool))


def _type_words(kinds: tuple) -> str:
    words = {int: "a whole number", float: "a number", str: "a string", bool: "true or false", dict: "an object",
             type(None): "null"}
    return " or ".join(words[k] for k in kinds)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def cli_fields() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Config) if f.metadata["cli"]]


def save_config(config: RunSpec, run_dir: Path) -> Path:
    """Written atomically and flushed to the disk, so neither a crash nor a power loss leaves a truncated or
    empty config beside good checkpoints."""
    from pix2pix_tf.core import __version__

    path = Path(run_dir) / CONFIG_FILE
    payload = {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "pix2pix_tf": __version__,
               "config": config.to_dict()}
    return write_text(path, json.dumps(payload, indent=2) + "\n", durable=True)


# What a run stored before a field existed did, where that differs from today's default.
# Runs from before held-out validation pairs trained on all of their training split and validated on
# val/ or test/: they go on doing so.
STORED_BEFORE_THE_FIELD = {"d_forward": "recompute", "upsample": "transpose", "val_holdout": 0, "holdout_seed": 0}
# The keys every config of this format has held since its first version: one of them missing means the file
# was cut short or edited, not written before the field existed (those get the value such runs had).
FIRST_KEYS = ("data", "direction", "image_size", "load_size", "preprocess", "flip", "input_nc", "output_nc",
              "train_split", "val_split", "ngf", "ndf", "norm", "dropout", "d_layers", "init_std", "leaky_slope",
              "norm_epsilon", "load_ratio", "gan_mode", "lambda_l1", "lambda_gan", "lr", "beta1", "beta2",
              "adam_epsilon", "batch_size", "epochs", "epochs_decay", "steps", "seed", "precision", "save_every",
              "keep_checkpoints", "sample_every", "log_every", "depth", "steps_per_epoch", "constant_steps",
              "decay_steps")


def load_config(run_dir: Path) -> RunSpec:
    """Read a run's config; anything that is not our format and version is refused, not guessed, and so is
    a value no flag would accept (a NaN, a size no network has), naming the file."""
    path = Path(run_dir) / CONFIG_FILE
    values = stored_values(run_dir)
    validate(values, name=lambda key: f"{path}: {key}")
    missing = [key for key in FIRST_KEYS if key not in values]
    if missing:
        raise UserError(f"{path}: incomplete, {', '.join(missing)} missing (edited or cut short?); put the "
                        "file back, or train in a new --run-dir")
    values = {**{f.name: f.default for f in dataclasses.fields(Config)}, **STORED_BEFORE_THE_FIELD, **values}
    try:
        check_together(values, name=str)
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    try:
        return RunSpec(**values)
    except ValueError:
        raise UserError(f"{path}: the stored config is incomplete (was training ever started?)") from None


def stored_values(run_dir: Path) -> dict:
    """A run's stored settings as they are in its config file, unchecked beyond being ours: the format,
    its version, and only keys this version knows."""
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
    if not isinstance(values, dict):
        raise UserError(f"{path}: 'config' is not an object")
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"{path}: unknown config keys {unknown} (written by a newer pix2pix_tf?)")
    return values


# The paper's own recipe where fit's defaults differ from it, each chosen on facades (README: where the
# defaults differ from the paper): `fit --recipe paper` sets them all, and a flag given beside it wins.
PAPER_RECIPE = {"ngf": 64, "ndf": 64, "upsample": "transpose", "d_forward": "recompute", "precision": "float32"}

# The built-in demo: fit's defaults at a size that trains in minutes on two CPU cores.
# Its generated data has a test/ split drawn like its training pairs, and no default is decided on it:
# it trains on all 200 pairs.
BUILTIN_DEMO = {"image_size": "64", "epochs": 6, "epochs_decay": 4,
                "save_every": 400, "sample_every": 400, "log_every": 50, "val_holdout": 0}


def canonical_size(text: str, flag: str) -> str:
    h, w = parse_size(text, flag)
    return str(h) if h == w else f"{h}x{w}"


STEP_COUNT_FIELDS = ("steps", "epochs", "epochs_decay")


def check_length_flags(flags: dict, stored: Config | None = None, path: Path | None = None) -> None:
    """A run's length is a step count (``--steps``, or ``--epochs`` and ``--epochs-decay``) or a wall-clock
    budget (``--minutes``, split by ``--decay-fraction``), never both, and a resumed run keeps the kind it
    was created with (their learning-rate schedules are saved differently)."""
    counts = [flag_name(name) for name in STEP_COUNT_FIELDS if name in flags]
    timed = "minutes" in flags or (stored is not None and stored.minutes is not None)
    if "minutes" in flags and counts:
        raise UserError(f"--minutes and {counts[0]}: choose one; a run's length is a time budget or a step count")
    if "decay_fraction" in flags and not timed:
        raise UserError("--decay-fraction: only with --minutes (a step count is split as --epochs and "
                        "--epochs-decay are)")
    if stored is None:
        return
    if stored.minutes is None and "minutes" in flags:
        raise UserError(f"--minutes: {path} was created with a step count ({stored.total_steps} steps); make it "
                        "longer with --steps, or train a new --run-dir for a time budget")
    if stored.minutes is not None and counts:
        raise UserError(f"{counts[0]}: {path} was created with --minutes {stored.minutes:g}; give it a new "
                        "--minutes, or train a new --run-dir for a step count")


def new_config(flags: dict) -> Config:
    """A fresh run's config: flags over the defaults (over the demo preset for the built-in data)."""
    check_length_flags(flags)
    values = dict(BUILTIN_DEMO) if flags.get("data", "builtin") == "builtin" else {}
    values.update(flags)
    return _checked(Config(**values))


def _checked(config: Config) -> Config:
    check_together(config.values())
    return config


def resumed_config(stored: RunSpec, flags: dict, path: Path) -> Config:
    """The stored spec with the flags that may change on resume, as a ``Config`` for ``prepare()``; a flag
    that contradicts a frozen value (architecture, data format, recipe) is refused rather than silently
    ignored or applied.

    A new length (``--steps``, ``--epochs``, ``--epochs-decay``) clears the stored schedule so that
    ``prepare()`` recomputes it as for a new run of that length; ``--epochs`` without ``--steps`` drops a
    stored ``--steps``, so the epochs decide. ``training`` checks it against the current step."""
    from pix2pix_tf.core.precision import resolve_precision

    check_length_flags(flags, stored, path)
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
    if any(changes.get(name, getattr(stored, name)) != getattr(stored, name) for name in schedule_fields()):
        changes.update(constant_steps=None, decay_steps=None)
        if "steps" not in changes:
            changes["steps"] = None
    return _checked(Config(**{**stored.to_dict(), **changes}))


def restarted_config(stored: dict, flags: dict) -> Config:
    """A run directory that never saved a checkpoint holds nothing to resume, so its stored settings
    (``stored_values``: what a failed start left, perhaps the size that made it fail) bind nothing: they are
    defaults that any flag may change, and what the data and the hardware decide is decided again."""
    kept = {name: value for name, value in stored.items() if name not in (*RESOLVED_FIELDS, "data_size")}
    return _checked(Config(**{**kept, **flags}))


def schedule_fields() -> tuple[str, ...]:
    """The fields that set a run's length: changing them on resume extends (or shortens) the run."""
    return tuple(f.name for f in dataclasses.fields(Config) if f.metadata["schedule"])
