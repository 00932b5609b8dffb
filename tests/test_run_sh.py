"""``run.sh`` installs once per pyproject.toml: a second start skips pip, a changed pyproject.toml installs again.
Runs the real script with bash; the virtual environment's interpreter is a stand-in that logs what it is
asked to do (a real install takes minutes and needs the network)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.system
def test_run_sh_skips_the_install_when_nothing_changed(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("run.sh", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    venv, log = tmp_path / "venv", tmp_path / "calls.log"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    python.chmod(0o755)

    def start() -> list[str]:
        log.unlink(missing_ok=True)
        subprocess.run(["bash", str(project / "run.sh"), "app", "--port", "7000"], check=True,
                       env={"PATH": "/usr/bin:/bin", "RIPDETECT_VENV": str(venv)}, capture_output=True, text=True)
        return log.read_text().splitlines()

    first = start()
    assert first == ["-m pip install --quiet --upgrade pip", "-m pip install --quiet --editable .[app]",
                     "app.py --port 7000"]
    assert start() == ["app.py --port 7000"]
    with open(project / "pyproject.toml", "a") as handle:
        handle.write("\n# a new dependency\n")
    assert start() == first
