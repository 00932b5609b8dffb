import numpy as np
import pytest
from PIL import Image

from ripdetect.data.images import load_image_rgb
from ripdetect.errors import InputError


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "CMYK", "LA", "RGB", "I", "F"])
def test_modes_become_rgb_uint8(tmp_path, mode):
    image = Image.new("RGB", (30, 20), (200, 100, 50)).convert(mode)
    suffix = ".jpg" if mode == "CMYK" else ".tiff" if mode in ("I", "F") else ".png"
    path = tmp_path / f"x{suffix}"
    image.save(path)
    rgb = load_image_rgb(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (20, 30, 3)


def test_sixteen_bit_is_scaled(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 5), 65535, np.uint16)).save(path)
    assert load_image_rgb(path).min() == 255


def test_exif_orientation_is_honoured(tmp_path):
    image = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert load_image_rgb(path).shape == (40, 20, 3)


def test_large_images_downscaled_early(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 2000), (1, 2, 3)).save(path)
    assert load_image_rgb(path, max_side=1000).shape == (500, 1000, 3)


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not an image"), "not an image"),
    (lambda p: p.write_bytes(_jpeg_bytes()[:200]), "truncated|corrupt"),
    (lambda p: p.mkdir(), "directory"),
])
def test_bad_files_raise_one_line_errors_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(InputError, match=message) as info:
        load_image_rgb(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_decompression_bomb_refused_by_pixel_cap(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (3000, 3000)).save(path)  # tiny file, 9 Mpx
    with pytest.raises(InputError, match="above the cap"):
        load_image_rgb(path, max_pixels=1_000_000)


def _jpeg_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def _smooth(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([x * 255 // width, y * 255 // height, (x + y) % 256]).astype(np.uint8)


def test_a_large_png_reduced_while_decoding_looks_like_a_full_decode_downscaled(tmp_path):
    from ripdetect.data.images import resize_long_side

    path = tmp_path / "big.png"
    Image.fromarray(_smooth(1500, 3000)).save(path)
    reduced = load_image_rgb(path, max_side=700)
    reference = resize_long_side(load_image_rgb(path), 700)
    assert reduced.shape == reference.shape == (350, 700, 3)
    assert np.abs(reduced.astype(int) - reference).mean() < 2


@pytest.mark.parametrize("mode", ["P", "1", "RGBA", "LA", "L"])
def test_modes_pillow_cannot_reduce_directly_are_reduced_too(tmp_path, mode):
    path = tmp_path / "big.png"
    Image.fromarray(_smooth(800, 1600)).convert(mode).save(path)
    assert load_image_rgb(path, max_side=400).shape == (200, 400, 3)


def test_a_dark_sixteen_bit_image_keeps_its_scale_when_reduced(tmp_path):
    path = tmp_path / "dark16.png"
    Image.fromarray(np.full((1000, 2000), 2570, np.uint16)).save(path)  # 2570 / 65535 of full scale = 10 / 255
    assert np.unique(load_image_rgb(path, max_side=500)).tolist() == [10]
    assert np.unique(load_image_rgb(path)).tolist() == [10]


def test_exif_orientation_is_honoured_when_reduced(tmp_path):
    image = Image.fromarray(_smooth(1200, 2400))
    exif = image.getexif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.png"
    image.save(path, exif=exif)
    assert load_image_rgb(path, max_side=600).shape == (600, 300, 3)
    from ripdetect.data.images import stored_size

    assert stored_size(path) == (1200, 2400)
