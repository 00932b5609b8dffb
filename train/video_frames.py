"""Frames of a camera's videos as training images: every Nth frame saved as a JPEG, listed in a manifest that
``ripdetect train --data`` reads (path,label,group,viewpoint,boxes,water). Calm footage of a camera makes hard
negatives; give the frames the camera's site as their group so that cross-validation holds them out with the
camera's photos. ``--same-as`` copies the group, viewpoint and water polygon from a photo's row of a manifest such
as ``train/real_dev.csv``.

    python train/video_frames.py ../shared/data/real-dev/videos/no_rip/*.mp4 --every 5 --label no_rip \\
        --same-as picoastal_boomerang_snap.jpg --real train/real_dev.csv --out runs/v3-data/boomerang
"""

import argparse
import csv
import sys
from pathlib import Path

import cv2

COLUMNS = ["path", "label", "group", "viewpoint", "boxes", "water"]


def photo_row(manifest: Path, name: str) -> dict:
    """The manifest row whose path ends in ``name``."""
    try:
        with open(manifest, newline="") as handle:
            for row in csv.DictReader(handle):
                if Path(row.get("path", "")).name == name:
                    return row
    except OSError as exc:
        raise SystemExit(f"video_frames: {manifest}: cannot be read ({exc.strerror})") from None
    raise SystemExit(f"video_frames: {manifest}: no row for the photo {name}")


def save_frames(video: Path, out: Path, every: int, prefix: str) -> list[str]:
    """Every ``every``-th frame of ``video`` as ``out/PREFIXframe_NNNN.jpg``; the names written."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise SystemExit(f"video_frames: {video}: cannot be opened as a video")
    names, index = [], 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                name = f"{prefix}frame_{index:04d}.jpg"
                if not cv2.imwrite(str(out / name), frame, [cv2.IMWRITE_JPEG_QUALITY, 92]):
                    raise SystemExit(f"video_frames: {out / name}: cannot be written")
                names.append(name)
            index += 1
    finally:
        capture.release()
    if not names:
        raise SystemExit(f"video_frames: {video}: no frame could be decoded")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--out", required=True, type=Path, help="a new folder for the frames and manifest.csv")
    parser.add_argument("--every", type=int, default=5, help="keep every Nth frame (default: 5)")
    parser.add_argument("--label", choices=("rip", "no_rip"), default="no_rip")
    parser.add_argument("--group", default=None, help="the camera's site (default: from --same-as, else the video's name)")
    parser.add_argument("--viewpoint", default=None, help="beach_camera or aerial (default: from --same-as)")
    parser.add_argument("--same-as", default=None, help="a photo of this camera in --real: its group, viewpoint, water")
    parser.add_argument("--real", type=Path, default=Path("train/real_dev.csv"))
    args = parser.parse_args()
    if args.every < 1:
        raise SystemExit(f"video_frames: --every {args.every}: must be 1 or more")
    for video in args.videos:
        if not video.is_file():
            raise SystemExit(f"video_frames: {video}: no such file")
    if len({video.stem for video in args.videos}) < len(args.videos):
        raise SystemExit("video_frames: two videos have the same name; their frames would overwrite each other")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise SystemExit(f"video_frames: {args.out} is not a new, empty folder; choose a new --out")
    like = photo_row(args.real, args.same_as) if args.same_as else {}
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for video in args.videos:
        prefix = "" if len(args.videos) == 1 else f"{video.stem}_"
        for name in save_frames(video, args.out, args.every, prefix):
            rows.append({"path": name, "label": args.label, "group": args.group or like.get("group") or video.stem,
                         "viewpoint": args.viewpoint or like.get("viewpoint") or "beach_camera", "boxes": "",
                         "water": like.get("water", "")})
    with open(args.out / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} frames in {args.out / 'manifest.csv'}", file=sys.stderr)


if __name__ == "__main__":
    main()
