"""``ripdetect watch`` on live 1080p cameras: how many one machine follows, memory over a long run, alert latency.

    python bench/watch_bench.py capacity [--counts 2 4 6 8 10 12] [--seconds 60]
    python bench/watch_bench.py memory [--cameras 3] [--minutes 60]
    python bench/watch_bench.py latency [--events 5]
    python bench/watch_bench.py soak [--minutes 30]

Every camera is a real stream: the ffmpeg that imageio-ffmpeg ships serves a 1080p30 H.264 clip (made from the
shipped synthetic photos, with moving grain) as MPEG-TS over HTTP in real time, looped, one server per camera;
the latency run uses an MJPEG camera whose picture is switched from calm to rip at a known instant. The watcher is
the real command (``ripdetect watch`` in a subprocess) and is read through its /metrics, its webhook and /proc.

- capacity: a camera is followed live when it gets at least 95% of its 2 analysed frames per second and its
  frames are analysed within 2 s of decoding on average; the figure is the largest count where every camera is.
  The CPU the watcher used (cores) is printed too: on a machine shared with other work, cores per camera says
  what an idle one would follow.
- memory: resident memory of the watcher, sampled every 30 s, with events, alerts and clips all the while (a rip
  every 30 s, a clip every 5 minutes); per camera from a 1-camera run of a few minutes against the full run.
- soak: 30 minutes under faults, 2 cameras: an MJPEG stream that turns rip and calm and drops every 4 minutes (down
  for 15 s), and a recorder folder that receives a clip every 2 minutes written in two bursts; the webhook fails one
  call in three. Afterwards every event the watcher recorded must have had exactly one start alert delivered (none
  lost, none twice), and the resident memory must stay flat after warm-up.
- latency: from the first rip frame served to the webhook's arrival, at the default window (10 s) and minimum
  event (2 s), which dominate it (``--window-s 2 --min-event-s 1`` shows the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' real stream and webhook servers

from servers import MjpegServer, WebhookReceiver, wait_for  # noqa: E402

from ripdetect.config import yaml_text  # noqa: E402

SAMPLES = ROOT / "ripdetect" / "samples"
CALM, RIP = SAMPLES / "synthetic_norip_oblique.jpg", SAMPLES / "synthetic_rip_oblique.jpg"


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_clip(path: Path, segments: list[tuple[Path, float]]) -> Path:
    """1920x1080, 30 fps H.264 of still photos shown for their seconds, with moving grain (so every frame differs)."""
    inputs = [arg for photo, seconds in segments for arg in ("-loop", "1", "-t", str(seconds), "-i", str(photo))]
    chain = "".join(f"[{i}:v]scale=1920:1080,setsar=1[v{i}];" for i in range(len(segments)))
    chain += "".join(f"[v{i}]" for i in range(len(segments))) + f"concat=n={len(segments)}:v=1,noise=alls=4:allf=t"
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *inputs, "-filter_complex", chain, "-r", "30",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60", str(path)], check=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(clip: Path) -> tuple[subprocess.Popen, str]:
    """One camera: the clip looped in real time as MPEG-TS over HTTP (one client)."""
    port = free_port()
    process = subprocess.Popen([ffmpeg(), "-hide_banner", "-loglevel", "quiet", "-re", "-stream_loop", "-1", "-i",
                                str(clip), "-c", "copy", "-f", "mpegts", "-listen", "1", f"http://127.0.0.1:{port}/"])
    time.sleep(0.3)
    return process, f"http://127.0.0.1:{port}/"


def write_profile(path: Path, sources: list[str], video: dict, alerts: dict | None = None) -> Path:
    cameras = [{"name": f"cam{i:02d}", "source": url, "video": video, **({"alerts": alerts} if alerts else {})}
               for i, url in enumerate(sources)]
    path.write_text(yaml_text({"cameras": cameras}))  # a dict used by every camera is written out for each
    return path


def start_watch(profile: Path, out: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ripdetect", "watch", "--cameras", str(profile), "--out", str(out),
                             "--metrics-port", str(port), *extra], stderr=subprocess.DEVNULL)


def scrape(port: int) -> dict[str, dict[str, float]]:
    """{metric sample name: {camera: value}} from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "le" not in sample.labels:
                found.setdefault(sample.name, {})[sample.labels.get("camera", "")] = sample.value
    return found


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def capacity(counts: list[int], seconds: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "calm.mp4", [(CALM, 20)])
        print(f"{'cameras':>8} {'min fps':>8} {'mean fps':>9} {'mean latency s':>15} {'watcher cores':>14} "
              f"{'load avg':>9}  followed")
        for count in counts:
            servers = [serve(clip) for _ in range(count)]
            port = free_port()
            profile = write_profile(Path(folder) / f"cams{count}.yaml", [url for _, url in servers], {"sample_fps": 2})
            watch = start_watch(profile, Path(folder) / f"out{count}", port, "--stall-s", "30")
            try:
                wait_for(lambda: _up(port, count), 300, 1.0, "every camera to deliver frames")
                time.sleep(10)  # settle
                first, started, cpu = scrape(port), time.monotonic(), cpu_s(watch.pid)
                time.sleep(seconds)
                last, elapsed = scrape(port), time.monotonic() - started
                cores = (cpu_s(watch.pid) - cpu) / elapsed
            finally:
                stop(watch, *(server for server, _ in servers))
            frames = "ripdetect_frames_analysed_total"
            rates = [(last[frames][c] - first[frames][c]) / elapsed for c in last[frames]]
            latency_sum, latency_count = "ripdetect_frame_latency_seconds_sum", "ripdetect_frame_latency_seconds_count"
            latency = sum(last[latency_sum][c] - first[latency_sum][c] for c in last[latency_sum]) / max(
                1.0, sum(last[latency_count][c] - first[latency_count][c] for c in last[latency_count]))
            followed = min(rates) >= 0.95 * 2 and latency < 2.0
            print(f"{count:>8} {min(rates):>8.2f} {statistics.mean(rates):>9.2f} {latency:>15.2f} {cores:>14.2f} "
                  f"{os.getloadavg()[0]:>9.1f}  {'yes' if followed else 'NO'}", flush=True)
            if not followed:
                break


def _up(port: int, count: int) -> bool:
    try:
        frames = scrape(port).get("ripdetect_frames_analysed_total", {})
    except OSError:
        return False
    return len(frames) == count and all(value >= 2 for value in frames.values())


def memory(cameras: int, minutes: float, baseline_minutes: float = 4.0) -> None:
    hook = WebhookReceiver()
    with tempfile.TemporaryDirectory() as folder:
        clip = make_clip(Path(folder) / "cycle.mp4", [(CALM, 12), (RIP, 8), (CALM, 10)])  # a rip every 30 s
        video = {"sample_fps": 2, "clip_minutes": 5}
        alerts = {"webhook": hook.url, "min_interval_s": 0}
        results = {}
        for count, run_minutes in ((1, baseline_minutes), (cameras, minutes)):
            servers = [serve(clip) for _ in range(count)]
            port = free_port()
            profile = write_profile(Path(folder) / f"mem{count}.yaml", [url for _, url in servers], video, alerts)
            watch = start_watch(profile, Path(folder) / f"out{count}", port)
            samples = []
            try:
                wait_for(lambda: _up(port, count), 300, 1.0, "every camera to deliver frames")
                started = time.monotonic()
                while (elapsed := time.monotonic() - started) < run_minutes * 60:
                    samples.append((elapsed / 60, rss_mb(watch.pid)))
                    print(f"{count} camera(s)  {elapsed / 60:5.1f} min  RSS {samples[-1][1]:7.1f} MB", flush=True)
                    time.sleep(30)
                metrics = scrape(port)
            finally:
                stop(watch, *(server for server, _ in servers))
            results[count] = {"samples": samples, "events": sum(metrics["ripdetect_events_total"].values()),
                              "clips": sum(metrics["ripdetect_clips_total"].values())}
    hook.close()
    _report_memory(results, cameras, baseline_minutes, len(hook.received))


def _report_memory(results: dict, cameras: int, baseline_minutes: float, alerts: int) -> None:
    import numpy as np

    one = [rss for t, rss in results[1]["samples"] if t >= 2]
    full = results[cameras]["samples"]
    early = [rss for t, rss in full if 2 <= t <= baseline_minutes]
    settled = [(t, rss) for t, rss in full if t >= 5]
    slope = np.polyfit([t for t, _ in settled], [rss for _, rss in settled], 1)[0] * 60 if len(settled) > 2 else 0
    per_camera = (statistics.median(early) - statistics.median(one)) / (cameras - 1)
    print(json.dumps({
        "rss_1_camera_mb": round(statistics.median(one), 1),
        f"rss_{cameras}_cameras_mb": {"at_5_min": round(settled[0][1], 1), "at_end": round(full[-1][1], 1),
                                      "max": round(max(rss for _, rss in full), 1)},
        "per_camera_mb": round(per_camera, 1),
        "growth_mb_per_hour_after_5_min": round(float(slope), 1),
        "events": results[cameras]["events"], "clips": results[cameras]["clips"], "alerts_received": alerts,
    }, indent=1))


def latency(events: int, window_s: float, min_event_s: float) -> None:
    import cv2

    calm, rip = (cv2.cvtColor(cv2.resize(cv2.imread(str(p)), (1280, 720)), cv2.COLOR_BGR2RGB) for p in (CALM, RIP))
    camera, hook = MjpegServer(calm, fps=15).start(), WebhookReceiver()
    with tempfile.TemporaryDirectory() as folder:
        video = {"sample_fps": 2, "window_s": window_s, "min_event_s": min_event_s}
        profile = write_profile(Path(folder) / "cams.yaml", [camera.url], video, {"webhook": hook.url, "min_interval_s": 0})
        watch = start_watch(profile, Path(folder) / "out", free_port())
        delays = []
        try:
            time.sleep(20)  # started and settled on calm water
            for _ in range(events):
                shown = time.time()
                camera.show(rip)
                wait_for(lambda: len(hook.kinds()) == 2 * len(delays) + 1, 120, 0.05, "the start alert")
                delays.append(hook.received_at[-1] - shown)
                print(f"alert {len(delays)}: {delays[-1]:.2f} s after the first rip frame", flush=True)
                camera.show(calm)
                wait_for(lambda: len(hook.kinds()) == 2 * len(delays), 120, 0.05, "the end alert")
                time.sleep(window_s + 2)  # the window all calm again
        finally:
            stop(watch)
            camera.stop()
            hook.close()
    print(json.dumps({"window_s": window_s, "min_event_s": min_event_s, "events": len(delays), "median_s": round(statistics.median(delays), 2),
                      "min_s": round(min(delays), 2), "max_s": round(max(delays), 2)}))


def soak(minutes: float) -> None:
    import sqlite3

    import cv2

    calm, rip = (cv2.cvtColor(cv2.resize(cv2.imread(str(p)), (960, 540)), cv2.COLOR_BGR2RGB) for p in (CALM, RIP))
    camera, hook = MjpegServer(calm, fps=5).start(), WebhookReceiver(fail_every=3)
    with tempfile.TemporaryDirectory() as folder:
        recorder = Path(folder) / "recorder"
        recorder.mkdir()
        clip = make_clip(Path(folder) / "burst.mp4", [(CALM, 8), (RIP, 14), (CALM, 8)])
        data = clip.read_bytes()
        video = {"sample_fps": 1, "window_s": 6, "min_event_s": 2, "clip_minutes": 5}
        profile = Path(folder) / "cams.yaml"
        profile.write_text(json.dumps({"cameras": [
            {"name": "stream", "source": camera.url, "video": video,
             "alerts": {"webhook": hook.url, "min_interval_s": 0}},
            {"name": "recorder", "source": str(recorder), "video": video,
             "alerts": {"webhook": hook.url, "min_interval_s": 0}}]}))
        port = free_port()
        watch = start_watch(profile, Path(folder) / "out", port, "--folder-poll-s", "5")
        samples, started, written, drops = [], time.monotonic(), 0, 0
        try:
            while (elapsed := time.monotonic() - started) < minutes * 60:
                phase = elapsed % 120
                camera.show(rip if 40 <= phase < 70 else calm)  # a rip for 30 s every 2 minutes
                if elapsed // 240 > drops:  # the stream drops every 4 minutes, down 15 s
                    drops += 1
                    camera.stop()
                    time.sleep(15)
                    camera.start()
                if elapsed // 120 >= written:  # a recorder clip every 2 minutes, written in two bursts
                    target = recorder / f"rec_{written:03d}.mp4"
                    with open(target, "wb") as handle:
                        handle.write(data[: len(data) // 2])
                        handle.flush()
                        time.sleep(3)
                        handle.write(data[len(data) // 2:])
                    written += 1
                if not samples or elapsed / 60 - samples[-1][0] >= 0.5:
                    samples.append((elapsed / 60, rss_mb(watch.pid)))
                    print(f"{elapsed / 60:5.1f} min  RSS {samples[-1][1]:7.1f} MB  alerts {len(hook.received)}",
                          flush=True)
                time.sleep(1)
            time.sleep(60)  # the last clip analysed and its alerts retried
        finally:
            stop(watch)
            camera.stop()
            hook.close()
        with sqlite3.connect(Path(folder) / "out" / "state.sqlite") as db:
            events = db.execute("SELECT id, camera, key FROM events").fetchall()
    starts = [a["event_key"] for a in hook.received if a["kind"] == "start"]
    keys = [key for _, _, key in events]
    settled = [rss for t, rss in samples if t >= 5]
    import numpy as np

    slope = float(np.polyfit([t for t, _ in samples if t >= 5], settled, 1)[0] * 60) if len(settled) > 2 else 0.0
    print(json.dumps({
        "minutes": minutes, "stream_drops": drops, "recorder_files": written, "webhook_calls": hook.calls,
        "events": {name: sum(c == name for _, c, _ in events) for name in ("stream", "recorder")},
        "start_alerts_delivered": len(starts), "events_without_a_start_alert": len(set(keys) - set(starts)),
        "start_alerts_delivered_twice": len(starts) - len(set(starts)),
        "rss_mb": {"at_5_min": round(settled[0], 1) if settled else None, "at_end": round(samples[-1][1], 1),
                   "max": round(max(r for _, r in samples), 1)},
        "growth_mb_per_hour_after_5_min": round(slope, 1)}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    run = sub.add_parser("capacity")
    run.add_argument("--counts", type=int, nargs="+", default=[2, 4, 6, 8, 10, 12, 14, 16])
    run.add_argument("--seconds", type=float, default=60.0)
    run = sub.add_parser("memory")
    run.add_argument("--cameras", type=int, default=3)
    run.add_argument("--minutes", type=float, default=60.0)
    run = sub.add_parser("latency")
    run.add_argument("--events", type=int, default=5)
    run.add_argument("--window-s", type=float, default=10.0, help="(default: 10, VideoConfig's)")
    run.add_argument("--min-event-s", type=float, default=2.0, help="(default: 2, VideoConfig's)")
    run = sub.add_parser("soak")
    run.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()
    if args.what == "capacity":
        capacity(args.counts, args.seconds)
    elif args.what == "memory":
        memory(args.cameras, args.minutes)
    elif args.what == "soak":
        soak(args.minutes)
    else:
        latency(args.events, args.window_s, args.min_event_s)


if __name__ == "__main__":
    main()
