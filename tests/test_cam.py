import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from conftest import make_scene, write_png
from ripdetect.cam import GradCAM, GradCAMPlusPlus, LayerCAM, compute_cam, display_scale, fast_gradcam
from ripdetect.config import ModelConfig
from ripdetect.model import RipClassifier, create_model, resolve_model_config
from ripdetect.regions import region_from_cam, remove_small_blobs, threshold_cam


@pytest.mark.parametrize("num_classes", [1, 2])
def test_fast_path_equals_autograd_gradcam(num_classes):
    torch.manual_seed(num_classes)
    model = create_model(resolve_model_config(ModelConfig(arch="tiny_cnn", num_classes=num_classes,
                                                          pretrained=False, dropout=0.3))).eval()
    with torch.no_grad():
        model.head.weight.normal_()  # a head that really mixes channels
    x = torch.randn(3, 3, 64, 80)
    logits_fast, cam_fast = fast_gradcam(model, x)
    logits_grad, cam_grad = GradCAM(model, "features")(x)
    assert torch.allclose(logits_fast, logits_grad, atol=1e-6)
    assert cam_fast.shape == (3, 8, 10) and cam_fast.abs().sum() > 0
    assert torch.allclose(cam_fast, cam_grad, atol=1e-6, rtol=1e-5)


def test_fast_path_matches_pytorch_grad_cam_sign():
    """Our target is the rip log-odds; pytorch-grad-cam with the same target gives the same raw map."""
    pgc = pytest.importorskip("pytorch_grad_cam")
    torch.manual_seed(0)
    model = create_model(resolve_model_config(ModelConfig(arch="tiny_cnn", pretrained=False))).eval()
    x = torch.randn(2, 3, 64, 64)
    _, cam_fast = fast_gradcam(model, x)
    with pgc.GradCAM(model=model, target_layers=[model.features]) as reference:
        reference_cam = reference.forward(x, targets=[lambda out: out[1] - out[0]] * 2, eigen_smooth=False)
    # pytorch-grad-cam normalises each map to 0..1 and resizes to the input; compare shapes of the argmax
    ours = torch.nn.functional.interpolate(cam_fast[:, None], size=(64, 64), mode="bilinear")[:, 0]
    for a, b in zip(ours.numpy(), reference_cam):
        if a.max() > 0:
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


def test_non_gap_head_falls_back_to_gradients(caplog):
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 2))

        def forward(self, x):
            return self.head(self.features(x))

    model = Odd().eval()
    with caplog.at_level("INFO"):
        logits, cam = compute_cam(model, torch.randn(2, 3, 8, 8), "gradcam", layer="features")
    assert cam.shape == (2, 8, 8)
    assert "gradient Grad-CAM" in caplog.text


@pytest.mark.parametrize("cls", [GradCAM, GradCAMPlusPlus, LayerCAM])
def test_gradient_methods_batched_and_non_negative(tiny_model, cls):
    logits, cam = cls(tiny_model, "features.1")(torch.randn(4, 3, 64, 96))
    assert logits.shape == (4, 2) and cam.shape == (4, 16, 24) and (cam >= 0).all()


def test_hooks_removed_and_mode_restored_even_on_exception(tiny_model):
    tiny_model.train()
    cam = GradCAM(tiny_model, "features")
    cam(torch.randn(1, 3, 64, 64))
    assert tiny_model.training
    assert not tiny_model.features._forward_hooks
    with pytest.raises(RuntimeError):
        cam(torch.randn(1, 5, 64, 64))  # wrong channel count
    assert tiny_model.training and not tiny_model.features._forward_hooks
    assert all(p.grad is None for p in tiny_model.parameters())


def test_no_memory_growth_in_a_loop(tiny_model):
    import gc

    cam = GradCAM(tiny_model, "features")
    x = torch.randn(2, 3, 64, 64)
    for _ in range(3):
        cam(x)
    gc.collect()
    before = len([o for o in gc.get_objects() if isinstance(o, torch.Tensor)])
    for _ in range(20):
        cam(x)
    gc.collect()
    after = len([o for o in gc.get_objects() if isinstance(o, torch.Tensor)])
    assert after - before < 10


def test_unknown_layer_has_precise_error(tiny_model):
    from ripdetect.errors import ConfigError

    with pytest.raises(ConfigError, match="no layer named 'features.9'"):
        GradCAM(tiny_model, "features.9")


def test_raw_maps_are_kept_and_display_is_separate():
    cam = torch.tensor([[[0.0, 2.0], [4.0, 1.0]]])
    assert torch.allclose(display_scale(cam, 8.0), cam / 8)
    assert display_scale(cam, None).max() == 1.0


@pytest.mark.parametrize("mode,value,expected", [("fraction", 0.5, 2), ("percentile", 75, 1), ("otsu", 0, 2)])
def test_threshold_modes(mode, value, expected):
    cam = np.array([[0.0, 0.1], [0.9, 1.0]], dtype=np.float32)
    assert threshold_cam(cam, mode, value).sum() == expected


def test_region_polygons_holes_centroid_and_small_blobs():
    cam = np.zeros((100, 120), np.float32)
    cam[20:80, 30:90] = 1.0
    cam[40:60, 50:70] = 0.0  # a hole
    cam[2:4, 2:4] = 1.0  # a speck
    region = region_from_cam(cam, "fraction", 0.5, min_fraction=0.002)
    assert region.bbox == (30, 20, 90, 80)
    assert len(region.polygons) == 1 and len(region.polygons[0]["holes"]) == 1
    assert region.centroid == pytest.approx((59.5, 49.5), abs=0.6)
    assert region.area_fraction == pytest.approx((3600 - 400) / 12000)
    assert region_from_cam(np.zeros((10, 10), np.float32)) is None
    assert not remove_small_blobs(cam > 0.5, 0.5).any()


def test_predictor_regions_only_for_rips(tiny_checkpoint, image_rgb):
    from ripdetect.config import InferenceConfig
    from ripdetect.predict import Predictor

    predictor = Predictor(tiny_checkpoint, InferenceConfig(threshold=0.0, cam_threshold=0.3))
    prediction = predictor.predict_image(image_rgb)
    assert prediction.label == "rip" and prediction.region is not None
    assert prediction.region.mask.shape == image_rgb.shape[:2]
    never = predictor.with_config(InferenceConfig(threshold=1.0))
    assert never.predict_image(image_rgb).region is None
    assert never.with_config(InferenceConfig(threshold=1.0, region_when_negative=True)).predict_image(image_rgb).region


def test_localisation_metrics():
    from ripdetect.localisation import energy_pointing, mask_iou, pointing_hit

    truth = np.zeros((10, 10), bool)
    truth[:5] = True
    cam = np.zeros((10, 10), np.float32)
    cam[2, 3] = 1.0
    cam[8, 8] = 0.5
    assert pointing_hit(cam, truth) and energy_pointing(cam, truth) == pytest.approx(2 / 3)
    assert mask_iou(truth, truth) == 1.0 and mask_iou(~truth, truth) == 0.0


def test_deletion_insertion_auc_bounds(tiny_model):
    from ripdetect.localisation import deletion_insertion_auc

    deletion, insertion = deletion_insertion_auc(tiny_model, torch.randn(3, 64, 64), np.random.rand(8, 8), steps=4)
    assert 0 <= deletion <= 1 and 0 <= insertion <= 1


def _predict(*args):
    return subprocess.run([sys.executable, "-m", "ripdetect", "predict", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_predict_json_lines_in_order_with_errors(tiny_checkpoint, tmp_path, rng):
    good = write_png(tmp_path / "in" / "a.png", make_scene(rng, True, 60, 90))
    write_png(tmp_path / "in" / "sub" / "b.png", make_scene(rng, False, 90, 60))
    (tmp_path / "in" / "c.jpg").write_text("text, not a jpeg")
    (tmp_path / "in" / "d.png").write_bytes(b"")
    result = _predict(str(tmp_path / "in"), str(tmp_path / "missing.png"), "--model", str(tiny_checkpoint),
                      "--out", str(tmp_path / "out"), "--threshold", "0", "--batch-size", "2")
    assert result.returncode == 1, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"].split("/")[-1] for line in lines] == ["a.png", "c.jpg", "d.png", "b.png", "missing.png"]
    first = lines[0]
    assert first["label"] == "rip" and 0 <= first["prob_rip"] <= 1 and first["threshold"] == 0
    assert set(first["region"]) == {"area_fraction", "centroid", "bbox", "polygons"}
    assert (tmp_path / "out" / "a_overlay.png").exists() and first["overlay"].endswith("a_overlay.png")
    assert "not an image" in lines[1]["error"] and "empty" in lines[2]["error"]
    assert "Traceback" not in result.stderr
    ok = _predict(str(good), "--model", str(tiny_checkpoint), "--cam", "gradcampp")
    assert ok.returncode == 0 and json.loads(ok.stdout)["path"] == str(good)


def test_cli_predict_needs_a_model_message(tmp_path, tiny_checkpoint, monkeypatch):
    result = _predict(str(tmp_path / "x.png"), "--model", str(tmp_path / "nope.safetensors"))
    assert result.returncode == 2 and "checkpoint not found" in result.stderr


def test_cli_predict_folder_without_images(tiny_checkpoint, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    result = _predict(str(tmp_path / "empty"), "--model", str(tiny_checkpoint))
    assert result.returncode == 1 and result.stdout == ""
    assert "contains no images" in result.stderr and "no input images found" in result.stderr
    assert "Traceback" not in result.stderr


def test_region_scaled_to_full_image():
    from ripdetect.regions import region_from_cam

    cam = np.zeros((50, 80), np.float32)
    cam[10:30, 20:40] = 1.0
    small = region_from_cam(cam, "fraction", 0.5, 0.0)
    big = small.scaled(100, 160)
    assert big.mask.shape == (100, 160) and big.bbox == (40, 20, 80, 60)
    assert big.centroid == pytest.approx((59, 39), abs=1.1) and big.area_fraction == small.area_fraction
    assert big.polygons[0]["exterior"] == [[2 * x, 2 * y] for x, y in small.polygons[0]["exterior"]]
