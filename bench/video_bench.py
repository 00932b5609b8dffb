"""Video throughput, where the time goes, and memory, measured in one run on the same 1080p clips.

    python bench/video_bench.py [--model M [M ...]] [--clip-dir DIR] [--fps 30] [--clip-seconds 60] [--long-minutes 10] [--no-profile]

The clip has real texture: every frame is rendered by the synthetic renderer (waves move), upscaled to
1920x1080 with a slow camera pan and fresh sensor noise, and encoded as a camera would (H.264, veryfast, a
key frame every 2 s). ``--clip-dir`` keeps the clips for the next run (rendering takes minutes).

Prints, at ``--sample-fps 2`` with the default outputs (annotated.mp4 included):
- decode-only (the frame stream alone) and end-to-end throughput as multiples of real time, and their ratio
  (goal: end-to-end at least 0.7 of decode-only); the same without annotated.mp4 for reference;
- a profile: one serial pass that times each stage (decode, resize, model, CAM and regions, rendering, H.264
  encoding) in seconds per minute of video;
- the share of end-to-end time the motion evidence takes (``--motion --show-flow`` against the same run without);
- peak memory (max RSS of a fresh process) for the short and a long clip (goal: within 10 %).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import in_fresh_process


def make_clip(path: Path, seconds: float, fps: float) -> Path:
    """A 1920x1080 H.264 clip, every frame rendered (640x360, upscaled) with a camera pan and sensor noise."""
    import cv2
    import imageio_ffmpeg

    from ripdetect.synth.projection import SceneCamera
    from ripdetect.synth.writer import scene_for

    if path.exists():
        return path
    camera = SceneCamera(scene_for(3, 0, True, "oblique", realism=True), 672, 378)  # 5 % margin for the pan
    rng = np.random.default_rng(0)
    tmp = path.with_suffix(".part.mp4")
    writer = imageio_ffmpeg.write_frames(str(tmp), (1920, 1080), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         output_params=["-preset", "veryfast", "-crf", "23", "-g", str(int(2 * fps))],
                                         ffmpeg_log_level="error", macro_block_size=8)
    writer.send(None)
    for index in range(int(seconds * fps)):
        t = index / fps
        big = cv2.resize(camera.render(t)[0], (2016, 1134), interpolation=cv2.INTER_CUBIC)
        x, y = 48 + 40 * np.sin(t / 7), 27 + 20 * np.sin(t / 11)  # a slow pan across the margin
        frame = cv2.warpAffine(big, np.float32([[1, 0, -x], [0, 1, -y]]), (1920, 1080), flags=cv2.INTER_LINEAR)
        noise = rng.normal(0, 3.0, frame.shape[:2])[..., None]  # sensor noise, fresh every frame
        writer.send(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.close()
    tmp.rename(path)
    return path


def long_clip(short: Path, minutes: float, seconds: float) -> Path:
    """``minutes`` of video: the short clip (``seconds`` long) repeated (stream copy, continuous timestamps)."""
    import imageio_ffmpeg

    path = short.with_name(f"{short.stem}_x{minutes:g}.mp4")
    if not path.exists():
        listing = short.with_suffix(".txt")
        listing.write_text(f"file '{short.name}'\n" * max(1, round(minutes * 60 / seconds)))
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat",
                        "-safe", "0", "-i", str(listing), "-c", "copy", str(path)], check=True)
    return path


def _predictor(model: str | None):
    from ripdetect.config import InferenceConfig
    from ripdetect.inference.predictor import Predictor

    try:
        from ripdetect.inference.backends import load_model  # video and the app use the deployment default
    except ImportError:  # ripdetect before ONNX (the "before" column)
        return Predictor(model, InferenceConfig(batch_size=8))
    return Predictor(load_model(model, deployment=True), InferenceConfig(batch_size=8))


def _run(kind: str, clip: str, model: str | None, queue) -> None:
    import torch

    from ripdetect.config import VideoConfig
    from ripdetect.video.io import iter_frames

    torch.set_flush_denormal(True)  # as the CLI does
    config = VideoConfig(sample_fps=2.0, write_video=kind != "no_video", motion=kind == "motion",
                         show_flow=kind == "motion")
    start = time.perf_counter()
    if kind == "decode":
        count = sum(1 for _ in iter_frames(clip, config.sample_fps, max_side=config.max_side))
    else:
        from ripdetect.video.process import process_video

        predictor = _predictor(model)
        start = time.perf_counter()
        count = process_video(clip, predictor, config, Path(tempfile.mkdtemp()) / "out")["n_frames"]
    queue.put({"seconds": time.perf_counter() - start, "frames": count,
               "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def measure(kind: str, clip: Path, model: str | None) -> dict:
    return in_fresh_process(_run, kind, str(clip), model)


def _profile(clip: str, model: str | None, queue) -> None:
    """Each stage of the pipeline in turn, timed (one thread; the encoder is ffmpeg's own process, so its CPU time
    is read from the children's usage)."""
    import cv2
    import torch

    from ripdetect.config import VideoConfig
    from ripdetect.data.images import resize_long_side
    from ripdetect.video.aggregate import FrameAggregator
    from ripdetect.video.analyse import FrameResult
    from ripdetect.video.io import Frame, VideoWriter, open_capture
    from ripdetect.video.outputs import ANNOTATED_MAX_SIDE, annotate_frame

    torch.set_flush_denormal(True)
    predictor = _predictor(model)
    config = VideoConfig(sample_fps=2.0)
    aggregator = FrameAggregator.from_config(config, predictor.threshold)
    times = dict.fromkeys(("decode", "resize", "model", "cam_regions", "render", "encode"), 0.0)
    capture, info = open_capture(clip)
    every = max(1, round(info.fps / config.sample_fps))
    frames: list[Frame] = []
    encode_cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with VideoWriter(Path(tempfile.mkdtemp()) / "annotated.mp4", config.sample_fps) as writer:
        index = -1
        while True:
            start = time.perf_counter()
            ok = capture.grab()
            index += 1
            frame_bgr = capture.retrieve()[1] if ok and index % every == 0 else None
            times["decode"] += time.perf_counter() - start
            if not ok:
                break
            if frame_bgr is None:
                continue
            start = time.perf_counter()
            image_rgb = cv2.cvtColor(resize_long_side(frame_bgr, config.max_side), cv2.COLOR_BGR2RGB)
            times["resize"] += time.perf_counter() - start
            frames.append(Frame(index, index / info.fps, image_rgb))
            if len(frames) == predictor.config.batch_size:
                _analyse(frames, predictor, aggregator, writer, times, annotate_frame, ANNOTATED_MAX_SIDE, FrameResult)
                frames = []
        if frames:
            _analyse(frames, predictor, aggregator, writer, times, annotate_frame, ANNOTATED_MAX_SIDE, FrameResult)
        start = time.perf_counter()
    capture.release()
    times["encode"] += time.perf_counter() - start  # the encoder finishing its queue
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    encode_cpu = (after.ru_utime + after.ru_stime) - (encode_cpu_before.ru_utime + encode_cpu_before.ru_stime)
    queue.put({"seconds": times, "encoder_process_cpu_s": encode_cpu, "duration_s": index / info.fps})


def _analyse(frames, predictor, aggregator, writer, times, annotate_frame, max_side, frame_result) -> None:
    from ripdetect.data.images import resize_long_side

    start = time.perf_counter()
    probs, cams, water = predictor.probabilities_and_maps([f.image_rgb for f in frames])
    times["model"] += time.perf_counter() - start
    for i, frame in enumerate(frames):
        start = time.perf_counter()
        prediction = predictor.finish(frame.image_rgb, float(probs[i]), cams[i], None if water is None else water[i])
        result = frame_result(frame, prediction, aggregator.update(frame.time_s, float(probs[i]), cams[i]))
        times["cam_regions"] += time.perf_counter() - start
        start = time.perf_counter()
        annotated = resize_long_side(annotate_frame(predictor, result, aggregator.on_threshold), max_side)
        times["render"] += time.perf_counter() - start
        start = time.perf_counter()
        writer.write(annotated)
        times["encode"] += time.perf_counter() - start


def profile(clip: Path, model: str | None) -> dict:
    result = in_fresh_process(_profile, str(clip), model)
    per_minute = 60 / result["duration_s"]
    seconds = {k: round(v * per_minute, 2) for k, v in result["seconds"].items()}
    total = sum(seconds.values())
    return {"seconds_per_minute_of_video": seconds, "share": {k: round(v / total, 3) for k, v in seconds.items()},
            "encoder_process_cpu_s_per_minute": round(result["encoder_process_cpu_s"] * per_minute, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="+", default=[None],
                        help="checkpoints or .onnx files, each measured against the same decode-only runs "
                             "(default: what video uses by default)")
    parser.add_argument("--clip-dir", default=None, help="folder that keeps the rendered clips (default: temp)")
    parser.add_argument("--fps", type=float, default=30.0, help="clip frame rate (default: 30, as beach cameras)")
    parser.add_argument("--clip-seconds", type=float, default=60.0, help="length of the rendered clip (default: 60)")
    parser.add_argument("--long-minutes", type=float, default=10.0, help="the long clip, for memory (default: 10)")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    folder = Path(args.clip_dir or tempfile.mkdtemp(prefix="ripdetect-video-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"textured_1080p{args.fps:g}_{args.clip_seconds:g}s.mp4"
    short = make_clip(folder / name, args.clip_seconds, args.fps)
    long = long_clip(short, args.long_minutes, args.clip_seconds)
    decode = measure("decode", short, None)
    runs = {model: {"full": measure("full", short, model), "no_video": measure("no_video", short, model),
                    "motion": measure("motion", short, model)} for model in args.model}
    decode_again = measure("decode", short, None)  # decode-only before and after: the drift of the machine
    decode_s = (decode["seconds"] + decode_again["seconds"]) / 2
    report = {
        "clip": f"{args.clip_seconds:g} s, 1920x1080 @ {args.fps:g} fps, rendered per frame, pan + noise; sample_fps 2",
        "decode_only_x_realtime": round(args.clip_seconds / decode_s, 2),
        "decode_only_runs_s": [round(decode["seconds"], 2), round(decode_again["seconds"], 2)],
        "models": {},
    }
    for model, measured in runs.items():
        long_run = measure("full", long, model)
        entry = {
            "end_to_end_x_realtime": round(args.clip_seconds / measured["full"]["seconds"], 2),
            "ratio_end_to_end_over_decode_only": round(decode_s / measured["full"]["seconds"], 3),
            "ratio_without_annotated_mp4": round(decode_s / measured["no_video"]["seconds"], 3),
            "motion_share_of_end_to_end": round(1 - measured["full"]["seconds"] / measured["motion"]["seconds"], 3),
            f"peak_rss_mb_{args.long_minutes:g}min": round(long_run["max_rss_mb"], 1),
            "peak_rss_mb_short": round(measured["full"]["max_rss_mb"], 1),
            "peak_rss_ratio_long_over_short": round(long_run["max_rss_mb"] / measured["full"]["max_rss_mb"], 3),
            "frames_analysed": [measured["full"]["frames"], long_run["frames"]],
        }
        if not args.no_profile:
            entry["profile"] = profile(short, model)
        report["models"][model or "video's default"] = entry
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
