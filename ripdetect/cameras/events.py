"""Events of a live source as they happen: settled frame states in, starts and ends out. Pure, no I/O.

The frames come from ``VideoAnalysis`` with their settled state, so an event here is exactly a run of ``rip``
frames: it starts at the first crossing of the on threshold (known once the minimum event duration has passed)
and ends at the last frame before the window mean fell below the off threshold.
"""

from __future__ import annotations

import numpy as np

from ripdetect.video.aggregate import Event


class EventTracker:
    def __init__(self) -> None:
        self.open: Event | None = None
        self.closed: list[Event] = []

    def push(self, time_s: float, prob: float, state: str, cam: np.ndarray | None = None) -> tuple[str, Event] | None:
        """``("start", event)`` on the first ``rip`` frame of a run, ``("end", event)`` on the first frame after
        it, else ``None``."""
        if state == "rip":
            if self.open is None:
                self.open = Event.starting(time_s, prob, cam)
                return "start", self.open
            self.open.add(time_s, prob, cam)
            return None
        if self.open is not None:
            return "end", self.close()
        return None

    def close(self) -> Event | None:
        """End the open event (the source ended); ``None`` when none is open."""
        event, self.open = self.open, None
        if event is not None:
            self.closed.append(event)
        return event

    @property
    def events(self) -> list[Event]:
        """Every event so far, the open one last."""
        return self.closed + ([self.open] if self.open is not None else [])
