"""One fold's model of a cross-validation run, with the run's pooled temperature and threshold (those the final
model ships with): the model that never saw that fold's sites, for honest checks on a held-out camera's video.

    python train/fold_model.py runs/v3 4        # -> runs/v3/fold4-calibrated.safetensors
"""

import argparse
import json
from pathlib import Path

from ripdetect.errors import RipdetectError
from ripdetect.models.checkpoint import load_checkpoint, save_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a cross-validation run (ripdetect train --folds)")
    parser.add_argument("fold", type=int, help="the fold, from 0")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args()
    try:
        report = json.loads((args.run / "cv_report.json").read_text())
        checkpoint = load_checkpoint(args.run / f"fold_{args.fold}" / "last.safetensors")
    except (OSError, ValueError) as exc:
        raise SystemExit(f"fold_model: {args.run}: {exc}") from None
    except RipdetectError as exc:
        raise SystemExit(f"fold_model: {exc}") from None
    metadata = {**checkpoint.metadata, "temperature": report["temperature"],
                "model_id": f"{args.run.resolve().name}-fold{args.fold}"}
    out = args.run / f"fold{args.fold}-calibrated.safetensors"
    try:
        save_checkpoint(out, checkpoint.model, report["threshold"], metadata, overwrite=args.overwrite)
    except RipdetectError as exc:
        raise SystemExit(f"fold_model: {exc}") from None
    print(out)


if __name__ == "__main__":
    main()
