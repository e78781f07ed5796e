"""User-facing errors: one line, a non-zero exit, never a bare traceback for a user mistake."""

import sys


class UserError(Exception):
    """A mistake in the user's input (flag, file, run directory) that they can fix."""


EXIT_USER_ERROR = 2


def run_cli(main) -> None:
    """Run a command's ``main()`` and turn a ``UserError`` into ``error: ...`` on stderr and exit 2.

    Ctrl-C is reported in one line as well; anything else is a bug and keeps its traceback.
    """
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
