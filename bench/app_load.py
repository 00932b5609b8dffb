"""Load check: 20 concurrent image requests through gradio_client against a local app.

    python bench/app_load.py [--requests 20] [--model CKPT]

Starts the app on a free loopback port, sends the requests from a thread pool, and prints how many were
answered and failed, with the latency median and 95th percentile.
"""

import argparse
import json
import socket
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    from ripdetect.app.layout import launch
    from ripdetect.files import write_image
    from ripdetect.synth.projection import render_scene
    from ripdetect.synth.writer import scene_for

    image = write_image(render_scene(scene_for(0, 1, True, "oblique"), 1280, 720)[0],
                        Path(tempfile.mkdtemp()) / "frame.png")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = launch(args.model, port=port, block=False)
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)

    def request(_):
        start = time.perf_counter()
        client.predict(handle_file(str(image)), 0.5, "gradcam", 0.5, 0.45, api_name="/predict_image")
        return time.perf_counter() - start

    latencies, failures = [], 0
    with ThreadPoolExecutor(args.requests) as pool:
        for future in [pool.submit(request, i) for i in range(args.requests)]:
            try:
                latencies.append(future.result(timeout=300))
            except Exception:  # noqa: BLE001 - counted
                failures += 1
    demo.close()
    latencies.sort()
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)] if latencies else None
    print(json.dumps({"requests": args.requests, "answered": len(latencies), "failed": failures,
                      "latency_median_s": round(statistics.median(latencies), 3) if latencies else None,
                      "latency_p95_s": round(p95, 3) if p95 else None}, indent=1))


if __name__ == "__main__":
    main()
