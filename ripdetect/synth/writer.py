"""Write synthetic datasets: class-folder images, exact mask PNGs, a manifest with every scene
parameter, and MP4 clips with per-frame labels and masks. Seeded, deterministic and resumable: every file
is written atomically, and a re-run with the same seed only fills in what is missing."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ripdetect.config import SynthConfig
from ripdetect.errors import ConfigError
from ripdetect.files import OutputExistsError, atomic_path, write_image, write_text
from ripdetect.records import write_csv
from ripdetect.synth.projection import Rendered, SceneCamera
from ripdetect.synth.realism import RealismParams
from ripdetect.synth.scene import RipParams, SceneParams, sample_scene
from ripdetect.video.io import VideoWriter

ProgressFn = Callable[[int, int], None]
MANIFEST_NAME = "manifest.csv"
MANIFEST_FIELDS = ("path", "label", "mask", "water_mask", "view", "n_rips", "seed")


def check_output(out_dir: Path, synth_config: SynthConfig, overwrite: bool = False) -> None:
    """One-line errors before any work: the output is a file, the disk is too small, or ``manifest.csv`` there
    was not written by ``ripdetect synth`` (it is replaced only with ``overwrite``)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError("output path exists and is a file, not a folder", out_dir)
    manifest = out_dir / MANIFEST_NAME
    if manifest.is_file() and not overwrite:
        with open(manifest, newline="", errors="replace") as handle:
            header = next(csv.reader(handle), [])
        if header[:3] != list(MANIFEST_FIELDS[:3]):  # earlier versions wrote fewer columns after these
            raise OutputExistsError("holds a manifest.csv that ripdetect synth did not write; use another --out, "
                                    "or --overwrite to replace it", manifest)
    probe = out_dir
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    needed = estimated_bytes(synth_config)
    if needed > free:
        raise ConfigError(f"not enough disk space: about {needed / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free",
                          out_dir)


def estimated_bytes(synth_config: SynthConfig) -> int:
    pixels = synth_config.width * synth_config.height
    frames = int(synth_config.clips * synth_config.clip_seconds * synth_config.fps)
    return int(synth_config.n * pixels * 0.35 + frames * pixels * 0.08) + 1_000_000


MIN_VISIBLE_RIP = 0.003  # a rip scene must show at least this fraction of rip pixels


def scene_for(seed: int, index: int, rip: bool, view: str, attempt: int = 0,
              realism: bool = False, uniform_surf: float = 0.0) -> SceneParams:
    """The scene of image ``index``: depends only on (seed, index, attempt), so any subset can be (re)made."""
    entropy = [seed, index] if attempt == 0 else [seed, index, attempt]
    scene_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    return sample_scene(np.random.default_rng(scene_seed), scene_seed, rip, view, realism, uniform_surf)


def labelled_scene(seed: int, index: int, rip: bool, view: str, width: int, height: int,
                   t: float = 0.0, max_attempts: int = 10, realism: bool = False,
                   uniform_surf: float = 0.0) -> tuple[SceneParams, Rendered]:
    """``(params, rendered)`` whose rip mask agrees with the label: a rip scene whose channel falls outside
    the camera's view (possible in aerial crops) is deterministically re-drawn."""
    for attempt in range(max_attempts):
        params = scene_for(seed, index, rip, view, attempt, realism, uniform_surf)
        rendered = SceneCamera(params, width, height).render(t)
        if not rip or rendered.rip_mask.mean() >= MIN_VISIBLE_RIP:
            break
    return params, rendered


def rip_labels(n: int, fraction: float, seed: int) -> np.ndarray:
    """Exactly ``round(n * fraction)`` rip scenes, at seeded positions."""
    order = np.random.default_rng([seed, 7]).permutation(n)
    return order < round(n * fraction)


def generate_images(out: Path, synth_config: SynthConfig, progress: ProgressFn | None = None) -> dict:
    """Images in ``rip/`` and ``no_rip/``, masks in ``masks/``, ``manifest.csv`` and ``scenes.jsonl``."""
    for folder in ("rip", "no_rip", "masks", "water"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    labels = rip_labels(synth_config.n, synth_config.rip_fraction, synth_config.seed)
    made = skipped = 0
    rows, scenes = [], []
    scenes_before = _read_scenes(out / "scenes.jsonl")
    for index in range(synth_config.n):
        rip = bool(labels[index])
        name = f"synth_{synth_config.seed}_{index:06d}"
        image_path = out / ("rip" if rip else "no_rip") / f"{name}.jpg"
        mask_path, water_path = out / "masks" / f"{name}.png", out / "water" / f"{name}.png"
        if image_path.exists() and mask_path.exists() and water_path.exists():
            params = (_params_of(scenes_before, image_path, out)
                      or scene_for(synth_config.seed, index, rip, synth_config.view, realism=synth_config.realism,
                                    uniform_surf=synth_config.uniform_surf))
            skipped += 1
        else:
            params, rendered = labelled_scene(synth_config.seed, index, rip, synth_config.view, synth_config.width,
                                              synth_config.height, t=index % 17, realism=synth_config.realism,
                                              uniform_surf=synth_config.uniform_surf)
            write_image(mask_path, rendered.rip_mask.astype(np.uint8) * 255)
            write_image(water_path, rendered.water_mask.astype(np.uint8) * 255)
            write_image(image_path, rendered.image, quality=90)  # the image is written last
            made += 1
        rows.append({"path": str(image_path.relative_to(out)), "label": "rip" if rip else "no_rip",
                     "mask": str(mask_path.relative_to(out)), "water_mask": str(water_path.relative_to(out)),
                     "view": params.view, "n_rips": len(params.rips), "seed": params.seed})
        scenes.append({"path": rows[-1]["path"], **params.to_dict()})
        if progress:
            progress(index + 1, synth_config.n)
    _write_csv(out / MANIFEST_NAME, rows)
    write_text(out / "scenes.jsonl", "".join(json.dumps(s) + "\n" for s in scenes))
    return {"images_written": made, "images_skipped": skipped, "n": synth_config.n}


def _read_scenes(path: Path) -> dict[str, dict]:
    """Scene parameters recorded by an earlier run, by relative image path (for resumed runs)."""
    if not path.is_file():
        return {}
    scenes = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
            scenes[record.pop("path")] = record
        except (ValueError, KeyError):
            continue
    return scenes


def _params_of(scenes: dict[str, dict], image_path: Path, out: Path) -> SceneParams | None:

    record = scenes.get(str(image_path.relative_to(out)))
    if record is None:
        return None
    realism = RealismParams(**record["realism"]) if record.get("realism") else None
    return SceneParams(**{**record, "rips": [RipParams(**r) for r in record.get("rips", [])], "realism": realism})


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    write_csv(path, rows, list(rows[0]))


def rip_schedule(rng: np.random.Generator, rip: bool, duration_s: float) -> tuple[float, float]:
    """(on, off) seconds of the rip in a clip; some rip clips start or end without it."""
    if not rip:
        return duration_s + 1, duration_s + 1
    on = rng.uniform(0, 0.35) * duration_s if rng.random() < 0.4 else 0.0
    off = rng.uniform(0.7, 1.0) * duration_s if rng.random() < 0.3 else duration_s + 1
    return on, off


def camera_shake(rng: np.random.Generator, frames: int) -> np.ndarray:
    """(dx, dy) pixels per frame: half the clips come from a camera that shakes (a mast in the wind), up to 2 px."""
    if rng.random() < 0.5:
        return np.zeros((frames, 2))
    return rng.uniform(-2, 2, (frames, 2)) * rng.uniform(0.3, 1.0)


def generate_clips(out_dir: Path, synth_config: SynthConfig, progress: ProgressFn | None = None) -> dict:
    """``clips/clip_K.mp4`` with ``clip_K_labels.csv`` (frame, time_s, rip, mask area) and ``clip_K_masks.npz``. The
    water moves as real water does: breaking bands travel shoreward, a rip carries foam and sediment seaward along its
    channel and its head pulses; the surf may drift alongshore, boats and cloud shadows move, and half the cameras
    shake."""

    out = out_dir / "clips"
    out.mkdir(parents=True, exist_ok=True)
    labels = rip_labels(synth_config.clips, synth_config.rip_fraction, synth_config.seed + 1)
    n_frames = max(1, round(synth_config.clip_seconds * synth_config.fps))
    made = skipped = 0
    for clip in range(synth_config.clips):
        video_path = out / f"clip_{synth_config.seed}_{clip:03d}.mp4"
        labels_path = video_path.with_name(video_path.stem + "_labels.csv")
        if video_path.exists() and labels_path.exists():
            skipped += 1
            continue
        params, _ = labelled_scene(synth_config.seed + 1_000_003, clip, bool(labels[clip]), synth_config.view,
                                   synth_config.width, synth_config.height, realism=synth_config.realism,
                                   uniform_surf=synth_config.uniform_surf)
        camera = SceneCamera(params, synth_config.width, synth_config.height)
        on, off = rip_schedule(np.random.default_rng(params.seed), bool(labels[clip]), synth_config.clip_seconds)
        shake = camera_shake(np.random.default_rng([params.seed, 94]), n_frames)
        masks, rows = [], []
        with VideoWriter(video_path, synth_config.fps) as writer:
            for frame in range(n_frames):
                t = frame / synth_config.fps
                level = float(np.clip(min(t - on, off - t) + 0.5, 0, 1))  # one-second ramps in and out
                image, mask, _ = camera.render(t, rip_level=level, shake=tuple(shake[frame]))
                writer.write(image)
                masks.append(np.packbits(mask))
                rows.append({"frame": frame, "time_s": round(t, 4), "rip": int(mask.any()),
                             "mask_area": round(float(mask.mean()), 5)})
        with atomic_path(video_path.with_name(video_path.stem + "_masks.npz")) as tmp:
            np.savez_compressed(tmp, packed=np.stack(masks), shape=np.array(mask.shape))
        _write_csv(labels_path, rows)  # the labels file is the completion marker
        made += 1
        if progress:
            progress(clip + 1, synth_config.clips)
    return {"clips_written": made, "clips_skipped": skipped, "frames_per_clip": n_frames}


def load_clip_masks(npz_path: str | Path) -> np.ndarray:
    """Per-frame boolean masks (frames, H, W) of a synthetic clip."""
    data = np.load(npz_path)
    height, width = (int(v) for v in data["shape"])
    return np.unpackbits(data["packed"], axis=1)[:, : height * width].reshape(-1, height, width).astype(bool)
