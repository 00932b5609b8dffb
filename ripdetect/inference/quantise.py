"""Static int8 quantisation of an exported float ONNX model with ONNX Runtime's quantiser (QDQ format).

Activation ranges are calibrated on real images run through the model's own preprocessing. What stays in float
is named by layer group (``QuantConfig.keep_float``), found by position so it works for every backbone: ``stem``
is the first convolution, ``head`` the backbone's last convolution and every node after it (pooling, the linear
head and the CAM), and the water head with its gate. The defaults in ``QuantConfig`` were chosen by measurement
(``bench/onnx_bench.py``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ripdetect.config import QuantConfig
from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
from ripdetect.data.inputs import expand_inputs
from ripdetect.data.layouts import load_samples
from ripdetect.errors import DataError, InputError, require_extra

log = logging.getLogger(__name__)
CALIBRATION_BATCH = 8
WATER_HEAD_SCOPES = ("water", "gate")
_METHODS = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}


def calibration_inputs(arguments: list[str]) -> list[Path | InputError]:
    """The images that ``--calib`` names: files, folders (recursive) and globs; a dataset folder with a
    ``manifest.csv`` (``ripdetect synth`` writes one) gives the images of its manifest, not its label masks."""

    found: list[Path | InputError] = []
    for argument in arguments:
        if (Path(argument) / "manifest.csv").is_file():
            try:
                found += [Path(sample.path) for sample in load_samples(argument)]
            except DataError as exc:
                found.append(InputError(exc.reason, exc.path or argument))
        else:
            found += expand_inputs([argument])
    return found


def calibration_paths(paths: list[Path | InputError], n: int) -> list[Path]:
    """At most ``n`` of ``paths``, evenly spaced (deterministic); input arguments that named nothing are warned
    about and left out, and when nothing is left that is one ``DataError`` line naming the first."""
    good = [path for path in paths if not isinstance(path, InputError)]
    errors = [path for path in paths if isinstance(path, InputError)]
    if not good:
        first = f": {errors[0]}" if errors else ""
        raise DataError(f"no calibration images{first}")
    for error in errors:
        log.warning("calibration: %s", error)
    if len(good) > n:
        good = [good[int(i)] for i in np.linspace(0, len(good) - 1, n).round()]
    return good


def calibration_batches(paths: list[Path], preprocessing, batch_size: int = CALIBRATION_BATCH) -> list[np.ndarray]:
    """The readable images of ``paths``, preprocessed, in float32 batches; unreadable ones are warned about and
    skipped, and a set with none readable is one ``DataError`` line."""

    tensors, errors = [], []
    for path in paths:
        try:
            tensors.append(preprocessing(load_image_rgb(path, max_side=TRAINING_MAX_SIDE)).numpy())
        except InputError as exc:
            errors.append(exc)
    if not tensors:
        first = f" (first: {errors[0]})" if errors else ""
        raise DataError(f"no readable calibration image among the {len(paths)} given{first}")
    for error in errors:  # warned about only when the others calibrate
        log.warning("calibration: skipped %s", error)
    return [np.stack(tensors[i:i + batch_size]) for i in range(0, len(tensors), batch_size)]


def _in_water_head(node) -> bool:
    """A node of the water head or its evidence gate (``RipClassifier.water`` / ``.gate``): exported under those
    module scopes."""
    return any(f"/{scope}/" in node.name for scope in WATER_HEAD_SCOPES)


def float_nodes(model, keep_float: str) -> list[str]:
    """Names of the nodes that ``keep_float`` leaves unquantised in the ONNX ``model`` (topologically ordered).

    ``head`` is the backbone's last convolution and every node after it, and the water head and its gate
    wherever they are in the order (their maps gate the CAM, so they are part of what the regions see)."""
    groups = set(keep_float.split("+")) - {"none"}
    nodes = list(model.graph.node)
    convs = [i for i, node in enumerate(nodes) if node.op_type == "Conv" and not _in_water_head(node)]
    names: list[str] = []
    if "stem" in groups and convs:
        names.append(nodes[convs[0]].name)
    if "head" in groups and convs:
        names += [node.name for node in nodes[convs[-1]:]]
        names += [node.name for node in nodes[:convs[-1]] if _in_water_head(node)]
    return names


def quantise_int8(float_path: str | Path, out_path: str | Path, batches: list[np.ndarray], input_name: str,
                  quant_config: QuantConfig | None = None) -> dict:
    """Write the int8 (QDQ) model of ``float_path`` to ``out_path``, calibrated on ``batches``; returns what was
    done (for the ONNX metadata)."""
    onnx = require_extra("onnx", "onnx", "int8 export")
    require_extra("onnxruntime", "onnx", "int8 export")
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quant_pre_process, quantize_static)

    quant_config = quant_config or QuantConfig()

    class Reader(CalibrationDataReader):
        """The batches, one range at a time: the calibrator keeps every activation of a range in memory."""

        def __init__(self) -> None:
            self.items: Iterator[dict] = iter(())

        def __len__(self) -> int:
            return len(batches)

        def set_range(self, start_index: int, end_index: int) -> None:
            self.items = iter({input_name: batch} for batch in batches[start_index:end_index])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    with tempfile.TemporaryDirectory(prefix="ripdetect-quantise-") as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        excluded = float_nodes(onnx.load(str(prepared)), quant_config.keep_float)
        quantize_static(
            str(prepared), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            per_channel=quant_config.per_channel, reduce_range=quant_config.reduce_range,
            calibrate_method=getattr(CalibrationMethod, _METHODS[quant_config.calib_method]),
            nodes_to_exclude=excluded, extra_options={"CalibStridedMinMax": 1},  # one batch at a time, any method
            calibration_providers=["CPUExecutionProvider"])
    return {"calibration_images": int(sum(len(batch) for batch in batches)), "calib_method": quant_config.calib_method,
            "per_channel": quant_config.per_channel, "reduce_range": quant_config.reduce_range,
            "keep_float": quant_config.keep_float, "float_nodes": len(excluded)}
