"""Datasets over class folders, CSV manifests and the public layouts (de Silva 2021, YOLO/RipVIS).

Never downloads anything. Every layout becomes a list of ``Sample``; an unusable source raises a
``DataError`` that lists the expected layouts before any work starts.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ripdetect.data.images import IMAGE_EXTENSIONS
from ripdetect.data.labels import RegionLabel, parse_boxes, parse_polygons, read_desilva_boxes, read_yolo_polygons
from ripdetect.errors import DataError

log = logging.getLogger(__name__)

POSITIVE_DIRS = {"rip", "rips", "with rips", "with_rips", "with-rips", "withrips", "positive", "1"}
NEGATIVE_DIRS = {"no_rip", "no-rip", "norip", "no rip", "no_rips", "no rips", "without rips", "without_rips",
                 "without-rips", "withoutrips", "negative", "0"}
LABEL_WORDS = {**{w: 1 for w in POSITIVE_DIRS | {"true", "yes"}}, **{w: 0 for w in NEGATIVE_DIRS | {"false", "no"}}}
SPLIT_DIRS = ("train", "val")
MASK_DIRS = ("masks", "mask")
WATER_DIRS = ("water",)

EXPECTED_LAYOUTS = (
    "expected one of: class folders DIR/rip + DIR/no_rip (or 'with rips'/'without rips', 'with_rips'/'without_rips'), "
    "optionally under DIR/train and DIR/val, with optional DIR/masks/<stem>.png or DIR/data_labels.csv boxes; "
    "a CSV manifest with columns path,label[,split][,mask][,boxes][,group][,viewpoint][,water][,water_mask]; "
    "or YOLO segmentation DIR/images + DIR/labels"
)


@dataclass(frozen=True)
class Sample:
    """One labelled image. ``region`` says where the rip is; ``water`` where the sea is (both optional).
    ``group`` is the site or source (cross-validation never splits a group); ``viewpoint`` is reported on
    separately (e.g. ``aerial`` or ``beach_camera``)."""

    path: str
    label: int
    region: RegionLabel = RegionLabel()
    split: str | None = None
    group: str | None = None
    viewpoint: str | None = None
    water: RegionLabel = RegionLabel()

    @property
    def group_key(self) -> str:
        """The group, or the image itself when none is given (an image is always in one fold)."""
        return self.group or self.path


def load_samples(source: str | Path, both_classes: bool = True) -> list[Sample]:
    """All samples of one source (a folder or a CSV manifest), in a stable order. With ``both_classes=False`` a
    source may hold one class alone (a folder of a camera's calm frames, hard negatives)."""
    source = Path(source)
    if not source.exists():
        raise DataError(f"data source not found; {EXPECTED_LAYOUTS}", source)
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise DataError(f"data source is a file but not a .csv manifest; {EXPECTED_LAYOUTS}", source)
        return _check_classes(_from_manifest(source), source, both_classes)
    manifest = source / "manifest.csv"
    if all((source / split).is_dir() for split in SPLIT_DIRS):
        samples = [replace(s, split=split) for split in SPLIT_DIRS for s in _from_folder(source / split)]
    elif (source / "images").is_dir():
        samples = _from_yolo(source)
    elif _is_manifest(manifest):  # a folder that lists its own images (synth, composites) says the most
        samples = _from_manifest(manifest)
    elif _class_dirs(source):
        samples = _from_folder(source)
    else:
        raise DataError(f"unknown dataset layout; {EXPECTED_LAYOUTS}", source)
    return _check_classes(samples, source, both_classes)


def load_many(sources: list[str | Path], both_classes: bool = True) -> list[Sample]:
    """The samples of several sources; one source may hold a single class (hard negatives), all of them together
    must hold both unless ``both_classes`` is false (extra data beside real images that hold both)."""
    samples: list[Sample] = []
    for source in sources:
        samples.extend(load_samples(source, both_classes=False))
    if sources:
        where = Path(sources[0]) if len(sources) == 1 else Path(", ".join(map(str, sources)))
        _check_classes(samples, where, both_classes)
    return samples


def _check_classes(samples: list[Sample], source: Path, both_classes: bool = True) -> list[Sample]:
    if not samples:
        raise DataError(f"has no images; {EXPECTED_LAYOUTS}", source)
    for label, name in ((1, "rip"), (0, "no_rip")):
        if both_classes and not any(s.label == label for s in samples):
            raise DataError(f"class '{name}' has no images; {EXPECTED_LAYOUTS}", source)
    return samples


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _class_dirs(root: Path) -> dict[int, Path]:
    found: dict[int, Path] = {}
    for child in sorted(root.iterdir()):
        name = child.name.lower()
        if child.is_dir() and name in POSITIVE_DIRS:
            found[1] = child
        elif child.is_dir() and name in NEGATIVE_DIRS:
            found[0] = child
    return found


def _from_folder(root: Path) -> list[Sample]:
    class_dirs = _class_dirs(root)
    if set(class_dirs) != {0, 1}:
        missing = "rip" if 1 not in class_dirs else "no_rip"
        raise DataError(f"missing the '{missing}' class folder; {EXPECTED_LAYOUTS}", root)
    mask_dir = next((root / d for d in MASK_DIRS if (root / d).is_dir()), None)
    water_dir = next((root / d for d in WATER_DIRS if (root / d).is_dir()), None)
    box_csv = next(iter(sorted(root.glob("data_labels*.csv"))), None)
    boxes = read_desilva_boxes(box_csv) if box_csv else {}
    samples = []
    for label, folder in sorted(class_dirs.items()):
        for path in _images_in(folder):
            region = RegionLabel(mask_path=_mask_beside(mask_dir, path), boxes=tuple(boxes.get(path.name, ())))
            samples.append(Sample(str(path), label, region, water=RegionLabel(mask_path=_mask_beside(water_dir, path))))
    return samples


def _mask_beside(folder: Path | None, image_path: Path) -> str | None:
    mask_path = folder / f"{image_path.stem}.png" if folder is not None else None
    return str(mask_path) if mask_path is not None and mask_path.is_file() else None


MAX_TABLE_BYTES = 64 * 2**20  # a manifest or labels file: about half a million rows


def labelled_rows(csv_path: str | Path, what: str = "manifest",
                  columns: str = "path,label") -> Iterator[tuple[int, dict[str, str], int]]:
    """``(line, row, label)`` of every row of a labelled CSV (a manifest, a camera's labels, a clip list): its size
    bounded before it is read, its ``path`` and ``label`` columns checked, each label a known word (``rip``/``no_rip``,
    ``1``/``0``, ...). One-line ``DataError`` naming the file (and the line) otherwise."""
    csv_path = Path(csv_path)
    try:
        size = csv_path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise DataError(f"the {what} is {size:,} bytes; at most {MAX_TABLE_BYTES:,} are read", csv_path)
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{what} not found", csv_path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the {what}: {getattr(exc, 'strerror', None) or exc}", csv_path) from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
        raise DataError(f"a {what} needs columns {columns}; has {reader.fieldnames}", csv_path)
    for line, row in enumerate(reader, start=2):
        label = LABEL_WORDS.get(str(row.get("label") or "").strip().lower())
        if label is None:
            raise DataError(f"line {line}: unknown label {row.get('label')!r} (use rip/no_rip or 1/0)", csv_path)
        yield line, row, label


def _from_manifest(csv_path: Path) -> list[Sample]:
    samples = []
    for line_no, row, label in labelled_rows(csv_path):
        split = _cell(row, "split").lower() or None
        if split is not None and split not in SPLIT_DIRS:
            raise DataError(f"line {line_no}: split must be train or val, got {split!r}", csv_path)
        try:
            region = RegionLabel(mask_path=_relative(csv_path, _cell(row, "mask")),
                                 boxes=parse_boxes(_cell(row, "boxes")))
            water = RegionLabel(mask_path=_relative(csv_path, _cell(row, "water_mask")),
                                polygons=parse_polygons(_cell(row, "water")))
        except ValueError as exc:
            raise DataError(f"line {line_no}: {exc}", csv_path) from None
        samples.append(Sample(_relative(csv_path, row["path"]), label, region, split,
                              _cell(row, "group") or None, _cell(row, "viewpoint").lower() or None, water))
    return samples


def _is_manifest(path: Path) -> bool:
    """A CSV whose header has path and label columns."""
    if not path.is_file():
        return False
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    return {"path", "label"} <= set(header)


def _cell(row: dict, column: str) -> str:
    return (row.get(column) or "").strip()


def _relative(csv_path: Path, value: str) -> str | None:
    """A path from a manifest cell, relative to the manifest's folder; ``None`` for an empty cell."""
    if not value:
        return None
    path = Path(value)
    return str(path if path.is_absolute() else csv_path.parent / path)


def _from_yolo(root: Path) -> list[Sample]:
    labels_dir = root / "labels"
    samples = []
    for path in _images_in(root / "images"):
        polygons = read_yolo_polygons(labels_dir / path.relative_to(root / "images").with_suffix(".txt"))
        samples.append(Sample(str(path), int(bool(polygons)), RegionLabel(polygons=tuple(polygons))))
    return samples


def split_samples(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Given splits are kept; unassigned samples get a stratified, seeded split."""
    train = [s for s in samples if s.split == "train"]
    val = [s for s in samples if s.split == "val"]
    unassigned = [s for s in samples if s.split is None]
    rng = random.Random(seed)
    for label in (0, 1):
        group = sorted((s for s in unassigned if s.label == label), key=lambda s: s.path)
        rng.shuffle(group)
        n_val = round(len(group) * val_fraction)
        if val_fraction > 0 and len(group) >= 2:
            n_val = max(1, n_val)
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    return train, val


def training_sets(data: list[str | Path], val_data: list[str | Path] | None, val_fraction: float,
                  seed: int) -> tuple[list[Sample], list[Sample]]:
    """(training, validation) samples of ``--data`` and ``--val-data``: a separate validation set when given,
    else ``split_samples`` of the data."""
    samples = load_many(data)
    if val_data:
        return samples, [replace(s, split="val") for s in load_many(val_data)]
    return split_samples(samples, val_fraction, seed)


def manifest_hash(samples: list[Sample]) -> str:
    """sha256 of the sorted ``path,label`` lines: identifies the data a model saw."""
    lines = sorted(f"{Path(s.path).as_posix()},{s.label}" for s in samples)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def class_counts(samples: list[Sample]) -> tuple[int, int]:
    positives = sum(s.label for s in samples)
    return len(samples) - positives, positives
