"""``ripdetect export``: re-save a checkpoint (optionally fp16, how the default model is embedded), or, with an
``.onnx`` target, export it to ONNX with the CAM as a second output, in float32 or int8.

    ripdetect export run/model.safetensors model.onnx
    ripdetect export run/model.safetensors model.int8.onnx --int8 --calib my_beach/ synth/ --calib-n 200
"""

from __future__ import annotations

import argparse

from ripdetect.cli.flags import add_config_flags, given
from ripdetect.config import QuantConfig


def add_parser(sub) -> None:
    parser = sub.add_parser("export", help="re-save a checkpoint (e.g. fp16 for embedding), or export it to ONNX")
    parser.add_argument("model", help="source checkpoint (.safetensors)")
    parser.add_argument("out", help="target path: .onnx exports to ONNX, anything else re-saves the checkpoint")
    parser.add_argument("--half", action="store_true", help="store weights as float16 (default: float32; "
                                                            "checkpoint targets only)")
    parser.add_argument("--model-id", default=None, help="model id recorded in outputs (default: keep)")
    parser.add_argument("--training-data", default=None, help="model-card note on the training data (default: keep)")
    parser.add_argument("--card", default=None, metavar="FILE",
                        help="model card fields (JSON or YAML: training_data, cross_validation, video, localisation, "
                             "limits, docs), merged into the checkpoint's card; the app's About tab reads them")
    parser.add_argument("--video-threshold", type=float, default=None, metavar="P",
                        help="the on threshold of the model's video decision, from 0 to 1 (chosen with ripdetect "
                             "eval-video --sweep) (default: keep; a model without one uses its image threshold)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing target file")
    onnx = parser.add_argument_group("ONNX (an .onnx target)")
    onnx.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17)")
    onnx.add_argument("--int8", action="store_true", help="static int8 quantisation, calibrated on --calib images")
    onnx.add_argument("--calib", nargs="+", default=None, metavar="DIR",
                      help="calibration images: folders (recursive), files or globs; real frames of your cameras "
                           "and synthetic scenes (ripdetect synth) both help")
    names = add_config_flags(onnx, QuantConfig)
    parser.set_defaults(run=run, quant_flags=names)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ripdetect.errors import ConfigError

    is_onnx = Path(args.out).suffix.lower() == ".onnx"
    quant = given(args, args.quant_flags)
    if not is_onnx and (args.int8 or args.calib or args.opset or quant):
        raise ConfigError(f"--int8, --calib, --opset and the quantisation flags need an .onnx target, not {args.out}")
    if is_onnx and (args.half or args.training_data or args.card or args.video_threshold is not None):
        raise ConfigError("--half, --training-data, --card and --video-threshold re-save a checkpoint; for a smaller, "
                          "faster ONNX model use --int8")
    if is_onnx and (args.calib or quant) and not args.int8:
        raise ConfigError("--calib and the quantisation flags go with --int8")
    if args.int8 and not args.calib:
        raise ConfigError("--int8 needs calibration images: --calib DIR...")
    if is_onnx:
        from ripdetect.inference.onnx_export import DEFAULT_OPSET, export_onnx
        from ripdetect.inference.quantise import calibration_inputs

        calibration = calibration_inputs(args.calib) if args.calib else None
        print(export_onnx(args.model, args.out, args.opset or DEFAULT_OPSET, args.int8, calibration,
                          QuantConfig(**quant), args.model_id, args.overwrite))
        return 0
    from ripdetect.config import read_data_file
    from ripdetect.models.card import check_card
    from ripdetect.models.checkpoint import export_checkpoint

    card = check_card(read_data_file(args.card), args.card) if args.card else {}
    if args.training_data:
        card["training_data"] = args.training_data
    print(export_checkpoint(args.model, args.out, half=args.half, model_id=args.model_id, model_card=card or None,
                            overwrite=args.overwrite, video_on_threshold=args.video_threshold))
    return 0
