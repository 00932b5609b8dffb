"""Prometheus metrics per camera and the ``/metrics`` + ``/healthz`` endpoints of ``ripdetect watch``.

The metrics live in a registry of their own (prometheus-client), so several watchers can run in one process
(the tests do). ``/healthz`` answers 200 when every camera is up (or has finished its files) and 503 otherwise,
with each camera's status, the age of its last frame and its state as JSON.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ripdetect.errors import RipdetectError, require_extra

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class WatchMetrics:
    def __init__(self, cameras: list[str]):
        require_extra("prometheus_client", "watch", "ripdetect watch")
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        labels = ["camera"]
        self.frames = Counter("ripdetect_frames_analysed", "Frames analysed", labels, registry=self.registry)
        self.latency = Histogram("ripdetect_frame_latency_seconds", "Seconds from decoding a frame to its settled "
                                 "result (a possible rip is held until it is decided)", labels,
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.prob = Gauge("ripdetect_rip_probability", "p(rip) of the latest analysed frame", labels,
                          registry=self.registry)
        self.window_prob = Gauge("ripdetect_rip_probability_window", "Window mean of p(rip) (the decision's input)",
                                 labels, registry=self.registry)
        self.events = Counter("ripdetect_events", "Rip events started", labels, registry=self.registry)
        self.up = Gauge("ripdetect_stream_up", "1 while the camera delivers frames (or has finished its files), "
                        "0 while it is down", labels, registry=self.registry)
        self.disconnects = Counter("ripdetect_stream_down", "Times the camera went down", labels,
                                   registry=self.registry)
        self.clips = Counter("ripdetect_clips", "Clip results published", labels, registry=self.registry)
        self.errors = Counter("ripdetect_camera_errors", "Unexpected errors the camera recovered from", labels,
                              registry=self.registry)
        self.alerts = Counter("ripdetect_alerts_sent", "Alerts delivered", ["camera", "kind", "channel"],
                              registry=self.registry)
        self.alert_failures = Counter("ripdetect_alerts_failed", "Alerts given up after every retry",
                                      ["camera", "kind", "channel"], registry=self.registry)
        for camera in cameras:  # every series exists from the start
            for metric in (self.frames, self.prob, self.window_prob, self.events, self.up, self.disconnects,
                           self.clips, self.errors):
                metric.labels(camera)
            self.latency.labels(camera)

    def alert_outcome(self, camera: str, kind: str, channel: str, ok: bool) -> None:
        (self.alerts if ok else self.alert_failures).labels(camera, kind, channel).inc()

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class HealthServer:
    """``/metrics`` and ``/healthz`` on ``host:port`` (port 0: a free one, see ``port``), in a thread."""

    def __init__(self, metrics: WatchMetrics, health: Callable[[], dict], host: str = "127.0.0.1", port: int = 0):
        handler = _handler(metrics, health)
        try:
            self.server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise RipdetectError(f"cannot serve /metrics on {host}:{port}: {exc.strerror or exc}") from None
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="ripdetect-metrics")

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", *self.server.server_address[:2])
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(metrics: WatchMetrics, health: Callable[[], dict]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            path = self.path.split("?")[0]
            if path == "/metrics":
                body, content_type = metrics.exposition()
                self._answer(200, body, content_type)
            elif path == "/healthz":
                report = health()
                self._answer(200 if report["status"] == "ok" else 503, json.dumps(report).encode(),
                             "application/json")
            else:
                self._answer(404, b"ripdetect watch serves /metrics and /healthz\n", "text/plain")

        def _answer(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the http.server signature
            log.debug("metrics server: " + format, *args)

    return Handler
