import subprocess
import sys

import pytest

import ripdetect


def test_import_is_cheap():
    """``import ripdetect`` loads neither torch nor OpenCV; they load when a name that needs them is used."""
    code = "import sys, ripdetect; print(any(m in sys.modules for m in ('torch', 'cv2', 'albumentations')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("name", sorted(set(ripdetect.__all__) - {"__version__"}))
def test_every_public_name_resolves(name):
    value = getattr(ripdetect, name)
    assert getattr(value, "__name__", name) == name


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ripdetect.nope  # noqa: B018
