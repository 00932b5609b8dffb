"""The public API: every name in ``ripdetect.__all__`` is importable, is what the ``TYPE_CHECKING`` imports tell
tools it is, and ``import ripdetect`` stays cheap."""

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import ripdetect

INIT = Path(ripdetect.__file__)


@pytest.mark.system
def test_import_is_cheap():
    """``import ripdetect`` loads neither torch nor OpenCV; they load when a name that needs them is used."""
    code = "import sys, ripdetect; print(any(m in sys.modules for m in ('torch', 'cv2', 'albumentations')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def _type_checking_imports() -> dict[str, str]:
    """name -> module, from the ``if TYPE_CHECKING:`` block of ``ripdetect/__init__.py``."""
    tree = ast.parse(INIT.read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") ==
                 "TYPE_CHECKING")
    return {alias.name: node.module for node in block.body for alias in node.names}


@pytest.mark.parametrize("name", sorted(set(ripdetect.__all__) - {"__version__", "RipdetectError"}))
def test_every_public_name_is_defined_where_tools_are_told(name):
    value = getattr(ripdetect, name)
    declared = _type_checking_imports()[name]
    assert value is getattr(importlib.import_module(declared), name), f"{name} is not {declared}.{name}"
    assert value.__name__ == name and inspect.getmodule(value).__name__.startswith("ripdetect.")


def test_all_lists_exactly_the_public_names():
    assert set(ripdetect.__all__) == set(_type_checking_imports()) | {"__version__", "RipdetectError"}
    assert ripdetect.__version__ and "Predictor" in dir(ripdetect)


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ripdetect.nope  # noqa: B018
