"""The written layer rules (``[tool.importlinter]`` in pyproject.toml) hold: every room imports only the rooms below
it, and no module imports itself back through others, inside a room either. A new upward import or cycle fails
here, whether the import sits at the top of a module or inside a function."""

from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
ROOMS = sorted(p.stem for p in (ROOT / "ripdetect").iterdir()
               if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and not p.name.startswith("_")))


def test_the_import_contracts_hold(capsys):
    from importlinter.application.use_cases import lint_imports
    from importlinter.configuration import configure

    configure()
    kept = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out[-3000:]


@pytest.mark.parametrize("room", ROOMS)
def test_every_room_has_its_layer(room):
    layers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]["layers"]
    names = {name.strip() for layer in layers for name in layer.replace(":", "|").split("|")}
    assert f"ripdetect.{room}" in names, f"ripdetect.{room} is in no layer: add it to [tool.importlinter] first"


def test_no_module_is_over_350_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "ripdetect").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 350}
    assert not long, f"split these by concern: {long}"
