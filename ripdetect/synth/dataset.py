"""Write synthetic datasets: class-folder images, exact mask PNGs, a manifest with every scene
parameter, and MP4 clips with per-frame labels and masks. Seeded, deterministic and resumable: a file
is written to a temporary name and renamed, and a re-run with the same seed only fills in what is missing."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ripdetect.errors import ConfigError
from ripdetect.synth.camera import SceneCamera
from ripdetect.synth.scene import SceneParams, sample_scene

MIN_SIZE = 64
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class SynthRequest:
    out_dir: Path
    n: int = 100
    seed: int = 0
    view: str = "mixed"
    width: int = 640
    height: int = 384
    rip_fraction: float = 0.5
    clips: int = 0
    clip_seconds: float = 10.0
    fps: float = 10.0

    def validate(self) -> None:
        """One-line errors for impossible parameters, before any work starts."""
        if self.n < 0 or (self.n == 0 and self.clips == 0):
            raise ConfigError(f"--n must be > 0 (got {self.n})")
        if self.clips < 0:
            raise ConfigError(f"--clips must be >= 0 (got {self.clips})")
        if self.width < MIN_SIZE or self.height < MIN_SIZE or self.width > 8192 or self.height > 8192:
            raise ConfigError(f"--size {self.width}x{self.height} is out of range: each side must be {MIN_SIZE}..8192")
        if not 0.0 <= self.rip_fraction <= 1.0:
            raise ConfigError(f"--rip-fraction must be within 0..1 (got {self.rip_fraction})")
        if self.view not in ("oblique", "aerial", "mixed"):
            raise ConfigError(f"--view must be oblique, aerial or mixed (got {self.view})")
        if self.clips and not (0.5 <= self.clip_seconds <= 3600 and 1 <= self.fps <= 60):
            raise ConfigError("--clip-seconds must be 0.5..3600 and --fps 1..60")
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ConfigError("output path exists and is a file, not a folder", self.out_dir)
        probe = self.out_dir
        while not probe.exists():
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        needed = self.estimated_bytes()
        if needed > free:
            raise ConfigError(f"not enough disk space: about {needed / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free",
                              self.out_dir)

    def estimated_bytes(self) -> int:
        pixels = self.width * self.height
        frames = int(self.clips * self.clip_seconds * self.fps)
        return int(self.n * pixels * 0.35 + frames * pixels * 0.08) + 1_000_000


MIN_VISIBLE_RIP = 0.003  # a rip scene must show at least this fraction of rip pixels


def scene_for(seed: int, index: int, rip: bool, view: str, attempt: int = 0) -> SceneParams:
    """The scene of image ``index``: depends only on (seed, index, attempt), so any subset can be (re)made."""
    entropy = [seed, index] if attempt == 0 else [seed, index, attempt]
    scene_seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    return sample_scene(np.random.default_rng(scene_seed), scene_seed, rip, view)


def labelled_scene(seed: int, index: int, rip: bool, view: str, width: int, height: int,
                   t: float = 0.0, max_attempts: int = 10) -> tuple[SceneParams, np.ndarray, np.ndarray]:
    """``(params, image, mask)`` whose mask agrees with the label: a rip scene whose channel falls outside
    the camera's view (possible in aerial crops) is deterministically re-drawn."""
    for attempt in range(max_attempts):
        params = scene_for(seed, index, rip, view, attempt)
        image, mask = SceneCamera(params, width, height).render(t)
        if not rip or mask.mean() >= MIN_VISIBLE_RIP:
            break
    return params, image, mask


def rip_labels(n: int, fraction: float, seed: int) -> np.ndarray:
    """Exactly ``round(n * fraction)`` rip scenes, at seeded positions."""
    order = np.random.default_rng([seed, 7]).permutation(n)
    return order < round(n * fraction)


def _write_atomic(path: Path, image: np.ndarray, params: list[int] | None = None) -> None:
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if not cv2.imwrite(str(tmp), bgr, params or []):
        raise OSError(f"could not write {path}")
    tmp.replace(path)


def generate_images(request: SynthRequest, progress: ProgressFn | None = None) -> dict:
    """Images in ``rip/`` and ``no_rip/``, masks in ``masks/``, ``manifest.csv`` and ``scenes.jsonl``."""
    out = request.out_dir
    for folder in ("rip", "no_rip", "masks"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    labels = rip_labels(request.n, request.rip_fraction, request.seed)
    made = skipped = 0
    rows, scenes = [], []
    scenes_before = _read_scenes(out / "scenes.jsonl")
    for index in range(request.n):
        rip = bool(labels[index])
        name = f"synth_{request.seed}_{index:06d}"
        image_path = out / ("rip" if rip else "no_rip") / f"{name}.jpg"
        mask_path = out / "masks" / f"{name}.png"
        if image_path.exists() and mask_path.exists():
            params = _params_of(scenes_before, image_path, out) or scene_for(request.seed, index, rip, request.view)
            skipped += 1
        else:
            params, image, mask = labelled_scene(request.seed, index, rip, request.view, request.width,
                                                 request.height, t=index % 17)
            _write_atomic(mask_path, mask.astype(np.uint8) * 255)
            _write_atomic(image_path, image, [cv2.IMWRITE_JPEG_QUALITY, 90])  # the image is written last
            made += 1
        rows.append({"path": str(image_path.relative_to(out)), "label": "rip" if rip else "no_rip",
                     "mask": str(mask_path.relative_to(out)), "view": params.view, "n_rips": len(params.rips),
                     "seed": params.seed})
        scenes.append({"path": rows[-1]["path"], **params.to_dict()})
        if progress:
            progress(index + 1, request.n)
    _write_manifest(out / "manifest.csv", rows)
    (out / "scenes.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scenes))
    return {"images_written": made, "images_skipped": skipped, "n": request.n}


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
    from ripdetect.synth.scene import RipParams

    record = scenes.get(str(image_path.relative_to(out)))
    if record is None:
        return None
    return SceneParams(**{**record, "rips": [RipParams(**r) for r in record.get("rips", [])]})


def _write_manifest(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def rip_schedule(rng: np.random.Generator, rip: bool, duration_s: float) -> tuple[float, float]:
    """(on, off) seconds of the rip in a clip; some rip clips start or end without it."""
    if not rip:
        return duration_s + 1, duration_s + 1
    on = rng.uniform(0, 0.35) * duration_s if rng.random() < 0.4 else 0.0
    off = rng.uniform(0.7, 1.0) * duration_s if rng.random() < 0.3 else duration_s + 1
    return on, off


def generate_clips(request: SynthRequest, progress: ProgressFn | None = None) -> dict:
    """``clips/clip_K.mp4`` with ``clip_K_labels.csv`` (frame, time_s, rip, mask area) and ``clip_K_masks.npz``."""
    from ripdetect.video_io import VideoWriter

    out = request.out_dir / "clips"
    out.mkdir(parents=True, exist_ok=True)
    labels = rip_labels(request.clips, request.rip_fraction, request.seed + 1)
    n_frames = max(1, round(request.clip_seconds * request.fps))
    made = skipped = 0
    for clip in range(request.clips):
        video_path = out / f"clip_{request.seed}_{clip:03d}.mp4"
        labels_path = video_path.with_name(video_path.stem + "_labels.csv")
        if video_path.exists() and labels_path.exists():
            skipped += 1
            continue
        params, _, _ = labelled_scene(request.seed + 1_000_003, clip, bool(labels[clip]), request.view,
                                      request.width, request.height)
        camera = SceneCamera(params, request.width, request.height)
        on, off = rip_schedule(np.random.default_rng(params.seed), bool(labels[clip]), request.clip_seconds)
        masks, rows = [], []
        with VideoWriter(video_path, request.fps) as writer:
            for frame in range(n_frames):
                t = frame / request.fps
                level = float(np.clip(min(t - on, off - t) + 0.5, 0, 1))  # one-second ramps in and out
                image, mask = camera.render(t, rip_level=level)
                writer.write(image)
                masks.append(np.packbits(mask))
                rows.append({"frame": frame, "time_s": round(t, 4), "rip": int(mask.any()),
                             "mask_area": round(float(mask.mean()), 5)})
        np.savez_compressed(video_path.with_name(video_path.stem + "_masks.npz"), packed=np.stack(masks),
                            shape=np.array(mask.shape))
        _write_manifest(labels_path, rows)  # the labels file is the completion marker
        made += 1
        if progress:
            progress(clip + 1, request.clips)
    return {"clips_written": made, "clips_skipped": skipped, "frames_per_clip": n_frames}


def load_clip_masks(npz_path: str | Path) -> np.ndarray:
    """Per-frame boolean masks (frames, H, W) of a synthetic clip."""
    data = np.load(npz_path)
    height, width = (int(v) for v in data["shape"])
    return np.unpackbits(data["packed"], axis=1)[:, : height * width].reshape(-1, height, width).astype(bool)
