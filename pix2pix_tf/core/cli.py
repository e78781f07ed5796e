"""What every command shares: the arguments that name a run (``--run-dir``, ``--checkpoint``,
``--inference``, ``--weights``, ``--verbose``), the checks on flag values, and ``run_cli``, which turns a ``UserError``
or a failed file operation into one ``error:`` line and exit status 2. A command's flags are validated
here, by ``config.validate`` or by ``argparse`` itself."""

from __future__ import annotations

import argparse
import math
import signal
import sys

from pix2pix_tf.core.config import GENERATOR_WEIGHTS, INFERENCE_MODES
from pix2pix_tf.core.errors import EXIT_USER_ERROR, Terminated, UserError, filesystem_failure, print_error
from pix2pix_tf.core.signals import terminate_raises
from pix2pix_tf.core.tf_logs import VERBOSE_FLAG

INFERENCE_HELP = ("deterministic: dropout off, one input always gives one output; paper: dropout on at "
                  "inference as in the paper (random outputs). Both normalise with each image's own "
                  "statistics (default: deterministic)")


def add_run_dir(parser: argparse.ArgumentParser, help: str = "a run directory written by python -m pix2pix_tf.fit",
                **kwargs) -> None:
    parser.add_argument("--run-dir", required=True, help=help, **kwargs)


def add_checkpoint(parser) -> None:
    """``--checkpoint``: 'latest' or a kept step number, returned as 'latest' or an int."""
    parser.add_argument("--checkpoint", default="latest", type=checkpoint_arg,
                        help="'latest' or a kept step number (default: latest)")


def add_inference(parser: argparse.ArgumentParser, dest: str = "inference") -> None:
    parser.add_argument("--inference", dest=dest, choices=INFERENCE_MODES, default="deterministic",
                        help=INFERENCE_HELP)


def add_weights(parser: argparse.ArgumentParser) -> None:
    """``--weights``: a run trained with ``--ema`` keeps two generators; None lets the run choose (``ema``)."""
    parser.add_argument("--weights", choices=GENERATOR_WEIGHTS, default=None,
                        help="ema: the moving average of the generator's weights (a run trained with --ema); "
                             "raw: the trained weights (default: ema when the run has it, else raw)")


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """``--verbose``: TensorFlow's own log lines, hidden otherwise. It acts when the package is imported,
    before TensorFlow loads (``pix2pix_tf.core.tf_logs``); here it is only accepted and documented."""
    parser.add_argument(VERBOSE_FLAG, action="store_true",
                        help="show TensorFlow's own log lines (hidden by default unless TF_CPP_MIN_LOG_LEVEL is set)")


def checkpoint_arg(text: str) -> str | int:
    if text == "latest":
        return text
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--checkpoint {text!r}: expected 'latest' or a step number") from None


def require_positive(flag: str, value: int | float) -> None:
    if isinstance(value, float) and not math.isfinite(value):  # NaN passes every comparison
        raise UserError(f"{flag} {value}: must be a finite number")
    if value <= 0:
        raise UserError(f"{flag} {value}: must be positive")


def require_choice(flag: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UserError(f"{flag} {value!r}: choose one of {', '.join(choices)}")


def csv_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are a ``UserError`` (one line, exit 2), not usage text."""

    def error(self, message: str) -> None:
        raise UserError(f"{message} (see --help)")


def run_cli(main, prog: str | None = None) -> None:
    """Run a command's ``main()``: a ``UserError`` becomes ``error: ...`` on stderr and exit 2, Ctrl-C one
    line and exit 130, SIGTERM one line and exit 143 (after every ``finally`` on the way has cleaned up;
    never raised inside an import, see ``signals``; ``fit`` handles it itself while it trains), a non-zero
    int returned by ``main`` the exit status.

    The filesystem refusing a read or write (full disk, permissions, a file where a folder should be) is
    the user's to fix too, wherever it happens: as a last resort it becomes ``error: <path>: <cause>``
    (``errors.filesystem_failure``). Anything else is a bug and keeps its traceback. A name holding a
    newline or another control character shows it escaped (``errors.print_error``)."""
    if prog:
        sys.argv[0] = prog
    try:
        with terminate_raises():
            status = main()
    except UserError as err:
        print_error(str(err))
        sys.exit(EXIT_USER_ERROR)
    except Exception as err:
        failure = filesystem_failure(err)
        if failure is None:
            raise
        path, cause = failure
        print_error(f"{path or 'a file could not be read or written'}: {cause}")
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Terminated:
        print("terminated (SIGTERM); nothing half-written was kept", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
    if status:
        sys.exit(status)
