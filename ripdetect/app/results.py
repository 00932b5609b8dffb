"""Per-request folders for the app's result files. Gradio copies every file a handler returns into its own
cache before the response goes out, so ours are only needed for a short while: each is removed ``ttl_s`` after
its results are ready (``ready``; at once when the request fails), and every remaining one when the app shuts
down. The countdown starts when the results are ready, so a slow request never loses a folder it is still
writing."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path


class ResultFolders:
    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._timers: dict[Path, threading.Timer | None] = {}
        self._lock = threading.Lock()

    def new(self, kind: str) -> Path:
        """A fresh folder ``ripdetect-<kind>-*`` in the system's temporary folder (kept until ``ready``)."""
        folder = Path(tempfile.mkdtemp(prefix=f"ripdetect-{kind}-"))
        with self._lock:
            self._timers[folder] = None
        return folder

    def ready(self, folder: Path) -> Path:
        """The request's results are written: remove ``folder`` ``ttl_s`` from now."""
        timer = threading.Timer(self.ttl_s, self.remove, [folder])
        timer.daemon = True
        with self._lock:
            self._timers[folder] = timer
        timer.start()
        return folder

    def remove(self, folder: Path) -> None:
        with self._lock:
            timer = self._timers.pop(folder, None)
        if timer is not None:
            timer.cancel()
        shutil.rmtree(folder, ignore_errors=True)

    def remove_all(self) -> None:
        with self._lock:
            folders = list(self._timers)
        for folder in folders:
            self.remove(folder)

    def __len__(self) -> int:
        return len(self._timers)
