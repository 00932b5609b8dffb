"""``ripdetect app`` (also ``python app.py``): the Gradio web app and its HTTP API."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from ripdetect.webapp import AppLimits

    limits = AppLimits()
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1, local only)")
    parser.add_argument("--port", type=int, default=7860, help="(default: 7860)")
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link (default: off)")
    parser.add_argument("--max-video-seconds", type=float, default=limits.max_video_s,
                        help=f"(default: {limits.max_video_s:.0f})")
    parser.add_argument("--max-upload-mb", type=float, default=limits.max_video_mb,
                        help=f"(default: {limits.max_video_mb:.0f})")
    parser.add_argument("--samples", default="data/samples",
                        help="folder of example images/clips shown in the app (default: data/samples)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests processed at once (default: 2)")
    return parser


def add_parser(sub) -> None:
    parser = add_arguments(sub.add_parser("app", help="start the web app"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ripdetect.webapp import AppLimits, launch

    launch(args.model, args.host, args.port, args.share,
           AppLimits(max_video_s=args.max_video_seconds, max_video_mb=args.max_upload_mb),
           concurrency=args.concurrency, samples_dir=args.samples)
    return 0
