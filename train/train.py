"""Training entry point: the same as ``ripdetect train``.

Reproduce the embedded default model (see README, "Model card"):

    ripdetect synth --out runs/synth-train --n 2000 --seed 1 --size 384x256
    python train/train.py --config train/configs/default.json --out runs/default \
        --data runs/synth-train train/splits/real_dev_train.csv train/splits/real_dev_train.csv \
               train/splits/real_dev_train.csv train/splits/real_dev_train.csv train/splits/real_dev_train.csv \
               train/splits/real_dev_train.csv \
        --val-data train/splits/real_dev_val.csv
    ripdetect export runs/default/model.safetensors ripdetect/weights/default.safetensors --half
"""

import sys

from ripdetect.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
