"""Reading images safely: one-line errors, a pixel cap, EXIF orientation, any mode to RGB uint8."""

from __future__ import annotations

import glob
import warnings
from pathlib import Path

import numpy as np

from ripdetect.errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
TRAINING_MAX_SIDE = 1024  # training and evaluation load images at most this large (the model sees 224-260 px)


def load_image_rgb(path: str | Path, max_pixels: int | None = None, max_side: int | None = None) -> np.ndarray:
    """Decode ``path`` to an ``HxWx3`` uint8 RGB array.

    Honours EXIF orientation; converts grayscale, RGBA, palette, 16-bit and CMYK; refuses
    images above ``max_pixels`` before decoding them; downscales so the long side is at most
    ``max_side`` during decoding (JPEG draft mode) and after.

    Raises:
        InputError: naming the file and the reason.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ripdetect.config import InferenceConfig

    max_pixels = max_pixels or InferenceConfig().max_pixels
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, not an image", path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", path) from None
    if size == 0:
        raise InputError("empty file (0 bytes)", path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own cap applies below
            with Image.open(path) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise InputError(
                        f"image is {width}x{height} = {width * height:,} pixels, above the cap of {max_pixels:,}", path
                    )
                if max_side and max(width, height) > 2 * max_side and image.format == "JPEG":
                    image.draft("RGB", (max_side, max_side))
                image = ImageOps.exif_transpose(image)
                rgb = _to_rgb(image)
    except InputError:
        raise
    except PermissionError:
        raise InputError("permission denied", path) from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        reason = "not an image or unsupported format" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise InputError(reason, path) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"corrupt or truncated image ({exc})", path) from None
    return resize_long_side(rgb, max_side) if max_side else rgb


def stored_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of the image as stored, after EXIF rotation: the frame pixel labels refer to,
    even when ``load_image_rgb`` downscales it."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).size


def _to_rgb(image) -> np.ndarray:
    """Any PIL mode to uint8 RGB; 16-bit and float images are scaled, alpha is composited on white."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        high = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / high * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(array[..., None], 3, axis=2)
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA"):
        from PIL import Image

        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(array)


def resize_long_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale so the longer side is ``max_side`` (area interpolation); never upscales. The one resize helper
    for images and video frames."""
    import cv2

    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1.0:
        return image
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)


def expand_inputs(patterns: list[str], extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> list[Path]:
    """Files, folders (recursive, by extension) and globs, in the given order, without repeats.

    A pattern that matches nothing is kept as-is so the caller reports it as a missing input.
    """
    seen: set[Path] = set()
    result: list[Path] = []

    def add(path: Path) -> None:
        if path not in seen:
            seen.add(path)
            result.append(path)

    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in extensions):
                add(child)
        elif path.exists():
            add(path)
        elif any(ch in pattern for ch in "*?["):
            for match in sorted(glob.glob(pattern, recursive=True)):
                if Path(match).is_file():
                    add(Path(match))
        else:
            add(path)
    return result
