"""What ``ripdetect COMMAND --help`` ends with: examples to copy, and the page of the documentation that says more
(``docs/`` in the repository; ``bash run.sh docs`` serves it)."""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, list[str]]] = {
    "train": ("training.md", [
        "ripdetect train --data my_beach/ --out runs/my_beach --epochs 20    # my_beach/rip/*.jpg, my_beach/no_rip/*.jpg",
        "ripdetect train --data synth/ --real train/real_dev.csv --folds 5 --out runs/cv   # cross-validated by site",
        "torchrun --nproc-per-node 2 -m ripdetect train --data my_beach/ --out runs/ddp",
    ]),
    "tune": ("tuning.md", [
        "ripdetect tune --data synth/ --val-data real_val.csv --out runs/tune --trials 40",
        "ripdetect tune --real train/real_dev.csv --data synth/ --out runs/tune --timeout 28800",
    ]),
    "eval": ("training.md#train-and-evaluate", [
        "ripdetect eval --data my_beach/ --model runs/my_beach/model.safetensors --out eval/",
    ]),
    "eval-video": ("video.md#false-alarms-on-labelled-clips", [
        "ripdetect eval-video clips.csv --out runs/eval-video          # path,label[,events] (events: '12.5-40; 80-95')",
        "ripdetect eval-video my_cameras/ synth_clips/ --sweep         # rip/ and no_rip/ videos; ripdetect synth clips",
    ]),
    "adapt": ("adapt.md", [
        "ripdetect adapt --labels north-beach/labels.csv --out north-beach.safetensors",
        "ripdetect adapt --cameras cameras.yaml --camera north-beach --labels labels.csv     # writes model: into the "
        "profile",
        "ripdetect adapt --labels labels.csv --out nb.safetensors --video calm_day.mp4      # false alarms per "
        "camera-hour",
        "",
        "labels.csv holds path,label[,box][,day]: rip or no_rip; box x1 y1 x2 y2 in pixels; day: when the frame was "
        "taken",
        "(else read from the file name or date). Label at least 5 frames (from at least 2 days, or one day, cut into blocks of time); calm days alone are "
        "enough",
        "to teach the camera's normal.",
    ]),
    "predict": ("images.md", [
        "ripdetect predict beach.jpg frames/ 'cams/*.png' --out overlays/",
        "ripdetect predict frames/ --threshold 0.4 > results.jsonl",
    ]),
    "video": ("video.md", [
        "ripdetect video beach.mp4 --out results/",
        "ripdetect video clips/ rtsp://camera/stream --out results/ --motion --show-flow",
    ]),
    "watch": ("cameras.md", [
        "ripdetect watch --cameras cameras.yaml --out watch/ --metrics-port 9108",
        "ripdetect watch --cameras cameras.yaml --out backfill/ --once    # files to their end, then exit",
    ]),
    "synth": ("training.md#synthetic-scenes", [
        "ripdetect synth --out synth/ --n 1200 --seed 1",
        "ripdetect synth --out clips/ --n 0 --clips 12 --clip-seconds 20 --fps 10",
    ]),
    "composite": ("training.md#synthetic-scenes", [
        "ripdetect composite --real train/real_dev.csv --out composites/",
    ]),
    "compare": ("training.md", ["ripdetect compare runs/a runs/b --ensemble runs/a runs/b"]),
    "augment-preview": ("training.md", ["ripdetect augment-preview --data my_beach/ --out grid.png"]),
    "export": ("export.md", [
        "ripdetect export runs/my_beach/model.safetensors model.onnx",
        "ripdetect export runs/my_beach/model.safetensors model.int8.onnx --int8 --calib my_beach/ synth/",
    ]),
    "distill": ("export.md", [
        "ripdetect distill --teacher runs/big/model.safetensors --student efficientnet_lite0 --input-size 160 "
        "--data synth/ --out runs/small",
    ]),
    "app": ("app.md", [
        "ripdetect app --port 7860",
        "ripdetect app --cameras cameras.yaml --watch-dir watch/     # with the Cameras tab",
    ]),
}


def epilog(command: str) -> str | None:
    """The examples of ``command`` and its documentation page, as the end of its ``--help``."""
    if command not in EXAMPLES:
        return None
    page, examples = EXAMPLES[command]
    return "\n".join(["examples:", *(f"  {line}".rstrip() for line in examples), "",
                      f"documentation: docs/{page} (bash run.sh docs serves it on http://127.0.0.1:8000)"])
