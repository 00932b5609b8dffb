"""The feature cache: a model fed its cached frozen features gives what it gives on the images themselves, every
cached view is the augmented view the uncached path would make for that seed, one cache serves every fold, and
training on it runs through ``ripdetect train`` and leaves the frozen stages as they were."""

import numpy as np
import pytest
import torch

from ripdetect.config import AugmentConfig, ModelConfig, TrainConfig
from ripdetect.data.augment import TrainTransform
from ripdetect.data.layouts import load_samples
from ripdetect.data.torch_dataset import ImageDataset
from ripdetect.models.classifier import create_model
from ripdetect.training.feature_cache import FeatureCache, sample_keys, view_seed


@pytest.mark.parametrize("arch, freeze, water", [("tiny_cnn", 1, False), ("efficientnet_lite0", 3, True)])
def test_frozen_features_give_the_models_outputs(arch, freeze, water):
    torch.manual_seed(0)
    model = create_model(ModelConfig(arch=arch, input_size=96, pretrained=False, freeze_stages=freeze,
                                     water_head=water)).eval()
    images = torch.randn(3, 3, 96, 96)
    with torch.no_grad():
        direct, cached = model.outputs(images), model.outputs(model.frozen_features(images))
    assert torch.allclose(direct.logits, cached.logits, atol=1e-5)
    assert torch.allclose(direct.evidence, cached.evidence, atol=1e-5)
    if water:
        assert torch.allclose(direct.water_logits, cached.water_logits, atol=1e-5)


def test_cached_views_are_the_uncached_views(class_folder):
    samples = load_samples(class_folder)[:4] * 2  # a repeated photo gets views of its own
    config = TrainConfig(model=ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False, freeze_stages=1),
                         feature_cache_views=3, batch_size=6, seed=5, num_workers=0)
    torch.manual_seed(0)
    model = create_model(config.model).eval()
    cache = FeatureCache(model, samples, model.preprocessing, config)
    assert cache.usable.all() and cache.features.shape[0] == len(samples) * 3
    transform = TrainTransform(model.preprocessing, AugmentConfig(), config.seed)
    images = ImageDataset(samples, transform, with_masks=True)
    keys = sample_keys(samples)
    assert keys[4] == (samples[0].path, 1)  # the repeat is a separate entry
    for index in (0, 5):
        for view in range(3):
            transform.set_random_seed(view_seed(config.seed, keys[index], view))
            image = images[index][0]
            with torch.no_grad():
                expected = model.frozen_features(image[None]).features[0]
            assert torch.allclose(cache.features[index * 3 + view].float(), expected, atol=2e-2, rtol=1e-2)
    assert not torch.equal(cache.features[0], cache.features[4 * 3])  # the repeat's views differ from the first's
    fold = cache.entries_of(samples[2:6])  # a fold's list: its first sight of a photo is the photo's first entry
    assert fold.tolist() == [2, 3, 0, 1]
    with pytest.raises(ValueError, match="is not in the feature cache"):
        cache.entries_of(load_samples(class_folder)[4:6])
    batches = list(cache.epoch(0, 1, 4, balanced=False, entries=fold))
    assert sum(len(b["labels"]) for b in batches) == 4 and batches[0]["images"].features.shape[0] == 4


@pytest.mark.slow
def test_train_runs_on_the_cache_and_keeps_the_frozen_stages(cli, class_folder, tmp_path):
    import json

    from ripdetect.models.checkpoint import load_checkpoint

    config = tmp_path / "cached.json"
    config.write_text(json.dumps({"model": {"arch": "tiny_cnn", "input_size": 64, "pretrained": False,
                                            "freeze_stages": 1}, "epochs": 3, "batch_size": 4, "num_workers": 0,
                                  "feature_cache_views": 2, "warmup_epochs": 0, "patience": 10}))
    result = cli("train", "--data", class_folder, "--out", tmp_path / "run", "--config", config, "--init-from",
                 save_start(tmp_path))
    assert result.returncode == 0, result.stderr
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 3 and all(np.isfinite(epoch["train_loss"]) for epoch in history)
    start = dict(load_checkpoint(tmp_path / "start.safetensors").model.named_parameters())
    end = dict(load_checkpoint(tmp_path / "run" / "last.safetensors").model.named_parameters())
    frozen = [name for name in start if name.startswith("features.0.")]  # the first stage, cached
    assert frozen and all(torch.equal(start[name], end[name]) for name in frozen)
    moved = [name for name in end if not torch.equal(start[name], end[name])]
    assert moved and not set(moved) & set(frozen)  # the rest trained


def save_start(folder) -> str:
    from ripdetect.models.checkpoint import save_checkpoint

    torch.manual_seed(3)
    model = create_model(ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False, freeze_stages=1))
    return str(save_checkpoint(folder / "start.safetensors", model, 0.5, {"model_id": "start"}))
