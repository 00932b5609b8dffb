"""Inference backends: a preprocessed batch in, ``CamOutput(logits, cams, water)`` out, from PyTorch or from ONNX
Runtime. The ``Predictor`` runs on either, so the CLI, the app, video and evaluation give the same results,
regions and JSON with a ``.safetensors`` checkpoint or with its ``.onnx`` export (``ripdetect export``).

ONNX Runtime runs with as many intra-op threads as the process may use cores. An ONNX model carries only the
forward-pass Grad-CAM (the gradient methods need the PyTorch checkpoint). A ``.onnx`` file that was not exported
by ripdetect (no ripdetect metadata, other inputs or outputs) is refused with one line naming what is missing.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from pathlib import Path

import torch

from ripdetect.config import CAM_METHODS, InferenceConfig
from ripdetect.decision import model_video_threshold
from ripdetect.errors import CheckpointError, ConfigError, require_extra
from ripdetect.explain.cam import CamOutput, compute_cam, eval_mode, fast_cam_and_whole_logits, supports_fast_path
from ripdetect.files import file_digest
from ripdetect.inference.onnx_export import METADATA_KEY, ONNX_INPUT, output_names
from ripdetect.models.checkpoint import (Checkpoint, default_model_path, load_checkpoint, metadata_model_config,
                                         parse_metadata, read_metadata)
from ripdetect.models.preprocess import Preprocessing, resolve_model_config

DEPLOYMENT_RESOURCE = "default.int8.onnx"  # shipped beside the default checkpoint when its int8 export keeps accuracy
ONNX_CAM_METHODS = ("gradcam", "gradcam_fast")
_fingerprints: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class TorchBackend:
    """A ``RipClassifier`` in eval mode, channels-last (about 1.4x faster convolutions on CPU)."""

    name = "torch"
    cam_methods = CAM_METHODS

    def __init__(self, model: torch.nn.Module, device: str = "cpu"):
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        self.device = device
        self.preprocessing: Preprocessing = model.preprocessing

    def run(self, batch: torch.Tensor, cam_method: str = "gradcam", cam_layer: str | None = None,
            evidence_mask: torch.Tensor | None = None) -> CamOutput:
        batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
        if evidence_mask is not None:
            evidence_mask = evidence_mask.to(self.device)
        return compute_cam(self.model, batch, cam_method, cam_layer, evidence_mask)

    def run_in_roi(self, batch: torch.Tensor, cam_method: str, cam_layer: str | None,
                   evidence_mask: torch.Tensor) -> tuple[CamOutput, torch.Tensor]:
        """``run`` inside a region of interest, and the whole frame's logits: one pass for the forward-pass CAM (the
        same features pooled twice), a second plain pass for a gradient method."""
        if cam_method in ("gradcam", "gradcam_fast") and supports_fast_path(self.model, cam_layer):
            batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
            return fast_cam_and_whole_logits(self.model, batch, evidence_mask.to(self.device))
        return self.run(batch, cam_method, cam_layer, evidence_mask), self.logits(batch)

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), eval_mode(self.model):
            return self.model(batch.to(self.device).contiguous(memory_format=torch.channels_last)).cpu()

    def check(self, inference_config: InferenceConfig) -> None:
        """Every CAM method and layer is available (a bad layer name is reported when it is first used)."""

    def fingerprint(self) -> str:
        """A hash of the weights (computed once per model object)."""
        if self.model not in _fingerprints:
            digest = hashlib.blake2b(digest_size=12)
            for name, tensor in sorted(self.model.state_dict().items()):
                digest.update(name.encode())
                digest.update(str(tensor.dtype).encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            _fingerprints[self.model] = digest.hexdigest()
        return _fingerprints[self.model]

    def set_threads(self, threads: int) -> None:
        torch.set_num_threads(threads)


class OnnxBackend:
    """An exported ripdetect ONNX model in ONNX Runtime (CPU). It is also the ``model`` of the ``Checkpoint`` that
    ``load_onnx`` returns, carrying the ``model_config`` and ``preprocessing`` from the file's metadata. Pickles
    without its session (video worker processes open their own)."""

    name = "onnx"
    cam_methods = ONNX_CAM_METHODS

    def __init__(self, path: str | Path, model_config, outputs: tuple[str, ...], threads: int | None = None,
                 session=None):
        self.path, self.model_config, self.outputs = Path(path), model_config, outputs
        self.preprocessing = Preprocessing.of(model_config)
        self.threads = threads or available_cores()
        self._session, self._digest = session, None

    @property
    def session(self):
        if self._session is None:
            self._session = open_session(self.path, self.threads)
        return self._session

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_session": None}

    def run(self, batch: torch.Tensor, cam_method: str = "gradcam", cam_layer: str | None = None,
            evidence_mask: torch.Tensor | None = None) -> CamOutput:
        self.check(InferenceConfig(cam_method=cam_method, cam_layer=cam_layer))
        if evidence_mask is not None:  # Predictor refuses a region of interest with an ONNX model up front
            raise ConfigError(f"{self.path.name} is an ONNX model whose graph has no evidence mask")
        arrays = self.session.run(list(self.outputs), {"image": batch.float().contiguous().numpy()})
        logits, cams, *water = (torch.from_numpy(array) for array in arrays)
        return CamOutput(logits, cams, water[0] if water else None)

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run(["logits"], {"image": batch.float().contiguous().numpy()})[0])

    def check(self, inference_config: InferenceConfig) -> None:
        """Only the forward-pass CAM is in the graph: gradient methods and other layers need the checkpoint."""
        if inference_config.cam_method not in ONNX_CAM_METHODS:
            raise ConfigError(f"CAM method '{inference_config.cam_method}' needs gradients, so it needs the PyTorch "
                              f"checkpoint (.safetensors); {self.path.name} is an ONNX model with the forward-pass "
                              "Grad-CAM only (--cam gradcam)")
        if inference_config.cam_layer is not None:
            raise ConfigError(f"--cam-layer needs the PyTorch checkpoint (.safetensors); {self.path.name} is an ONNX "
                              "model with the CAM of its last feature map only")

    def fingerprint(self) -> str:
        if self._digest is None:
            self._digest = file_digest(self.path)
        return self._digest

    def set_threads(self, threads: int) -> None:
        if threads != self.threads:
            self.threads, self._session = threads, None


def open_session(path: str | Path, threads: int):
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and every graph optimisation."""
    ort = require_extra("onnxruntime", "onnx", "an ONNX model")

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.set_denormal_as_zero", "1")  # as the CLI does for PyTorch: faster
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_onnx(path: str | Path, threads: int | None = None) -> Checkpoint:
    """A ripdetect ONNX export as a ``Checkpoint`` whose model is an ``OnnxBackend``; anything else is one
    ``CheckpointError`` line naming what is missing."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("model not found" if not path.exists() else "model is not a file", path)
    threads = threads or available_cores()
    try:
        session = open_session(path, threads)
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime's load failures (not protobuf, bad graph)
        raise CheckpointError(f"not a readable ONNX model ({type(exc).__name__}: {str(exc).strip()[:200]})",
                              path) from None
    found = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in found:
        raise CheckpointError("an ONNX model, but not one exported by ripdetect: no 'ripdetect' metadata (model "
                              "config, preprocessing, threshold, class names); export it with 'ripdetect export CKPT "
                              "OUT.onnx'", path)
    metadata = parse_metadata(found[METADATA_KEY], path)
    model_config = resolve_model_config(metadata_model_config(metadata, path))
    wanted = output_names(model_config)
    outputs = [output.name for output in session.get_outputs()]
    missing = [name for name in wanted if name not in outputs]
    if missing:
        raise CheckpointError(f"ONNX outputs are {', '.join(outputs)}; ripdetect needs {', '.join(wanted)} "
                              f"(missing: {', '.join(missing)})", path)
    inputs = session.get_inputs()
    size = model_config.input_size
    if [i.name for i in inputs] != [ONNX_INPUT] or list(inputs[0].shape)[1:] != [3, size, size] \
            or inputs[0].type != "tensor(float)":
        found_inputs = ", ".join(f"{i.name} {i.type} {list(i.shape)}" for i in inputs)
        raise CheckpointError(f"ONNX inputs are {found_inputs}; ripdetect needs one float32 input '{ONNX_INPUT}' "
                              f"[batch, 3, {size}, {size}]", path)
    ranks = {"logits": 2, "cam": 3, "water": 3}
    for output in session.get_outputs():
        wanted_rank = ranks.get(output.name)
        shape = list(output.shape)
        bad_rank = wanted_rank is not None and len(shape) != wanted_rank
        bad_logits = output.name == "logits" and len(shape) == 2 and shape[1] != model_config.num_classes
        if bad_rank or bad_logits or output.type != "tensor(float)":
            expected = f"[batch, {model_config.num_classes}]" if output.name == "logits" else "[batch, h, w]"
            raise CheckpointError(f"ONNX output '{output.name}' is {output.type} {shape}; ripdetect needs float32 "
                                  f"{expected}", path)
    backend = OnnxBackend(path, model_config, wanted, threads, session)
    return Checkpoint(backend, metadata["threshold"], metadata, str(path))


def video_threshold_of(path: str | Path | None = None) -> float:
    """A model's video threshold (``decision.model_video_threshold``; ``None``: the embedded default model), read
    from its metadata without loading the weights of a checkpoint."""
    if path is not None and Path(path).suffix.lower() == ".onnx":
        onnx = load_onnx(path, threads=1)
        return model_video_threshold(onnx.metadata, onnx.threshold)
    metadata = read_metadata(default_model_path() if path is None else path)
    return model_video_threshold(metadata, metadata["threshold"])


def analysis_model(path: str | Path | None = None, roi_given: bool = False, device: str = "cpu") -> Checkpoint:
    """The model that analyses video and the app's requests: ``path``, else the embedded default model, or its
    packaged int8 ONNX export where one ships that was made from it. A region of interest keeps the checkpoint: an
    ONNX graph has no evidence mask. The one place this choice is made, for every front end."""
    return load_model(path, device, deployment=not roi_given)


def load_model(path: str | Path | None = None, device: str = "cpu", deployment: bool = False) -> Checkpoint:
    """A ``.onnx`` export or a ``.safetensors`` checkpoint. Without a path: the embedded default model, or with
    ``deployment`` its packaged int8 ONNX export when one ships that was made from it."""
    if path is None and deployment:
        fast = default_model_path().with_name(DEPLOYMENT_RESOURCE)
        if fast.is_file():
            checkpoint = load_onnx(fast)
            if checkpoint.metadata.get("source_digest") == file_digest(default_model_path()):
                return checkpoint
    if path is not None and Path(path).suffix.lower() == ".onnx":
        return load_onnx(path)
    return load_checkpoint(path, device)


Backend = TorchBackend | OnnxBackend


def backend_for(checkpoint: Checkpoint, device: str = "cpu") -> Backend:
    """The backend that runs ``checkpoint.model``."""
    if isinstance(checkpoint.model, OnnxBackend):
        return checkpoint.model
    return TorchBackend(checkpoint.model, device)
