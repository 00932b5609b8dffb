"""Smaller models against their teacher: distilled students (``ripdetect distill``) and L1-norm channel pruning
with fine-tuning, measured side by side in one run.

    python bench/student_bench.py --teacher CKPT [--student RUN/model.safetensors ...] [--prune 0.25 0.5]
        [--finetune-steps 150] [--work DIR] [--speed-only]

For each model: parameters, file size of its float ONNX export, images per second at batch 8 in PyTorch and in
ONNX Runtime fp32 (interleaved with the teacher, as ``vs_teacher``), and the accuracy table of
``bench/onnx_bench.py`` against the teacher (label agreement, change in balanced accuracy and ROC-AUC, mean
|delta p|, region IoU) on the real-dev photos and 300 held-out synthetic scenes.

Pruning (``--prune R``) is structured: in every inverted-residual block of an EfficientNet-Lite backbone, the
share R of expansion channels with the smallest L1 norm (of the expansion filter) is removed from the expansion
conv, its batch norm, the depthwise conv and the projection's input. Block outputs keep their width, so the
skips, the water head's tap and the CAM are untouched. The pruned model is then fine-tuned by distillation from
the teacher (``ripdetect.training.distill.distillation_loss``: soft targets and the teacher's map) on synthetic
scenes of the training distribution and the real-dev training photos.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from onnx_bench import ROOT, compare, load_set, predictions, synth
from timing import interleaved_medians
from torch import nn


def _keep(module: nn.Module, name: str, index: torch.Tensor, dim: int) -> None:
    tensor = getattr(module, name)
    if tensor is None:
        return
    sliced = tensor.detach().index_select(dim, index).clone()
    setattr(module, name, nn.Parameter(sliced, requires_grad=tensor.requires_grad)
            if isinstance(tensor, nn.Parameter) else sliced)


def prune_block(block: nn.Module, ratio: float) -> int:
    """Remove the share ``ratio`` of the block's expansion channels (smallest L1 norm); returns channels removed."""
    channels = block.conv_pw.out_channels
    keep_n = max(8, round(channels * (1 - ratio)))
    if keep_n >= channels:
        return 0
    norms = block.conv_pw.weight.detach().abs().sum(dim=(1, 2, 3))
    index = torch.sort(torch.topk(norms, keep_n).indices).values
    _keep(block.conv_pw, "weight", index, 0)
    block.conv_pw.out_channels = keep_n
    for bn in (block.bn1, block.bn2):
        for name in ("weight", "bias", "running_mean", "running_var"):
            _keep(bn, name, index, 0)
        bn.num_features = keep_n
    _keep(block.conv_dw, "weight", index, 0)
    block.conv_dw.in_channels = block.conv_dw.out_channels = block.conv_dw.groups = keep_n
    _keep(block.conv_pwl, "weight", index, 1)
    block.conv_pwl.in_channels = keep_n
    return channels - keep_n


def prune_model(model: nn.Module, ratio: float) -> nn.Module:
    pruned = copy.deepcopy(model)
    blocks = [m for m in pruned.modules() if all(hasattr(m, a) for a in ("conv_pw", "conv_dw", "conv_pwl", "bn2"))]
    if not blocks:
        raise SystemExit(f"pruning: no inverted-residual blocks in {type(model).__name__} (EfficientNet-Lite only)")
    removed = sum(prune_block(block, ratio) for block in blocks)
    print(json.dumps({"pruned": ratio, "blocks": len(blocks), "channels_removed": removed}), flush=True)
    return pruned


def finetune(student: nn.Module, teacher: nn.Module, images: list[np.ndarray], steps: int, seed: int = 0,
             batch_size: int = 16, lr: float = 3e-4) -> nn.Module:
    """Distil ``teacher`` into ``student`` on ``images`` (flips as the only augmentation)."""
    from ripdetect.config import DistillConfig, TrainConfig
    from ripdetect.training.distill import distillation_loss
    from ripdetect.training.losses import make_loss

    if steps <= 0:
        return student
    x_all = torch.stack([student.preprocessing(image) for image in images])
    teacher = teacher.eval().requires_grad_(False)
    loss_fn = make_loss(student.model_config, TrainConfig(model=student.model_config), [])
    optimizer = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    student.train()
    for step in range(steps):
        index = torch.randint(len(x_all), (batch_size,), generator=generator)
        x = x_all[index]
        flip = torch.rand(batch_size, generator=generator) < 0.5
        x[flip] = x[flip].flip(-1)
        with torch.no_grad():
            target = teacher.outputs(x)
        labels = (torch.softmax(target.logits, 1)[:, -1] >= 0.5).long() if target.logits.shape[1] > 1 else \
            (target.logits[:, 0] >= 0).long()
        loss = distillation_loss(student.outputs(x), target, labels, loss_fn, DistillConfig(alpha=1.0))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 25 == 0 or step == steps - 1:
            print(json.dumps({"finetune_step": step + 1, "loss": round(loss.item(), 4)}), flush=True)
    return student.eval()


def main() -> None:
    from ripdetect.config import InferenceConfig
    from ripdetect.data.images import TRAINING_MAX_SIDE, load_image_rgb
    from ripdetect.data.layouts import load_samples
    from ripdetect.inference.backends import OnnxBackend, TorchBackend, available_cores
    from ripdetect.inference.onnx_export import export_graph, output_names
    from ripdetect.inference.predictor import Predictor
    from ripdetect.models.checkpoint import Checkpoint, load_checkpoint

    parser = argparse.ArgumentParser()
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--student", nargs="*", default=[], help="distilled student checkpoints")
    parser.add_argument("--prune", nargs="*", type=float, default=[], help="pruning ratios of the expansion channels")
    parser.add_argument("--finetune-steps", type=int, default=150)
    parser.add_argument("--work", default=None)
    parser.add_argument("--speed-only", action="store_true", help="skip the accuracy table (speed and size only)")
    args = parser.parse_args()
    torch.set_num_threads(available_cores())
    torch.set_flush_denormal(True)
    work = Path(args.work or tempfile.mkdtemp(prefix="ripdetect-student-bench-"))
    teacher = load_checkpoint(args.teacher)
    sets = {"real_dev": load_set(ROOT / "train" / "real_dev.csv")}
    if not args.speed_only:
        sets["synthetic_300"] = load_set(synth(work / "synth-heldout", 300, 99))
    config = InferenceConfig(region_when_negative=True)
    reference = Predictor(teacher, config)
    threshold = reference.threshold
    ref = {} if args.speed_only else {name: predictions(reference, images) for name, (images, _) in sets.items()}

    models: dict[str, Checkpoint] = {}
    for path in args.student:
        student = load_checkpoint(path)
        models[f"student:{student.model_config.arch}@{student.model_config.input_size}"] = student
    if args.prune:
        train_images = [load_image_rgb(s.path, max_side=TRAINING_MAX_SIDE)
                        for s in load_samples(ROOT / "train" / "splits" / "real_dev_train.csv")]
        train_images += [load_image_rgb(s.path, max_side=TRAINING_MAX_SIDE)
                         for s in load_samples(synth(work / "synth-calib", 200, 1))]
        for ratio in args.prune:
            pruned = finetune(prune_model(teacher.model, ratio), teacher.model, train_images, args.finetune_steps)
            models[f"pruned_{ratio:g}+finetune{args.finetune_steps}"] = Checkpoint(
                pruned, teacher.threshold, teacher.metadata, teacher.path)

    def onnx_backend(name: str, model: nn.Module) -> OnnxBackend:
        path = export_graph(model, work / f"{name.replace(':', '_').replace('@', '_')}.onnx")
        return OnnxBackend(path, model.model_config, output_names(model.model_config))

    report: dict = {"teacher": args.teacher, "threads": available_cores(), "models": {}}
    torch_backends = {"teacher": TorchBackend(copy.deepcopy(teacher.model))}
    onnx_backends = {"teacher": onnx_backend("teacher", teacher.model)}
    for name, checkpoint in models.items():
        predictor = Predictor(checkpoint, config)
        accuracy = {set_name: compare(ref[set_name], predictions(predictor, images), labels, threshold)
                    for set_name, (images, labels) in sets.items() if set_name in ref}
        torch_backends[name] = TorchBackend(copy.deepcopy(checkpoint.model))
        onnx_backends[name] = onnx_backend(name, checkpoint.model)
        report["models"][name] = {"parameters": sum(p.numel() for p in checkpoint.model.parameters()),
                                  "onnx_fp32_mb": round(onnx_backends[name].path.stat().st_size / 2**20, 2),
                                  "input_size": checkpoint.model_config.input_size, **accuracy}
    report["teacher_parameters"] = sum(p.numel() for p in teacher.model.parameters())
    images = sets["real_dev"][0][:8]
    for runtime, backends in (("pytorch", torch_backends), ("onnx_fp32", onnx_backends)):
        batches = {name: torch.stack([b.preprocessing(image) for image in images]) for name, b in backends.items()}
        seconds = interleaved_medians({name: (lambda b=b, x=batches[name]: b.run(x)) for name, b in backends.items()})
        for name, s in seconds.items():
            entry = {"images_per_s": round(8 / s, 1), "vs_teacher": round(seconds["teacher"] / s, 2)}
            report["models"].setdefault(name, {})[f"{runtime}_batch_8"] = entry
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
