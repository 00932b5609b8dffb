"""Turning input arguments (files, folders, globs) into the inputs of a run, in order, without repeats.

Every argument that yields nothing gives an ``InputError`` in its place (a missing file, a glob that matches
nothing, a folder without a supported file), so front ends report it like any other bad input. Inside folders
and glob matches, ripdetect's own temporary names are left out, and so is whatever the caller's ``skip`` says
(a run's own output folders), so an ``--out`` inside the input folder is never read back as input.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path

from ripdetect.data.images import IMAGE_EXTENSIONS
from ripdetect.errors import InputError
from ripdetect.files import OWN_TEMPORARY_TAGS

Skip = Callable[[Path], bool]


def is_own_temporary(path: Path) -> bool:
    """A file or folder name that only ripdetect makes (a temporary file or a staging folder)."""
    return any(tag in path.name for tag in OWN_TEMPORARY_TAGS)


def expand_inputs(arguments: list[str], extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
                  skip: Skip | None = None) -> list[Path | InputError]:
    """Files, folders (recursive, by extension) and globs, in the given order, without repeats; an argument
    that yields nothing is an ``InputError`` naming it. A file named explicitly is always taken."""
    seen: set[Path] = set()
    result: list[Path | InputError] = []

    def add(paths: list[Path]) -> bool:
        for path in paths:
            try:
                key = path.resolve()
            except (OSError, RuntimeError):  # a symbolic link loop: resolving never ends
                result.append(InputError("a symbolic link loop: the link leads back to itself", path))
                continue
            if key not in seen:
                seen.add(key)
                result.append(path)
        return bool(paths)

    def left_out(path: Path) -> bool:
        return is_own_temporary(path) or (skip is not None and skip(path))

    for argument in arguments:
        path = Path(argument)
        try:
            path.stat()
        except PermissionError:  # a folder on the way cannot be entered
            result.append(InputError("permission denied (a folder on its path cannot be entered)", argument))
            continue
        except OSError as exc:
            if path.is_symlink():
                result.append(InputError("a symbolic link that leads nowhere (a loop, or its target is gone)",
                                         argument))
                continue
            if exc.errno not in (2, 20):  # not 'no such file' / 'not a directory': say what it is
                result.append(InputError(f"cannot read: {exc.strerror or exc}", argument))
                continue
        if path.is_dir():
            try:
                found = _files_under(path, extensions, left_out)
            except PermissionError:
                result.append(InputError("permission denied", argument))
                continue
            if not add(found):
                result.append(InputError(f"folder contains no supported files ({' '.join(extensions)})", argument))
        elif path.exists():
            add([path])
        elif any(ch in argument for ch in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(argument, recursive=True))]
            if not add([m for m in matches if m.is_file() and not left_out(m)]):
                result.append(InputError("no files match this pattern", argument))
        else:
            result.append(InputError("no such file", argument))
    return result


def _files_under(folder: Path, extensions: tuple[str, ...], left_out: Skip) -> list[Path]:
    """Files with one of ``extensions`` under ``folder``, sorted; folders that ``left_out`` names are not entered."""
    def refuse(error: OSError) -> None:
        if Path(error.filename or "") == folder:
            raise error  # the folder itself cannot be listed: say so instead of "contains nothing"

    found = []
    for root, dirs, files in os.walk(folder, onerror=refuse):
        dirs[:] = [name for name in dirs if not left_out(Path(root) / name)]
        found += [Path(root) / name for name in files
                  if Path(name).suffix.lower() in extensions and not left_out(Path(root) / name)]
    return sorted(found)
