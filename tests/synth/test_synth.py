import dataclasses
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ripdetect.config import SynthConfig
from ripdetect.errors import ConfigError
from ripdetect.synth.projection import SceneCamera, render_scene
from ripdetect.synth.scene import SAND_COLOURS
from ripdetect.synth.writer import (check_output, generate_clips, generate_images, labelled_scene, load_clip_masks,
                                    scene_for)
from tests.helpers import run_cli


@pytest.mark.parametrize("view", ["oblique", "aerial"])
def test_same_seed_same_scene_and_image(view):
    a, b, c = (scene_for(5, i, True, view) for i in (0, 0, 1))
    assert a == b and a != c
    image_a, mask_a, water_a = render_scene(a, 160, 96)
    image_b, mask_b, water_b = render_scene(b, 160, 96)
    assert np.array_equal(image_a, image_b) and np.array_equal(mask_a, mask_b) and np.array_equal(water_a, water_b)
    assert image_a.shape == (96, 160, 3) and image_a.dtype == np.uint8


@pytest.mark.parametrize("view", ["oblique", "aerial"])
def test_mask_label_consistency(view):
    for index in range(6):
        _, mask, _ = render_scene(scene_for(1, index, False, view), 160, 96)
        assert not mask.any()
        params, (image, mask, water) = labelled_scene(1, index, True, view, 160, 96)
        assert params.rips and mask.mean() >= 0.003
        assert not (mask & ~water).any()  # a rip is always in the water


def test_rip_mask_covers_the_dark_channel():
    """Inside the mask the surf zone is darker (fewer whitecaps) than the rest of the surf zone."""
    darker = 0
    for index in range(8):
        params = scene_for(2, index, True, "oblique")
        image, mask, _ = render_scene(params, 256, 160)
        grey = image.mean(axis=2)
        rows = np.nonzero(mask.any(axis=1))[0]
        band = np.zeros_like(mask)
        band[rows.min():rows.max() + 1] = True
        outside = band & ~mask
        darker += grey[mask].mean() < grey[outside].mean()
    assert darker >= 6


def test_clip_frame_counts_labels_and_masks(tmp_path):
    synth_config = SynthConfig(n=0, seed=0, view="oblique", width=128, height=96, rip_fraction=1.0, clips=1,
                               clip_seconds=2.0, fps=5.0)
    summary = generate_clips(tmp_path, synth_config)
    assert summary["frames_per_clip"] == 10
    video = tmp_path / "clips" / "clip_0_000.mp4"
    rows = list(csv.DictReader(open(video.with_name("clip_0_000_labels.csv"))))
    masks = load_clip_masks(video.with_name("clip_0_000_masks.npz"))
    assert len(rows) == 10 and masks.shape == (10, 96, 128)
    assert [int(r["rip"]) for r in rows] == [int(m.any()) for m in masks]
    from ripdetect.video.io import iter_frames

    frames = list(iter_frames(video, sample_fps=None, stride=1))
    assert len(frames) == 10 and frames[0].image_rgb.shape == (96, 128, 3)


def test_images_resume_without_duplicates(tmp_path):
    synth_config = SynthConfig(n=6, seed=3, width=96, height=64, rip_fraction=0.5)
    first = generate_images(tmp_path, synth_config)
    assert first["images_written"] == 6
    victim = sorted((tmp_path / "rip").iterdir())[0]
    content = {p.name: p.read_bytes() for p in (tmp_path / "no_rip").iterdir()}
    victim.unlink()
    again = generate_images(tmp_path, synth_config)
    assert again == {"images_written": 1, "images_skipped": 5, "n": 6}
    assert victim.exists()
    assert {p.name: p.read_bytes() for p in (tmp_path / "no_rip").iterdir()} == content
    rows = list(csv.DictReader(open(tmp_path / "manifest.csv")))
    assert len(rows) == 6 and sum(r["label"] == "rip" for r in rows) == 3
    from ripdetect.data.layouts import load_samples

    samples = load_samples(tmp_path)
    assert len(samples) == 6 and all(s.region.mask_path for s in samples)
    for sample in samples:  # the written mask agrees with the class folder
        assert sample.region.to_mask(64, 96).any() == bool(sample.label), sample.path


@pytest.mark.parametrize("kwargs,message", [
    ({"n": 0}, "nothing to render"),
    ({"n": -3}, "'n' = -3"),
    ({"width": 10}, "'width' = 10 is invalid: expected a number from 64 to 8,192"),
    ({"rip_fraction": 1.5}, "rip_fraction"),
    ({"view": "sideways"}, "one of oblique, aerial, mixed"),
])
def test_impossible_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SynthConfig(**kwargs)


def test_output_is_a_file_and_disk_space(tmp_path, monkeypatch):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_output(tmp_path / "f", SynthConfig())
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(100, 100, 10))
    with pytest.raises(ConfigError, match="not enough disk space"):
        check_output(tmp_path / "o", SynthConfig(n=10))


@pytest.mark.slow
@pytest.mark.system
def test_cli_synth_and_preview(tmp_path):
    result = run_cli("synth", "--out", tmp_path / "s", "--n", "4", "--size", "96x64", "--preview", "--real",
                     tmp_path / "none")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["images_written"] == 4 and (tmp_path / "s" / "preview.png").exists()
    bad = run_cli("synth", "--out", tmp_path / "s", "--size", "big")
    assert bad.returncode == 2 and "--size must look like" in bad.stderr and "Traceback" not in bad.stderr


def test_camera_reuses_static_layers_for_frames(monkeypatch):
    """The static layers (noise textures, the shoreline, the bar) are made once per scene: rendering more frames makes
    no new noise, and only the sea changes between frames (the waves move); without cloud shadows and boats, sky and
    land stay as they were."""
    import ripdetect.synth.scene as scene

    still_sky = dataclasses.replace(scene_for(0, 0, True, "oblique"), cloud_shadow=0.0, boats=0)
    camera = SceneCamera(still_sky, 128, 96)  # cloud shadows and boats move on purpose; here they are off

    def no_new_noise(*args, **kwargs):
        raise AssertionError("a frame made new noise: static layers were not reused")

    monkeypatch.setattr(scene, "fractal_noise", no_new_noise)
    assert camera.render(0.0).image.shape == camera.render(1.0).image.shape == (96, 128, 3)
    (world_a, _, water_a), (world_b, _, water_b) = camera.world.render(0.0), camera.world.render(1.0)  # before grain
    moved = np.abs(world_a.astype(float) - world_b.astype(float)).max(axis=2) > 1
    assert moved[water_a & water_b].mean() > 0.05  # the waves moved
    assert moved[~(water_a | water_b)].mean() < 0.02  # the land stayed (up to the swash at the shoreline)


@pytest.mark.parametrize("view", ["oblique", "aerial"])
def test_water_mask_excludes_sky_land_and_structures(view):
    """Sky above the horizon and sand below the shoreline are never water; open sea is."""
    for index in range(6):
        params = scene_for(4, index, index % 2 == 0, view)
        camera = SceneCamera(params, 160, 96)
        image, mask, water = camera.render(0.0)
        assert 0.1 < water.mean() < 0.95
        if view == "oblique":
            assert not water[: camera.horizon].any() and water[camera.horizon + 2].all()
        grey = image.astype(float).mean(axis=2)
        sand = np.array(SAND_COLOURS[params.sand], float).mean()
        assert abs(np.median(grey[~water & (np.arange(96)[:, None] > 70)]) - sand * params.light) < 60


def test_synth_writes_water_masks(tmp_path):
    from ripdetect.data.layouts import load_samples

    generate_images(tmp_path, SynthConfig(n=4, seed=1, width=96, height=64))
    samples = load_samples(tmp_path)
    assert all(s.water.mask_path and Path(s.water.mask_path).exists() for s in samples)
    water = samples[0].water.to_mask(64, 96)
    assert 0.1 < water.mean() < 0.95
