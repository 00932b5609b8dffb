"""Real local servers for the camera tests: an MJPEG stream over HTTP (what many IP cameras serve) and a webhook
receiver. Both run in threads on 127.0.0.1 and can be stopped and started again on the same port."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


def jpeg(image_rgb: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


class MjpegServer:
    """``multipart/x-mixed-replace`` JPEG frames at ``fps``; ``show(image)`` changes what it streams; ``stop()``
    drops every client and closes the port (a dead camera), ``start()`` opens it again."""

    def __init__(self, image_rgb: np.ndarray, fps: float = 10.0):
        self.frame, self.fps, self.port = jpeg(image_rgb), fps, 0
        self._stop = threading.Event()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def show(self, image_rgb: np.ndarray) -> None:
        self.frame = jpeg(image_rgb)

    def start(self) -> MjpegServer:
        owner = self
        self._stop.clear()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not owner._stop.is_set():
                        frame = owner.frame
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(frame) + frame + b"\r\n")
                        time.sleep(1.0 / owner.fps)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class WebhookReceiver:
    """Records every JSON POST; ``hang_s`` makes it take that long before answering (a receiver that is down);
    ``fail_every`` N answers every Nth call with HTTP 500 and does not record it (a flaky receiver)."""

    def __init__(self, hang_s: float = 0.0, fail_every: int = 0):
        self.received: list[dict] = []
        self.received_at: list[float] = []  # wall-clock time each alert arrived
        self.hang_s, self.fail_every = hang_s, fail_every
        self.calls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                owner.calls += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if owner.fail_every and owner.calls % owner.fail_every == 0:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if owner.hang_s:
                    time.sleep(owner.hang_s)
                owner.received.append(json.loads(body))
                owner.received_at.append(time.time())
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rip"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self, camera: str | None = None) -> list[str]:
        return [alert["kind"] for alert in self.received if camera is None or alert["camera"] == camera]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition, timeout_s: float = 30.0, step_s: float = 0.2, what: str = "condition"):
    """Poll ``condition()`` until it is true; its last value, or an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(step_s)
