"""Writing files safely: every file ripdetect writes goes through ``atomic_path``.

A file is written under a temporary name that is ours alone (hidden, unique, in the same folder), then
renamed into place, so a killed run never leaves a half-written file under the real name. With
``overwrite=False`` an existing file is never replaced: the rename becomes a hard link that fails if the
target exists, so even a file created by someone else a moment earlier is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ripdetect.errors import RipdetectError

TEMPORARY_TAG = ".ripdetect-tmp"  # in the name of every temporary file ripdetect writes
STAGING_TAG = ".ripdetect-partial"  # in the name of every staging folder (video results before they are published)
OWN_TEMPORARY_TAGS = (TEMPORARY_TAG, STAGING_TAG)


class OutputExistsError(RipdetectError, FileExistsError):
    """An output file exists that this run did not create; ``--overwrite`` allows replacing it."""


SAMPLES_DIR = Path(__file__).resolve().parent / "samples"  # synthetic demo scenes and a clip, shipped in the package


def sample_path(name: str | None = None) -> Path:
    """A shipped synthetic sample (``synthetic_rip_oblique.jpg``, ``synthetic_norip_oblique.jpg``,
    ``synthetic_rip_aerial.jpg``, ``synthetic_norip_aerial.jpg``, ``synthetic_clip.mp4``), or their folder: the
    app's examples, and inputs for trying ripdetect from any directory."""
    path = SAMPLES_DIR if name is None else SAMPLES_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"no shipped sample {name!r}; there are {sorted(p.name for p in SAMPLES_DIR.iterdir())}")
    return path


MAX_NAME_PART = 120  # of a name kept in a temporary or staging name (file systems allow 255 bytes a name)


def name_part(name: str) -> str:
    """``name`` as it appears inside our temporary and staging names: a long one is cut and a hash of it added, so a
    name that fits its folder never fails for its temporary sibling."""
    if len(name.encode()) <= MAX_NAME_PART:
        return name
    digest = hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
    return name.encode()[:MAX_NAME_PART - 9].decode(errors="ignore") + "~" + digest


def temporary_sibling(path: Path) -> Path:
    """A new, unique, hidden name beside ``path`` with the same suffix (so encoders pick the right format)."""
    handle, name = tempfile.mkstemp(prefix=f".{name_part(path.stem)}.", suffix=f"{TEMPORARY_TAG}{path.suffix}",
                                    dir=path.parent)
    os.close(handle)
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: str | Path, overwrite: bool = True, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``path``, on failure it is removed.

    Raises ``OutputExistsError`` (before anything is written) when ``path`` exists and ``overwrite`` is false."""
    path = Path(path)
    if not overwrite and path.exists():
        raise OutputExistsError("exists and was not written by this run; use --overwrite to replace it", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExistsError("exists and was not written by this run; use --overwrite to replace it",
                                        path) from None
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def staging_folder(target: str | Path) -> Iterator[Path]:
    """A new folder beside ``target`` to fill before it is published (``publish_folder``): hidden and ours alone
    (``.<name>.<random>.ripdetect-partial``), removed on the way out whatever happened (it is empty after a clean
    publish), so a killed run never leaves a half-written result under the real name."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name_part(target.name)}.", suffix=STAGING_TAG, dir=target.parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_folder(staging: Path, target: Path) -> None:
    """Publish a filled ``staging_folder``: when ``target`` does not exist the folder is renamed into place (it
    appears complete, in one step); otherwise each of its files replaces its namesake in ``target`` by an atomic
    rename (the caller decides first which names it may replace). Files and folder are made readable to all."""
    for path in staging.iterdir():
        os.chmod(path, 0o644)
    if not target.exists():
        os.chmod(staging, 0o755)
        staging.rename(target)
        return
    for path in staging.iterdir():
        path.replace(target / path.name)


def file_digest(path: str | Path) -> str:
    """A short hash of a file's bytes (tells two files apart whatever their names and dates)."""
    digest = hashlib.blake2b(digest_size=12)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def claim_output_folder(out_dir: Path, marker: str, names: tuple[str, ...], overwrite: bool, command: str) -> None:
    """Make ``out_dir`` a command's own: a folder holding files of the command's output names that it did not write
    (no ``marker`` file there) is refused, one line naming them, unless ``overwrite``; then it is made and marked."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError("is a file, not a folder; use another --out", out_dir)
    foreign = [name for name in names if (out_dir / name).exists()] if not (out_dir / marker).exists() else []
    if foreign and not overwrite:
        raise OutputExistsError(f"holds {', '.join(foreign)}, which {command} did not write; use another --out, or "
                                "--overwrite to replace them", out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / marker).touch()
    except OSError as exc:
        raise RipdetectError(f"cannot write the output folder: {exc.strerror or exc}", out_dir) from None


def write_text(path: str | Path, text: str, overwrite: bool = True) -> Path:
    with atomic_path(path, overwrite) as tmp:
        tmp.write_text(text)
    return Path(path)


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinite floats replaced by ``None``, so the JSON written is always valid."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: json_safe(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(value) for value in obj]
    return obj


def write_json(path: str | Path, obj: Any, indent: int | None = 1, overwrite: bool = True) -> Path:
    """Valid JSON (see ``json_safe``), written atomically."""
    return write_text(path, json.dumps(json_safe(obj), indent=indent, allow_nan=False) + "\n", overwrite)


def write_image(path: str | Path, image, quality: int = 92, overwrite: bool = True) -> Path:
    """An RGB (HxWx3) or grayscale (HxW) uint8 array, encoded by the suffix of ``path`` (PNG, JPEG, ...)."""
    import cv2

    encoded = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if Path(path).suffix.lower() in (".jpg", ".jpeg") else []
    with atomic_path(path, overwrite) as tmp:
        if not cv2.imwrite(str(tmp), encoded, params):
            raise OSError(f"could not encode {path}")
    return Path(path)
