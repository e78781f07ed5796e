"""User-facing errors: one line, a non-zero exit, never a bare traceback for a user mistake.
(``pix2pix_tf.core.cli.run_cli`` is what turns them into that line.)"""

from __future__ import annotations

import errno
import os
import re
import sys
import unicodedata

# What a message must not carry to a user: TensorFlow's op and device wrapper around an op's own words,
# and Python object reprs (a stream's address says nothing about the file).
_TF_WRAPPER = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\](\s*name:\s*\S*)?")
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")
# Line and paragraph breaks and the other control characters (terminal escapes among them): a file name may
# hold any of them but '/' and NUL, and printed as they are they would break a line in two or forge another.
_CONTROL = frozenset(("Cc", "Zl", "Zp"))
# What the operating system says about a failed file operation ("No space left on device", ...).
OS_CAUSES = frozenset(os.strerror(code) for code in errno.errorcode)


class UserError(Exception):
    """A mistake in the user's input (flag, file, run directory) that they can fix."""


EXIT_USER_ERROR = 2


class Terminated(BaseException):
    """SIGTERM arrived (``cli.run_cli`` raises it): like Ctrl-C's ``KeyboardInterrupt``, it unwinds through
    every ``finally``, so staging folders and temporary files are removed on the way out."""


def printable(text: str) -> str:
    """``text`` with each control character written as Python writes it in a string literal (``\\n``,
    ``\\x1b``): a file name holding a newline then shows as one, and cannot start an ``error:`` line of
    its own."""
    return "".join(repr(char)[1:-1] if unicodedata.category(char) in _CONTROL else char for char in text)


def print_error(message: str) -> None:
    """The one place an ``error:`` line is written: always one line, whatever the names in it hold."""
    print(f"error: {printable(message)}", file=sys.stderr)


def reason(err: BaseException, limit: int = 300) -> str:
    """An exception's message as words for an ``error:`` line: its first line, without TensorFlow's op
    wrapper or object reprs (``the input`` stands in for one), or the exception's type if nothing is left."""
    text = _OBJECT_REPR.sub("the input", _TF_WRAPPER.sub("", str(err))).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__


def filesystem_failure(err: BaseException) -> tuple[str | None, str] | None:
    """(path, cause) when ``err`` is the filesystem refusing a read or a write, else None.

    An ``OSError`` carries both. TensorFlow's file system raises its own errors (a full disk during a
    SavedModel write is an ``OutOfRangeError`` or ``ResourceExhaustedError``) whose message is
    ``<path>; <the OS's reason>``: that shape, with a reason the OS gives, is what marks them."""
    if isinstance(err, OSError):
        return err.filename, err.strerror or str(err)
    if not type(err).__module__.startswith("tensorflow"):
        return None
    for line in _TF_WRAPPER.sub("", str(err)).splitlines():  # a graph's error puts it on a line of its own
        path, separator, cause = line.strip().rpartition("; ")
        if separator and cause in OS_CAUSES:
            return path, cause
    return None

class ImageError(Exception):
    """One input cannot be translated; a command reports it and moves on to the next file."""
