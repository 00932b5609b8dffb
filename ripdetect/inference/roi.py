"""A camera's region of interest: polygons in normalised image coordinates (x and y in 0..1, from the top left)
marking where rips can be (the water). Drawn once per fixed camera, it restricts the evidence behind the decision,
the map and the regions (see ``Predictor``), whatever the image size.

``Roi.parse`` reads the plain form a profile, a flag or the app holds: a list of polygons, each a list of at least
three ``[x, y]`` points (one bare polygon is accepted too), with one-line errors naming the field.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ripdetect import records
from ripdetect.config import read_data_file, shown
from ripdetect.errors import ConfigError

_SUBPIXEL_BITS = 4  # polygons are rasterised with 1/16-pixel vertex precision
WEIGHTS_DETAIL = 2048  # cell shares are measured on a mask about this many pixels across
MIN_AREA = 1e-4  # a polygon must enclose at least this share of the image (a hundredth of a percent)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Roi:
    polygons: tuple[tuple[tuple[float, float], ...], ...]

    @classmethod
    def parse(cls, value: Any, where: str = "roi") -> Roi:
        """A ``Roi`` from ``[[[x, y], ...], ...]`` (or one polygon ``[[x, y], ...]``); ``ConfigError`` naming
        ``where`` and the polygon when a polygon has fewer than 3 points or a point lies outside 0..1."""
        if not isinstance(value, (list, tuple)) or not value:
            raise ConfigError(f"{where}: expected a list of polygons, each a list of [x, y] points in 0..1")
        if all(isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_number(c) for c in p) for p in value):
            value = [value]  # one bare polygon
        polygons = []
        for index, polygon in enumerate(value):
            name = f"{where}[{index}]"
            if not isinstance(polygon, (list, tuple)):
                raise ConfigError(f"{name}: expected a list of [x, y] points, got {type(polygon).__name__}")
            if len(polygon) < 3:
                raise ConfigError(f"{name}: a polygon needs at least 3 points, got {len(polygon)}")
            points = []
            for point in polygon:
                if not (isinstance(point, (list, tuple)) and len(point) == 2 and all(_is_number(c) for c in point)):
                    raise ConfigError(f"{name}: point {shown(point)} is not a pair of numbers [x, y]")
                if not all(0.0 <= c <= 1.0 for c in point):
                    raise ConfigError(f"{name}: point {list(point)} lies outside 0..1 (coordinates are fractions of "
                                      "the image width and height)")
                points.append((float(point[0]), float(point[1])))
            xs, ys = np.array(points).T
            area = 0.5 * abs(float(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))
            if area < MIN_AREA:
                raise ConfigError(f"{name}: the polygon encloses no area ({area:.2g} of the image): its points lie on "
                                  "one spot or one line")
            polygons.append(tuple(points))
        return cls(tuple(polygons))

    @classmethod
    def load(cls, text_or_path: str) -> Roi:
        """A ``Roi`` from JSON text, or from a JSON or YAML file holding the polygons (``--roi``)."""
        path = Path(text_or_path)
        where = "--roi"
        if not text_or_path.lstrip().startswith("[") and path.is_file():
            where = str(path)
            return cls.parse(read_data_file(path), where)
        try:
            return cls.parse(json.loads(text_or_path), where)
        except json.JSONDecodeError:
            raise ConfigError(f"--roi {shown(text_or_path)} is neither a file nor JSON polygons such as "
                              "[[[0,0.4],[1,0.4],[1,1],[0,1]]]") from None

    def to_list(self) -> list[list[list[float]]]:
        return [[[records.share(x), records.share(y)] for x, y in polygon] for polygon in self.polygons]

    def mask(self, height: int, width: int) -> np.ndarray:
        """Boolean ``height x width`` mask of the region: the pixels whose centre is inside a polygon or on its
        outline."""
        return _mask(self, height, width).copy()

    def weights(self, height: int, width: int) -> np.ndarray:
        """The share of each of ``height x width`` cells inside the region (float32, 0..1)."""
        return _weights(self, height, width).copy()


@functools.lru_cache(maxsize=16)
def _mask(roi: Roi, height: int, width: int, strict: bool = False) -> np.ndarray:
    """Pixels whose centre is inside a polygon or on its outline (``strict``: strictly inside)."""
    canvas = np.zeros((height, width), np.uint8)
    scale = 1 << _SUBPIXEL_BITS
    points = [np.round((np.asarray(p) * (width, height) - 0.5) * scale).astype(np.int32) for p in roi.polygons]
    cv2.fillPoly(canvas, points, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    if strict:
        cv2.polylines(canvas, points, True, 0, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return canvas.astype(bool)


@functools.lru_cache(maxsize=16)
def _weights(roi: Roi, height: int, width: int) -> np.ndarray:
    """Cell shares from a fine mask of the pixels strictly inside: a cell the outline only touches gets none."""
    factor = max(4, math.ceil(WEIGHTS_DETAIL / max(height, width)))
    fine = _mask(roi, height * factor, width * factor, strict=True).astype(np.float32)
    return cv2.resize(fine, (width, height), interpolation=cv2.INTER_AREA)
