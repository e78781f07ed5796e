"""Download (or unpack a local copy of) a standard pix2pix dataset and check it.

Usage::

    python -m pix2pix_tf.datasets.download NAME [--out DIR] [--archive LOCAL.tar.gz] [--url URL]
                                [--overwrite] [--timeout SECONDS]

NAME is one of: facades, maps, edges2shoes, edges2handbags, night2day, cityscapes.

The archive ``<base>/<NAME>.tar.gz`` is fetched from the public pix2pix mirror, or from
the base URL given by ``--url`` or the environment variable ``PIX2PIX_TF_DATASET_URL``
(a URL ending in ``.tar.gz`` is taken as the archive itself). ``--archive`` unpacks a
file you already have instead, with no network access at all.

The archive is unpacked safely (no absolute paths, no ``..``, no links, devices or
other special members) into a temporary folder beside ``--out``, then checked: each split
the dataset ships must be there and hold images, and a sample of them must decode and be
side-by-side pairs (width == 2 * height). Only then is it moved to ``--out`` (default
``./datasets/data/<NAME>``) in one rename; on any failure nothing is left at ``--out``.

This module is the library; ``datasets/download.py`` (or ``python -m pix2pix_tf.datasets.download``)
is the command over it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from pix2pix_tf.core.atomic import check_replaceable, publish_dir, staging_dir
from pix2pix_tf.core.cli import OneLineParser, require_positive, run_cli
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.data.images import is_image_file

DEFAULT_BASE_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"
URL_ENV = "PIX2PIX_TF_DATASET_URL"
DEFAULT_TIMEOUT = 30.0

# Split folders each archive ships (A is the left half of every image, B the right half).
DATASETS: dict[str, tuple[str, ...]] = {
    "facades": ("train", "val", "test"),
    "maps": ("train", "val"),
    "edges2shoes": ("train", "val"),
    "edges2handbags": ("train", "val"),
    "night2day": ("train", "val", "test"),
    "cityscapes": ("train", "val"),
}

SAMPLES_PER_SPLIT = 8
_IGNORED_TOP_LEVEL = {"__MACOSX"}
# --------------------------------------------------------------------------- download


def archive_url(name: str, base: str | None = None) -> str:
    """Return the archive URL for dataset ``name``.

    ``base`` (else ``$PIX2PIX_TF_DATASET_URL``, else the public mirror) is a folder URL to
    which ``<name>.tar.gz`` is appended; a base already ending in ``.tar.gz`` is used as is.
    """
    base = base or os.environ.get(URL_ENV) or DEFAULT_BASE_URL
    if base.endswith(".tar.gz") or base.endswith(".tgz"):
        return base
    return base.rstrip("/") + f"/{name}.tar.gz"


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


def download(url: str, dest: Path, timeout: float = DEFAULT_TIMEOUT, progress: bool = True) -> int:
    """Download ``url`` to the file ``dest``, printing a progress line on stderr; return the byte count.

    ``timeout`` bounds connecting and each read. Any network failure raises a one-line
    UserError that suggests ``--archive``.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise UserError(f"unsupported URL {url!r}: expected http://, https:// or file://")
    advice = "download the archive another way and pass it with --archive LOCAL.tar.gz"
    request = urllib.request.Request(url, headers={"User-Agent": "pix2pix_tf-dataset-download"})
    received = 0
    tty = progress and sys.stderr.isatty()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as sink:
            total = int(response.headers.get("Content-Length") or 0)
            last_print = 0.0
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                sink.write(chunk)
                received += len(chunk)
                now = time.monotonic()
                if progress and (now - last_print >= (0.5 if tty else 10.0)):
                    last_print = now
                    done = _human(received)
                    if total:
                        done = f"{done} / {_human(total)} ({100 * received // total}%)"
                    line = f"downloading {url}: {done}"
                    print(f"\r{line}   " if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            if total and received < total:
                raise http.client.IncompleteRead(b"", total - received)
    except urllib.error.HTTPError as err:
        raise UserError(f"download of {url} failed: the server answered HTTP {err.code} {err.reason}; "
                        f"check --url, or {advice}") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            why = f"no answer within {timeout:g} s"
        elif (isinstance(reason, OSError) and not isinstance(reason, (socket.gaierror, ConnectionError))
              and scheme == "file"):
            raise UserError(f"cannot read {url}: {reason}") from None
        else:
            why = str(getattr(reason, "strerror", None) or reason)
        raise UserError(f"network unreachable: cannot download {url} ({why}); {advice}") from None
    except TimeoutError:
        raise UserError(f"network unreachable: download of {url} stalled (no data for {timeout:g} s); "
                        f"{advice}") from None
    except (http.client.HTTPException, ConnectionError) as err:
        raise UserError(f"network unreachable: download of {url} was cut off ({type(err).__name__}); "
                        f"{advice}") from None
    finally:
        if tty:
            print(file=sys.stderr)
    if progress:
        print(f"downloaded {_human(received)}", file=sys.stderr)
    return received


# --------------------------------------------------------------------------- extraction


def _unsafe_reason(member: tarfile.TarInfo) -> str | None:
    """Why ``member`` must not be extracted, or None when it is a plain file or folder inside the target."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "'..' in its path"
    if member.issym() or member.islnk():
        return f"link to {member.linkname!r}"
    if not (member.isfile() or member.isdir()):
        return "special file (device, fifo or similar)"
    return None


def safe_extract(archive: Path, dest: Path) -> None:
    """Unpack the tar archive ``archive`` into the folder ``dest``.

    Every member is checked before anything is written; an archive with an absolute path,
    a ``..`` component, a link or a special file is refused whole with a UserError. The
    tarfile 'data' filter is applied as well where this Python has it.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            bad = [(m.name, why) for m in members if (why := _unsafe_reason(m))]
            if bad:
                shown = "; ".join(f"{n!r}: {w}" for n, w in bad[:3])
                more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
                raise UserError(f"refusing unsafe archive {archive}: {shown}{more}")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(dest, members=members)
    except UserError:
        raise
    except (tarfile.ReadError, tarfile.CompressionError, EOFError):
        raise UserError(f"cannot unpack {archive}: it is not a valid .tar.gz archive, or it is truncated") from None
    except (tarfile.TarError, OSError) as err:
        detail = " ".join(str(err).split())  # keep the message on one line
        raise UserError(f"cannot unpack {archive}: {detail}") from None


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in _IGNORED_TOP_LEVEL
    )


def find_dataset_root(extracted: Path, name: str, splits: tuple[str, ...]) -> Path:
    """Return the folder inside ``extracted`` that holds the split folders.

    The public archives hold one top-level folder ``<name>/``; a single top-level folder of
    another name, or splits at the archive root, are accepted too.
    """
    if any((extracted / s).is_dir() for s in splits):
        return extracted
    if (extracted / name).is_dir():
        return extracted / name
    top = _visible_dirs(extracted)
    if len(top) == 1:
        return top[0]
    found = ", ".join(p.name for p in top) or "nothing"
    raise UserError(f"archive for {name} does not look like a pix2pix dataset: expected a folder {name}/ "
                    f"with {', '.join(splits)}; found {found}")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_image_file(p))


def _sample(items: list[Path], k: int) -> list[Path]:
    if len(items) <= k:
        return items
    step = (len(items) - 1) / (k - 1)
    return [items[round(i * step)] for i in range(k)]


def verify_dataset(root: Path, name: str, splits: tuple[str, ...] | None = None,
                   samples: int = SAMPLES_PER_SPLIT) -> dict[str, int]:
    """Check an unpacked pix2pix dataset; return the image count per split.

    Each expected split folder must exist and hold images; up to ``samples`` images per
    split (spread over the sorted list) must decode and be side-by-side pairs
    (width == 2 * height). All problems are reported in one UserError.
    """
    splits = DATASETS[name] if splits is None else splits
    problems: list[str] = []
    counts: dict[str, int] = {}
    for split in splits:
        folder = root / split
        if not folder.is_dir():
            problems.append(f"split folder {split}/ is missing")
            continue
        images = _images(folder)
        if not images:
            problems.append(f"split folder {split}/ holds no images")
            continue
        counts[split] = len(images)
        for path in _sample(images, samples):
            rel = f"{split}/{path.name}"
            try:
                with Image.open(path) as image:
                    image.load()
                    width, height = image.size
            except (UnidentifiedImageError, OSError, SyntaxError) as err:
                problems.append(f"{rel} does not decode ({err})")
                continue
            if width != 2 * height:
                problems.append(f"{rel} is {width}x{height}, not a side-by-side pair (width must be 2 x height)")
    if problems:
        more = f" (and {len(problems) - 5} more problems)" if len(problems) > 5 else ""
        raise UserError(f"archive for {name} failed the checks: {'; '.join(problems[:5])}{more}")
    return counts


def fetch_dataset(
    name: str,
    out: str | Path | None = None,
    archive: str | Path | None = None,
    url: str | None = None,
    overwrite: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = True,
) -> dict[str, int]:
    """Download (or take ``archive``), unpack, verify and install dataset ``name`` at ``out``.

    Returns the image count per split. Raises UserError for an unknown name, a non-empty
    ``out`` without ``overwrite``, a network failure, or an archive that is unsafe or is
    not the expected dataset; in every such case nothing is left at ``out``.
    """
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    out = Path(out) if out is not None else Path("datasets") / "data" / name
    if archive is not None:
        archive = Path(archive)
        if not archive.is_file():
            raise UserError(f"--archive {archive} is not a file")
        if overwrite and out.is_dir() and out.resolve() in archive.resolve().parents:
            raise UserError(f"--archive {archive} lies inside --out {out}, which --overwrite would delete; "
                            "move it first")
    check_replaceable(out, overwrite)

    with staging_dir(out.parent, prefix=f".{out.name}.", suffix=".partial") as staging:
        if archive is None:
            archive = staging / f"{name}.tar.gz"
            download(archive_url(name, url), archive, timeout=timeout, progress=progress)
        extracted = staging / "unpacked"
        extracted.mkdir()
        safe_extract(archive, extracted)
        root = find_dataset_root(extracted, name, DATASETS[name])
        try:
            counts = verify_dataset(root, name)
        except UserError as err:
            if root != extracted and root.name != name:
                raise UserError(f"{err} (the archive holds {root.name}/, not {name}/: "
                                "is it the right archive?)") from None
            raise
        publish_dir(root, out)
    return counts


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="download.py", description="Download, unpack and check a standard pix2pix dataset.")
    parser.add_argument("name", metavar="NAME", help=f"dataset: {', '.join(DATASETS)}")
    parser.add_argument("--out", metavar="DIR", help="where to put it (default: ./datasets/data/NAME)")
    parser.add_argument("--archive", metavar="LOCAL.tar.gz", help="unpack this local archive instead of downloading")
    parser.add_argument(
        "--url",
        metavar="URL",
        help=f"base URL holding NAME.tar.gz, or the archive URL itself (default: ${URL_ENV} or {DEFAULT_BASE_URL})",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="network timeout (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    require_positive("--timeout", args.timeout)
    out = Path(args.out) if args.out else Path("datasets") / "data" / args.name
    counts = fetch_dataset(args.name, out=out, archive=args.archive, url=args.url, overwrite=args.overwrite,
                           timeout=args.timeout)
    detail = ", ".join(f"{split} {n}" for split, n in counts.items())
    print(f"wrote {args.name} to {out}: {detail} images")


if __name__ == "__main__":
    run_cli(main, "python -m pix2pix_tf.datasets.download")
