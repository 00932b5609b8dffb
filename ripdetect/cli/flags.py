"""Build argparse flags from config dataclasses, so defaults live once, in the dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from typing import Any

SKIP_TYPES = (tuple,)


def _scalar_type(annotation: Any):
    """``int``, ``float``, ``str`` or ``bool`` from a (possibly ``X | None``) annotation string/type."""
    if isinstance(annotation, str):
        annotation = annotation.replace(" | None", "").strip()
        return {"int": int, "float": float, "str": str, "bool": bool}.get(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _scalar_type(args[0]) if len(args) == 1 else None
    return annotation if annotation in (int, float, str, bool) else None


def add_config_flags(parser: argparse.ArgumentParser, config_cls: type, skip: tuple[str, ...] = ()) -> list[str]:
    """One ``--field-name`` flag per scalar field; default ``None`` means "not given". Returns the field names."""
    defaults = config_cls()
    names = []
    for field in dataclasses.fields(config_cls):
        kind = _scalar_type(field.type)
        if kind is None or field.name in skip:
            continue
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if kind is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None,
                                help=f"(default: {default})")
        else:
            parser.add_argument(flag, dest=field.name, type=kind, default=None, metavar=field.name.upper(),
                                help=f"(default: {default})")
        names.append(field.name)
    return names


def given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The flags among ``names`` that the user actually set."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
