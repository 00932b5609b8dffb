"""``ripdetect app`` (also ``python app.py``): the Gradio web app and its HTTP API."""

from __future__ import annotations

import argparse

from ripdetect.cli.flags import DEPLOYMENT_DEFAULT, add_config_flags, add_model_flag, given, port_number
from ripdetect.config import AppLimits

RENAMED = {"max_video_s": "max_video_seconds"}


def add_parser(sub) -> None:
    parser = sub.add_parser("app", help="start the web app")
    add_model_flag(parser, DEPLOYMENT_DEFAULT)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1, local only)")
    parser.add_argument("--port", type=port_number, default=7860,
                        help="TCP port the app listens on, 0 to 65535 (default: 7860)")
    parser.add_argument("--share", action="store_true", help="create a public Gradio share link (default: off)")
    parser.add_argument("--samples", default=None,
                        help="folder of example images and clips shown in the app (default: the synthetic samples "
                             "that ship in the package, ripdetect.sample_path())")
    parser.add_argument("--cameras", default=None, metavar="FILE",
                        help="camera profile file: with --watch-dir, a Cameras tab shows them (default: no tab)")
    parser.add_argument("--watch-dir", default=None, metavar="DIR",
                        help="the --out folder of the ripdetect watch that follows those cameras (default: none)")
    names = add_config_flags(parser, AppLimits, rename=RENAMED)
    parser.set_defaults(run=run, limit_flags=names)


def run(args: argparse.Namespace) -> int:
    import signal
    import sys

    from ripdetect.app.layout import launch

    # SIGTERM ends the app as Ctrl-C does: the exit handlers remove every request's result folder
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    launch(args.model, args.host, args.port, args.share, AppLimits(**given(args, args.limit_flags)),
           samples_dir=args.samples, cameras_path=args.cameras, watch_dir=args.watch_dir)
    return 0
