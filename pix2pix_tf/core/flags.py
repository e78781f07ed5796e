"""The recipe's fields as command-line flags: one flag per field of ``Config``, the same checks whether a
value comes from a flag or from a stored ``config.json``, and values written as a run's config stores them.
``fit`` and ``judge`` build their parsers from it."""

from __future__ import annotations

import argparse
import os
import typing

from pix2pix_tf.core.config import Config, canonical_size, cli_fields, flag_name, validate

SIZE_FIELDS = {"image_size", "load_size"}
BUILTIN = "builtin"


def add_config_flags(parser: argparse.ArgumentParser, *, exclude: frozenset = frozenset(),
                     defaults: Config | None = None) -> None:
    """A flag per command-line field of ``Config``; unset flags stay absent from the namespace."""
    defaults = defaults or Config()
    hints = typing.get_type_hints(Config)
    for field in cli_fields():
        if field.name in exclude:
            continue
        default = getattr(defaults, field.name)
        help_text = field.metadata["help"] + ("" if default is None else f" (default: {default})")
        if hints[field.name] is bool:
            parser.add_argument(f"--no-{field.name.replace('_', '-')}", dest=field.name, action="store_false",
                                default=argparse.SUPPRESS, help=f"turn off: {field.metadata['help']}")
            continue
        kind = flag_type(hints[field.name])
        parser.add_argument(flag_name(field.name), dest=field.name, type=kind, default=argparse.SUPPRESS,
                            choices=field.metadata["choices"], help=help_text,
                            metavar=None if field.metadata["choices"] else kind.__name__.upper())


def flag_type(hint) -> type:
    """The type a flag parses to, from the field's real type hint (``int | None`` parses as int)."""
    kinds = [kind for kind in typing.get_args(hint) if kind is not type(None)] or [hint]
    return kinds[0]


def normalise_flags(args: dict) -> None:
    """Check every flag's value (``config.validate``, before anything loads), and write values as a run's
    config stores them (``prepare()`` resolves the precision): sizes in their canonical spelling, a
    dataset folder as an absolute path, so that evaluate and export find it from any folder."""
    validate(args)
    for name in SIZE_FIELDS & set(args):
        args[name] = canonical_size(args[name], flag_name(name))
    if args.get("data", BUILTIN) != BUILTIN:
        args["data"] = os.path.abspath(args["data"])
