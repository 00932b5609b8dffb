"""ripdetect: rip-current detection and explainability toolkit.

Heavy modules (torch, cv2, albumentations) are imported lazily by the submodules
that need them, so ``import ripdetect`` stays cheap.
"""

__version__ = "0.1.0"

from ripdetect.errors import RipdetectError  # noqa: E402

__all__ = ["RipdetectError", "__version__"]
