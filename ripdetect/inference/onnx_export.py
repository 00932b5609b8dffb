"""ONNX export: the classifier with its forward-pass CAM as a second output (and the water probability, for a
model with a water head), a dynamic batch size, and the checkpoint's metadata in the ONNX metadata; optionally
int8 (``ripdetect.inference.quantise``).

The graph is ``image (B, 3, S, S) -> logits (B, K), cam (B, h, w)[, water (B, h', w')]``: the same tensors as
``compute_cam`` with the forward-pass Grad-CAM, so ONNX Runtime gives the decision *and* the map without
gradients. The metadata key ``ripdetect`` holds the checkpoint's JSON metadata (model_config, threshold,
temperature, cam_scale, class names, model id, model card) plus ``preprocessing`` (square resize to
``input_size``, RGB scaled to 0..1, then ``(x - mean) / std``) and ``onnx`` (input, outputs, precision, opset,
quantisation), so inference needs nothing but the file.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ripdetect.config import ModelConfig, QuantConfig
from ripdetect.errors import InputError, RipdetectError, require_extra
from ripdetect.explain.cam import forward_cam
from ripdetect.files import OutputExistsError, atomic_path, file_digest
from ripdetect.inference.quantise import calibration_batches, calibration_paths, quantise_int8
from ripdetect.models.checkpoint import Checkpoint, load_checkpoint

ONNX_INPUT = "image"
METADATA_KEY = "ripdetect"
DEFAULT_OPSET = 17


def output_names(model_config: ModelConfig) -> tuple[str, ...]:
    """The graph's outputs for a model: logits and the raw CAM, and the water probability with a water head."""
    return ("logits", "cam", "water") if model_config.water_head else ("logits", "cam")


class CamGraph(nn.Module):
    """What the ONNX graph computes: ``forward_cam`` as a tuple of tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, cam, water = forward_cam(self.model, image)
        return (logits, cam) if water is None else (logits, cam, water)


def onnx_metadata(checkpoint: Checkpoint, source: str | Path, precision: str, opset: int,
                  quantisation: dict | None = None, model_id: str | None = None) -> dict[str, Any]:
    """The checkpoint's metadata with the preprocessing and the graph's interface spelled out."""
    model_config = checkpoint.model_config
    names = output_names(model_config)
    return {
        **checkpoint.metadata,
        "model_id": model_id or checkpoint.model_id,
        "class_names": list(model_config.class_names),
        "temperature": checkpoint.temperature,
        "preprocessing": {"input_size": model_config.input_size, "mean": list(model_config.mean),
                          "std": list(model_config.std), "resize": "square, area when shrinking",
                          "input": "RGB, float32, NCHW, (pixel / 255 - mean) / std"},
        "onnx": {"input": ONNX_INPUT, "outputs": list(names), "precision": precision, "opset": opset,
                 "cam": "relu(rip evidence) / (h * w): the forward-pass Grad-CAM of the rip score",
                 **({"quantisation": quantisation} if quantisation else {})},
        "exported_from": Path(source).name,
        "source_digest": file_digest(source),
    }


def export_graph(model: nn.Module, path: Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write the float graph of ``model`` to ``path``, with a dynamic batch size.

    The graph is traced at batch 1 and folded by ONNX Runtime's basic (standard-ops) optimiser, so everything
    computed from the fixed image size (TF "same" padding, the CAM's ``h * w``) becomes a constant: quantisation
    then never touches shape arithmetic. The batch dimension is made symbolic afterwards."""
    onnx = require_extra("onnx", "onnx", "ONNX export")
    ort = require_extra("onnxruntime", "onnx", "ONNX export")

    model = model.eval()
    size = model.model_config.input_size
    names = output_names(model.model_config)
    traced = path.with_name(f"{path.stem}.traced.onnx")
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
            torch.onnx.export(CamGraph(model), (torch.zeros(1, 3, size, size),), str(traced),
                              input_names=[ONNX_INPUT], output_names=list(names), opset_version=opset, dynamo=False)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(path)
        ort.InferenceSession(str(traced), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - the exporter's failures are many; one line says which
        raise RipdetectError(f"ONNX export at opset {opset} failed: {type(exc).__name__}: {exc}") from None
    finally:
        traced.unlink(missing_ok=True)
    graph = onnx.load(str(path))
    del graph.graph.value_info[:]  # intermediate shapes were inferred at batch 1
    for value in (*graph.graph.input, *graph.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    onnx.save(graph, str(path))
    return path


def export_onnx(source: str | Path, target: str | Path, opset: int = DEFAULT_OPSET, int8: bool = False,
                calibration: list[Path | InputError] | None = None, quant_config: QuantConfig | None = None,
                model_id: str | None = None, overwrite: bool = False) -> Path:
    """Export the checkpoint ``source`` to ``target`` (.onnx), in float32 or, with ``int8``, statically quantised
    on the ``calibration`` images. An existing ``target`` is replaced only with ``overwrite``."""
    onnx = require_extra("onnx", "onnx", "ONNX export")


    target = Path(target)
    if target.exists() and not overwrite:
        raise OutputExistsError("exists and was not written by this run; use --overwrite to replace it", target)
    checkpoint = load_checkpoint(source)
    quant_config = quant_config or QuantConfig()
    if int8:
        if not calibration:
            raise RipdetectError("int8 export needs calibration images (--calib DIR...)")
        batches = calibration_batches(calibration_paths(calibration, quant_config.calib_n),
                                      checkpoint.model.preprocessing)
    with tempfile.TemporaryDirectory(prefix="ripdetect-export-") as folder:
        path = export_graph(checkpoint.model, Path(folder) / "float.onnx", opset)
        quantisation = None
        if int8:
            quantisation = quantise_int8(path, Path(folder) / "int8.onnx", batches, ONNX_INPUT, quant_config)
            path = Path(folder) / "int8.onnx"
        graph = onnx.load(str(path))
        metadata = onnx_metadata(checkpoint, source, "int8" if int8 else "float32", opset, quantisation, model_id)
        del graph.metadata_props[:]
        graph.metadata_props.add(key=METADATA_KEY, value=json.dumps(metadata, allow_nan=False))
        graph.producer_name, graph.doc_string = "ripdetect", f"ripdetect model {metadata['model_id']}"
        with atomic_path(target, overwrite) as tmp:
            onnx.save(graph, str(tmp))
    return target
