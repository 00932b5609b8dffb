"""ONNX export and the ONNX Runtime backend: the same numbers as PyTorch, the same results in every command, the
checkpoint's metadata carried, int8 calibration, and one-line refusals of ONNX files that are not ours."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from tests.helpers import TINY, make_scene, tiny_model_config


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    """A tiny checkpoint with a calibration temperature and CAM scale, and its fp32 ONNX export."""
    from ripdetect.inference.onnx_export import export_onnx
    from ripdetect.models.checkpoint import save_checkpoint
    from ripdetect.models.classifier import create_model

    folder = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(1)
    checkpoint = save_checkpoint(folder / "tiny.safetensors", create_model(tiny_model_config()), 0.47,
                                 {"model_id": "tiny-onnx", "temperature": 1.3, "cam_scale": 0.2})
    return checkpoint, export_onnx(checkpoint, folder / "tiny.onnx")


def _images(count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [make_scene(rng, rip=i % 2 == 0, height=48 + 8 * i, width=80) for i in range(count)]


def _assert_same_outputs(torch_predictor, onnx_predictor, images, tolerance=1e-4):
    expected, got = torch_predictor.run(images), onnx_predictor.run(images)
    assert got.logits.shape == expected.logits.shape and got.cams.shape == expected.cams.shape
    for name, a, b in zip(("logits", "cams", "water"), expected, got):
        assert (a is None) == (b is None), name
        if a is not None:
            assert float((a - b).abs().max()) <= tolerance, name


@pytest.mark.slow
@pytest.mark.parametrize("water_head", [False, True])
def test_fp32_onnx_equals_pytorch_at_any_batch_size(tmp_path, cli, water_head):
    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import save_checkpoint
    from ripdetect.models.classifier import create_model

    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "m.safetensors", create_model(tiny_model_config(water_head=water_head)),
                                 0.5)
    result = cli("export", checkpoint, tmp_path / "m.onnx")
    assert result.returncode == 0, result.stderr
    torch_predictor, onnx_predictor = Predictor(checkpoint), Predictor(tmp_path / "m.onnx")
    assert onnx_predictor.backend.name == "onnx"
    assert onnx_predictor.checkpoint.metadata["onnx"]["outputs"] == (["logits", "cam", "water"] if water_head
                                                                     else ["logits", "cam"])
    for count in (1, 3):  # the batch size is dynamic
        _assert_same_outputs(torch_predictor, onnx_predictor, _images(count))


@pytest.mark.slow
def test_embedded_default_model_exports_with_the_same_outputs(tmp_path):
    from ripdetect.inference.onnx_export import export_onnx
    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import default_model_path

    path = export_onnx(default_model_path(), tmp_path / "default.onnx")
    _assert_same_outputs(Predictor(), Predictor(path), _images(2, seed=3))


def test_the_checkpoint_metadata_travels_in_the_onnx_file(tiny_pair):
    import onnx

    from ripdetect.inference.onnx_export import METADATA_KEY

    _, onnx_path = tiny_pair
    metadata = json.loads({p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}[METADATA_KEY])
    assert metadata["threshold"] == 0.47 and metadata["temperature"] == 1.3 and metadata["cam_scale"] == 0.2
    assert metadata["model_id"] == "tiny-onnx" and metadata["class_names"] == ["no_rip", "rip"]
    assert metadata["model_config"]["arch"] == TINY["arch"]
    assert metadata["preprocessing"] == {**metadata["preprocessing"], "input_size": 64, "mean": [0.5] * 3,
                                         "std": [0.5] * 3}
    assert metadata["onnx"]["precision"] == "float32" and metadata["exported_from"] == "tiny.safetensors"


def test_predict_gives_the_same_json_with_the_onnx_export(tiny_pair, class_folder, cli):
    checkpoint, onnx_path = tiny_pair
    lines = {}
    for model in (checkpoint, onnx_path):
        result = cli("predict", class_folder / "rip", class_folder / "no_rip", "--model", model, "--regions-always")
        assert result.returncode == 0, result.stderr
        lines[model.suffix] = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines[".onnx"]) == 12
    for expected, got in zip(lines[".safetensors"], lines[".onnx"]):
        assert got["prob_rip"] == pytest.approx(expected["prob_rip"], abs=2e-5)
        assert {**got, "prob_rip": None} == {**expected, "prob_rip": None}  # label, threshold, region, path


@pytest.mark.slow
def test_video_gives_the_same_timeline_with_the_onnx_export(tiny_pair, clip, tmp_path):
    from ripdetect.config import VideoConfig
    from ripdetect.inference.predictor import Predictor
    from ripdetect.video.process import process_video

    timelines = []
    for index, model in enumerate(tiny_pair):
        process_video(clip, Predictor(model), VideoConfig(sample_fps=5, write_video=False), tmp_path / str(index))
        timelines.append(json.loads((tmp_path / str(index) / "timeline.json").read_text()))
    assert len(timelines[0]) == len(timelines[1]) > 5
    for expected, got in zip(*timelines):
        assert got["prob_rip"] == pytest.approx(expected["prob_rip"], abs=2e-5)
        assert (got["state"], got["region_area"]) == (expected["state"], expected["region_area"])


@pytest.mark.slow
def test_eval_gives_the_same_metrics_with_the_onnx_export(tiny_pair, class_folder, cli):
    reports = []
    for model in tiny_pair:
        result = cli("eval", "--data", class_folder, "--model", model, "--faithfulness", "2")
        assert result.returncode == 0, result.stderr
        reports.append(json.loads(result.stdout))
    for key in ("balanced_accuracy", "roc_auc", "confusion_matrix"):
        assert reports[0][key] == reports[1][key], key
    for key in ("pointing_game", "iou", "deletion_auc", "insertion_auc"):
        assert reports[0]["localisation"][key] == pytest.approx(reports[1]["localisation"][key], abs=1e-4), key


def test_a_region_of_interest_with_an_onnx_model_is_one_line(tiny_pair):
    from ripdetect.errors import ConfigError
    from ripdetect.inference.predictor import Predictor
    from ripdetect.inference.roi import Roi

    half = Roi.parse([[[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]])
    with pytest.raises(ConfigError, match="region of interest needs the PyTorch checkpoint"):
        Predictor(str(tiny_pair[1]), roi=half)
    with pytest.raises(ConfigError, match="tiny.onnx is an ONNX model"):
        Predictor(str(tiny_pair[1])).with_roi(half)
    assert Predictor(str(tiny_pair[0]), roi=half).roi is half  # the checkpoint takes it


@pytest.mark.parametrize("flags", [["--cam", "gradcampp"], ["--cam-layer", "features"]])
def test_gradient_cams_with_an_onnx_model_are_one_line(tiny_pair, class_folder, cli, flags):
    result = cli("predict", class_folder / "rip", "--model", tiny_pair[1], *flags)
    assert result.returncode == 2 and not result.stdout
    assert result.stderr.count("\n") == 1 and "needs the PyTorch checkpoint (.safetensors)" in result.stderr


def _foreign(tmp_path, tiny_pair, case: str):
    import onnx
    from onnx import TensorProto, helper

    path = tmp_path / f"{case}.onnx"
    if case == "not onnx":
        path.write_text("hello")
    elif case == "no metadata":
        graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "g",
                                  [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 64, 64])],
                                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 64, 64])])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    else:  # our export, with the CAM output renamed
        model = onnx.load(str(tiny_pair[1]))
        for node in model.graph.node:
            node.output[:] = ["heatmap" if name == "cam" else name for name in node.output]
        model.graph.output[1].name = "heatmap"
        onnx.save(model, str(path))
    return path


FOREIGN = {"not onnx": "not a readable ONNX model", "no metadata": "no 'ripdetect' metadata",
           "other outputs": "ONNX outputs are logits, heatmap; ripdetect needs logits, cam (missing: cam)"}
COMMANDS = {
    "predict": lambda model, data, out: ["predict", str(data / "rip"), "--model", model],
    "video": lambda model, data, out: ["video", str(data), "--out", str(out), "--model", model],
    "eval": lambda model, data, out: ["eval", "--data", str(data), "--model", model],
    "app": lambda model, data, out: ["app", "--model", model, "--port", "1"],
}


@pytest.mark.parametrize("case", list(FOREIGN))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_onnx_file_that_is_not_ours_is_refused_in_one_line(tmp_path, tiny_pair, class_folder, cli, case,
                                                               command):
    path = _foreign(tmp_path, tiny_pair, case)
    result = cli(*COMMANDS[command](str(path), class_folder, tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"ripdetect: error: {path}: ") and FOREIGN[case] in result.stderr
    assert not (tmp_path / "out").exists()


def test_int8_export_is_calibrated_on_readable_images_and_stays_close(tiny_pair, class_folder, tmp_path, cli):
    from ripdetect.inference.predictor import Predictor

    (class_folder / "rip" / "broken.png").write_bytes(b"not a png")  # skipped with a warning
    out = tmp_path / "tiny.int8.onnx"
    result = cli("export", tiny_pair[0], out, "--int8", "--calib", class_folder / "rip", class_folder / "no_rip",
                 "--calib-n", "50")
    assert result.returncode == 0, result.stderr
    predictor = Predictor(out)
    quantisation = predictor.checkpoint.metadata["onnx"]["quantisation"]
    assert predictor.checkpoint.metadata["onnx"]["precision"] == "int8"
    assert quantisation["calibration_images"] == 12 and quantisation["keep_float"] == "head"  # 13 given, 1 unreadable
    images = _images(6)
    expected, got = Predictor(tiny_pair[0]).probabilities_and_maps(images)[0], predictor.probabilities_and_maps(images)[0]
    assert np.abs(expected - got).max() < 0.05


def test_int8_keeps_the_water_head_and_the_backbone_head_in_float(tmp_path, class_folder, cli):
    import onnx

    from ripdetect.models.checkpoint import save_checkpoint
    from ripdetect.models.classifier import create_model

    torch.manual_seed(2)
    source = save_checkpoint(tmp_path / "water.safetensors", create_model(tiny_model_config(water_head=True)), 0.5)
    out = tmp_path / "water.int8.onnx"
    result = cli("export", source, out, "--int8", "--calib", class_folder)
    assert result.returncode == 0, result.stderr
    graph = onnx.load(str(out)).graph
    dequantised = {output for node in graph.node if node.op_type == "DequantizeLinear" for output in node.output}
    computing = [node for node in graph.node if node.op_type not in ("QuantizeLinear", "DequantizeLinear")]
    convs = [i for i, node in enumerate(computing) if node.op_type == "Conv"]
    water = [node for node in computing if "/water/" in node.name or "/gate/" in node.name]
    backbone_last = max(i for i in convs if computing[i] not in water)
    in_float = water + computing[backbone_last:]
    weighted = ("Conv", "Gemm")
    assert any(node.op_type == "Conv" for node in water)
    assert [node.name for node in in_float if node.op_type in weighted and node.input[1] in dequantised] == []
    assert any(node.op_type == "Conv" and node.input[1] in dequantised for node in computing[:backbone_last])


def _export_in_a_process(*args) -> subprocess.CompletedProcess:
    """``ripdetect export`` as a user runs it: its log lines (warnings) are on stderr too."""
    return subprocess.run([sys.executable, "-m", "ripdetect", "export", *map(str, args)], capture_output=True,
                          text=True, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("make, message", [
    (lambda folder: (folder.mkdir(), (folder / "a.jpg").write_bytes(b"broken")),
     "no readable calibration image among the 1 given (first: "),
    (lambda folder: None, "no calibration images: "),
], ids=["unreadable-file", "missing-folder"])
def test_a_calibration_set_without_readable_images_is_one_line_naming_it(tiny_pair, tmp_path, make, message):
    make(tmp_path / "calib")
    result = _export_in_a_process(tiny_pair[0], tmp_path / "m.onnx", "--int8", "--calib", tmp_path / "calib")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr and "calib" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_exporting_a_graph_leaves_only_the_graph(tmp_path):
    from ripdetect.inference.onnx_export import export_graph
    from ripdetect.models.classifier import create_model

    export_graph(create_model(tiny_model_config()), tmp_path / "g.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx"]


def test_a_dataset_folder_calibrates_on_its_images_not_its_label_masks(tiny_pair, tmp_path, cli):
    from ripdetect.inference.predictor import Predictor

    data = tmp_path / "synth"
    assert cli("synth", "--out", data, "--n", "6", "--seed", "3", "--size", "96x64").returncode == 0
    masks = [p for p in data.rglob("*.png")]
    assert masks  # the synthetic set has label masks beside its images
    out = tmp_path / "m.int8.onnx"
    result = cli("export", tiny_pair[0], out, "--int8", "--calib", data)
    assert result.returncode == 0, result.stderr
    assert Predictor(out).checkpoint.metadata["onnx"]["quantisation"]["calibration_images"] == 6


@pytest.mark.parametrize("flags, message", [
    (["--int8", "--calib", "x"], "need an .onnx target"),
    (["--half"], "--half, --training-data, --card and --video-threshold re-save a checkpoint"),
    (["--int8"], "--int8 needs calibration images"),
])
def test_export_flags_that_do_not_fit_the_target_are_one_line(tiny_pair, tmp_path, cli, flags, message):
    target = tmp_path / ("m.safetensors" if "need an .onnx target" in message else "m.onnx")
    result = cli("export", tiny_pair[0], target, *flags)
    assert result.returncode == 2 and message in result.stderr and not target.exists()


def test_an_onnx_predictor_travels_to_worker_processes(tiny_pair):
    from ripdetect.inference.predictor import Predictor

    predictor = Predictor(tiny_pair[1])
    images = _images(2)
    clone = pickle.loads(pickle.dumps(predictor))  # video --jobs N sends it to spawned workers
    clone.backend.set_threads(1)
    assert np.array_equal(clone.probabilities_and_maps(images)[0], predictor.probabilities_and_maps(images)[0])
    assert clone.backend.fingerprint() == predictor.backend.fingerprint()


def test_the_packaged_int8_default_is_used_only_when_made_from_the_default_model(tiny_pair, tmp_path, monkeypatch):
    import shutil

    from ripdetect.inference import backends
    from ripdetect.inference.onnx_export import export_onnx
    from ripdetect.models import checkpoint as checkpoints
    from ripdetect.models.checkpoint import save_checkpoint
    from ripdetect.models.classifier import create_model

    default = tmp_path / "default.safetensors"
    shutil.copy(tiny_pair[0], default)
    for module in (backends, checkpoints):
        monkeypatch.setattr(module, "default_model_path", lambda: default)
    packaged = tmp_path / backends.DEPLOYMENT_RESOURCE
    assert backends.load_model(None, deployment=True).path == str(default)  # nothing packaged: the checkpoint
    export_onnx(default, packaged)
    assert backends.load_model(None, deployment=True).path == str(packaged)  # video and the app
    assert backends.load_model(None).path == str(default)  # predict and the library keep the checkpoint
    torch.manual_seed(5)
    previous = save_checkpoint(tmp_path / "previous.safetensors", create_model(tiny_model_config()), 0.5)
    export_onnx(previous, packaged, overwrite=True)  # an export left over from another default model
    assert backends.load_model(None, deployment=True).path == str(default)
