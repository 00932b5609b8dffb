"""Training beyond one process: ``torchrun --nproc-per-node 2 -m ripdetect train`` on CPU (gloo) gives the same
run folder and checkpoint format as one process, written once by rank 0."""

import json
import subprocess
import sys

import pytest

from tests.helpers import tiny_train_config


@pytest.mark.slow
@pytest.mark.system
def test_two_cpu_processes_train_one_model_in_the_single_process_format(class_folder, tmp_path):
    from safetensors.torch import load_file

    from ripdetect.data.layouts import load_samples, split_samples
    from ripdetect.models.checkpoint import load_checkpoint, read_metadata
    from ripdetect.training.run import train_model

    args = ["--data", class_folder, "--out", tmp_path / "ddp", "--arch", "tiny_cnn", "--no-pretrained",
            "--input-size", "64", "--epochs", "2", "--batch-size", "4", "--num-workers", "0", "--seed", "0"]
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                             "-m", "ripdetect", "train", *map(str, args)], capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1, result.stdout  # rank 0 alone reports
    assert json.loads(printed[0])["epochs_run"] == 2 and "2 processes" in result.stderr

    train, val = split_samples(load_samples(class_folder), 0.2, 0)
    single = train_model(train, val, tiny_train_config(epochs=2), tmp_path / "single",
                         data_sources={"data": [str(class_folder)], "val_data": None})
    ddp_dir, single_dir = tmp_path / "ddp", tmp_path / "single"
    files = sorted(p.relative_to(ddp_dir).as_posix() for p in ddp_dir.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(single_dir).as_posix() for p in single_dir.rglob("*") if p.is_file())
    assert not [name for name in files if "tmp" in name]  # no half-written or doubly written files
    checkpoint = load_checkpoint(ddp_dir / "model.safetensors")
    weights, reference = load_file(str(ddp_dir / "model.safetensors")), load_file(single["model"])
    assert {k: v.shape for k, v in weights.items()} == {k: v.shape for k, v in reference.items()}
    ddp_meta, single_meta = read_metadata(ddp_dir / "model.safetensors"), read_metadata(single["model"])
    assert set(ddp_meta) == set(single_meta) and set(ddp_meta["metrics"]) == set(single_meta["metrics"])
    assert ddp_meta["metrics"]["n"] == single_meta["metrics"]["n"] and checkpoint.model_config.arch == "tiny_cnn"
    history = json.loads((ddp_dir / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]  # one log, not one per rank
