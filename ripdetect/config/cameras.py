"""How ``ripdetect watch`` follows its cameras, and where each camera's alerts go."""

from __future__ import annotations

from dataclasses import dataclass

from ripdetect.config.knobs import check_field, knob, validate_fields


@dataclass(frozen=True)
class AlertConfig:
    """Where a camera's alerts go (an event starting and ending), and how often."""

    webhook: str | None = knob(None, "URL that receives each alert as a JSON POST", none_means="none")
    command: str | None = knob(None, "command run for each alert, with the alert JSON on its stdin (run through "
                                     "the shell)", none_means="none")
    min_interval_s: float = knob(600.0, "least time between two start alerts of one camera; events in between are "
                                        "recorded but not alerted", low=0.0, high=7 * 86_400.0)
    max_attempts: int = knob(8, "tries per alert before it is given up (the wait doubles from 1 s)", low=1, high=1000)
    timeout_s: float = knob(10.0, "seconds a webhook call or the command may take", low=0.1, high=600.0)
    snapshot: bool = knob(True, "attach the frame with its overlay (base64 JPEG) to the alert")

    def __post_init__(self) -> None:
        validate_fields(self)
        if self.webhook is not None:
            check_field(isinstance(self.webhook, str) and self.webhook.startswith(("http://", "https://")), "webhook",
                        self.webhook, "an http:// or https:// URL")
        if self.command is not None:
            check_field(isinstance(self.command, str) and bool(self.command.strip()), "command", self.command,
                        "a command line")


@dataclass(frozen=True)
class WatchConfig:
    """How ``ripdetect watch`` follows its cameras."""

    keep_days: float = knob(7.0, "days of clip results kept (older ones are removed)", low=0.0, high=36_500.0,
                            low_exclusive=True)
    reconnect_min_s: float = knob(1.0, "first wait before reconnecting a lost stream (it doubles up to "
                                       "--reconnect-max-s)", low=0.01, high=3600.0)
    reconnect_max_s: float = knob(60.0, "longest wait between reconnection attempts", low=0.01, high=86_400.0)
    stall_s: float = knob(20.0, "a stream that delivers nothing for this long is dropped and reconnected", low=0.5,
                          high=3600.0)
    event_gap_s: float = knob(300.0, "an event open when a camera went down (or the watcher stopped) continues if "
                                     "the camera comes back within this long still showing the rip; otherwise it "
                                     "ends at the last frame seen", low=0.0, high=86_400.0)
    snapshot_s: float = knob(5.0, "seconds between updates of a camera's latest frame (latest.jpg)", low=0.1,
                             high=3600.0)
    folder_poll_s: float = knob(30.0, "seconds between looks for new videos in a folder source", low=0.1,
                                high=86_400.0)
    queue_max: int = knob(200, "frames kept per camera in its labelling queue (CAMERA/queue/: frames worth an "
                               "operator's label, for ripdetect adapt); 0 keeps none", low=0, high=100_000)
    queue_margin: float = knob(0.1, "a frame this close to the threshold is unsure, and worth a label", low=0.0,
                               high=0.5)
    queue_gap_s: float = knob(60.0, "least time between two unsure frames queued from one camera", low=0.0,
                              high=86_400.0)
    queue_calm_every_s: float = knob(600.0, "one ordinary calm frame is queued in each period this long", low=1.0,
                                     high=86_400.0)

    def __post_init__(self) -> None:
        validate_fields(self)
        check_field(self.reconnect_max_s >= self.reconnect_min_s, "reconnect_max_s", self.reconnect_max_s,
                    f"at least reconnect_min_s ({self.reconnect_min_s:g})")
