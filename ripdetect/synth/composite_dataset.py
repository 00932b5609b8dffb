"""Write composites: rip channels painted into real no-rip photos, and matched no-rip edits, as a dataset.

Every composite keeps the ``group`` (site) and viewpoint of its source photo, so cross-validation never
trains on a composite of a photo it validates on. Resumable: existing files are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb, stored_size
from ripdetect.data.layouts import Sample
from ripdetect.errors import DataError, InputError
from ripdetect.files import write_image
from ripdetect.records import write_csv
from ripdetect.synth.composite import composite_distractor, composite_rip

log = logging.getLogger(__name__)
WaterFn = Callable[[np.ndarray], np.ndarray]  # image_rgb -> bool water mask (an estimate, e.g. a water head)
FIELDS = ("path", "label", "mask", "water_mask", "group", "viewpoint", "source")


def source_water(sample: Sample, image_rgb: np.ndarray, estimate: WaterFn | None) -> np.ndarray | None:
    """The water mask of a source photo: its label, else the estimate, else ``None``."""
    if not sample.water.is_empty:
        return sample.water.to_mask(*image_rgb.shape[:2], source_size=stored_size(sample.path))
    return estimate(image_rgb) if estimate is not None else None


def generate_composites(out_dir: str | Path, sources: list[Sample], per_source: int, seed: int,
                        estimate_water: WaterFn | None = None, progress=None) -> dict:
    """``per_source`` rip composites and as many matched no-rip edits of every no-rip source photo."""
    out_dir = Path(out_dir)
    usable = [s for s in sources if s.label == 0]
    if not usable:
        raise DataError("no no-rip photos among the sources: composites need real photos without rips")
    for folder in ("rip", "no_rip", "masks", "water"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    rows, made, kept, skipped = [], 0, 0, []
    for index, sample in enumerate(usable):
        stem = f"{index:04d}_{Path(sample.path).stem}"[:80]
        try:
            image_rgb = load_image_rgb(sample.path, max_side=TRAINING_MAX_SIDE)
            water = source_water(sample, image_rgb, estimate_water)
        except (InputError, OSError) as exc:
            skipped.append((sample.path, str(getattr(exc, "reason", exc))))
            continue
        if water is None or water.mean() < 0.02:
            skipped.append((sample.path, "no water label (and no estimate) or no sea in the photo"))
            continue
        for copy in range(per_source):
            for label, make in (("rip", composite_rip), ("no_rip", composite_distractor)):
                name = f"{stem}_{copy}_{label}"
                paths = {"path": out_dir / label / f"{name}.jpg", "mask": out_dir / "masks" / f"{name}.png",
                         "water_mask": out_dir / "water" / f"{name}.png"}
                if not paths["path"].exists():
                    composite = make(image_rgb, water, np.random.default_rng([seed, index, copy, label == "rip"]))
                    if composite is None:
                        continue
                    write_image(paths["mask"], composite.rip_mask.astype(np.uint8) * 255)
                    write_image(paths["water_mask"], composite.water_mask.astype(np.uint8) * 255)
                    write_image(paths["path"], composite.image, quality=92)  # the image is written last
                    made += 1
                else:
                    kept += 1
                rows.append({**{k: str(v.relative_to(out_dir)) for k, v in paths.items()}, "label": label,
                             "group": sample.group_key, "viewpoint": sample.viewpoint or "", "source": sample.path})
        if progress:
            progress(index + 1, len(usable))
    if not rows:
        raise DataError("no composite could be made: the photos need water labels and breaking waves")
    write_csv(out_dir / "manifest.csv", rows, FIELDS)
    return {"composites": len(rows), "written": made, "kept": kept, "rip": sum(r["label"] == "rip" for r in rows),
            "skipped": [{"path": p, "reason": r} for p, r in skipped]}
