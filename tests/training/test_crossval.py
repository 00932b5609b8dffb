"""Evaluation you can trust on few images (grouped folds, intervals, calibration), evidence only from the water
(water head, out-of-water penalty, regions kept in the sea) and composites into real photos."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ripdetect.data.layouts import Sample, load_samples
from tests.helpers import make_scene, run_cli, tiny_model_config, tiny_train_config, write_png


def _samples(n_groups=8, per_group=3):
    return [Sample(f"g{g}_{i}.png", (g + i) % 2, group=f"site{g}", viewpoint="aerial" if g % 2 else "beach_camera")
            for g in range(n_groups) for i in range(per_group)]


def test_grouped_folds_never_split_a_site():
    from ripdetect.training.crossval import fold_training_set, grouped_folds

    samples = _samples()
    assignment = grouped_folds(samples, 4, seed=0)
    for group in {s.group for s in samples}:
        assert len({f for s, f in zip(samples, assignment) if s.group == group}) == 1, group
    assert sorted(set(assignment)) == [0, 1, 2, 3]
    for fold in range(4):
        assert {s.label for s, f in zip(samples, assignment) if f == fold} == {0, 1}
    composites = [Sample(f"c{g}.png", 1, group=f"site{g}") for g in range(8)] + [Sample("synth.png", 1)]
    train, val = fold_training_set(samples, composites, assignment, 0, real_repeat=3)
    held_out = {s.group for s in val}
    assert held_out and not held_out & {s.group for s in train if s.group}
    assert sum(s.path == "synth.png" for s in train) == 1  # ungrouped extras always train
    assert len([s for s in train if s.path.startswith("g")]) == 3 * (len(samples) - len(val))


def test_too_few_sites_for_the_folds_is_one_line():
    from ripdetect.errors import DataError
    from ripdetect.training.crossval import grouped_folds

    with pytest.raises(DataError, match="5 folds need at least 5 sites with rip images; there are 4"):
        grouped_folds(_samples(n_groups=4), 5, seed=0)


def test_temperature_scaling_recovers_a_known_temperature():
    from ripdetect.training.calibration import calibrated_probs, fit_temperature
    from ripdetect.training.metrics import expected_calibration_error

    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-true_logits))).astype(int)
    overconfident = true_logits * 3.0  # a model three times too sure of itself
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(labels, calibrated_probs(overconfident, 1.0))
    after = expected_calibration_error(labels, calibrated_probs(overconfident, temperature))
    assert after < before / 2
    assert fit_temperature(np.array([1.0, 2.0]), np.array([1, 1])) == 1.0  # one class: nothing to fit


def test_bootstrap_intervals_contain_the_estimate_and_sites_widen_them():
    from ripdetect.training.uncertainty import bootstrap_intervals, metrics_with_intervals

    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 30)
    probs = np.clip(labels * 0.3 + rng.random(60) * 0.7, 0, 1)
    metrics = metrics_with_intervals(labels, probs, 0.5, n_boot=500)
    low, high = metrics["intervals"]["roc_auc"]
    assert low <= metrics["roc_auc"] <= high and high - low > 0.05
    # six sites of ten photos each, both classes at every site, and a site-wide bias: the photos of one beach
    # err together, so resampling sites must give wider intervals than resampling photos
    sites = np.tile(np.repeat(np.arange(6), 5), 2)
    biased = np.clip(0.35 + 0.3 * labels + rng.normal(0, 0.25, 6)[sites] + rng.normal(0, 0.03, 60), 0, 1)
    by_photo = bootstrap_intervals(labels, biased, 0.5, n_boot=500)
    by_site = bootstrap_intervals(labels, biased, 0.5, groups=sites, n_boot=500)
    width = lambda interval: interval[1] - interval[0]  # noqa: E731
    assert width(by_site["balanced_accuracy"]) > 1.3 * width(by_photo["balanced_accuracy"])


def test_regions_never_leave_the_water(tiny_checkpoint):
    from ripdetect.config import InferenceConfig
    from ripdetect.inference.predictor import Predictor

    predictor = Predictor(tiny_checkpoint, InferenceConfig(threshold=0.0))
    image = np.zeros((120, 160, 3), np.uint8)
    cam = np.ones((8, 8), np.float32)  # evidence everywhere, sky included
    water = np.zeros((16, 16), np.float32)
    water[6:] = 1.0  # the sea is the lower part of the frame
    free = predictor.finish(image, 0.9, cam)
    kept = predictor.finish(image, 0.9, cam, water)
    assert free.region.mask[:30].any()
    assert not kept.region.mask[:40].any() and kept.region.mask[80:].all()
    assert kept.region.centroid[1] > 60
    overlay = predictor.render(np.full((120, 160, 3), 128, np.uint8), kept).astype(int)
    image_part = overlay[overlay.shape[0] - 120:]  # below the banner strip
    sky, sea = image_part[5:40], image_part[90:115]
    assert sea[..., 0].mean() > sea[..., 2].mean() + 40  # hot over the sea (the region outline is white)
    assert (sky[..., 0] <= sky[..., 2]).all()  # the sky stays cold: no heat where there is no water


def _water_scenes(tmp_path, n):
    from ripdetect.config import SynthConfig
    from ripdetect.synth.writer import generate_images

    generate_images(tmp_path, SynthConfig(n=n, seed=5, width=96, height=64, view="oblique"))
    return load_samples(tmp_path)


@pytest.mark.slow
def test_water_head_learns_the_synthetic_sea(tmp_path):
    """A tiny model's water estimate on unseen synthetic scenes overlaps the renderer's exact water mask."""
    from ripdetect.config import AugmentConfig
    from ripdetect.data.images import load_image_rgb
    from ripdetect.explain.regions import upsample_cam
    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.training.engine import fit

    samples = _water_scenes(tmp_path / "s", 64)
    train, test = samples[:48], samples[48:]
    config = tiny_train_config(model=tiny_model_config(water_head=True), epochs=12, lr=0.01, patience=0,
                               augment=AugmentConfig(p_weather=0, p_noise=0))
    fit(train, [], config, tmp_path / "run")
    predictor = Predictor(load_checkpoint(tmp_path / "run" / "last.safetensors"))
    ious = []
    for sample in test:
        image = load_image_rgb(sample.path)
        water = upsample_cam(predictor.predict_image(image).water, *image.shape[:2]) >= 0.5
        truth = sample.water.to_mask(*image.shape[:2])
        ious.append((water & truth).sum() / max((water | truth).sum(), 1))
    assert np.mean(ious) > 0.8, ious


@pytest.mark.slow
def test_out_of_water_penalty_moves_evidence_into_the_sea(tmp_path):
    """Same seed and data: with the penalty, more of the (ungated) rip evidence lies in the water."""
    from ripdetect.config import AugmentConfig
    from ripdetect.data.augment import TrainTransform
    from ripdetect.data.torch_dataset import ImageDataset, collate_skipping_errors
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.training.engine import fit
    from ripdetect.training.losses import cam_mass_loss

    samples = _water_scenes(tmp_path / "s", 32)
    augment = AugmentConfig(p_geometric=0, p_photometric=0, p_weather=0, p_noise=0)

    def outside_share(weight: float) -> float:
        config = tiny_train_config(epochs=8, lr=0.01, patience=0, augment=augment, water_cam_loss_weight=weight)
        fit(samples, [], config, tmp_path / f"run{weight}")
        model = load_checkpoint(tmp_path / f"run{weight}" / "last.safetensors").model.eval()
        dataset = ImageDataset(samples, TrainTransform(model.preprocessing, augment, seed=0), with_masks=True)
        batch = collate_skipping_errors([dataset[i] for i in range(len(samples))])
        with torch.no_grad():
            evidence = model.outputs(batch["images"]).raw_evidence
        return float(cam_mass_loss(evidence, batch["water"]))

    assert outside_share(5.0) < outside_share(0.0) - 0.2


def _beach_photo(rng, height=160, width=240):
    """A photo-like oblique beach: sky, sea with three white breaker lines, sand; and its water mask."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:40] = (150, 180, 220)
    image[40:120] = (30, 80, 100)
    for row in (70, 88, 104):
        image[row:row + 5] = (235, 238, 240)
    image[120:] = (200, 180, 140)
    water = np.zeros((height, width), bool)
    water[40:120] = True
    noise = rng.normal(0, 5, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8), water


def test_a_composited_rip_cuts_a_gap_through_the_breakers_inside_the_sea():
    from ripdetect.synth.composite import composite_distractor, composite_rip, foam_map

    rng = np.random.default_rng(0)
    image, water = _beach_photo(rng)
    before = foam_map(image, water)
    composite = composite_rip(image, water, np.random.default_rng(3))
    assert composite is not None and composite.rip_mask.any()
    assert not (composite.rip_mask & ~water).any()
    lane = composite.rip_mask
    after = foam_map(composite.image, water)
    assert before[lane].mean() > 0.1 and after[lane].mean() < before[lane].mean() / 2
    assert np.array_equal(composite.image[~water], image[~water])  # sky and sand untouched
    distractor = composite_distractor(image, water, np.random.default_rng(3))
    assert not distractor.rip_mask.any() and not np.array_equal(distractor.image, image)
    assert foam_map(distractor.image, water)[before > 0.5].mean() > 0.8 * before[before > 0.5].mean()
    calm = image.copy()
    calm[60:115] = (30, 80, 100)  # no breaking waves: nothing to cut through
    assert composite_rip(calm, water, np.random.default_rng(3)) is None


@pytest.mark.slow
@pytest.mark.system
def test_composites_keep_the_source_site_for_cross_validation(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(2):
        image, water = _beach_photo(rng)
        path = write_png(tmp_path / "photos" / f"cam{i}.png", image)
        ys, xs = np.nonzero(water)
        top, bottom = ys.min() / 160, (ys.max() + 1) / 160
        polygon = f"0 {top:.3f} 1 {top:.3f} 1 {bottom:.3f} 0 {bottom:.3f}"
        rows.append({"path": str(path), "label": "no_rip", "group": f"camera{i}", "viewpoint": "beach_camera",
                     "water": polygon})
    rows.append({"path": str(write_png(tmp_path / "photos" / "rip.png", make_scene(rng, True))), "label": "rip",
                 "group": "camera9", "viewpoint": "beach_camera", "water": ""})
    with open(tmp_path / "real.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = run_cli("composite", "--real", tmp_path / "real.csv", "--out", tmp_path / "comp", "--per-source", "2",
                     check=True)
    summary = json.loads(result.stdout)
    assert summary["rip"] >= 2 and summary["composites"] > summary["rip"]
    samples = load_samples(tmp_path / "comp")
    assert {s.group for s in samples} == {"camera0", "camera1"}
    assert all(s.water.mask_path and s.viewpoint == "beach_camera" for s in samples)
    assert all(s.region.to_mask(160, 240).any() == bool(s.label) for s in samples)
    again = json.loads(run_cli("composite", "--real", tmp_path / "real.csv", "--out", tmp_path / "comp",
                               "--per-source", "2", check=True).stdout)
    assert again["written"] == 0 and again["kept"] == summary["composites"]


def _real_manifest(tmp_path, rng, groups=6):
    rows = []
    for g in range(groups):
        for i in range(3):
            rip = (g + i) % 2 == 0
            path = write_png(tmp_path / "real" / f"g{g}_{i}.png", make_scene(rng, rip))
            rows.append({"path": str(path), "label": "rip" if rip else "no_rip", "group": f"site{g}",
                         "viewpoint": "aerial" if g < 2 else "beach_camera", "boxes": "20 0 40 24" if rip else ""})
    with open(tmp_path / "real.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path / "real.csv"


@pytest.mark.slow
@pytest.mark.system
def test_cross_validation_reports_per_viewpoint_and_finishes_a_calibrated_model(tmp_path, rng):
    real = _real_manifest(tmp_path, rng)
    args = ["train", "--real", real, "--folds", "3", "--out", tmp_path / "cv", "--arch", "tiny_cnn",
            "--no-pretrained", "--epochs", "2", "--batch-size", "8", "--num-workers", "0", "--real-repeat", "2"]
    result = run_cli(*args, check=True)
    summary = json.loads(result.stdout.strip().splitlines()[-1])["cross_validation"]
    assert summary["overall"]["n"] == 18 and set(summary["by_viewpoint"]) == {"aerial", "beach_camera"}
    assert summary["by_viewpoint"]["aerial"]["n"] == 6 and len(summary["overall"]["intervals"]["roc_auc"]) == 2
    assert summary["localisation"]["n"] == 9
    report = json.loads((tmp_path / "cv" / "cv_report.json").read_text())
    oof = list(csv.DictReader(open(tmp_path / "cv" / "oof_predictions.csv")))
    assert len(oof) == 18 and {row["fold"] for row in oof} == {"0", "1", "2"}
    for row in oof:  # each image was scored by the fold model that never trained on its site
        split = json.loads((tmp_path / "cv" / f"fold_{row['fold']}" / "split.json").read_text())
        assert row["path"] in split["val"] and not any(Path(p).name.startswith(row["path"].split("/")[-1][:2])
                                                      for p in split["train"] if "real" in p)
    from ripdetect.models.checkpoint import load_checkpoint

    final = load_checkpoint(report["final_model"])
    assert final.temperature == pytest.approx(report["temperature"])
    assert final.threshold == pytest.approx(report["threshold"])
    assert final.metadata["cross_validation"]["overall"]["n"] == 18
    assert (tmp_path / "cv" / "reliability.png").exists()
    again = run_cli(*args, check=True)  # finished folds are reused, not retrained
    assert "epoch 1:" not in again.stderr
    plan_path = tmp_path / "cv" / "cv_plan.json"
    plan = json.loads(plan_path.read_text())
    del plan["train_config"]["label_smoothing"]  # as written by a ripdetect before that setting existed
    plan_path.write_text(json.dumps(plan))
    assert "epoch 1:" not in run_cli(*args, check=True).stderr  # a new setting at its default is the same plan
    other = run_cli(*args[:-2], "--real-repeat", "3")
    assert other.returncode == 2 and "other settings or data" in other.stderr and "--overwrite" in other.stderr
    shorter = [*args[:args.index("--out")], "--out", tmp_path / "cv1", *args[args.index("--out") + 2:]]
    shorter[shorter.index("--epochs") + 1] = "1"
    run_cli(*shorter, "--no-final", check=True)
    table = run_cli("compare", tmp_path / "cv", tmp_path / "cv1", "--ensemble", tmp_path / "cv", tmp_path / "cv1",
                    check=True).stdout.strip().splitlines()
    assert table[0].startswith("| run | overall BA") and "beach_camera AUC" in table[0] and len(table) == 5
    assert table[2].startswith("| cv |") and table[4].startswith("| ensemble of cv + cv1 |")
    for args in (["compare", tmp_path / "cv", tmp_path / "real"],
                 ["compare", tmp_path / "cv", "--ensemble", tmp_path / "real", tmp_path / "cv"]):
        bad = run_cli(*args)
        assert bad.returncode == 2 and "not a finished cross-validation" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_reported_decisions_never_use_a_threshold_fitted_on_the_same_fold(rng):
    from ripdetect.training.crossval import out_of_fold_report

    labels = np.array([0, 1] * 15)
    scores = rng.normal(size=30) + 2.0 * labels
    folds = np.repeat([0, 1, 2], 10)
    report = out_of_fold_report(labels, scores, folds, ["beach_camera"] * 30, [f"s{i // 2}" for i in range(30)],
                                "max_balanced_accuracy")
    moved = scores.copy()
    moved[folds == 0] += np.where(labels[folds == 0] == 1, 5.0, -5.0)  # fold 0 becomes separable
    again = out_of_fold_report(labels, moved, folds, ["beach_camera"] * 30, [f"s{i // 2}" for i in range(30)],
                               "max_balanced_accuracy")
    assert again["cross_fitted"][0] == report["cross_fitted"][0]  # fold 0's threshold ignores fold 0
    assert again["cross_fitted"][1] != report["cross_fitted"][1]
    assert again["threshold"] != report["threshold"] or again["temperature"] != report["temperature"]
    assert len(report["cross_fitted_probs"]) == 30 and report["folds"] == 3


@pytest.mark.slow
@pytest.mark.system
def test_eval_reports_per_viewpoint_with_intervals_and_a_reliability_diagram(tmp_path, rng, tiny_checkpoint):
    real = _real_manifest(tmp_path, rng)
    result = run_cli("eval", "--data", real, "--model", tiny_checkpoint, "--out", tmp_path / "eval", check=True)
    metrics = json.loads(result.stdout)
    assert metrics["n"] == 18 and set(metrics["by_viewpoint"]) == {"aerial", "beach_camera"}
    aerial = metrics["by_viewpoint"]["aerial"]
    assert aerial["n"] == 6 and sum(map(sum, aerial["confusion_matrix"])) == 6
    low, high = metrics["intervals"]["balanced_accuracy"]
    assert low <= metrics["balanced_accuracy"] <= high
    assert 0 <= metrics["ece"] <= 1 and metrics["localisation"]["n"] == 9
    assert "centroid_in_region" in metrics["localisation"]
    assert (tmp_path / "eval" / "reliability.png").exists()
