"""Camera profiles: one YAML or JSON file describing many fixed cameras, read by ``ripdetect predict``, ``video``,
``watch`` and the app.

.. code-block:: yaml

    alerts:                                  # optional, for every camera (each may have its own)
      webhook: http://127.0.0.1:9000/rip
      min_interval_s: 600
    cameras:
      - name: north-beach                    # letters, digits, '.', '-' and '_': also its folder name
        source: rtsp://192.0.2.10/stream     # a file, a folder of videos, rtsp/http(s) (MJPEG, HLS) or /dev/video0
        roi: [[[0.0, 0.45], [1.0, 0.40], [1.0, 1.0], [0.0, 1.0]]]   # where rips can be: x, y in 0..1
        model: runs/north/model.safetensors  # optional: its own checkpoint (default: the embedded model)
        video: {sample_fps: 2, clip_minutes: 10, on_threshold: 0.4}   # any VideoConfig field
        inference: {cam_threshold: 0.5}      # any InferenceConfig field

Relative paths (a file or folder source, a model) are taken from the profile's folder. Every error is one line
naming the file, the camera and the field: a polygon outside 0..1 or with fewer than 3 points, an unknown key, a
value out of range.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ripdetect.config import (AlertConfig, InferenceConfig, VideoConfig, from_dict, read_data_file, shown, to_dict,
                              yaml_text)
from ripdetect.errors import ConfigError
from ripdetect.files import write_text
from ripdetect.inference.roi import Roi
from ripdetect.video.io import is_stream

FOLDER_ENDINGS = ("/", "\\")  # a source written with one is a folder, even before it exists

CAMERA_KEYS = ("name", "source", "roi", "model", "video", "inference", "alerts")
FILE_KEYS = ("cameras", "alerts")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_CAMERAS = 256  # one watcher process; each camera is a thread, a folder and a decoder


@dataclass(frozen=True)
class CameraProfile:
    name: str
    source: str
    roi: Roi | None = None
    model: str | None = None
    video: VideoConfig = field(default_factory=VideoConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)

    @property
    def kind(self) -> str:
        """``stream`` (a URL or a device: live), ``folder`` (videos, watched for new ones) or ``file``."""
        if is_stream(self.source):
            return "stream"
        return "folder" if Path(self.source).is_dir() or self.source.endswith(FOLDER_ENDINGS) else "file"

    @property
    def live(self) -> bool:
        return self.kind == "stream"

    def to_dict(self) -> dict[str, Any]:
        """The profile as it is written in a file: only what differs from the defaults."""
        record: dict[str, Any] = {"name": self.name, "source": self.source}
        if self.roi is not None:
            record["roi"] = self.roi.to_list()
        if self.model:
            record["model"] = self.model
        for key, value, default in (("video", self.video, VideoConfig()),
                                    ("inference", self.inference, InferenceConfig()),
                                    ("alerts", self.alerts, AlertConfig())):
            changed = {k: v for k, v in to_dict(value).items() if v != to_dict(default)[k]}
            if changed:
                record[key] = changed
        return record


def load_profiles(path: str | Path) -> list[CameraProfile]:
    """Every camera in a profile file, validated; ``ConfigError`` (one line: file, camera, field) otherwise."""
    path = Path(path)
    data = read_data_file(path)
    where = str(path)
    if isinstance(data, list):
        data = {"cameras": data}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with a 'cameras' list")
    _refuse_unknown(data, FILE_KEYS, where)
    cameras = data.get("cameras")
    if not isinstance(cameras, list) or not cameras:
        raise ConfigError(f"{where}: 'cameras' must be a non-empty list of cameras")
    if len(cameras) > MAX_CAMERAS:
        raise ConfigError(f"{where}: {len(cameras)} cameras; one watcher follows at most {MAX_CAMERAS} (split them "
                          "over several profile files and watchers)")
    shared_alerts = data.get("alerts") or {}
    if not isinstance(shared_alerts, dict):
        raise ConfigError(f"{where}: 'alerts' must be a mapping")
    profiles = [parse_camera(entry, index, where, path.parent, shared_alerts) for index, entry in enumerate(cameras)]
    seen: set[str] = set()
    for profile in profiles:
        if profile.name in seen:
            raise ConfigError(f"{where}: camera '{profile.name}': name: used by two cameras")
        seen.add(profile.name)
    return profiles


def parse_camera(entry: Any, index: int, where: str, base: Path | None = None,
                 shared_alerts: dict | None = None) -> CameraProfile:
    """One camera's mapping -> ``CameraProfile``; errors name ``where``, the camera and the field."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: cameras[{index}]: expected a mapping, got {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"{where}: cameras[{index}]: name: {shown(name)} is not a camera name (1 to 64 letters, digits, "
                          "'.', '-' or '_', starting with a letter or digit)")
    camera = f"{where}: camera '{name}'"
    _refuse_unknown(entry, CAMERA_KEYS, camera)
    source = entry.get("source")
    if isinstance(source, int) and not isinstance(source, bool):
        source = str(source)  # a device number
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{camera}: source: expected a file, folder, stream URL or device, got {shown(source)}")
    model = entry.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ConfigError(f"{camera}: model: expected a checkpoint path, got {shown(model)}")
    return CameraProfile(
        name=name, source=_resolve(source.strip(), base),
        roi=None if entry.get("roi") is None else Roi.parse(entry["roi"], f"{camera}: roi"),
        model=None if model is None else _resolve(model.strip(), base),
        video=from_dict(VideoConfig, _section(entry, "video", camera), f"{camera}: video"),
        inference=from_dict(InferenceConfig, _section(entry, "inference", camera), f"{camera}: inference"),
        alerts=from_dict(AlertConfig, {**(shared_alerts or {}), **_section(entry, "alerts", camera)},
                         f"{camera}: alerts"))


def find_camera(profiles: list[CameraProfile], name: str, where: str = "--cameras") -> CameraProfile:
    for profile in profiles:
        if profile.name == name:
            return profile
    raise ConfigError(f"{where}: no camera named '{name}'; cameras: {', '.join(p.name for p in profiles)}")


def profiles_yaml(profiles: list[CameraProfile]) -> str:
    """A profile file's text (YAML) for ``profiles``, as ``load_profiles`` reads it back."""
    body = yaml_text({"cameras": [p.to_dict() for p in profiles]})
    return "# ripdetect camera profiles: ripdetect watch --cameras FILE --out DIR\n" + body


def set_camera_model(path: str | Path, camera: str, model: str | Path) -> Path:
    """Point ``camera`` of the profile file at ``model`` (``model:``), changing nothing else in its settings. The file
    is rewritten atomically (its comments do not survive), after a copy of it is kept beside it
    (``<name>.before-adapt[-N]<suffix>``, never replacing a file); returns that copy's path."""
    path = Path(path)
    data = read_data_file(path)
    entries = data if isinstance(data, list) else data.get("cameras", []) if isinstance(data, dict) else []
    entry = next((e for e in entries if isinstance(e, dict) and e.get("name") == camera), None)
    if entry is None:
        raise ConfigError(f"{path}: no camera named '{camera}'")
    model = Path(model).resolve()
    entry["model"] = str(model.relative_to(path.parent.resolve())) if model.is_relative_to(path.parent.resolve()) \
        else str(model)
    backup = next(candidate for n in range(1, 10_000)
                  if not (candidate := path.with_name(f"{path.stem}.before-adapt{'' if n == 1 else f'-{n}'}{path.suffix}"))
                  .exists())
    shutil.copy2(path, backup)
    text = (yaml_text(data) if path.suffix.lower() in (".yaml", ".yml")
            else json.dumps(data, indent=2) + "\n")
    write_text(path, text)
    return backup


def _section(entry: dict, key: str, camera: str) -> dict:
    value = entry.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{camera}: {key}: expected a mapping of settings, got {type(value).__name__}")
    return value


def _refuse_unknown(data: dict, known: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(known)}")


def _resolve(value: str, base: Path | None) -> str:
    """A relative file or folder path taken from ``base`` (URLs and devices stay as they are)."""
    if base is None or is_stream(value) or Path(value).is_absolute():
        return value
    return str(base / value) + ("/" if value.endswith(FOLDER_ENDINGS) else "")  # "recordings/" stays a folder
