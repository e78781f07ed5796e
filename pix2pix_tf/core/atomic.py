"""Atomic writes: a file appears whole or not at all, and a folder is built in a hidden staging folder
beside its destination and renamed into place, so a reader (a server, a resumed run, a second process)
never sees half of either."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pix2pix_tf.core.errors import UserError

_WRITERS = itertools.count()  # with the process id, a temporary name no other writer uses


@contextlib.contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers that pick a format by suffix still
    work) that replaces ``path`` when the block succeeds and is removed when it fails. Each writer has a
    path of its own, so two writing one file at once leave one whole file, the last one's."""
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp-{os.getpid()}-{next(_WRITERS)}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    with replacing(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


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


def publish_dir(staging: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Rename the finished ``staging`` folder to ``destination``, replacing what was there.

    The old tree is moved aside first and deleted only after the rename, so at every moment
    ``destination`` is either the old tree or the new one; if the rename fails the old one is put back.
    """
    staging, destination = Path(staging), Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if destination.is_dir() and not destination.is_symlink() and not any(destination.iterdir()):
        destination.rmdir()
    elif destination.exists() or destination.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
        old.rmdir()
        os.replace(destination, old)
    try:
        os.replace(staging, destination)
    except OSError:
        if old is not None and not destination.exists():
            os.replace(old, destination)
            old = None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    return destination


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

