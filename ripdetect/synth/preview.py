"""A PNG grid of synthetic scenes beside real photos, to judge realism by eye."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ripdetect.config import SynthConfig
from ripdetect.data.images import load_image_rgb
from ripdetect.data.layouts import load_samples
from ripdetect.files import write_image
from ripdetect.synth.writer import labelled_scene
from ripdetect.viz.draw import draw_outline, fit_tile, grid, label_tile


def write_preview(out_dir: Path, synth_config: SynthConfig, real_dir: Path | None = None, columns: int = 6,
                  rows: int = 3, tile: int = 220) -> Path:
    """Rows of synthetic scenes (rip outlined in the second half of each row), then real photos if given."""
    tiles = []
    for index in range(columns * rows):
        rip = index % 3 != 2
        view = ("oblique", "aerial")[index % 2] if synth_config.view == "mixed" else synth_config.view
        params, (image, mask, _) = labelled_scene(synth_config.seed + 77, index, rip, view, synth_config.width,
                                                  synth_config.height, t=index, realism=synth_config.realism)
        if index % columns >= columns // 2:
            image = draw_outline(image, mask, colour=(255, 40, 40), thickness=2)
        tiles.append(label_tile(fit_tile(image, tile), f"synthetic {'rip' if rip else 'no rip'}, {params.view}"))
    grid_rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    if real_dir is not None:

        samples = load_samples(real_dir)
        rng = np.random.default_rng(synth_config.seed)
        picks = [samples[i] for i in rng.permutation(len(samples))[: columns * 2]]
        real = [label_tile(fit_tile(load_image_rgb(s.path, max_side=800), tile),
                           f"REAL {'rip' if s.label else 'no rip'}") for s in picks]
        grid_rows += [real[i:i + columns] for i in range(0, len(real), columns)]
    return write_image(out_dir / "preview.png", grid(grid_rows))
