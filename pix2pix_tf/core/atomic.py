"""Atomic writes: a file appears whole or not at all, and a folder is built in a hidden staging folder
beside its destination and renamed into place, so a reader (a server, a resumed run, a second process)
never sees half of either."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pix2pix_tf.core.errors import UserError
from pix2pix_tf.core.signals import held

_WRITERS = itertools.count()  # with the process id, a temporary name no other writer uses


@contextlib.contextmanager
def replacing(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers that pick a format by suffix still
    work) that replaces ``path`` when the block succeeds and is removed when it fails. Each writer has a
    path of its own, so two writing one file at once leave one whole file, the last one's.

    ``durable``: on the disk before this returns (``make_durable``). A failure of the file system names
    ``path`` (or its folder, when that cannot be written in), never the temporary."""
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}-{next(_WRITERS)}{path.suffix}")
    try:
        yield tmp
        if durable:
            make_durable(tmp)
        os.replace(tmp, path)
        if durable:
            make_durable(path.parent)
    except OSError as err:
        if err.filename is not None and os.fsdecode(err.filename) != str(tmp):
            raise
        unwritable = err.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        raise OSError(err.errno, err.strerror, str(path.parent if unwritable else path)) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str, *, durable: bool = False) -> Path:
    with replacing(path, durable=durable) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def make_durable(*paths: str | os.PathLike) -> None:
    """Flush files (and folders: their list of names) to the disk (``fsync``), so that a power loss
    keeps them. Without it a renamed-in file can come back empty after one on some file systems."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def staging_dir(parent: str | os.PathLike, prefix: str, suffix: str = "") -> Iterator[Path]:
    """A fresh hidden folder inside ``parent`` (same filesystem as the destination, so the final rename
    is atomic), with a plain mkdir's permissions, deleted afterwards whatever happens."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=parent))
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(staging, 0o777 & ~mask)  # mkdtemp creates 0700
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def new_folders(path: str | os.PathLike) -> Iterator[Path]:
    """``path``, made with its missing parents; if the block fails, the folders made here that are still
    empty are removed again, so a failed command leaves no empty folder behind to puzzle over."""
    path = Path(path)
    missing = []
    folder = path
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        for folder in missing:  # the innermost first; one that holds anything stays
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def publish_dir(staging: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Rename the finished ``staging`` folder to ``destination``, replacing what was there; the old tree is
    deleted only once the new one is in place.

    Where the system exchanges two paths in one call (Linux's ``renameat2``), ``destination`` is at every
    moment the old tree or the new one, whatever stops the process. Elsewhere the old tree is moved
    aside before the new one is renamed in, with SIGTERM and Ctrl-C held between the two renames (a
    power loss or SIGKILL there leaves the old tree beside it as ``.<name>.old-*``)."""
    staging, destination = Path(staging), Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    displaced = None
    try:
        with held():
            displaced = _swap_in(staging, destination)
    finally:
        if displaced is not None:
            _remove(displaced)
    return destination


def _remove(path: Path) -> None:
    """A tree, a file or a link (never what a link points to)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def publish_new_dir(staging: str | os.PathLike, destination: str | os.PathLike) -> bool:
    """Rename the finished ``staging`` folder to ``destination`` unless that already holds something
    (False then): what is there is never replaced, so a process reading it by path never sees it change."""
    Path(destination).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staging, destination)
    except OSError as err:
        if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    return True


def _swap_in(staging: Path, destination: Path) -> Path | None:
    """Put ``staging`` at ``destination``; where the tree that was there went (None: nothing was)."""
    if destination.is_dir() and not destination.is_symlink() and not any(destination.iterdir()):
        os.replace(staging, destination)  # over an empty folder: one rename
        return None
    if not destination.exists() and not destination.is_symlink():
        os.rename(staging, destination)
        return None
    if _exchange(staging, destination):
        return staging
    old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
    old.rmdir()
    os.replace(destination, old)
    try:
        os.replace(staging, destination)
    except OSError:
        os.replace(old, destination)
        raise
    return old


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call; False where the system or the filesystem has no such call."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


@functools.cache
def _renameat2():
    """glibc's ``renameat2`` (Linux 3.15, glibc 2.28), or None."""
    if not sys.platform.startswith("linux"):
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is not None:
        function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
        function.restype = ctypes.c_int
    return function


def check_replaceable(out: Path, overwrite: bool, flag: str = "--out") -> None:
    """Refuse an output folder that is a file, or non-empty without ``overwrite``, or one whose
    replacement would delete the current, home or root folder."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{flag} {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"{flag} {out} exists and is not empty; pass --overwrite to replace it")
        resolved = out.resolve()
        cwd = Path.cwd().resolve()
        if resolved in (cwd, Path.home().resolve(), Path(resolved.anchor)) or resolved in cwd.parents:
            raise UserError(f"refusing to replace {out}: it is the current, home or root folder")

