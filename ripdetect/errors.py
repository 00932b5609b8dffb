"""One exception type for every user-facing failure, so front ends print one line."""

from __future__ import annotations

import importlib
from pathlib import Path


def first_line(exc: BaseException) -> str:
    """An exception as one line: its message's first line, or its type's name when it has no message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require_extra(module: str, extra: str, purpose: str):
    """The module ``module``, or a one-line ``RipdetectError`` saying which extra installs it (``purpose`` says what
    needs it, e.g. "the web app")."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise RipdetectError(f"{purpose} needs {module.split('.')[0]}, which is not installed: "
                             f"pip install 'ripdetect[{extra}]'") from None


class RipdetectError(Exception):
    """A failure a user can act on; ``str()`` is a single line naming the input and the reason."""

    def __init__(self, reason: str, path: str | Path | None = None):
        self.reason = reason.strip().splitlines()[0] if reason.strip() else "unknown error"
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {self.reason}" if self.path else self.reason)


class ConfigError(RipdetectError, ValueError):
    """A config field outside its allowed range."""


class CheckpointError(RipdetectError):
    """A checkpoint that is missing, pickled, or incompatible."""


class DataError(RipdetectError):
    """A dataset that cannot be used (missing folder, unknown layout, empty class)."""


class InputError(RipdetectError):
    """One input file (image or video) that cannot be read."""
