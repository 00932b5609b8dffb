"""The app's Cameras tab: what ``ripdetect watch`` is seeing, read from its ``--out`` folder (the state database,
opened read-only, and each camera's ``latest.jpg``). Nothing here analyses or writes anything there."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ripdetect import records
from ripdetect.cameras.clips import iso_time
from ripdetect.cameras.database import STATE_NAME, StateStore
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.errors import RipdetectError
from ripdetect.decision import STATE_WORDS, applied_threshold, video_thresholds
from ripdetect.inference.backends import model_threshold
from ripdetect.viz.plots import plot_timeline

EVENT_HEADERS = ["start", "end", "duration_s", "peak_prob", "alerted"]
MAX_TIMELINE_POINTS = 4000  # a day's timeline is thinned to about this many points
STALE_S = 60.0  # an 'up' camera without a frame for this long is shown as down (its watcher is gone)


def silent_s(profile: CameraProfile, row: dict, now: float) -> float | None:
    """How long a camera the watcher last recorded as up has gone without a frame, when that is longer than its
    sampling explains (``STALE_S``, or three sampling intervals): the watcher no longer follows it. Else None.
    Streams only: a file's frames carry the file's own time."""
    if row["status"] != "up" or not profile.live:
        return None
    age = now - (row["last_frame"] if row["last_frame"] is not None else row["since"])
    return age if age > max(STALE_S, 3 / profile.video.sample_fps) else None


def _readable_image(path: Path) -> bool:
    """A JPEG or PNG that can be shown (a broken link or a damaged file shows no frame instead of failing)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4)[:2] in (b"\xff\xd8", b"\x89P")
    except OSError:
        return False


class CameraBoard:
    def __init__(self, profiles: list[CameraProfile], watch_dir: str | Path):
        self.profiles, self.watch_dir = profiles, Path(watch_dir)

    def state_word(self, row: dict | None, silent_s: float | None = None) -> str:
        """clear / possible rip / RIP CURRENT / down (or waiting, before the watcher has seen the camera)."""
        if row is None:
            return "waiting for the watcher"
        if row["status"] == "down" or silent_s is not None:
            return "down"
        word = STATE_WORDS.get(row["state"] or "", "starting")
        return f"{word} (files finished)" if row["status"] == "finished" else word

    def view(self, profile: CameraProfile, store: StateStore | None, rows: dict, folder: Path,
             problem: str | None = None) -> list:
        """[status Markdown, latest frame path, last events, today's timeline PNG path] of one camera."""
        row = rows.get(profile.name)
        silent = None if row is None else silent_s(profile, row, time.time())
        lines = [f"### {profile.name}: **{self.state_word(row, silent)}**"]
        if problem:
            lines.append(problem)
        if silent is not None:
            lines.append(f"no frame for {silent:.0f} s: is ripdetect watch running?")
        elif row is not None:
            age = "" if row["last_frame"] is None else f" · last frame {time.time() - row['last_frame']:.0f} s ago"
            lines.append(f"{row['status']}: {row['detail']}{age}")
        latest = self.watch_dir / profile.name / "latest.jpg"
        latest = latest if latest.is_file() and _readable_image(latest) else None
        events = [] if store is None else [
            [iso_time(e["start_wall"]), "open" if e["open"] else iso_time(e["end_wall"]),
             records.tenths(e["end_wall"] - e["start_wall"]), records.prob(e["peak_prob"]), bool(e["alerted"])]
            for e in store.recent_events(profile.name, 10)]
        timeline = None if store is None else self.today_timeline(profile, store, folder)
        return ["\n\n".join(lines), None if latest is None else str(latest), events, timeline]

    def refresh(self, folder: Path) -> list:
        """Every camera's view, flattened in profile order (the tab's outputs); images are drawn into ``folder``. A
        state database that cannot be read, or one camera whose files cannot, shows as that camera's problem in
        one line (without the server's paths); the other cameras are shown."""
        path = self.watch_dir / STATE_NAME
        store, problem, rows = None, None, {}
        try:
            store = StateStore(path, read_only=True) if path.exists() else None
            rows = store.cameras() if store is not None else {}
        except RipdetectError as exc:
            store, problem = None, f"the watcher's state cannot be read: {exc.reason}"
        try:
            views = []
            for profile in self.profiles:
                try:
                    views += self.view(profile, store, rows, folder, problem)
                except (RipdetectError, OSError) as exc:
                    reason = exc.reason if isinstance(exc, RipdetectError) else (exc.strerror or type(exc).__name__)
                    views += [f"### {profile.name}: **cannot be shown**\n\n{reason}", None, [], None]
            return views
        finally:
            if store is not None:
                store.close()

    def today_timeline(self, profile: CameraProfile, store: StateStore, folder: Path) -> str | None:

        midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
        frames = store.frames_since(profile.name, midnight)
        if not frames:
            return None
        frames = frames[:: max(1, len(frames) // MAX_TIMELINE_POINTS)]
        rows = [{"time_s": (f["wall"] - midnight) / 3600, "prob_rip": f["prob"],
                 "aggregated_prob": f["aggregated_prob"], "state": f["state"]} for f in frames]
        events = [{"start_s": (e["start_wall"] - midnight) / 3600, "end_s": (e["end_wall"] - midnight) / 3600}
                  for e in store.recent_events(profile.name, 200) if e["end_wall"] >= midnight]
        on, off = self.thresholds(profile, store)
        return str(plot_timeline(rows, events, on, off, folder / f"{profile.name}_today.png", xlabel="hour of the day",
                                 xlim=(0, 24)))

    def thresholds(self, profile: CameraProfile, store: StateStore) -> tuple[float, float]:
        """The camera's (on, off) thresholds as its latest clip used them, else as its profile and its own model
        give them."""
        clips = store.clips(profile.name)
        if clips:
            summary_path = self.watch_dir / clips[-1]["folder"] / "summary.json"
            try:
                summary = json.loads(summary_path.read_text())
                return summary["on_threshold"], summary["off_threshold"]
            except (OSError, ValueError, KeyError):
                pass
        threshold = applied_threshold(profile.inference.threshold, model_threshold(profile.model))
        return video_thresholds(profile.video, threshold)
