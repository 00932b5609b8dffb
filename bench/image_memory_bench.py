"""Peak memory of decoding one large image, measured in fresh processes side by side.

    python bench/image_memory_bench.py [--side 10900]

Writes side x side PNGs (RGB, RGBA and 16-bit grayscale; 10900 x 10900 is 118.8 Mpx, just under the default
120 Mpx cap) and prints, for each, the peak RSS added by:

- ``decode only``: Pillow decoding the file and nothing else (the floor for a format that cannot be decoded
  reduced);
- ``ripdetect``: ``load_image_rgb`` at the app's and CLI's default ``max_side`` (1600), which reduces the
  image right after decoding;
- ``ripdetect full size``: ``load_image_rgb`` with no ``max_side`` (every conversion at full size).

Goal: ``ripdetect`` costs at most about 1 GB for one image, and about one decoded copy (ratio to decode only
close to 1).
"""

import argparse
import multiprocessing
import resource
import tempfile
from pathlib import Path

import numpy as np
from timing import in_fresh_process


def make_png(path: Path, side: int, mode: str) -> Path:
    """A large, compressible image (gradients and a grid), written in a child process to keep this one small."""
    from PIL import Image

    y = np.linspace(0, 1, side, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, side, dtype=np.float32)[None, :]
    if mode == "I;16":
        Image.fromarray(np.uint16((x * 0.5 + y * 0.5) * 65535)).save(path, compress_level=1)
        return path
    red = np.uint8(x * 255).repeat(side, 0)
    green = np.uint8(y * 255).repeat(side, 1)
    blue = np.uint8(((np.arange(side) // 64) % 2)[:, None] * 200).repeat(side, 1)
    channels = [red, green, blue] + ([np.full((side, side), 200, np.uint8)] if mode == "RGBA" else [])
    Image.fromarray(np.dstack(channels), mode).save(path, compress_level=1)
    return path


def _peak(kind: str, path: str, queue) -> None:
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if kind == "decode only":
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as image:
            image.load()
    else:
        from ripdetect.data.images import load_image_rgb

        load_image_rgb(path, max_side=1600 if kind == "ripdetect" else None)
    queue.put((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024)


def peak_mb(kind: str, path: Path) -> float:
    """Peak RSS (MB) added by one decode, in a fresh process."""
    return in_fresh_process(_peak, kind, str(path))


def _write(path: str, side: int, mode: str) -> None:
    make_png(Path(path), side, mode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=10900)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'image':<28} {'decode only':>12} {'ripdetect':>10} {'ratio':>6} {'full size':>10}")
        for mode in ("RGB", "RGBA", "I;16"):
            path = Path(folder) / f"big_{mode.replace(';', '')}.png"
            writer = context.Process(target=_write, args=(str(path), args.side, mode))
            writer.start()
            writer.join()
            floor, ours, full = (peak_mb(kind, path) for kind in ("decode only", "ripdetect", "ripdetect full size"))
            name = f"{args.side}x{args.side} {mode} PNG"
            print(f"{name:<28} {floor:>9.0f} MB {ours:>7.0f} MB {ours / floor:>6.2f} {full:>7.0f} MB", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
