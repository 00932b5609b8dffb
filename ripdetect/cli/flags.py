"""Build argparse flags from the config dataclasses, so defaults, allowed values and help live once, in
``ripdetect.config``; plus the small helpers every subcommand shares."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from typing import Any

from ripdetect.config import allowed_values, describe_range


def _scalar_type(annotation: Any):
    """``int``, ``float``, ``str`` or ``bool`` from a (possibly ``X | None``) annotation string or type."""
    if isinstance(annotation, str):
        annotation = annotation.replace(" | None", "").strip()
        return {"int": int, "float": float, "str": str, "bool": bool}.get(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _scalar_type(args[0]) if len(args) == 1 else None
    return annotation if annotation in (int, float, str, bool) else None


def field_help(field: dataclasses.Field, default: Any) -> str:
    """The field's help, its allowed values or range, and its default, each said once."""
    meta = field.metadata
    parts = [meta.get("help", "")]
    if meta.get("low") is not None and not meta.get("choices"):
        parts.append(describe_range(meta))
    shown = meta.get("none_means") if default is None else default
    return f"{'; '.join(p for p in parts if p)} (default: {shown})"


def add_config_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, config_cls: type,
                     only: tuple[str, ...] | None = None, rename: dict[str, str] | None = None) -> list[str]:
    """One ``--field-name`` flag per scalar field (or the fields in ``only``); the argparse default is ``None``,
    meaning "not given", so ``given`` can tell what the user set. Returns the field names."""
    defaults = config_cls()
    rename = rename or {}
    names = []
    for field in dataclasses.fields(config_cls):
        kind = _scalar_type(field.type)
        if kind is None or (only is not None and field.name not in only):
            continue
        name = rename.get(field.name, field.name)
        flag = "--" + name.replace("_", "-")
        help_text = field_help(field, getattr(defaults, field.name))
        if kind is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            choices = allowed_values(field.metadata)
            parser.add_argument(flag, dest=field.name, type=kind, default=None, choices=choices,
                                metavar=None if choices else name.upper(), help=help_text)
        names.append(field.name)
    return names


def given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The flags among ``names`` that the user actually set."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


DEPLOYMENT_DEFAULT = "the embedded default model; its int8 ONNX export where one ships in the package"


def add_model_flag(parser: argparse.ArgumentParser, default: str = "the embedded default model") -> None:
    parser.add_argument("--model", default=None, help=f"checkpoint (.safetensors) or its ONNX export (.onnx) "
                                                      f"(default: {default})")


def print_json(obj: Any) -> None:
    """One JSON line on stdout, flushed (NaN-free: see ``ripdetect.files.json_safe``)."""
    from ripdetect.files import json_safe

    sys.stdout.write(json.dumps(json_safe(obj), allow_nan=False) + "\n")
    sys.stdout.flush()
