"""python -m pix2pix_tf.fit: train pix2pix, or resume the run in --run-dir.

With no arguments it trains on a small generated dataset so a newcomer sees it work in minutes.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from pix2pix_tf.core.cli import OneLineParser, add_verbose, require_positive, run_cli
from pix2pix_tf.core.config import BUILTIN_DEMO, CONFIG_FILE, PAPER_RECIPE, flag_name, new_config
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.core.flags import BUILTIN, add_config_flags, normalise_flags


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m pix2pix_tf.fit", description=__doc__.splitlines()[0],
        epilog="Running it again with the same --run-dir resumes from the latest checkpoint; settings are "
               "read back from the run's config.json; a larger --steps (or --epochs) trains it longer. --minutes N "
               "trains for a wall-clock budget instead, its learning-rate decay ending at the deadline. With "
               "--data builtin the defaults are a small demo: "
               + ", ".join(f"{flag_name(k)} {v}" for k, v in BUILTIN_DEMO.items()) + ".")
    parser.add_argument("--run-dir", default=None,
                        help="where config, checkpoints, logs and samples go (default: runs/<dataset name>)")
    add_config_flags(parser)
    parser.add_argument("--recipe", choices=("paper",), default=None,
                        help=f"paper: the paper's own recipe where the defaults differ from it ({paper_flags()}); "
                             "a flag given beside it wins")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_verbose(parser)
    parser.add_argument("--remeasure-precision", action="store_true",
                        help="with --precision auto on a bf16 CPU: time float32 against mixed_bfloat16 again "
                             "instead of reusing the cached choice (~/.cache/pix2pix_tf/precision.json)")
    parser.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                        help="stop at this step and save a checkpoint; the learning-rate schedule stays the full "
                             "run's, so running again without it carries on (to train a long run in sittings)")
    return parser


def paper_flags() -> str:
    """What ``--recipe paper`` sets, spelled as flags (the docs quote it)."""
    return " ".join(f"{flag_name(k)} {v:g}" if isinstance(v, float) else f"{flag_name(k)} {v}"
                    for k, v in PAPER_RECIPE.items())


def default_run_dir(data: str) -> Path:
    return Path("runs") / (Path(data.rstrip("/")).name or "data")


def parse_flags(argv: list[str] | None) -> tuple[Path, dict, dict]:
    """(run dir, the config flags given explicitly, the command's own options). Only explicit flags
    are returned, so a resumed run can tell a deliberate change from a default."""
    args = vars(build_parser().parse_args(argv))
    run_dir = args.pop("run_dir")
    options = {name: args.pop(name) for name in ("quiet", "verbose", "remeasure_precision", "stop_at")}
    if args.pop("recipe") == "paper":
        args = {**PAPER_RECIPE, **args}
    if options["stop_at"] is not None:
        require_positive("--stop-at", options["stop_at"])
    if run_dir == "":
        raise UserError("--run-dir '': empty; name a folder, or leave the flag out for runs/<dataset name>")
    normalise_flags(args)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(args.get("data", BUILTIN))
    if not (run_dir / CONFIG_FILE).is_file():
        new_config(args)  # a new run's settings checked together before TensorFlow loads
    return run_dir, args, options


def main(argv: list[str] | None = None) -> None:
    run_dir, flags, options = parse_flags(argv)
    from pix2pix_tf.train.training import train

    summary = train(run_dir, flags, verbose=0 if options["quiet"] else "auto",
                    remeasure_precision=options["remeasure_precision"], stop_at=options["stop_at"])
    if summary.end_step == summary.start_step:
        print(f"{run_dir}: already trained to step {summary.end_step}; nothing to do")
        return
    print(f"\ntrained steps {summary.start_step} -> {summary.end_step} in {summary.seconds:.0f} s"
          + (f" ({summary.budget})" if summary.budget else ""))
    if options["stop_at"] is not None and summary.end_step == options["stop_at"] and not summary.stopped_by:
        print(f"stopped at step {summary.end_step} as asked (--stop-at); carry on with: "
              f"python -m pix2pix_tf.fit --run-dir {run_dir}")
        return
    if summary.stopped_by:
        print(f"stopped by {summary.stopped_by}; checkpoint saved at step {summary.end_step}; "
              f"resume with: python -m pix2pix_tf.fit --run-dir {run_dir}")
        sys.exit(128 + getattr(signal, summary.stopped_by))
    if summary.first_val is not None or summary.last_val is not None:
        first = f"{summary.first_val:.4f}" if summary.first_val is not None else "n/a"
        last = f"{summary.last_val:.4f}" if summary.last_val is not None else "n/a"
        print(f"validation L1 (0-1 scale): before training {first}, now {last}")
    print(f"run directory: {run_dir}")
    if summary.last_sample:
        print(f"latest sample grid: {summary.last_sample}")
    examples = run_dir / "examples"
    if examples.is_dir():
        print(f"inputs to try: python -m pix2pix_tf.translate --run-dir {run_dir} {examples} "
              f"--out {run_dir / 'translated'}")
    print(f"TensorBoard: tensorboard --logdir {run_dir / 'tensorboard'}")
    print(f"resume: python -m pix2pix_tf.fit --run-dir {run_dir}")


if __name__ == "__main__":
    run_cli(main, "python -m pix2pix_tf.fit")
