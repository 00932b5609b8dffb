"""The knob machinery of every config dataclass: a field's default, range, allowed values and help text are written
once, with ``knob(...)``; validation, the CLI flags (``ripdetect.cli.flags``), tuning spaces and the help text all
read that metadata. Also: configs to and from plain dicts, and reading JSON or YAML files with one-line errors.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import field, fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ripdetect.errors import ConfigError

T = TypeVar("T")

THRESHOLD_DECIMALS = 2  # decision thresholds are used, shown and echoed at this precision, everywhere


def decision_threshold(value: float) -> float:
    """A decision threshold as it is used: rounded to ``THRESHOLD_DECIMALS``, so the value shown (app, banners,
    JSON) is exactly the value applied."""
    return round(float(value), THRESHOLD_DECIMALS)


def knob(default: Any = None, help: str = "", *, low: float | None = None, high: float | None = None,
         choices: tuple | Callable[[], tuple] | None = None, none_means: str | None = None, low_exclusive: bool = False,
         factory: Any = None, show_range: bool = True) -> Any:
    """A config field with its range or allowed values and its help text (read by validation and the CLI).

    ``none_means`` documents what a ``None`` default stands for (e.g. "the model's threshold"); ``show_range=False``
    when the help already says the range in words."""
    metadata = {"help": help, "low": low, "high": high, "choices": choices, "none_means": none_means,
                "low_exclusive": low_exclusive, "show_range": show_range}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def allowed_values(meta: dict) -> tuple | None:
    """A field's allowed values; ``choices`` may be a callable, for lists kept elsewhere (the backbone registry)."""
    choices = meta.get("choices")
    return choices() if callable(choices) else choices


def _number(value: float) -> str:
    """A bound as people read it: 120,000,000 rather than 1.2e+08, 0.5 rather than 0.500000."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def describe_range(meta: dict) -> str:
    """'one of a, b', 'a number from 0 to 1' or 'a number above 0, up to 10' for a field's metadata."""
    if allowed_values(meta):
        return "one of " + ", ".join(map(str, allowed_values(meta)))
    low, high = meta.get("low"), meta.get("high")
    if meta.get("low_exclusive"):
        return f"a number above {_number(low)}, up to {_number(high)}"
    return f"a number from {_number(low)} to {_number(high)}"


def scalar_type(config_field: dataclasses.Field) -> type | None:
    """``int``, ``float``, ``str`` or ``bool`` of a field typed ``X`` or ``X | None``; ``None`` for the rest (nested
    configs, tuples): the fields a flag or a search space can set."""
    annotation = config_field.type
    if isinstance(annotation, str):
        return {"int": int, "float": float, "str": str, "bool": bool}.get(annotation.replace(" | None", "").strip())
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return scalar_type(dataclasses.replace(config_field, type=args[0])) if len(args) == 1 else None
    return annotation if annotation in (int, float, str, bool) else None


def check_field(ok: bool, name: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"config field '{name}' = {shown(value)} is invalid: expected {expected}")


def validate_fields(config: Any) -> None:
    """Check every field against its ``knob`` metadata; ``None`` is allowed where the default is ``None``."""
    for f in fields(config):
        value, meta = getattr(config, f.name), f.metadata
        if value is None and f.default is None:
            continue
        if meta.get("choices"):
            check_field(value in allowed_values(meta), f.name, value, describe_range(meta))
        elif meta.get("low") is not None:
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            low_ok = number and (value > meta["low"] if meta["low_exclusive"] else value >= meta["low"])
            check_field(low_ok and value <= meta["high"], f.name, value, describe_range(meta))


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build ``cls`` from a dict, recursing into nested dataclasses; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a JSON object, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        factory = known[name].default_factory
        nested_cls = factory if isinstance(factory, type) and dataclasses.is_dataclass(factory) else None
        if nested_cls is not None and isinstance(value, dict):
            kwargs[name] = from_dict(nested_cls, value, f"{where}.{name}")
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.reason}") from None


def load_json_config(cls: type[T], path: str | Path) -> T:
    """Read a JSON config file into ``cls`` with a one-line error on failure."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read config: {exc}", path) from None
    return from_dict(cls, data, where=str(path))


MAX_DATA_FILE_BYTES = 1_000_000  # profiles, search spaces and configs are hand-written: a few KB


def read_data_file(path: str | Path, max_bytes: int = MAX_DATA_FILE_BYTES) -> Any:
    """The data in a JSON file, or a YAML one (``.yaml``/``.yml``), with a one-line error naming the file.

    Bounded before anything is parsed or printed: a file larger than ``max_bytes`` is refused, and so is YAML that
    uses anchors and aliases (a few hundred bytes of nested aliases expand to gigabytes) and a mapping that gives one
    key twice (which value was meant?)."""
    path = Path(path)
    yaml_file = path.suffix.lower() in (".yaml", ".yml")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConfigError(f"is {size / 1e6:.1f} MB; a ripdetect settings file is at most {max_bytes / 1e6:g} MB",
                              path)
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("file not found", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read: {reason}", path) from None
    try:
        return _parse_yaml(text) if yaml_file else json.loads(text, object_pairs_hook=_unique_keys)
    except ConfigError as exc:
        raise ConfigError(exc.reason, path) from None
    except Exception as exc:  # noqa: BLE001 - json and yaml raise their own kinds; one line either way
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(f"not valid {'YAML' if yaml_file else 'JSON'}: {reason}", path) from None


class _WrittenOut(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value used twice is written twice: ``read_data_file`` refuses anchors and aliases


def yaml_text(data: Any) -> str:
    """``data`` as YAML that ``read_data_file`` reads back: block style for mappings, flow for short lists, keys in
    their order, and no anchors or aliases (PyYAML writes one for any object that appears twice)."""
    return yaml.dump(data, Dumper=_WrittenOut, sort_keys=False, default_flow_style=None)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ConfigError(f"key {shown(key)} is given twice in one mapping")
        seen[key] = value
    return seen


def _parse_yaml(text: str) -> Any:
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
            raise ConfigError("YAML anchors and aliases (& and *) are not accepted: write the values out")

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
            for key in keys:
                if keys.count(key) > 1:
                    raise ConfigError(f"key {shown(key)} is given twice in one mapping (line {node.start_mark.line + 1})")
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader that also refuses duplicate keys


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a value quoted in a one-line error never floods it."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 5] + " ...]" if text[:1] in "[{(" else text[:limit - 4] + " ..."


def replace(config: T, **changes: Any) -> T:
    """``dataclasses.replace`` that drops ``None`` values (flags the user did not give)."""
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if v is not None})
