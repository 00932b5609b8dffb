"""The watcher's state in SQLite (``state.sqlite`` in ``--out``): each camera's status, its analysed frames (for
today's timeline), events, alerts (an outbox: pending, sent, failed or suppressed), published clips and the files
already processed. A restart reads it back, so it continues without duplicate alerts. The database is in WAL mode,
so the app can read it while the watcher writes; every write here is one short transaction under a lock.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ripdetect.errors import RipdetectError, first_line

STATE_NAME = "state.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS cameras (name TEXT PRIMARY KEY, status TEXT, detail TEXT, since REAL, last_frame REAL,
    prob REAL, aggregated_prob REAL, state TEXT);
CREATE TABLE IF NOT EXISTS frames (camera TEXT, wall REAL, prob REAL, aggregated_prob REAL, state TEXT);
CREATE INDEX IF NOT EXISTS frames_by_camera ON frames (camera, wall);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, camera TEXT, key TEXT UNIQUE, source TEXT, live INTEGER,
    start_wall REAL, end_wall REAL, start_s REAL, end_s REAL, peak_prob REAL, mean_prob REAL, open INTEGER,
    alerted INTEGER);
CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, camera TEXT, event_id INTEGER, kind TEXT, channel TEXT,
    status TEXT, created REAL, attempts INTEGER DEFAULT 0, next_try REAL, sent_at REAL, last_error TEXT, payload TEXT,
    UNIQUE (event_id, kind, channel));
CREATE TABLE IF NOT EXISTS clips (key TEXT PRIMARY KEY, camera TEXT, start_wall REAL, end_wall REAL, folder TEXT,
    rip_detected INTEGER, max_prob REAL, n_frames INTEGER, complete INTEGER);
CREATE TABLE IF NOT EXISTS files (camera TEXT, identity TEXT, path TEXT, done_at REAL, error TEXT,
    PRIMARY KEY (camera, identity));
"""
SCHEMA_COLUMNS = {"cameras": ("name", "status", "detail", "since", "last_frame", "prob", "aggregated_prob", "state"),
                  "events": ("id", "camera", "key", "open", "alerted"),
                  "alerts": ("id", "camera", "event_id", "kind", "channel", "status", "payload"),
                  "clips": ("key", "camera", "folder", "complete"), "files": ("camera", "identity", "path")}


class StateStore:
    """One connection, shared by the watcher's threads under a lock. ``read_only`` opens it for readers (the app)."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        if self.path.is_dir():
            raise RipdetectError(f"{STATE_NAME} is a folder, not the watcher's state database", self.path)
        try:
            if read_only:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                           timeout=10)
            else:
                self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(SCHEMA)
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise RipdetectError(f"the watcher's state database is damaged or of another kind ({first_line(exc)}); "
                                 "move it aside to start a new one (its events and pending alerts are then "
                                 "forgotten)", self.path) from None
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self.closed = False

    def _check_schema(self) -> None:
        """Every table has the columns this version writes (an older watcher's database is refused in one line)."""
        for table, columns in SCHEMA_COLUMNS.items():
            found = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            missing = [c for c in columns if c not in found]
            if found and missing:
                raise sqlite3.DatabaseError(f"table {table} lacks {', '.join(missing)}: written by another version")

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._db.close()

    def _write(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        try:
            with self._lock, self._db:
                return self._db.execute(sql, tuple(params))
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _read(self, sql: str, params: Iterable = ()) -> list[dict[str, Any]]:
        try:
            with self._lock:
                return [dict(row) for row in self._db.execute(sql, tuple(params)).fetchall()]
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: sqlite3.DatabaseError) -> RipdetectError:
        return RipdetectError(f"the watcher's state database cannot be used ({first_line(exc)})", self.path)

    # cameras and frames
    def set_status(self, camera: str, status: str, detail: str, wall: float) -> None:
        self._write("INSERT INTO cameras (name, status, detail, since) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET status = excluded.status, detail = excluded.detail, since = CASE WHEN "
                    "cameras.status = excluded.status THEN cameras.since ELSE excluded.since END",
                    (camera, status, detail, wall))

    def add_frames(self, rows: list[tuple[str, float, float, float, str]]) -> None:
        """``(camera, wall, prob, aggregated_prob, state)`` rows; each camera's latest also goes to ``cameras``."""
        if not rows:
            return
        latest = {row[0]: row for row in rows}
        with self._lock, self._db:
            self._db.executemany("INSERT INTO frames VALUES (?, ?, ?, ?, ?)", rows)
            self._db.executemany("UPDATE cameras SET last_frame = ?, prob = ?, aggregated_prob = ?, state = ? "
                                 "WHERE name = ?", [(w, p, a, s, c) for c, w, p, a, s in latest.values()])

    def cameras(self) -> dict[str, dict[str, Any]]:
        return {row["name"]: row for row in self._read("SELECT * FROM cameras")}

    def frames_since(self, camera: str, wall: float) -> list[dict[str, Any]]:
        return self._read("SELECT wall, prob, aggregated_prob, state FROM frames WHERE camera = ? AND wall >= ? "
                          "ORDER BY wall", (camera, wall))

    # events
    def event(self, key: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM events WHERE key = ?", (key,))
        return rows[0] if rows else None

    def event_by_id(self, event_id: int) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM events WHERE id = ?", (event_id,))
        return rows[0] if rows else None

    def open_events(self, camera: str) -> list[dict[str, Any]]:
        return self._read("SELECT * FROM events WHERE camera = ? AND open = 1 ORDER BY start_wall", (camera,))

    def add_event(self, camera: str, key: str, source: str, live: bool, start_wall: float, start_s: float,
                  peak_prob: float, mean_prob: float) -> int:
        cursor = self._write("INSERT INTO events (camera, key, source, live, start_wall, end_wall, start_s, end_s, "
                             "peak_prob, mean_prob, open, alerted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)",
                             (camera, key, source, int(live), start_wall, start_wall, start_s, start_s, peak_prob,
                              mean_prob))
        return int(cursor.lastrowid)

    def end_event(self, event_id: int, end_wall: float, end_s: float, peak_prob: float, mean_prob: float) -> None:
        self._write("UPDATE events SET open = 0, end_wall = ?, end_s = ?, peak_prob = MAX(peak_prob, ?), "
                    "mean_prob = ? WHERE id = ?", (end_wall, end_s, peak_prob, mean_prob, event_id))

    def extend_event(self, event_id: int, end_wall: float) -> None:
        self._write("UPDATE events SET end_wall = MAX(end_wall, ?) WHERE id = ?", (end_wall, event_id))

    def set_alerted(self, event_id: int, alerted: bool) -> None:
        self._write("UPDATE events SET alerted = ? WHERE id = ?", (int(alerted), event_id))

    def recent_events(self, camera: str, limit: int = 10) -> list[dict[str, Any]]:
        return self._read("SELECT * FROM events WHERE camera = ? ORDER BY start_wall DESC LIMIT ?", (camera, limit))

    # alerts (the outbox)
    def last_alerted_start(self, camera: str) -> float | None:
        rows = self._read("SELECT MAX(start_wall) AS wall FROM events WHERE camera = ? AND alerted = 1", (camera,))
        return rows[0]["wall"] if rows else None

    def add_alert(self, camera: str, event_id: int, kind: str, channel: str, payload: str, wall: float) -> bool:
        """Queue an alert; ``False`` when this event's alert of this kind was queued before (no duplicate)."""
        cursor = self._write("INSERT OR IGNORE INTO alerts (camera, event_id, kind, channel, status, created, "
                             "next_try, payload) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                             (camera, event_id, kind, channel, wall, wall, payload))
        return cursor.rowcount == 1

    def pending_alerts(self) -> list[dict[str, Any]]:
        return self._read("SELECT * FROM alerts WHERE status = 'pending' ORDER BY id")

    def alerts(self, camera: str | None = None) -> list[dict[str, Any]]:
        if camera is None:
            return self._read("SELECT * FROM alerts ORDER BY id")
        return self._read("SELECT * FROM alerts WHERE camera = ? ORDER BY id", (camera,))

    def alert_done(self, alert_id: int, status: str, attempts: int, wall: float, error: str | None = None) -> None:
        self._write("UPDATE alerts SET status = ?, attempts = ?, sent_at = ?, last_error = ? WHERE id = ?",
                    (status, attempts, wall if status == "sent" else None, error, alert_id))

    def alert_retry(self, alert_id: int, attempts: int, next_try: float, error: str) -> None:
        self._write("UPDATE alerts SET attempts = ?, next_try = ?, last_error = ? WHERE id = ?",
                    (attempts, next_try, error, alert_id))

    # clips and files
    def has_clip(self, key: str) -> bool:
        return bool(self._read("SELECT 1 FROM clips WHERE key = ?", (key,)))

    def clip(self, key: str) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM clips WHERE key = ?", (key,))
        return rows[0] if rows else None

    def add_clip(self, key: str, camera: str, start_wall: float, end_wall: float, folder: str, summary: dict) -> None:
        self._write("INSERT OR REPLACE INTO clips VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, camera, start_wall, end_wall, folder, int(summary["rip_detected"]), summary["max_prob"],
                     summary["n_frames"], int(summary["complete"])))

    def clips(self, camera: str, since: float = 0.0) -> list[dict[str, Any]]:
        return self._read("SELECT * FROM clips WHERE camera = ? AND start_wall >= ? ORDER BY start_wall",
                          (camera, since))

    def expired_clips(self, before: float) -> list[dict[str, Any]]:
        return self._read("SELECT * FROM clips WHERE end_wall < ?", (before,))

    def forget_before(self, before: float, clip_keys: list[str]) -> None:
        """Drop the records of removed clips, and frames and finished alerts older than ``before``."""
        with self._lock, self._db:
            self._db.executemany("DELETE FROM clips WHERE key = ?", [(key,) for key in clip_keys])
            self._db.execute("DELETE FROM frames WHERE wall < ?", (before,))
            self._db.execute("DELETE FROM alerts WHERE status != 'pending' AND created < ?", (before,))

    def done_files(self, camera: str) -> set[str]:
        return {row["identity"] for row in self._read("SELECT identity FROM files WHERE camera = ?", (camera,))}

    def add_file(self, camera: str, identity: str, path: str, error: str | None) -> None:
        self._write("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)", (camera, identity, path, time.time(), error))
