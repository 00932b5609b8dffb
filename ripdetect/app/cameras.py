"""The app's Cameras tab: what ``ripdetect watch`` is seeing, read from its ``--out`` folder (the state database,
opened read-only, and each camera's ``latest.jpg``). Nothing here analyses or writes anything there."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ripdetect import records
from ripdetect.cameras.database import STATE_NAME, StateStore
from ripdetect.cameras.profiles import CameraProfile
from ripdetect.errors import RipdetectError
from ripdetect.decision import STATE_WORDS, applied_threshold, video_thresholds
from ripdetect.inference.backends import video_threshold_of
from ripdetect.viz.plots import plot_timeline

EVENT_HEADERS = ["when", "duration_s", "peak_prob", "alert"]
STATE_MARKS = {"RIP CURRENT": "🔴", "possible rip": "🟠", "no rip": "🟢", "down": "⚫"}  # colour without HTML
MAX_TIMELINE_POINTS = 4000  # a day's timeline is thinned to about this many points
MIN_TIMELINE_H = 0.25  # today's timeline spans the hours that have frames, at least this many
STALE_S = 60.0  # an 'up' camera without a frame for this long is shown as down (its watcher is gone)


def silent_s(profile: CameraProfile, row: dict, now: float) -> float | None:
    """How long a camera the watcher last recorded as up has gone without a frame, when that is longer than its
    sampling explains (``STALE_S``, or three sampling intervals): the watcher no longer follows it. Else None.
    Streams only: a file's frames carry the file's own time."""
    if row["status"] != "up" or not profile.live:
        return None
    age = now - (row["last_frame"] if row["last_frame"] is not None else row["since"])
    return age if age > max(STALE_S, 3 / profile.video.sample_fps) else None


def _clock(wall: float) -> str:
    """A wall-clock time as the local clock shows it: ``14:03:12``, with the date when not today."""
    moment = time.localtime(wall)
    same_day = moment[:3] == time.localtime()[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", moment)


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
        """RIP CURRENT / possible rip / no rip / down, marked by colour (or waiting, before the watcher has seen the
        camera; ``all files analysed`` once a file camera is done: its last state is over, its events say the rest)."""
        if row is None:
            return "waiting for the watcher"
        if row["status"] == "down" or silent_s is not None:
            word = "down"
        elif row["status"] == "finished":
            return "✔ all files analysed"
        else:
            word = STATE_WORDS.get(row["state"] or "", "starting")
        return f"{STATE_MARKS.get(word, '')} {word}".strip()

    def event_row(self, profile: CameraProfile, event: dict) -> list:
        """[when, duration_s, peak_prob, alert] of one event: a stream's by the local clock (the date when not today), a
        file's by its place in the file; the alert as sent, not sent, or why there was none."""
        if event["live"]:
            when = f"{_clock(event['start_wall'])} – {'ongoing' if event['open'] else _clock(event['end_wall'])}"
        else:
            when = f"{Path(event['source']).name} {event['start_s']:.1f}–{event['end_s']:.1f} s"
        if event["alerted"]:
            alert = "sent"
        elif profile.alerts.webhook is None and profile.alerts.command is None:
            alert = "none: no alert channel configured"
        else:
            alert = "not sent (within min_interval_s of the last, or failed: see the watcher's log)"
        return [when, records.tenths(event["end_wall"] - event["start_wall"]), records.prob(event["peak_prob"]), alert]

    def view(self, profile: CameraProfile, store: StateStore | None, rows: dict, folder: Path,
             problem: str | None = None) -> list:
        """[status Markdown, latest frame path, last events, today's timeline PNG path] of one camera."""
        row = rows.get(profile.name)
        silent = None if row is None else silent_s(profile, row, time.time())
        lines = [f"### {profile.name}: **{self.state_word(row, silent)}**", f"model: {self.model_name(profile)}"]
        if problem:
            lines.append(problem)
        if silent is not None:
            lines.append(f"no frame for {silent:.0f} s: is ripdetect watch running?")
        elif row is not None:
            age = "" if row["last_frame"] is None or not profile.live else \
                f" · last frame {time.time() - row['last_frame']:.0f} s ago"  # a file's frames carry the file's time
            lines.append(f"{row['status']}: {row['detail']}{age}")
        latest = self.watch_dir / profile.name / "latest.jpg"
        latest = latest if latest.is_file() and _readable_image(latest) else None
        events = [] if store is None else [self.event_row(profile, e) for e in store.recent_events(profile.name, 10)]
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
        first, last = rows[0]["time_s"], rows[-1]["time_s"]
        pad = max(MIN_TIMELINE_H - (last - first), 0) / 2 + 0.02 * (last - first)  # a short run is not a hairline
        return str(plot_timeline(rows, events, on, off, folder / f"{profile.name}_today.png", xlabel="hour of the day",
                                 xlim=(max(0.0, first - pad), min(24.0, last + pad))))

    @staticmethod
    def model_name(profile: CameraProfile) -> str:
        """Which model a camera runs: its own checkpoint's file name, or the embedded default."""
        return f"`{Path(profile.model).name}` (the camera's own)" if profile.model else "the embedded default"

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
        threshold = applied_threshold(profile.inference.threshold, video_threshold_of(profile.model))
        return video_thresholds(profile.video, threshold)
