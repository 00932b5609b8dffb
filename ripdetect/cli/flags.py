"""Build argparse flags from the config dataclasses, so defaults, allowed values and help live once, in
``ripdetect.config``; plus the small helpers every subcommand shares."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from ripdetect.config import allowed_values, describe_range, scalar_type


def field_help(field: dataclasses.Field, default: Any) -> str:
    """The field's help, its allowed values or range, and its default, each said once."""
    meta = field.metadata
    parts = [meta.get("help", "")]
    if meta.get("low") is not None and not meta.get("choices") and meta.get("show_range", True):
        parts.append(describe_range(meta))
    if isinstance(default, bool):
        shown = "on" if default else "off"
    else:
        shown = meta.get("none_means") if default is None else (f"{default:,}" if isinstance(default, int) else default)
    return f"{'; '.join(p for p in parts if p)} (default: {shown})"


def add_config_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, config_cls: type,
                     only: tuple[str, ...] | None = None, rename: dict[str, str] | None = None) -> list[str]:
    """One ``--field-name`` flag per scalar field (or the fields in ``only``); the argparse default is ``None``,
    meaning "not given", so ``given`` can tell what the user set. Returns the field names."""
    defaults = config_cls()
    rename = rename or {}
    names = []
    for field in dataclasses.fields(config_cls):
        kind = scalar_type(field)
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


def add_data_flags(parser: argparse.ArgumentParser, data_help: str, real_help: str, folds_help: str) -> None:
    """``--data``, ``--val-data``, ``--real`` and ``--folds``: the training data, as train and tune take it."""
    parser.add_argument("--data", nargs="+", default=None, help=data_help)
    parser.add_argument("--val-data", nargs="+", default=None,
                        help="a separate validation set (default: a stratified split of --data)")
    parser.add_argument("--real", nargs="+", default=None, help=real_help)
    parser.add_argument("--folds", type=int, default=None, help=folds_help)


def given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The flags among ``names`` that the user actually set."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


DATA_LAYOUTS = ("a folder with rip/ and no_rip/ subfolders of images (or train/, val/ and test/ folders of them, a "
                "YOLO images/ and labels/ folder, or ripdetect synth output), or a CSV manifest path,label[,group,...]")
DEPLOYMENT_DEFAULT = "the embedded default model; its int8 ONNX export where one ships in the package"


def add_model_flag(parser: argparse.ArgumentParser, default: str = "the embedded default model") -> None:
    parser.add_argument("--model", default=None, help=f"checkpoint (.safetensors) or its ONNX export (.onnx) "
                                                      f"(default: {default})")


def print_json(obj: Any) -> None:
    """One JSON line on stdout, flushed (NaN-free: see ``ripdetect.files.json_safe``)."""
    from ripdetect.files import json_safe

    sys.stdout.write(json.dumps(json_safe(obj), allow_nan=False) + "\n")
    sys.stdout.flush()


def add_executor_flags(parser: argparse.ArgumentParser) -> None:
    """``--executor local|ray`` and ``--ray-address``."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where the work runs: this machine, or Ray workers (pip install 'ripdetect[ray]') "
                             "(default: local)")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="the Ray cluster to use, e.g. auto or ray://head:10001 (default: start a local Ray)")


def add_camera_flags(parser: argparse.ArgumentParser) -> None:
    """``--cameras FILE --camera NAME`` (a camera profile's model, settings and region of interest) and
    ``--roi``."""
    group = parser.add_argument_group("camera profile")
    group.add_argument("--cameras", metavar="FILE", default=None, help="camera profile file, YAML or JSON (default: "
                       "none)")
    group.add_argument("--camera", metavar="NAME", default=None,
                       help="use this camera of --cameras: its region of interest, model and settings (flags given "
                            "here win) and, without inputs, its source (default: none)")
    group.add_argument("--roi", metavar="POLYGONS", default=None,
                       help="region of interest where rips can be: JSON polygons of [x, y] points in 0..1, e.g. "
                            "'[[[0,0.4],[1,0.4],[1,1],[0,1]]]', or a JSON/YAML file holding them (default: the "
                            "camera's, else the whole image)")


def camera_choice(args: argparse.Namespace):
    """``(profile or None, roi or None)`` from ``--cameras``/``--camera``/``--roi``; ``--roi`` wins over the
    profile's."""
    from ripdetect.cameras.profiles import find_camera, load_profiles
    from ripdetect.errors import ConfigError
    from ripdetect.inference.roi import Roi

    if bool(args.camera) != bool(args.cameras):
        raise ConfigError("--camera NAME and --cameras FILE go together")
    profile = find_camera(load_profiles(args.cameras), args.camera, args.cameras) if args.camera else None
    roi = Roi.load(args.roi) if args.roi else (profile.roi if profile else None)
    return profile, roi


def with_flags(base: Any, args: argparse.Namespace, names: list[str]) -> Any:
    """``base`` (a config: a camera's, or the defaults) with the flags among ``names`` that the user set."""
    return dataclasses.replace(base, **given(args, names))


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 to 65535 (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535, not {port}")
    return port
