"""Where SIGTERM and Ctrl-C may become exceptions.

A command turns SIGTERM into ``Terminated`` (``cli.run_cli``) so that every ``finally`` cleans up on the way
out. A Python signal handler runs between any two bytecodes, and an exception raised there can land inside
Python's import machinery: a C function that ran the handler then returns as if nothing happened
(``SystemError: <built-in function acquire_lock> returned a result with an exception set``, after which a
fit went on and trained to the end) or leaves a module half made (a ``TypeError`` inside ``import
tensorflow``). And one raised inside a finaliser (``__del__``, a weakref callback, which the garbage
collector runs at any moment) is printed as "Exception ignored" and lost. So ``terminate_raises`` raises
only outside imports, and a SIGTERM that arrived during an import, or was lost in a finaliser, is sent
again a moment later (a SIGALRM timer), until it lands where it can unwind the command. Behind both, the
operating system's own record: every SIGTERM that reaches the process in the block is also written to a
pipe (``signal.set_wakeup_fd``) before any Python handler runs, so one that Python's handling lost on some
path not foreseen here (a library that swallowed it, a C function that dropped the error) still stops the
command: at training's first step (``terminate_was_lost``) or when the block ends.

``held`` is the other place no exception may land: the system calls that swap a folder into place
(``atomic.publish_dir``). SIGTERM and Ctrl-C that arrive there are delivered when it ends."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Iterator

from pix2pix_tf.core.errors import Terminated

RETRY_SECONDS = 0.05  # how soon a SIGTERM that could not unwind the command is sent again
_IMPORT_MACHINERY = ("importlib._bootstrap", "importlib._bootstrap_external")
_arrivals: int | None = None  # the read end of the block's wakeup pipe: one byte per signal that arrived
_arrived = False  # a SIGTERM byte was read from it


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """In the block, SIGTERM raises ``Terminated`` wherever Python is running, except inside an import
    (there it is delivered again as soon as the import is done). Only the main thread has signal handlers:
    elsewhere the block runs as it is."""
    global _arrivals, _arrived
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    _arrived = False
    _arrivals, previous_fd = read_end, signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate),
                signal.SIGALRM: signal.signal(signal.SIGALRM, _send_again)}
    previous_hook, sys.unraisablehook = sys.unraisablehook, functools.partial(_unraisable, sys.unraisablehook)
    try:
        yield
        if terminate_was_lost():  # the block ended between a SIGTERM and its second delivery, or one was lost
            raise Terminated()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.unraisablehook = previous_hook
        _restore(previous)
        signal.set_wakeup_fd(previous_fd)
        os.close(read_end)
        os.close(write_end)
        # the block's SIGTERM has reached its end: nothing later in the process should stop for it
        _arrived = False
        _arrivals = None


def _terminate(signum, frame) -> None:
    if _inside_import(frame):
        _send_soon()
        return
    raise Terminated()


def terminate_was_lost() -> bool:
    """Whether a SIGTERM arrived while the command still runs: raised as ``Terminated`` and swallowed between
    the handler and ``run_cli`` (a broad ``except BaseException`` in a library, or a C function that dropped
    the error), waiting for its second delivery, or lost before Python's handler saw it. Training asks when
    it installs its own handler, and stops after its first step then. The block's wakeup pipe answers: it is
    read as it is asked."""
    global _arrived
    if _arrivals is None:
        return False
    try:
        while chunk := os.read(_arrivals, 4096):
            _arrived = _arrived or signal.SIGTERM in chunk
    except BlockingIOError:
        pass  # nothing more has arrived
    return _arrived


def _unraisable(previous_hook, unraisable) -> None:
    """A ``Terminated`` raised where Python can only print it (a finaliser) is sent again instead."""
    if isinstance(unraisable.exc_value, Terminated):
        _send_soon()
    else:
        previous_hook(unraisable)


def _send_soon() -> None:
    signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)


def _send_again(signum, frame) -> None:
    """The timer: the deferred SIGTERM goes to whatever handles SIGTERM now (``fit`` installs its own
    once training starts)."""
    signal.raise_signal(signal.SIGTERM)


def _inside_import(frame) -> bool:
    while frame is not None:
        if frame.f_globals.get("__name__") in _IMPORT_MACHINERY:
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def held(signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """Signals that arrive in the block are delivered, to the handlers of before it, when it ends: a few
    system calls that must all happen or none (a SIGKILL still stops them; ``atomic`` says what is left
    then). Only the main thread runs Python's handlers; in another thread the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: arrived.append(signum)) for sig in signals}
    try:
        yield
    finally:
        _restore(previous)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)


def _restore(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: installed outside Python
