import json

import numpy as np
import pytest
import torch
from torch import nn

from ripdetect.explain.cam import GradCAM, GradCAMPlusPlus, LayerCAM, compute_cam, fast_gradcam
from ripdetect.explain.display import display_scale
from ripdetect.explain.regions import region_from_cam, remove_small_blobs, threshold_cam
from ripdetect.models.classifier import create_model
from tests.helpers import SAMPLES, make_scene, run_cli, tiny_model_config, write_png


@pytest.mark.parametrize("num_classes", [1, 2])
def test_fast_path_equals_autograd_gradcam(num_classes):
    torch.manual_seed(num_classes)
    model = create_model(tiny_model_config(num_classes=num_classes, dropout=0.3)).eval()
    with torch.no_grad():
        model.head.weight.normal_()  # a head that really mixes channels
    x = torch.randn(3, 3, 64, 80)
    logits_fast, cam_fast = fast_gradcam(model, x)
    logits_grad, cam_grad = GradCAM(model, "features")(x)
    assert torch.allclose(logits_fast, logits_grad, atol=1e-6)
    assert cam_fast.shape == (3, 8, 10) and cam_fast.abs().sum() > 0
    assert torch.allclose(cam_fast, cam_grad, atol=1e-6, rtol=1e-5)


@pytest.mark.slow
def test_fast_path_matches_pytorch_grad_cam_sign():
    """Our target is the rip log-odds; pytorch-grad-cam with the same target gives the same raw map."""
    pgc = pytest.importorskip("pytorch_grad_cam")
    torch.manual_seed(0)
    model = create_model(tiny_model_config()).eval()
    x = torch.randn(2, 3, 64, 64)
    _, cam_fast = fast_gradcam(model, x)
    with pgc.GradCAM(model=model, target_layers=[model.features]) as reference:
        reference_cam = reference.forward(x, targets=[lambda out: out[1] - out[0]] * 2, eigen_smooth=False)
    # pytorch-grad-cam normalises each map to 0..1 and resizes to the input; compare shapes of the argmax
    ours = torch.nn.functional.interpolate(cam_fast[:, None], size=(64, 64), mode="bilinear")[:, 0]
    compared = [(a, b) for a, b in zip(ours.numpy(), reference_cam) if a.max() > 0]
    assert compared, "every map was empty: nothing to compare"
    for a, b in compared:
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
        logits, cam, water = compute_cam(model, torch.randn(2, 3, 8, 8), "gradcam", layer="features")
    assert cam.shape == (2, 8, 8)
    assert "gradient Grad-CAM" in caplog.text


@pytest.mark.parametrize("cls", [GradCAM, GradCAMPlusPlus, LayerCAM])
def test_gradient_methods_batched_equal_one_by_one(tiny_model, cls):
    """Batching does not mix images: each map in a batch equals the map of that image alone."""
    x = torch.randn(4, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    logits, cam = cls(tiny_model, "features.1")(x)
    assert logits.shape == (4, 2) and cam.shape == (4, 16, 24) and cam.sum() > 0
    for i in range(4):
        assert torch.allclose(cls(tiny_model, "features.1")(x[i:i + 1])[1][0], cam[i], atol=1e-6, rtol=1e-4)


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


@pytest.mark.slow
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
    cam = np.array([[[0.0, 2.0], [4.0, 16.0]]], np.float32)
    assert np.allclose(display_scale(cam, 8.0), [[[0, 0.25], [0.5, 1.0]]])  # fixed scale, clipped at 1
    assert np.allclose(display_scale(cam, None), cam / 16)


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
    from ripdetect.inference.predictor import Predictor

    predictor = Predictor(tiny_checkpoint, InferenceConfig(threshold=0.0, cam_threshold=0.3))
    prediction = predictor.predict_image(image_rgb)
    assert prediction.label == "rip" and prediction.region is not None
    assert prediction.region.mask.shape == image_rgb.shape[:2]
    never = predictor.with_config(InferenceConfig(threshold=1.0))
    assert never.predict_image(image_rgb).region is None
    assert never.with_config(InferenceConfig(threshold=1.0, region_when_negative=True)).predict_image(image_rgb).region


def test_localisation_metrics():
    from ripdetect.explain.localisation import energy_pointing, mask_iou, pointing_hit

    truth = np.zeros((10, 10), bool)
    truth[:5] = True
    cam = np.zeros((10, 10), np.float32)
    cam[2, 3] = 1.0
    cam[8, 8] = 0.5
    assert pointing_hit(cam, truth) and energy_pointing(cam, truth) == pytest.approx(2 / 3)
    assert mask_iou(truth, truth) == 1.0 and mask_iou(~truth, truth) == 0.0


def test_deletion_and_insertion_follow_the_relevant_pixels():
    """A model that only looks at the top-left quarter: deleting that quarter first drops its probability at once
    (low deletion AUC); a map pointing elsewhere deletes irrelevant pixels first (higher deletion AUC)."""
    from torch import nn

    from ripdetect.explain.localisation import deletion_insertion_auc

    class QuarterModel(nn.Module):  # rip evidence = texture in the top-left quarter (blurring removes it)
        def forward(self, x):
            score = 10 * (x[:, :, :32, :32].std(dim=(1, 2, 3)) - 0.5)
            return torch.stack([torch.zeros_like(score), score], dim=1)

    image = torch.zeros(3, 64, 64)
    image[:, :32, :32] = torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(0))
    right = np.zeros((8, 8), np.float32)
    right[:4, :4] = 1.0
    wrong = 1.0 - right
    deletion_right, insertion_right = deletion_insertion_auc(QuarterModel(), image, right, steps=8)
    deletion_wrong, insertion_wrong = deletion_insertion_auc(QuarterModel(), image, wrong, steps=8)
    assert deletion_right < deletion_wrong - 0.2
    assert insertion_right > insertion_wrong + 0.2


def _predict(*args):
    return run_cli("predict", *args, timeout=300)


@pytest.mark.slow
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
    assert first["label"] == "rip" and first["threshold"] == 0
    assert set(first["region"]) == {"count", "area_fraction", "centroid", "bbox", "polygons"}
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
    assert result.returncode == 1 and json.loads(result.stdout)["path"] == str(tmp_path / "empty")
    assert "folder contains no supported files" in json.loads(result.stdout)["error"]
    assert "Traceback" not in result.stderr


def test_region_scaled_to_full_image():
    from ripdetect.explain.regions import region_from_cam

    cam = np.zeros((50, 80), np.float32)
    cam[10:30, 20:40] = 1.0
    small = region_from_cam(cam, "fraction", 0.5, 0.0)
    big = small.scaled(100, 160)
    assert big.mask.shape == (100, 160) and big.bbox == (40, 20, 80, 60)
    assert big.centroid == pytest.approx((59, 39), abs=1.1) and big.area_fraction == small.area_fraction
    assert big.polygons[0]["exterior"] == [[2 * x, 2 * y] for x, y in small.polygons[0]["exterior"]]


@pytest.mark.slow
def test_fast_path_equals_autograd_gradcam_through_the_real_predictor():
    """The embedded EfficientNet-Lite0 (fp16 weights) as the Predictor runs it (channels-last, batched) gives the
    same maps and probabilities as autograd Grad-CAM on a plain copy of the model."""
    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import load_checkpoint
    from ripdetect.models.classifier import rip_prob

    predictor = Predictor()
    assert predictor.checkpoint.metadata.get("weights_dtype") == "float16"
    samples = SAMPLES
    images = [predictor.load(samples / name) for name in ("synthetic_rip_oblique.jpg", "synthetic_rip_aerial.jpg")]
    probs, cams, water = predictor.probabilities_and_maps(images)
    checkpoint = load_checkpoint()
    reference = checkpoint.model.eval()
    assert (water is not None) == reference.model_config.water_head
    batch = torch.stack([reference.preprocessing(image) for image in images])
    logits, reference_cams = GradCAM(reference, reference.cam_layer)(batch)  # the water-gated map with a water head
    assert tuple(reference_cams.shape) == cams.shape and reference_cams.sum() > 0
    assert np.allclose(cams, reference_cams.numpy(), atol=1e-4 * float(reference_cams.max()), rtol=1e-3)
    assert np.allclose(probs, rip_prob(logits, checkpoint.temperature).numpy(), atol=1e-4)


def test_predictor_leaves_the_callers_model_alone(tiny_checkpoint, image_rgb):
    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(tiny_checkpoint)
    checkpoint.model.train()
    weight = checkpoint.model.features[0][0].weight
    Predictor(checkpoint).predict_image(image_rgb)
    assert checkpoint.model.training and weight.is_contiguous()
    assert checkpoint.model.features[0][0].weight is weight
