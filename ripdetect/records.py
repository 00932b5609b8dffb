"""The numbers ripdetect writes and the one CSV writer: every JSON line, CSV row, summary and alert rounds a kind of
number the same way, here.

- probabilities and scores (``prob``) and shares of an image (``share``): 5 decimals;
- times and durations in seconds (``seconds``): 3 decimals (milliseconds);
- pixel positions (``pixels``): 1 decimal;
- coarse figures people read (``tenths``): 1 decimal.

Decision thresholds keep their own precision (2 decimals, ``ripdetect.config.decision_threshold``): the value shown is
the value applied.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ripdetect.files import write_text

PROB_DECIMALS, SECONDS_DECIMALS, PIXEL_DECIMALS = 5, 3, 1


def _round(value: float | None, decimals: int) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, decimals) if math.isfinite(value) else value


def prob(value: float | None) -> float | None:
    """A probability, score or share (0..1) as written: 5 decimals; ``None`` stays ``None``."""
    return _round(value, PROB_DECIMALS)


def share(value: float | None) -> float | None:
    """A share of an image or a frame (an area, a coordinate as a fraction of the side) as written: 5 decimals."""
    return _round(value, PROB_DECIMALS)


def seconds(value: float | None) -> float | None:
    """A time or duration in seconds as written: 3 decimals."""
    return _round(value, SECONDS_DECIMALS)


def pixels(value: float | None) -> float | None:
    """A pixel position as written: 1 decimal."""
    return _round(value, PIXEL_DECIMALS)


def tenths(value: float | None) -> float | None:
    """A figure people read at a glance (seconds of a run, an age in seconds): 1 decimal."""
    return _round(value, 1)


def csv_text(rows: Iterable[dict[str, Any] | Sequence[Any]], fields: Sequence[str]) -> str:
    """CSV text with a header of ``fields``; rows are dicts (missing keys empty) or sequences in ``fields`` order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fields)
    for row in rows:
        writer.writerow([row.get(name, "") for name in fields] if isinstance(row, dict) else list(row))
    return buffer.getvalue()


def write_csv(path: str | Path, rows: Iterable[dict[str, Any] | Sequence[Any]], fields: Sequence[str],
              overwrite: bool = True) -> Path:
    """``csv_text`` written atomically (``ripdetect.files.atomic_path``)."""
    return write_text(path, csv_text(rows, fields), overwrite)
