"""Reading images safely: one-line errors, a pixel cap, EXIF orientation, any mode to RGB uint8."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ripdetect.config import InferenceConfig
from ripdetect.errors import InputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
TRAINING_MAX_SIDE = 1024  # training and evaluation load images at most this large (the model sees 224-260 px)


def load_image_rgb(path: str | Path, max_pixels: int | None = None, max_side: int | None = None) -> np.ndarray:
    """Decode ``path`` to an ``HxWx3`` uint8 RGB array.

    Honours EXIF orientation; converts grayscale, RGBA, palette, 16-bit and CMYK; refuses
    images above ``max_pixels`` before decoding them; downscales so the long side is at most
    ``max_side`` while decoding (JPEG draft mode; other formats are reduced right after decoding,
    before any conversion, so a large PNG costs about one decoded copy) and after.

    Raises:
        InputError: naming the file and the reason.
    """
    from PIL import Image, UnidentifiedImageError


    max_pixels = max_pixels or InferenceConfig().max_pixels
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, not an image", path)
    try:
        size = path.stat().st_size
    except PermissionError:
        raise InputError("permission denied", path) from None
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
                orientation = _orientation(image)
                if max_side and max(width, height) > 2 * max_side and image.format == "JPEG":
                    image.draft("RGB", (max_side, max_side))
                sixteen_bit = image.mode.startswith("I;16")
                image = _reduced(image, max_side)
                rgb = _to_rgb(_apply_orientation(image, orientation), sixteen_bit)
    except InputError:
        raise
    except PermissionError:
        raise InputError("permission denied", path) from None
    except Image.DecompressionBombError as exc:
        raise InputError(_bomb_reason(str(exc), max_pixels), path) from None
    except UnidentifiedImageError:
        raise InputError("not an image or unsupported format", path) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"corrupt or truncated image ({exc})", path) from None
    return resize_long_side(rgb, max_side) if max_side else rgb


def _bomb_reason(message: str, max_pixels: int) -> str:
    """Pillow refuses images far above its own limit while reading the header; say so in our terms."""
    import re

    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", message)
    pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    return f"image has {pixels}, above the cap of {min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or 0)):,}"


def _reduced(image, max_side: int | None):
    """Decode ``image`` and, when it is at least twice ``max_side``, shrink it by an integer factor straight away
    (box filter), so later conversions work on the small copy; the full decoded copy is released at once."""
    image.load()
    factor = max(image.size) // max_side if max_side else 1
    if factor < 2:
        return image
    if image.mode in ("P", "PA", "1") or image.mode.startswith("I;16"):  # modes Image.reduce does not take
        target = {"1": "L", "P": "RGBA", "PA": "RGBA"}.get(image.mode, "I")
        converted = image.convert(target)
        image.close()  # frees the decoded pixels now, not when the garbage collector gets to them
        image = converted
    reduced = image.reduce(factor)
    image.close()
    return reduced


_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
              7: "TRANSVERSE", 8: "ROTATE_90"}


def _orientation(image) -> int:
    """The EXIF orientation tag (1 = as stored), read from the header only."""
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except (TypeError, ValueError, SyntaxError, OSError):
        return 1


def _apply_orientation(image, orientation: int):
    from PIL import Image

    method = _TRANSPOSE.get(orientation)
    return image.transpose(getattr(Image.Transpose, method)) if method else image


def stored_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of the image as stored, after EXIF rotation: the frame pixel labels refer to,
    even when ``load_image_rgb`` downscales it. Reads the header only."""
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        return (height, width) if _orientation(image) in (5, 6, 7, 8) else (width, height)


def _to_rgb(image, sixteen_bit: bool = False) -> np.ndarray:
    """Any PIL mode to uint8 RGB; 16-bit and float images are scaled, alpha is composited on white.
    ``sixteen_bit`` says a 32-bit integer image holds 16-bit samples (a 16-bit image already reduced)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float32)
        high = 65535.0 if sixteen_bit or mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array * (255.0 / high), 0, 255).astype(np.uint8)
        return np.repeat(array[..., None], 3, axis=2)
    if mode in ("P", "PA"):
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
