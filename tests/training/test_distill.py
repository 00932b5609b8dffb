"""Distillation: the loss terms say what they should, and ``ripdetect distill`` finishes a usable student."""

from __future__ import annotations

import json

import pytest
import torch

from ripdetect.training.losses import cam_distillation_loss, soft_target_loss


@pytest.mark.parametrize("classes", [1, 2])
def test_soft_targets_are_lowest_when_the_student_agrees_with_the_teacher(classes):
    teacher = torch.tensor([[0.5, 2.0], [1.5, -1.0]])[:, :classes]
    agree, disagree = soft_target_loss(teacher.clone(), teacher, 4.0), soft_target_loss(-teacher, teacher, 4.0)
    assert float(disagree) > float(agree) >= -1e-6
    if classes == 2:
        assert float(agree) == pytest.approx(0.0, abs=1e-5)  # KL of identical distributions (x T^2)


def test_the_map_loss_pulls_the_student_to_where_the_teacher_looks():
    teacher = torch.zeros(2, 7, 7)
    teacher[:, 1:3, 4:6] = 3.0  # the teacher sees the rip top right
    same_place = torch.full((2, 5, 5), -2.0)
    same_place[:, 1, 3] = 4.0
    elsewhere = torch.full((2, 5, 5), -2.0)
    elsewhere[:, 4, 0] = 4.0
    weights = torch.tensor([1.0, 0.5])
    assert float(cam_distillation_loss(same_place, teacher, weights)) < float(
        cam_distillation_loss(elsewhere, teacher, weights))
    empty = torch.zeros(2, 7, 7)  # a teacher without positive evidence teaches no place
    assert float(cam_distillation_loss(elsewhere, empty, weights)) == 0.0


@pytest.mark.slow
def test_distill_finishes_a_lower_resolution_student(tiny_checkpoint, class_folder, tmp_path, cli):
    from ripdetect.models.checkpoint import load_checkpoint

    out = tmp_path / "student"
    result = cli("distill", "--teacher", tiny_checkpoint, "--input-size", "48", "--data", class_folder,
                 "--val-data", class_folder, "--out", out, "--steps", "3", "--batch-size", "4", "--num-workers", "0",
                 "--temperature", "2", "--cam-weight", "0.5")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["steps"] == 3 and summary["val_metrics"]["n"] == 12
    student = load_checkpoint(out / "model.safetensors")
    assert student.model_config.input_size == 48 and student.model_config.arch == "tiny_cnn"
    assert student.metadata["distillation"]["temperature"] == 2 and student.metadata["distillation"]["teacher"] == \
        "tiny-test"
    assert student.cam_scale is not None and len(json.loads((out / "steps.json").read_text())) == 3
    again = cli("distill", "--teacher", tiny_checkpoint, "--data", class_folder, "--out", out, "--steps", "1")
    assert again.returncode == 2 and "already holds a training run" in again.stderr  # never over a run of yours
