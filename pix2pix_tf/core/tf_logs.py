"""TensorFlow's C++ log lines (the oneDNN banner, ``cpu_feature_guard``, grappler's ``E0000 ... remapper
failed``) mean nothing to a user, and an ``E`` line reads as an error, so they are kept quiet unless a
command runs with ``--verbose``. A ``TF_CPP_MIN_LOG_LEVEL`` the user set is kept and obeyed.

TensorFlow logs at two moments, so it takes two mechanisms. ``TF_CPP_MIN_LOG_LEVEL`` (3 unless set)
silences what it logs once its logging is set up; TensorFlow reads it when it loads, so it is set when
the package is imported, before any module imports TensorFlow. Lines written while its shared libraries
load (before ``absl::InitializeLog``) ignore that setting: the first ``import tensorflow`` therefore runs
with the process's stderr captured, and is written back without the log lines below that level.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
VERBOSE_FLAG = "--verbose"
QUIET_LEVEL = 3
# absl's C++ line prefix (severity, date, time, thread, file:line]) and the lines that come with it; TFLite's
# own INFO lines (the XNNPACK delegate) and its quantiser's settings line, which it prints unconditionally.
TF_LOG_LINE = re.compile(r"(?P<severity>[IWEF])\d{4} [\d:.]+\s+\d+ [^\s\]]+:\d+\] "
                         r"|(?P<warning>WARNING: All log messages before absl::InitializeLog\(\) is called)"
                         r"|(?P<info>To enable the following instructions: |INFO: |fully_quantize: \d)")
SEVERITIES = "IWEF"  # TF_CPP_MIN_LOG_LEVEL 1 hides I, 2 also W, 3 also E


def log_line_severity(line: str) -> int | None:
    """0-3 for a TensorFlow C++ log line (or one that belongs to it), None for anything else."""
    match = TF_LOG_LINE.match(line)
    if match is None:
        return None
    if match["severity"]:
        return SEVERITIES.index(match["severity"])
    return 1 if match["warning"] else 0


def quiet_tensorflow(argv: list[str] | None = None) -> None:
    """Silence TensorFlow's C++ logging for this process, unless ``--verbose`` is among ``argv`` (default:
    the command line); a ``TF_CPP_MIN_LOG_LEVEL`` already set decides instead, for the lines TensorFlow
    writes while it loads too. Call before TensorFlow loads."""
    argv = sys.argv[1:] if argv is None else argv
    if LEVEL_VARIABLE not in os.environ:
        if VERBOSE_FLAG in argv:
            return
        os.environ[LEVEL_VARIABLE] = str(QUIET_LEVEL)
    try:
        level = int(os.environ[LEVEL_VARIABLE])
    except ValueError:
        return  # TensorFlow's to interpret
    if level > 0 and "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietTensorFlowImport(level))


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as usual, with a loader that runs its import under ``_without_tf_log_lines``."""

    def __init__(self, level: int):
        self.level = level

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader, finder: _QuietTensorFlowImport):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if self._finder in sys.meta_path:  # only the first import needs it
            sys.meta_path.remove(self._finder)
        with _without_tf_log_lines(self._finder.level):
            self._loader.exec_module(module)

    def __getattr__(self, name):  # resource readers and the like: the real loader's
        return getattr(self._loader, name)


@contextlib.contextmanager
def quiet_native_lines():
    """For a block whose C++ code writes to stderr outside TensorFlow's logging (the TFLite converter and
    interpreter): its log lines are shown as the process's level says, as ``quiet_tensorflow`` set it."""
    try:
        level = int(os.environ.get(LEVEL_VARIABLE, "0"))
    except ValueError:
        level = 0
    if level <= 0:
        yield
        return
    with _without_tf_log_lines(level):
        yield


@contextlib.contextmanager
def _without_tf_log_lines(level: int):
    """TensorFlow's log lines below ``level`` written during the block are dropped, also when it fails."""
    with native_stderr(lambda line: _shown(line, level)):
        yield


@contextlib.contextmanager
def native_stderr(keep):
    """File descriptor 2 (what C and C++ code write to) goes to a temporary file for the block; afterwards
    the lines ``keep(line)`` accepts are written back, and every line is in the list the block was given
    (also when it fails)."""
    lines: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to capture
        yield lines
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines += capture.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if keep(line)))
            sys.stderr.flush()


def _shown(line: str, level: int) -> bool:
    severity = log_line_severity(line)
    return severity is None or severity >= level
