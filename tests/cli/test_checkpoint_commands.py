"""A damaged checkpoint is one line naming the file and the reason through every command that loads one."""

import json

import pytest

from tests.helpers import write_clip

DAMAGED = {
    "not JSON": ("{not json", "not valid JSON"),
    "a JSON list": ("[1, 2]", "JSON list, not an object"),
    "no model_config": ('{"format": "ripdetect-checkpoint", "format_version": 1, "threshold": 0.5}',
                        "no model_config"),
    "threshold 'high'": (None, "threshold 'high' is not a number in [0, 1]"),
    "threshold NaN": (None, "threshold nan is not a number in [0, 1]"),
}


def _damaged(tmp_path, tiny_model, case: str):
    from safetensors.torch import save_file

    text, _ = DAMAGED[case]
    if text is None:
        meta = {"format": "ripdetect-checkpoint", "format_version": 1,
                "model_config": json.loads(json.dumps(tiny_model.model_config.__dict__, default=list)),
                "threshold": "high"}
        text = json.dumps(meta).replace('"high"', "NaN" if "NaN" in case else '"high"')
    path = tmp_path / "damaged.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_model.state_dict().items()}, str(path),
              metadata={"ripdetect": text})
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    clip = write_clip(folder / "beach.mp4", seconds=0.5)
    return {"clip": clip, "image": folder / "missing.png", "folder": folder}


COMMANDS = {
    "predict": lambda ckpt, i, t: ["predict", str(i["image"]), "--model", ckpt],
    "video": lambda ckpt, i, t: ["video", str(i["clip"]), "--out", str(t / "v"), "--model", ckpt],
    "eval": lambda ckpt, i, t: ["eval", "--data", str(t / "data"), "--model", ckpt],
    "export": lambda ckpt, i, t: ["export", ckpt, str(t / "exported.safetensors")],
    "train --init-from": lambda ckpt, i, t: ["train", "--data", str(t / "data"), "--out", str(t / "run"),
                                             "--init-from", ckpt, "--arch", "tiny_cnn", "--epochs", "1"],
    "app --model": lambda ckpt, i, t: ["app", "--model", ckpt, "--port", "1"],
}


@pytest.mark.parametrize("case", list(DAMAGED))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_damaged_checkpoint_is_one_line_in_every_command(tmp_path, tiny_model, class_folder, inputs, capsys,
                                                         command, case):
    from ripdetect.cli import main

    path = _damaged(tmp_path, tiny_model, case)  # class_folder is tmp_path / "data"
    code = main(COMMANDS[command](str(path), inputs, tmp_path))
    err = capsys.readouterr().err
    assert code == 2, err
    last = err.strip().splitlines()[-1].split("\r")[-1]  # train prints its data sizes and a progress bar first
    assert last.startswith(f"ripdetect: error: {path}: ") and DAMAGED[case][1] in last, err
    assert err.count("error") == 1 and "Traceback" not in err
    assert not (tmp_path / "v").exists() and not (tmp_path / "exported.safetensors").exists()
    assert not (tmp_path / "run").exists()  # nothing written that would block the next, corrected run
