"""Video throughput and memory, measured in one run on the same synthetic 1080p clips.

    python bench/video_bench.py [--fps 30] [--long-minutes 10]

Prints end-to-end throughput at --sample-fps 2 as a multiple of real time and as a ratio to decode-only
throughput of the same file (goal: at least 0.7), and peak memory (max RSS of a fresh process) for a
1-minute and a long clip (goal: the same within 10%).
"""

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from timing import in_fresh_process


def make_clip(path: Path, minutes: float, fps: float, base_frames: int = 12) -> Path:
    """A 1920x1080 H.264 clip looping a few rendered surf-zone frames (rendering every frame would take hours)."""
    import imageio_ffmpeg

    from ripdetect.synth.camera import SceneCamera
    from ripdetect.synth.dataset import scene_for

    camera = SceneCamera(scene_for(0, 0, True, "oblique"), 1920, 1080)
    frames = [camera.render(i / fps)[0] for i in range(base_frames)]
    writer = imageio_ffmpeg.write_frames(str(path), (1920, 1080), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         output_params=["-preset", "ultrafast"], ffmpeg_log_level="error",
                                         macro_block_size=8)
    writer.send(None)
    for index in range(int(minutes * 60 * fps)):
        writer.send(frames[index % base_frames])
    writer.close()
    return path


def _run(kind: str, clip: str, queue) -> None:
    import torch

    from ripdetect.config import InferenceConfig, VideoConfig
    from ripdetect.video.io import iter_frames

    torch.set_num_threads(2)
    torch.set_flush_denormal(True)  # as the CLI does
    config = VideoConfig(sample_fps=2.0, write_video=False)
    start = time.perf_counter()
    if kind == "decode":
        count = sum(1 for _ in iter_frames(clip, config.sample_fps, max_side=config.max_side))
    else:
        from ripdetect.inference.predictor import Predictor
        from ripdetect.video.report import process_video

        predictor = Predictor(None, InferenceConfig(batch_size=8))
        start = time.perf_counter()
        count = process_video(clip, predictor, config, Path(tempfile.mkdtemp()) / "out")["n_frames"]
    queue.put({"seconds": time.perf_counter() - start, "frames": count,
               "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def measure(kind: str, clip: Path) -> dict:
    return in_fresh_process(_run, kind, str(clip))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fps", type=float, default=30.0, help="clip frame rate (default: 30, as beach cameras)")
    parser.add_argument("--long-minutes", type=float, default=10.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ripdetect-video-bench-"))
    short = make_clip(folder / "one_minute.mp4", 1.0, args.fps)
    decode = measure("decode", short)
    end_to_end = measure("full", short)
    long = make_clip(folder / "long.mp4", args.long_minutes, args.fps)
    long_run = measure("full", long)
    print(json.dumps({
        "clip": f"1920x1080 @ {args.fps:g} fps, sample_fps 2",
        "decode_only_x_realtime": round(60 / decode["seconds"], 2),
        "end_to_end_x_realtime": round(60 / end_to_end["seconds"], 2),
        "ratio_end_to_end_over_decode_only": round(decode["seconds"] / end_to_end["seconds"], 3),
        "peak_rss_mb_1min": round(end_to_end["max_rss_mb"], 1),
        f"peak_rss_mb_{args.long_minutes:g}min": round(long_run["max_rss_mb"], 1),
        "peak_rss_ratio_long_over_1min": round(long_run["max_rss_mb"] / end_to_end["max_rss_mb"], 3),
        "frames_analysed": [end_to_end["frames"], long_run["frames"]],
    }, indent=1))


if __name__ == "__main__":
    main()
