import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_scene
from ripdetect.augment import EvalTransform, TrainTransform, preprocess, write_weather_copies
from ripdetect.config import AugmentConfig, ModelConfig, TrainConfig
from ripdetect.data import load_samples, split_samples
from ripdetect.model import resolve_model_config

MODEL_CONFIG = resolve_model_config(ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False))


@pytest.mark.parametrize("shape", [(48, 80), (80, 48), (64, 64)])
@pytest.mark.parametrize("strength", [0.5, 1.0, 2.0])
def test_train_transform_is_seeded_and_shaped(rng, shape, strength):
    image = make_scene(rng, True, *shape)
    config = AugmentConfig(strength=strength, p_weather=1.0, p_noise=1.0)
    a = TrainTransform(MODEL_CONFIG, config, seed=7)(image)
    b = TrainTransform(MODEL_CONFIG, config, seed=7)(image)
    c = TrainTransform(MODEL_CONFIG, config, seed=8)(image)
    assert a.shape == (3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_eval_transform_equals_preprocess(image_rgb):
    assert torch.equal(EvalTransform(MODEL_CONFIG)(image_rgb), preprocess(image_rgb, MODEL_CONFIG))


def test_weather_copies_are_written_once_and_deterministic(class_folder, tmp_path):
    samples = load_samples(class_folder)[:3]
    copies = write_weather_copies(samples, tmp_path / "w", copies=2, seed=0)
    assert len(copies) == 6 and all(c.region == s.region for c, s in zip(copies[::2], samples))
    first = [open(c.path, "rb").read() for c in copies]
    for copy in copies:
        Path(copy.path).unlink()
    again = write_weather_copies(samples, tmp_path / "w", copies=2, seed=0)
    assert [open(c.path, "rb").read() for c in again] == first


def test_two_step_training_smoke_and_resume(class_folder, tmp_path):
    from ripdetect.engine import fit

    samples = load_samples(class_folder)
    train, val = split_samples(samples, 0.34, seed=0)
    config = TrainConfig(model=ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False), epochs=2,
                         batch_size=4, num_workers=0, max_steps_per_epoch=2, patience=0)
    result = fit(train, val, config, tmp_path / "run")
    assert len(result["history"]) == 2
    for name in ("best.safetensors", "last.safetensors", "last_state.pt", "log.csv", "history.json"):
        assert (tmp_path / "run" / name).exists(), name
    longer = TrainConfig(**{**config.__dict__, "epochs": 3})
    resumed = fit(train, val, longer, tmp_path / "run", resume=True)
    assert [row["epoch"] for row in resumed["history"]] == [1, 2, 3]


def test_unreadable_training_images_are_skipped_and_counted(class_folder, tmp_path):
    from ripdetect.engine import fit

    (class_folder / "rip" / "broken.jpg").write_text("not an image")
    (class_folder / "no_rip" / "empty.png").write_bytes(b"")
    samples = load_samples(class_folder)
    config = TrainConfig(model=ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False), epochs=1,
                         batch_size=4, num_workers=0, val_fraction=0.0)
    result = fit(samples, [], config, tmp_path / "run")
    assert set(result["bad_files"]) == {str(class_folder / "rip" / "broken.jpg"), str(class_folder / "no_rip" / "empty.png")}


def test_ctrl_c_leaves_a_resumable_checkpoint(class_folder, tmp_path, monkeypatch):
    from ripdetect import engine

    calls = {"n": 0}
    original = engine.train_one_epoch

    def interrupt_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "train_one_epoch", interrupt_second_epoch)
    samples = load_samples(class_folder)
    config = TrainConfig(model=ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False), epochs=3,
                         batch_size=4, num_workers=0, val_fraction=0.0, patience=0)
    with pytest.raises(engine.TrainingInterrupted, match="--resume"):
        engine.fit(samples, [], config, tmp_path / "run")
    monkeypatch.setattr(engine, "train_one_epoch", original)
    result = engine.fit(samples, [], config, tmp_path / "run", resume=True)
    assert [row["epoch"] for row in result["history"]] == [1, 2, 3]


def _cli(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "ripdetect", *args], capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_cli_train_then_eval(class_folder, tmp_path):
    run_dir = tmp_path / "run"
    result = _cli("train", "--data", str(class_folder), "--out", str(run_dir), "--arch", "tiny_cnn", "--no-pretrained",
                  "--input-size", "64", "--epochs", "2", "--batch-size", "4", "--num-workers", "0",
                  "--max-steps-per-epoch", "2", "--weather-copies", "1")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (run_dir / "model.safetensors").exists() and summary["epochs_run"] == 2
    for name in ("curves.png", "confusion_matrix.png", "roc.png", "pr.png", "config.json", "log.csv"):
        assert (run_dir / name).exists(), name
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["model"]["arch"] == "tiny_cnn" and saved["augment"]["weather_copies"] == 1
    result = _cli("eval", "--data", str(class_folder), "--model", str(run_dir / "model.safetensors"),
                  "--out", str(tmp_path / "eval"))
    metrics = json.loads(result.stdout)
    for key in ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "f2", "roc_auc", "brier",
                "confusion_matrix", "n"):
        assert key in metrics
    assert metrics["n"] == 12
    assert 0 <= metrics["localisation"]["pointing_game"] <= 1 and metrics["localisation"]["n"] == 6
    assert (tmp_path / "eval" / "roc.png").exists()


def test_cli_config_precedence(tmp_path):
    from ripdetect.cli import get_args_parser
    from ripdetect.cli.train_cmd import resolve_train_config

    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"epochs": 7, "lr": 0.01, "model": {"arch": "tiny_cnn"}}))
    args = get_args_parser().parse_args(["train", "--data", "x", "--out", str(tmp_path / "o"), "--config",
                                         str(recipe), "--epochs", "3"])
    config = resolve_train_config(args)
    assert (config.epochs, config.lr, config.model.arch, config.batch_size) == (3, 0.01, "tiny_cnn", 16)


@pytest.mark.parametrize("args,message", [
    (["--data", "/nonexistent/dir"], "not found"),
    (["--data", "{empty}"], "unknown dataset layout"),
    (["--data", "{data}", "--config", "/nonexistent.json"], "config file not found"),
    (["--data", "{data}", "--lr", "5"], "lr"),
])
def test_cli_train_bad_input_one_line(class_folder, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty", data=class_folder) for a in args]
    result = _cli("train", "--out", str(tmp_path / "o"), *args, check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_metrics_and_threshold():
    from ripdetect.metrics import choose_threshold, classification_metrics

    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.6, 0.55, 0.8, 0.9])
    metrics = classification_metrics(labels, probs, 0.5)
    assert metrics["confusion_matrix"] == [[2, 1], [0, 3]] and metrics["recall"] == 1.0
    assert metrics["balanced_accuracy"] == pytest.approx((1 + 2 / 3) / 2)
    threshold = choose_threshold(labels, probs, "max_f1")
    assert 0.2 < threshold <= 0.55
    assert choose_threshold(labels, probs, "recall", target_recall=1.0) <= 0.55


def test_masks_follow_geometric_augmentation(class_folder):
    from ripdetect.dataset import ImageDataset, collate_skipping_errors

    samples = load_samples(class_folder)
    config = AugmentConfig(p_geometric=1.0, p_weather=1.0)
    dataset = ImageDataset(samples, TrainTransform(MODEL_CONFIG, config, seed=3), with_masks=True)
    items = [dataset[i] for i in range(len(samples))]
    rip_items = [item for item in items if item[1] == 1]
    assert all(item[3] is not None and item[3].shape == (64, 64) for item in rip_items)
    assert all(item[3] is None for item in items if item[1] == 0)
    assert all(0 < item[3].mean() < 1 for item in rip_items)
    batch = collate_skipping_errors(items[:4])
    assert batch["masks"].shape == (4, 64, 64) and batch["has_mask"].tolist() == [i[3] is not None for i in items[:4]]


def test_cam_mass_loss_prefers_maps_inside_the_region():
    from ripdetect.engine import cam_mass_loss

    masks = torch.zeros(1, 64, 64)
    masks[:, :32, :32] = 1
    inside = torch.full((1, 4, 4), -5.0)
    inside[:, :2, :2] = 5.0
    outside = inside.flip(1).flip(2)
    assert cam_mass_loss(inside, masks) < 0.01 < cam_mass_loss(outside, masks)


def test_training_with_cam_loss_runs(class_folder, tmp_path):
    from ripdetect.engine import fit

    samples = load_samples(class_folder)
    config = TrainConfig(model=ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False), epochs=1,
                         batch_size=4, num_workers=0, val_fraction=0.0, cam_loss_weight=0.5)
    result = fit(samples, [], config, tmp_path / "run")
    assert np.isfinite(result["history"][0]["train_loss"])


def test_init_from_checkpoint(class_folder, tmp_path, tiny_checkpoint):
    from ripdetect.checkpoint import load_checkpoint
    from ripdetect.engine import fit
    from ripdetect.errors import CheckpointError

    samples = load_samples(class_folder)
    config = TrainConfig(model=ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False), epochs=1,
                         batch_size=4, num_workers=0, val_fraction=0.0, lr=1e-7, backbone_lr_scale=0.0)
    fit(samples, [], config, tmp_path / "run", init_from=tiny_checkpoint)
    start = load_checkpoint(tiny_checkpoint).model.head.weight
    after = load_checkpoint(tmp_path / "run" / "last.safetensors").model.head.weight
    assert torch.allclose(start, after, atol=1e-4)
    other = TrainConfig(model=ModelConfig(arch="tiny_cnn", num_classes=1, pretrained=False), epochs=1,
                        num_workers=0, val_fraction=0.0)
    with pytest.raises(CheckpointError, match="2 logit.*this run is tiny_cnn with 1"):
        fit(samples, [], other, tmp_path / "run2", init_from=tiny_checkpoint)
