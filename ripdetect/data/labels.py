"""Localisation labels: mask PNGs, de Silva box CSVs and YOLO-segmentation polygons, as pixel masks."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegionLabel:
    """Where the rip is. Boxes are pixel ``(x1, y1, x2, y2)``; polygons are normalised ``[(x, y), ...]``."""

    mask_path: str | None = None
    boxes: tuple[tuple[float, float, float, float], ...] = ()
    polygons: tuple[tuple[tuple[float, float], ...], ...] = field(default=())

    @property
    def is_empty(self) -> bool:
        return self.mask_path is None and not self.boxes and not self.polygons

    def to_mask(self, height: int, width: int, source_size: tuple[int, int] | None = None) -> np.ndarray:
        """A boolean ``height x width`` mask. ``source_size`` is the (w, h) the boxes were drawn on."""
        import cv2

        mask = np.zeros((height, width), dtype=np.uint8)
        if self.mask_path:
            from PIL import Image

            with Image.open(self.mask_path) as image:
                label = np.asarray(image.convert("L"))
            mask |= cv2.resize((label > 127).astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        if self.boxes:
            src_w, src_h = source_size or (width, height)
            sx, sy = width / src_w, height / src_h
            for x1, y1, x2, y2 in self.boxes:
                cv2.rectangle(mask, (round(x1 * sx), round(y1 * sy)), (round(x2 * sx) - 1, round(y2 * sy) - 1), 1, -1)
        for polygon in self.polygons:
            points = np.array([[x * width, y * height] for x, y in polygon], dtype=np.float32)
            cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
        return mask.astype(bool)


def normalise_box(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
    """Corners in order (de Silva's CSV has rows with x1 > x2)."""
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def parse_boxes(text: str) -> tuple[tuple[float, float, float, float], ...]:
    """Pixel boxes from a manifest cell: ``x1 y1 x2 y2; x1 y1 x2 y2`` (corners in any order)."""
    boxes = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        values = part.replace(",", " ").split()
        if len(values) != 4:
            raise ValueError(f"a box needs 4 numbers x1 y1 x2 y2, got {part!r}")
        boxes.append(normalise_box(*(float(v) for v in values)))
    return tuple(boxes)


def parse_polygons(text: str) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Normalised polygons from a manifest cell: ``x1 y1 x2 y2 x3 y3 ...; ...`` with every value in 0..1."""
    polygons = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        values = [float(v) for v in part.replace(",", " ").split()]
        if len(values) < 6 or len(values) % 2:
            raise ValueError(f"a polygon needs at least 3 x y pairs, got {len(values)} numbers")
        if not all(0.0 <= v <= 1.0 for v in values):
            raise ValueError("polygon coordinates must be normalised to 0..1")
        polygons.append(tuple(zip(values[0::2], values[1::2])))
    return tuple(polygons)


def read_desilva_boxes(csv_path: str | Path) -> dict[str, list[tuple[float, float, float, float]]]:
    """``data_labels.csv`` (``Name,x1,y1,x2,y2,label``): file name -> boxes; bad rows are logged and skipped."""
    boxes: dict[str, list[tuple[float, float, float, float]]] = {}
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        for line_no, row in enumerate(csv.DictReader(handle), start=2):
            try:
                box = normalise_box(*(float(row[k]) for k in ("x1", "y1", "x2", "y2")))
                name = row["Name"].strip()
            except (KeyError, TypeError, ValueError):
                log.warning("%s:%d: skipped malformed box row %s", csv_path, line_no, row)
                continue
            if box[2] > box[0] and box[3] > box[1]:
                boxes.setdefault(name, []).append(box)
    return boxes


def read_yolo_polygons(label_path: str | Path) -> list[tuple[tuple[float, float], ...]]:
    """YOLO segmentation lines ``class x1 y1 x2 y2 ...`` (normalised). Missing or empty file -> no polygons."""
    label_path = Path(label_path)
    if not label_path.is_file():
        return []
    polygons = []
    for line_no, line in enumerate(label_path.read_text().splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        try:
            coords = [float(v) for v in values[1:]]
        except ValueError:
            log.warning("%s:%d: skipped non-numeric polygon", label_path, line_no)
            continue
        if len(coords) == 4:  # a YOLO box (cx, cy, w, h): turn it into a rectangle polygon
            cx, cy, w, h = coords
            coords = [cx - w / 2, cy - h / 2, cx + w / 2, cy - h / 2, cx + w / 2, cy + h / 2, cx - w / 2, cy + h / 2]
        if len(coords) < 6 or len(coords) % 2:
            log.warning("%s:%d: skipped polygon with %d coordinates", label_path, line_no, len(coords))
            continue
        polygons.append(tuple(zip(coords[0::2], coords[1::2])))
    return polygons
