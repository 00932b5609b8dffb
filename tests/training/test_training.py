import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ripdetect.config import AugmentConfig, TrainConfig
from ripdetect.data.augment import TrainTransform
from ripdetect.data.layouts import load_samples, split_samples
from ripdetect.data.weather_copies import write_weather_copies
from ripdetect.models.preprocess import Preprocessing, resolve_model_config
from tests.helpers import make_scene, run_cli, tiny_model_config, tiny_train_config

PREPROCESSING = Preprocessing.of(resolve_model_config(tiny_model_config()))


@pytest.mark.parametrize("shape", [(48, 80), (80, 48), (64, 64)])
@pytest.mark.parametrize("strength", [0.0, 0.1, 0.3, 0.5, 1.0, 2.0])
def test_train_transform_is_seeded_and_shaped(rng, shape, strength):
    image = make_scene(rng, True, *shape)
    config = AugmentConfig(strength=strength, p_weather=1.0, p_noise=1.0)
    a = TrainTransform(PREPROCESSING, config, seed=7)(image)
    b = TrainTransform(PREPROCESSING, config, seed=7)(image)
    c = TrainTransform(PREPROCESSING, config, seed=8)(image)
    assert a.shape == (3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_preprocessing_resizes_and_normalises(image_rgb):
    tensor = PREPROCESSING(image_rgb)
    assert tensor.shape == (3, 64, 64)
    white = PREPROCESSING(np.full((10, 30, 3), 255, np.uint8))
    assert torch.allclose(white, torch.ones_like(white))  # (1 - 0.5) / 0.5
    assert torch.allclose(PREPROCESSING.normalise(np.zeros((4, 4, 3), np.uint8)), torch.full((3, 4, 4), -1.0))


def test_weather_copies_are_written_once_and_deterministic(class_folder, tmp_path):
    samples = load_samples(class_folder)[:3]
    copies = write_weather_copies(samples, tmp_path / "w", copies=2, seed=0)
    assert len(copies) == 6 and all(c.region == s.region for c, s in zip(copies[::2], samples))
    first = [open(c.path, "rb").read() for c in copies]
    for copy in copies:
        Path(copy.path).unlink()
    again = write_weather_copies(samples, tmp_path / "w", copies=2, seed=0)
    assert [open(c.path, "rb").read() for c in again] == first


@pytest.mark.slow
def test_two_step_training_and_resume_without_pickles(class_folder, tmp_path):
    from ripdetect.training.engine import fit

    samples = load_samples(class_folder)
    train, val = split_samples(samples, 0.34, seed=0)
    config = tiny_train_config(epochs=2, max_steps_per_epoch=2, patience=0)
    result = fit(train, val, config, tmp_path / "run")
    assert [row["epoch"] for row in result.history] == [1, 2]
    for name in ("best.safetensors", "last.safetensors", "last_state.safetensors", "last_state.json", "log.csv",
                 "history.json"):
        assert (tmp_path / "run" / name).exists(), name
    assert not list((tmp_path / "run").glob("*.pt"))
    resumed = fit(train, val, dataclasses.replace(config, epochs=3), tmp_path / "run", resume=True)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3]
    log_epochs = [line.split(",")[0] for line in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert log_epochs == ["1", "2", "3"]


def test_training_leaves_the_callers_random_state_alone(class_folder, tmp_path):
    from ripdetect.training.engine import fit

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(load_samples(class_folder), [], tiny_train_config(epochs=1, max_steps_per_epoch=1), tmp_path / "run")
    assert torch.equal(torch.rand(3), expected)


def test_unreadable_training_images_are_skipped_and_counted(class_folder, tmp_path):
    from ripdetect.training.engine import fit

    (class_folder / "rip" / "broken.jpg").write_text("not an image")
    (class_folder / "no_rip" / "empty.png").write_bytes(b"")
    samples = load_samples(class_folder)
    result = fit(samples, [], tiny_train_config(epochs=1), tmp_path / "run")
    assert set(result.bad_files) == {str(class_folder / "rip" / "broken.jpg"),
                                     str(class_folder / "no_rip" / "empty.png")}


@pytest.mark.slow
@pytest.mark.system
def test_a_training_set_with_no_readable_image_is_one_line(tmp_path):
    for label in ("rip", "no_rip"):
        (tmp_path / "d" / label).mkdir(parents=True)
        (tmp_path / "d" / label / "x.jpg").write_text("not an image")
    result = run_cli("train", "--data", tmp_path / "d", "--out", tmp_path / "run", "--arch", "tiny_cnn",
                     "--no-pretrained", "--num-workers", "0", "--val-fraction", "0")
    assert result.returncode == 2, result.stderr
    assert "none of the 2 training images could be read" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("eval", "--data", tmp_path / "d", "--model", tmp_path / "nothing.safetensors")
    assert result.returncode == 2 and "checkpoint not found" in result.stderr


@pytest.mark.slow
@pytest.mark.system
def test_eval_of_a_set_with_no_readable_image_is_one_line(tmp_path, tiny_checkpoint):
    for label in ("rip", "no_rip"):
        (tmp_path / "d" / label).mkdir(parents=True)
        (tmp_path / "d" / label / "x.png").write_bytes(b"")
    result = run_cli("eval", "--data", tmp_path / "d", "--model", tiny_checkpoint)
    assert result.returncode == 2 and "none of the 2 images could be read" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_ctrl_c_leaves_a_resumable_checkpoint(class_folder, tmp_path, monkeypatch):
    from ripdetect.training import engine

    calls = {"n": 0}
    original = engine.train_one_epoch

    def interrupt_second_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "train_one_epoch", interrupt_second_epoch)
    samples = load_samples(class_folder)
    config = tiny_train_config(epochs=3, patience=0)
    with pytest.raises(engine.TrainingInterrupted, match="--resume"):
        engine.fit(samples, [], config, tmp_path / "run")
    monkeypatch.setattr(engine, "train_one_epoch", original)
    result = engine.fit(samples, [], config, tmp_path / "run", resume=True)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]


@pytest.mark.slow
@pytest.mark.system
def test_a_pickled_resume_state_is_never_read(class_folder, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    torch.save({"epoch": 1}, run / "last_state.pt")
    result = run_cli("train", "--data", class_folder, "--out", run, "--resume", "--arch", "tiny_cnn",
                     "--no-pretrained", "--num-workers", "0")
    assert result.returncode == 2 and "pickled state" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_model_trained_from_python_is_finished_like_the_cli(class_folder, tmp_path):
    """train_model gives model.safetensors with a threshold, metrics and a CAM display scale."""
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.training.run import train_model

    train, val = split_samples(load_samples(class_folder), 0.34, seed=0)
    result = train_model(train, val, tiny_train_config(epochs=2), tmp_path / "run")
    finished = load_checkpoint(result["model"])
    assert finished.cam_scale is not None and finished.cam_scale > 0
    assert finished.metadata["metrics"]["n"] == len(val) and finished.threshold == result["threshold"]
    assert finished.model_id == "run"
    for name in ("curves.png", "confusion_matrix.png", "roc.png", "config.json", "split.json"):
        assert (tmp_path / "run" / name).exists(), name


@pytest.mark.slow
def test_training_into_an_existing_run_needs_resume_or_overwrite(class_folder, tmp_path):
    from ripdetect.files import OutputExistsError
    from ripdetect.training.run import train_model

    samples = load_samples(class_folder)
    config = tiny_train_config(epochs=1, val_fraction=0.0)
    train_model(samples, [], config, tmp_path / "run")
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="--resume to continue it or --overwrite"):
        train_model(samples, [], config, tmp_path / "run")
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before
    train_model(samples, [], config, tmp_path / "run", overwrite=True)
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    assert len((tmp_path / "run" / "log.csv").read_text().splitlines()) == 2  # header + 1 epoch, not appended


@pytest.mark.slow
@pytest.mark.system
def test_cli_train_then_eval(class_folder, tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("train", "--data", class_folder, "--out", run_dir, "--arch", "tiny_cnn", "--no-pretrained",
                     "--input-size", "64", "--epochs", "2", "--batch-size", "4", "--num-workers", "0",
                     "--max-steps-per-epoch", "2", "--weather-copies", "1", check=True)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (run_dir / "model.safetensors").exists() and summary["epochs_run"] == 2
    for name in ("curves.png", "confusion_matrix.png", "roc.png", "pr.png", "config.json", "log.csv"):
        assert (run_dir / name).exists(), name
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["model"]["arch"] == "tiny_cnn" and saved["augment"]["weather_copies"] == 1
    assert saved["model"]["mean"] == [0.5, 0.5, 0.5]  # the resolved config is saved with the run
    result = run_cli("eval", "--data", class_folder, "--model", run_dir / "model.safetensors", "--out",
                     tmp_path / "eval", check=True)
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 12 and sum(map(sum, metrics["confusion_matrix"])) == 12
    assert metrics["localisation"]["n"] == 6 and len(metrics["localisation"]["per_image"]) == 6
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


def test_cli_config_precedence_on_resume(tmp_path):
    """On --resume: CLI flags > --config file > the run's saved config > defaults."""
    from ripdetect.cli import get_args_parser
    from ripdetect.cli.train_cmd import resolve_train_config

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"epochs": 9, "lr": 0.002, "batch_size": 5,
                                                 "model": {"arch": "tiny_cnn"}}))
    parse = get_args_parser().parse_args
    saved = resolve_train_config(parse(["train", "--out", str(run), "--resume"]))
    assert (saved.epochs, saved.lr, saved.batch_size, saved.model.arch) == (9, 0.002, 5, "tiny_cnn")
    flagged = resolve_train_config(parse(["train", "--out", str(run), "--resume", "--epochs", "12"]))
    assert (flagged.epochs, flagged.lr) == (12, 0.002)
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"epochs": 4}))
    from_file = resolve_train_config(parse(["train", "--out", str(run), "--resume", "--config", str(recipe),
                                            "--lr", "0.1"]))
    assert (from_file.epochs, from_file.lr, from_file.batch_size, from_file.model.arch) == (
        4, 0.1, TrainConfig().batch_size, TrainConfig().model.arch)


@pytest.mark.system
def test_train_help_shows_each_default_once_and_allowed_values():
    result = run_cli("train", "--help", check=True)
    assert result.stdout.count("(default: efficientnet_lite0)") == 1
    assert "(default: None)" not in result.stdout
    assert all(text in result.stdout for text in ("{f1,roc_auc,balanced_accuracy}",
                                                  "max_balanced_accuracy,recall,fixed}",
                                                  "{weighted_loss,balanced_sampler,none}", "tiny_cnn}"))
    for line in result.stdout.splitlines():
        assert line.count("(default:") <= 1, line


@pytest.mark.slow
@pytest.mark.system
@pytest.mark.parametrize("args,message", [
    (["--data", "/nonexistent/dir"], "not found"),
    (["--data", "{empty}"], "unknown dataset layout"),
    (["--data", "{data}", "--config", "/nonexistent.json"], "config file not found"),
    (["--data", "{data}", "--lr", "5"], "lr"),
])
def test_cli_train_bad_input_one_line(class_folder, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty", data=class_folder) for a in args]
    result = run_cli("train", "--out", tmp_path / "o", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_metrics_and_threshold():
    from ripdetect.training.metrics import choose_threshold, classification_metrics

    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.2, 0.6, 0.55, 0.8, 0.9])
    metrics = classification_metrics(labels, probs, 0.5)
    assert metrics["confusion_matrix"] == [[2, 1], [0, 3]] and metrics["recall"] == 1.0
    assert metrics["balanced_accuracy"] == pytest.approx((1 + 2 / 3) / 2)
    threshold = choose_threshold(labels, probs, "max_f1")
    assert 0.2 < threshold <= 0.55
    assert choose_threshold(labels, probs, "recall", target_recall=1.0) <= 0.55


def test_masks_follow_geometric_augmentation(class_folder):
    from ripdetect.data.torch_dataset import ImageDataset, collate_skipping_errors

    samples = load_samples(class_folder)
    config = AugmentConfig(p_geometric=1.0, p_weather=1.0)
    dataset = ImageDataset(samples, TrainTransform(PREPROCESSING, config, seed=3), with_masks=True)
    items = [dataset[i] for i in range(len(samples))]
    rip_items = [item for item in items if item[1] == 1]
    assert all(item[3] is not None and item[3].shape == (64, 64) for item in rip_items)
    assert all(item[3] is None and item[4] is None for item in items if item[1] == 0)
    assert all(0 < item[3].mean() < 1 for item in rip_items)
    batch = collate_skipping_errors(items[:4])
    assert batch["masks"].shape == (4, 64, 64) and batch["has_mask"].tolist() == [i[3] is not None for i in items[:4]]
    assert not batch["has_water"].any()


def test_cam_mass_loss_prefers_maps_inside_the_region():
    from ripdetect.training.losses import cam_mass_loss

    masks = torch.zeros(1, 64, 64)
    masks[:, :32, :32] = 1
    inside = torch.full((1, 4, 4), -5.0)
    inside[:, :2, :2] = 5.0
    outside = inside.flip(1).flip(2)
    assert cam_mass_loss(inside, masks) < 0.01 < cam_mass_loss(outside, masks)


@pytest.mark.slow
def test_cam_loss_pulls_the_map_into_the_labelled_region(class_folder, tmp_path):
    """Same seed and data, with and without the localisation loss: with it, more CAM mass lies in the masks."""
    from ripdetect.data.torch_dataset import ImageDataset
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.training.engine import fit
    from ripdetect.training.losses import cam_mass_loss

    samples = load_samples(class_folder)
    rips = [s for s in samples if s.label == 1]

    def mass_loss(weight: float) -> float:
        config = tiny_train_config(epochs=10, lr=0.01, val_fraction=0.0, cam_loss_weight=weight, patience=0,
                                   augment=AugmentConfig(p_geometric=0, p_photometric=0, p_weather=0, p_noise=0))
        fit(samples, [], config, tmp_path / f"run{weight}")
        model = load_checkpoint(tmp_path / f"run{weight}" / "last.safetensors").model
        dataset = ImageDataset(rips, TrainTransform(model.preprocessing, config.augment, seed=0), with_masks=True)
        items = [dataset[i] for i in range(len(rips))]
        with torch.no_grad():
            evidence = model.outputs(torch.stack([item[0] for item in items])).raw_evidence
        return float(cam_mass_loss(evidence, torch.stack([item[3] for item in items])))

    with_loss, without = mass_loss(5.0), mass_loss(0.0)
    assert with_loss < without - 0.1


def test_init_from_checkpoint(class_folder, tmp_path, tiny_checkpoint):
    from ripdetect.errors import CheckpointError
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.training.engine import fit

    samples = load_samples(class_folder)
    config = tiny_train_config(epochs=1, val_fraction=0.0, lr=1e-7, backbone_lr_scale=0.0)
    fit(samples, [], config, tmp_path / "run", init_from=tiny_checkpoint)
    start = load_checkpoint(tiny_checkpoint).model.head.weight
    after = load_checkpoint(tmp_path / "run" / "last.safetensors").model.head.weight
    assert torch.allclose(start, after, atol=1e-4)
    other = dataclasses.replace(config, model=tiny_model_config(num_classes=1))
    with pytest.raises(CheckpointError, match="2 logit.*this run is tiny_cnn with 1"):
        fit(samples, [], other, tmp_path / "run2", init_from=tiny_checkpoint)
