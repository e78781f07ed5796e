"""python -m pix2pix_tf.judge: train the realism judge of a labelled paired dataset.

The judge segments real target-domain images into the classes of the source label maps (facades:
photo -> label map), trained on the training split only. ``evaluate --judge`` then runs it on the
generated images of a pix2pix run: the better they look, the better their labels come back (the
paper's FCN-score, see ``pix2pix_tf.realism.judge``), and the closer their features lie to the real photos'
(the distance). A judge is a run directory like any other: config, checkpoints, TensorBoard, samples;
running the command again resumes it. At the end it recomputes its batch-norm statistics over the
training photos (``realism.use_population_statistics``), scores its sanity ladder (``pix2pix_tf.realism.ladder``)
on its held-out split and stores it with its scores in ``judge_scores.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pix2pix_tf.core.cli import OneLineParser, add_verbose, run_cli
from pix2pix_tf.core.config import Config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.core.flags import add_config_flags, normalise_flags

# What the judge does not have (a discriminator, a GAN objective, dropout) or fixes itself.
NOT_JUDGE_FLAGS = frozenset({"direction", "ndf", "d_layers", "num_d", "gan_mode", "d_forward", "lambda_l1",
                             "lambda_gan", "lambda_fm", "dropout", "validate_every", "ema", "minutes",
                             "decay_fraction", "xla"})
# The judge's recipe (facades evidence in docs): 128 px, width 32, batch 8, 1,500 steps (12,000 photos seen),
# batch norm, Adam 1e-3 with beta1 0.9, half the steps constant then linear decay.
JUDGE_DEFAULTS = {"image_size": "128", "ngf": 32, "norm": "batch", "dropout": 0.0, "batch_size": 8, "steps": 1500,
                  "epochs": 1, "epochs_decay": 1, "lr": 1e-3, "beta1": 0.9, "save_every": 500, "sample_every": 500,
                  "log_every": 50, "keep_checkpoints": 2}
OPPOSITE = {"AtoB": "BtoA", "BtoA": "AtoB"}


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m pix2pix_tf.judge", description=__doc__.splitlines()[0],
        epilog="Defaults: " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in JUDGE_DEFAULTS.items()
                                        if k not in NOT_JUDGE_FLAGS) + ". "
               "Running it again with the same --run-dir resumes; a larger --steps trains it longer.")
    parser.add_argument("--run-dir", required=True, help="the judge's run directory")
    parser.add_argument("--direction", choices=tuple(OPPOSITE), default=argparse.SUPPRESS,
                        help="the direction of the pix2pix runs it will judge (facades labels -> photo: BtoA); "
                             "the judge learns the reverse, from their outputs back to their label-map inputs")
    parser.add_argument("--palette", default="derive",
                        help="the label maps' classes: 'facades', a JSON file {names, colors}, or 'derive' "
                             "(the frequent colours of the training label maps; default)")
    add_config_flags(parser, exclude=NOT_JUDGE_FLAGS, defaults=Config(**{k: v for k, v in JUDGE_DEFAULTS.items()}))
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_verbose(parser)
    return parser


def judge_flags(args: dict, creating: bool) -> dict:
    """The judge's own run flags: its direction is the reverse of the runs it judges."""
    flags = dict(args)
    if "direction" in flags:
        flags["direction"] = OPPOSITE[flags["direction"]]
    elif creating:
        raise UserError("--direction: required for a new judge (the direction of the pix2pix runs it will score)")
    normalise_flags(flags)
    if creating:
        flags = {**JUDGE_DEFAULTS, **flags, "task": "judge"}
    return flags


def derived_palette(flags: dict):
    """Palette from the training split's label maps, prepared as the judge will see them."""
    import numpy as np

    from pix2pix_tf.core.config import new_config
    from pix2pix_tf.data import pipeline as data_lib
    from pix2pix_tf.data.palette import derive_palette
    from pix2pix_tf.train.training import prepare

    prepared = prepare(new_config({**flags, "palette": None}), measure_precision=False)
    maps = [((t.numpy() + 1.0) * 127.5).round().astype(np.uint8)
            for _, batch in data_lib.evaluation_dataset(prepared.train_pairs, prepared.config, 16) for t in batch]
    return derive_palette(maps, f"{prepared.data_root}/{prepared.config.train_split}")


def main(argv: list[str] | None = None) -> None:
    args = vars(build_parser().parse_args(argv))
    run_dir, quiet, palette_arg = Path(args.pop("run_dir")), args.pop("quiet"), args.pop("palette")
    args.pop("verbose")
    from pix2pix_tf.core.atomic import write_text
    from pix2pix_tf.data.palette import DERIVE, palette_from_arg
    from pix2pix_tf.realism.judge import SCORES_FILE, load_judge
    from pix2pix_tf.realism.ladder import distance_noise, format_criteria, format_ladder, ladder_on, passed, rung
    from pix2pix_tf.train.rundir import RunDir, data_root, task_config, validation_split
    from pix2pix_tf.train.training import train

    creating = not RunDir(run_dir).exists()
    if not creating:
        task_config(RunDir(run_dir), "judge")  # never train another task's run on
    flags = judge_flags(args, creating)
    if creating:
        palette = derived_palette(flags) if palette_arg == DERIVE else palette_from_arg(palette_arg)
        flags["palette"] = palette.to_dict()
        print(f"palette ({palette.source}): " + ", ".join(f"{n} {c}" for n, c in zip(palette.names, palette.colors)))
    summary = train(run_dir, flags, verbose=0 if quiet else "auto")
    print(f"trained steps {summary.start_step} -> {summary.end_step} in {summary.seconds:.0f} s")
    judge = load_judge(run_dir)
    root = data_root(judge.config)
    result = ladder_on(judge, root, validation_split(judge.config, root))
    write_text(run_dir / SCORES_FILE, json.dumps({"palette": judge.palette.to_dict(), **result}, indent=2) + "\n")
    print(f"the judge's ladder on {result['images']} {result['split']} images (step {judge.step}, seen at "
          f"{result['judge_input']} px; distance and KID to the {result['distance_reference']} at "
          f"{result['scored_images']} images, lower is better; detail and checkerboard at full resolution):\n"
          f"{format_ladder(result['rungs'])}")
    blocks = ", ".join(f"{d:.1f}" for d in rung(result["rungs"], "real")["distance_blocks"])
    print(f"distance noise: disjoint blocks of the real photos score {blocks} "
          f"(spread {distance_noise(rung(result['rungs'], 'real')):.1f})")
    print(format_criteria(result))
    if not passed(result):
        failed = "; ".join(c["text"] for c in result["criteria"] if not c["passed"])
        print(f"warning: the judge fails its ladder ({failed}); it cannot be trusted to rank runs: train it longer "
              "(--steps) or wider (--ngf)", file=sys.stderr)
    print(f"scores: {run_dir / SCORES_FILE}\nuse it: python -m pix2pix_tf.evaluate --run-dir RUN --judge {run_dir}")

if __name__ == "__main__":
    run_cli(main, "python -m pix2pix_tf.judge")
