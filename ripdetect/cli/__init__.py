"""The ``ripdetect`` command: subcommands over the library. Prints and progress bars live here.

    ripdetect train --data DIR --out RUN_DIR [--config train/configs/default.json]
    torchrun --nproc-per-node N -m ripdetect train ...   (DistributedDataParallel)
    ripdetect tune --data DIR --out STUDY_DIR [--real MANIFEST --folds K] [--space SPACE.json] [--trials N]
    ripdetect eval --data DIR --model CKPT [--out DIR]
    ripdetect eval-video CLIPS... [--model CKPT] [--out DIR] [--sweep]
    ripdetect predict PATH... [--model CKPT] [--out DIR]
    ripdetect video INPUT... --out DIR
    ripdetect watch --cameras cameras.yaml --out DIR [--metrics-port 9108] [--once]
    ripdetect adapt --labels labels.csv --out CAMERA.safetensors [--cameras FILE --camera NAME]
    ripdetect synth --out DIR --n N --seed S
    ripdetect compare RUN_DIR... [--ensemble RUN_DIR...]
    ripdetect augment-preview --data DIR --out grid.png
    ripdetect export CKPT OUT.onnx [--int8 --calib DIR...]
    ripdetect distill --teacher CKPT --data DIR --out RUN [--input-size 160]
    ripdetect app [--port 7860]
"""

from __future__ import annotations

import argparse
import logging
import sys

from ripdetect.cli.examples import epilog
from ripdetect.errors import RipdetectError
from ripdetect.version import __version__

SUBCOMMANDS = ("train", "tune", "eval", "eval_video", "adapt", "predict", "video", "watch", "synth", "composite",
               "compare", "augment_preview", "export", "distill", "app")


class _Subcommands:
    """``add_subparsers``' result, giving every subcommand ``-v`` (before or after its name), its examples and its
    documentation page at the end of its ``--help``."""

    def __init__(self, sub, common: argparse.ArgumentParser):
        self.sub, self.common = sub, common

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self.sub.add_parser(name, parents=[self.common], epilog=epilog(name),
                                   formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def get_args_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="ripdetect", description="Rip-current detection and localisation: whether a beach-camera image or video "
        "shows a rip current, and where.", epilog="ripdetect COMMAND --help shows each command's flags and examples; "
        "the documentation is in docs/ (bash run.sh docs serves it on http://127.0.0.1:8000).")
    parser.add_argument("--version", action="version", version=f"ripdetect {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO messages (default: warnings only)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log INFO messages (default: warnings only)")
    sub = _Subcommands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"), common)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"ripdetect.cli.{name}_cmd")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = get_args_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="ripdetect: %(levelname)s: %(message)s", stream=sys.stderr)
    _configure_torch()
    try:
        return int(args.run(args) or 0)
    except RipdetectError as exc:
        print(f"ripdetect: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ripdetect: interrupted", file=sys.stderr)
        return 130


def _configure_torch() -> None:
    """Process-wide settings belong to the program, not the library: flush denormals for faster CPU inference."""
    import torch

    torch.set_flush_denormal(True)


if __name__ == "__main__":
    sys.exit(main())
