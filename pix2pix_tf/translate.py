"""python -m pix2pix_tf.translate: run a trained generator on single images of any size.

A thin command over ``pix2pix_tf.deploy.translator`` (the library API, where padding, tiling and channel
handling are explained): it expands files, folders and globs into jobs, writes ``OUT/<name>.png``
per input, and reports and skips inputs that cannot be translated.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pix2pix_tf.core import cli
from pix2pix_tf.core.errors import UserError, printable
from pix2pix_tf.data.images import IMAGE_SUFFIXES, ImageError, is_image_name, write_png

MAX_LISTED_FAILURES = 20


@dataclass
class Job:
    source: Path
    target: Path


def _real(path: Path) -> Path:
    """The path with links followed, without raising on a link loop (that input is reported when read)."""
    return Path(os.path.realpath(path))


def _natural_key(path: Path):
    return (len(path.stem), path.stem, path.suffix)


def collect_inputs(inputs: list[str]) -> tuple[list[Path], list[tuple[str, str]], list[Path]]:
    """(image files in order, inputs that matched nothing with why, folders given)."""
    files: list[Path] = []
    missing: list[tuple[str, str]] = []
    folders: list[Path] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            folders.append(path)
            found = sorted((p for p in path.iterdir() if is_image_name(p)), key=_natural_key)
            if not found:
                missing.append((text, f"folder holds no images ({', '.join(IMAGE_SUFFIXES)})"))
            files.extend(found)
        elif path.is_file() or path.is_symlink():
            files.append(path)  # a broken link is reported by reading it
        elif glob.has_magic(text):
            found = sorted((Path(p) for p in glob.glob(text, recursive=True)
                            if Path(p).is_file() or is_image_name(Path(p))), key=_natural_key)
            if not found:
                missing.append((text, "the pattern matches no files"))
            files.extend(found)
        else:
            missing.append((text, "no such file or folder"))
    unique, seen = [], set()
    for path in files:
        key = _real(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique, missing, folders


def plan_outputs(files: list[Path], out: Path, folders: list[Path], overwrite: bool = False) -> list[Job]:
    """``OUT/<name>.png`` per input; repeated names get -2, -3, ...; refuses to write over inputs, and
    over any file already there unless ``overwrite``: nothing this run did not write is replaced."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    resolved_out = _real(out)
    for folder in folders:
        if _real(folder) == resolved_out:
            raise UserError(f"--out {out}: is an input folder; outputs would mix with and could overwrite the "
                            "inputs; choose another folder")
    inputs = {_real(p) for p in files}
    jobs, used = [], set()
    for path in files:
        name, n = f"{path.stem}.png", 1
        while name in used:
            n += 1
            name = f"{path.stem}-{n}.png"
        used.add(name)
        target = out / name
        if _real(target) in inputs:
            raise UserError(f"--out {out}: would overwrite the input {target}; choose another folder")
        jobs.append(Job(path, target))
    existing = [job.target.name for job in jobs if job.target.exists() or job.target.is_symlink()]
    if existing and not overwrite:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise UserError(f"--out {out}: {len(existing)} output name(s) already taken ({shown}); pass --overwrite "
                        "to replace them, or choose another folder")
    return jobs


def build_parser() -> argparse.ArgumentParser:
    from pix2pix_tf.deploy.translator import DEFAULT_MAX_SIDE, LARGE_MODES, SCALES

    parser = cli.OneLineParser(
        prog="python -m pix2pix_tf.translate", description=__doc__.splitlines()[0],
        epilog="Outputs are OUT/<input name>.png at the input's exact size; a file already there is never "
               "replaced without --overwrite. "
               "Unreadable inputs are reported and skipped; the exit status is 1 if any failed.")
    cli.add_run_dir(parser)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders of images, or globs")
    parser.add_argument("--out", required=True, help="folder for the translated PNGs (created if missing)")
    cli.add_checkpoint(parser)
    cli.add_inference(parser)
    cli.add_weights(parser)
    parser.add_argument("--large", choices=LARGE_MODES, default="tile",
                        help="images with a side over --max-side: translate in overlapping, blended tiles "
                             "(keeps full resolution and the training scale) or downscale to fit and scale "
                             "the result back up (faster, softer) (default: tile)")
    parser.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                        help=f"largest side the generator runs on in one pass, rounded down to a multiple of "
                             f"2**depth; bounds memory (default: {DEFAULT_MAX_SIDE})")
    parser.add_argument("--scale", choices=SCALES, default="training",
                        help="training: resize each image by crop size / the training data's native size (stored "
                             "with the run), so an image of the data's size runs at the crop size as in evaluate, "
                             "translate, resize back (an image too small at that scale runs as it is); native: "
                             "translate the pixels as they are (default: training)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files in --out that have an output's name (inputs are never replaced)")
    parser.add_argument("--quiet", action="store_true", help="no line per image, only notes, failures and the summary")
    cli.add_verbose(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pix2pix_tf.deploy.translator import load

    args = build_parser().parse_args(argv)
    cli.require_positive("--max-side", args.max_side)
    files, missing, folders = collect_inputs(args.inputs)
    if not files:
        reasons = "; ".join(f"{text}: {why}" for text, why in missing)
        raise UserError(f"no input images ({reasons})")
    out = Path(args.out)
    jobs = plan_outputs(files, out, folders, args.overwrite)
    translator = load(args.run_dir, args.checkpoint, inference=args.inference, large=args.large,
                      max_side=args.max_side, scale=args.scale, weights=args.weights)
    print(f"scale: {translator.scale_description}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = [f"{text}: {why}" for text, why in missing]
    for text, why in missing:
        _say(f"skipped {text}: {why}")
    done = 0
    for k, job in enumerate(jobs, start=1):
        try:
            output, notes = translator.translate_file(job.source)
            write_png(output, job.target)
        except ImageError as err:
            failures.append(f"{job.source}: {err}")
            _say(f"skipped {job.source}: {err}")
            continue
        except OSError as err:
            failures.append(f"{job.target}: cannot write ({err.strerror or err})")
            _say(f"failed {job.target}: cannot write ({err.strerror or err})")
            continue
        done += 1
        for note in notes:
            _say(f"note: {job.source}: {note}")
        if not args.quiet:
            print(f"[{k}/{len(jobs)}] {job.source} -> {job.target} ({output.shape[1]}x{output.shape[0]})", flush=True)
    total = len(jobs) + len(missing)
    print(f"translated {done} of {total} inputs into {out} (checkpoint step {translator.step}, "
          f"{translator.weights} weights, {translator.mode} inference)")
    if failures:
        print(f"{len(failures)} of {total} inputs failed:", file=sys.stderr)
        for line in failures[:MAX_LISTED_FAILURES]:
            _say(f"  {line}")
        if len(failures) > MAX_LISTED_FAILURES:
            print(f"  ... and {len(failures) - MAX_LISTED_FAILURES} more (all listed above)", file=sys.stderr)
        return 1
    return 0


def _say(line: str) -> None:
    """A line about one input on stderr: names found in a folder may hold a newline, which must not start
    a line of its own (``errors.printable``)."""
    print(printable(line), file=sys.stderr, flush=True)


if __name__ == "__main__":
    cli.run_cli(main, "python -m pix2pix_tf.translate")
