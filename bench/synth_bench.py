"""Synthetic scene rendering speed (images per second, one process).

    python bench/synth_bench.py [--n 60] [--size 640x384]
"""

import argparse
import json
import time

from ripdetect.synth.projection import SceneCamera
from ripdetect.synth.writer import scene_for


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--size", default="640x384")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    start = time.perf_counter()
    for index in range(args.n):
        SceneCamera(scene_for(0, index, index % 2 == 0, "mixed"), width, height).render(float(index))
    still = args.n / (time.perf_counter() - start)
    camera = SceneCamera(scene_for(0, 0, True, "oblique"), width, height)
    start = time.perf_counter()
    for frame in range(args.n):
        camera.render(frame / 10)
    clip = args.n / (time.perf_counter() - start)
    print(json.dumps({"size": args.size, "still_images_per_s": round(still, 1),
                      "clip_frames_per_s": round(clip, 1), "cores": 1}, indent=1))


if __name__ == "__main__":
    main()
