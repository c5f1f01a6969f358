"""read_image and read_image_file (training/data/image_file.py): every mode read faithfully, every bad input
refused in one sentence."""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, features

from training.core.errors import UserError
from training.data.folder import load_folder
from training.data.image_file import MAX_BYTES, MAX_PIXELS, read_image, read_image_file


def encoded(image: Image.Image, format: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **options)
    return out.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(UserError) as caught:
        read_image(data)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".") and ". " not in message  # one sentence
    return message


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A grey 8-bit PNG whose header (IHDR, with a correct CRC) declares WIDTH x HEIGHT, followed by one row of
    pixel data: a few dozen bytes on disk, gigabytes once decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + png_chunk(b"IEND", b""))


# -- bad input ----------------------------------------------------------------------------------------------------
def test_no_bytes():
    assert refusal(b"") == "This file is empty: it holds no bytes."


def test_text_is_not_an_image():
    message = refusal(b"hello, this is a text file\n" * 10)
    assert message == "This file is not an image that can be read; use a PNG, JPEG, WebP, GIF or BMP file."


@pytest.mark.parametrize("side", [50_000, 5_000])
def test_a_decompression_bomb_is_refused_from_its_header(side):
    """50,000 x 50,000 is beyond PIL's own guard; 5,000 x 5,000 only beyond ours (MAX_PIXELS): both are refused
    before a pixel is decoded (the file holds one row of data: decoding it would fail as cut short instead)."""
    data = png_declaring(side, side)
    assert len(data) < 200 + side // 100 and side * side > MAX_PIXELS
    message = refusal(data)
    assert "pixels" in message and f"{MAX_PIXELS:,}" in message and "cut short" not in message
    if side == 5_000:
        assert message == (f"This file is 5,000 x 5,000 pixels, over the {MAX_PIXELS:,} an image may have; use a "
                           "smaller image.")


def test_the_bomb_header_is_a_valid_png_header():
    """The hand-built header is what PIL reads (so the test above tests the pixel check, not a broken file)."""
    with Image.open(io.BytesIO(png_declaring(300, 200))) as image:
        assert image.size == (300, 200) and image.mode == "L"


def test_over_max_bytes():
    message = refusal(b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES))
    assert message == f"This file is {MAX_BYTES + 8:,} bytes, over the {MAX_BYTES:,} an image file may have."


def test_a_huge_file_is_refused_from_its_size_before_reading(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as f:
        f.truncate(10 * MAX_BYTES)  # sparse: nothing to read, only a size
    with pytest.raises(UserError, match=r"huge\.png is 209,715,200 bytes, over the 20,971,520"):
        read_image_file(path)


def test_a_truncated_png():
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    data = encoded(Image.fromarray(noise))
    assert read_image(data).shape == (64, 64, 1)
    message = refusal(data[: len(data) // 2])
    assert message == "This file is damaged or cut short: its pixels cannot be decoded."


def test_files_on_disk_are_named_in_the_sentence(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(UserError, match=r"notes\.png is not an image that can be read"):
        read_image_file(tmp_path / "notes.png")
    with pytest.raises(UserError, match=r"missing\.png: there is no such file or folder\.$"):
        read_image_file(tmp_path / "missing.png")
    with pytest.raises(UserError, match="is not a regular file"):
        read_image_file(tmp_path)
    Image.new("L", (3, 2), 200).save(tmp_path / "ok.png")
    np.testing.assert_allclose(read_image_file(tmp_path / "ok.png"), 200 / 255)


# -- modes ------------------------------------------------------------------------------------------------------
def test_16_bit_grey_is_scaled_by_its_depth_not_saturated():
    data = encoded(Image.fromarray(np.full((4, 5), 32768, np.uint16)))
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode.startswith("I")  # really read as 16-bit
    pixels = read_image(data)
    assert pixels.shape == (4, 5, 1) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels, 32768 / 65535, atol=1e-6)  # 0.5, not 1.0


def test_8_bit_grey_and_one_bit():
    np.testing.assert_allclose(read_image(encoded(Image.new("L", (3, 3), 51))), 0.2, atol=1e-6)
    bits = read_image(encoded(Image.new("1", (3, 3), 1)))
    assert bits.shape == (3, 3, 1) and bits.min() == 1.0


def test_palette_colours_and_grey_palettes():
    colours = np.zeros((2, 2, 3), np.uint8)
    colours[0, 0], colours[0, 1], colours[1, 0], colours[1, 1] = (255, 0, 0), (0, 128, 255), (10, 20, 30), (0, 0, 0)
    palette = Image.fromarray(colours).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    assert palette.mode == "P"
    pixels = read_image(encoded(palette))
    assert pixels.shape == (2, 2, 3)
    np.testing.assert_allclose(pixels * 255, colours, atol=0.5)
    grey = Image.fromarray(np.array([[0, 100], [200, 255]], np.uint8)).convert("RGB").convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=4)
    pixels = read_image(encoded(grey))
    assert pixels.shape == (2, 2, 1)
    np.testing.assert_allclose(pixels[:, :, 0] * 255, [[0, 100], [200, 255]], atol=0.5)


def test_cmyk_jpeg_reads_its_colour():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no cyan or black, full magenta and yellow: red
    data = encoded(cmyk, "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "CMYK"
    pixels = read_image(data)
    assert pixels.shape == (16, 16, 3)
    np.testing.assert_allclose(pixels.mean(axis=(0, 1)), (1.0, 0.0, 0.0), atol=0.03)


def strokes_on_transparent(ink: tuple[int, int, int]) -> bytes:
    """A 20 x 20 RGBA image, transparent black everywhere but a line of colour INK and a half-transparent dot."""
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(2, 10), (17, 10)], fill=(*ink, 255), width=1)
    image.putpixel((5, 3), (*ink, 128))
    return encoded(image)


def test_dark_strokes_on_transparent_read_as_dark_ink_on_white():
    pixels = read_image(strokes_on_transparent((0, 0, 0)))
    assert pixels.shape == (20, 20, 3)
    assert pixels[0, 0].tolist() == [1.0, 1.0, 1.0]     # the transparent ground: white, not black
    assert pixels[10, 5].tolist() == [0.0, 0.0, 0.0]    # the stroke: black
    np.testing.assert_allclose(pixels[3, 5], 1 - 128 / 255, atol=1e-6)  # half covered: half grey, not saturated


def test_light_strokes_on_transparent_read_as_light_ink_on_black():
    pixels = read_image(strokes_on_transparent((255, 255, 255)))
    assert pixels[0, 0].tolist() == [0.0, 0.0, 0.0] and pixels[10, 5].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(pixels[3, 5], 128 / 255, atol=1e-6)


def test_grey_with_alpha_stays_one_channel():
    image = Image.new("LA", (4, 4), (0, 0))
    image.putpixel((1, 1), (0, 255))
    pixels = read_image(encoded(image))
    assert pixels.shape == (4, 4, 1) and pixels[1, 1, 0] == 0.0 and pixels[0, 0, 0] == 1.0


@pytest.mark.parametrize("format", ["GIF", "WEBP"])
def test_an_animation_gives_its_first_frame(format):
    if format == "WEBP" and not features.check("webp"):
        pytest.skip("this Pillow reads no WebP")
    frames = [Image.new("RGB", (6, 6), grey) for grey in ((255,) * 3, (0,) * 3, (128,) * 3)]
    data = encoded(frames[0], format, save_all=True, append_images=frames[1:], duration=50, loop=0, lossless=True)
    with Image.open(io.BytesIO(data)) as image:
        assert image.n_frames == 3
    pixels = read_image(data)
    assert pixels.shape[:2] == (6, 6) and pixels.min() > 0.99


def test_exif_orientation_is_applied():
    stored = np.zeros((10, 20, 3), np.uint8)  # 20 wide, 10 high: left half black, right half white
    stored[:, 10:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored image is shown turned 90 degrees clockwise
    data = encoded(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())
    pixels = read_image(data)
    assert pixels.shape == (20, 10, 3)  # 10 wide, 20 high now
    assert pixels[:8].max() < 0.1 and pixels[12:].min() > 0.9  # the black left half is on top


def test_a_folder_data_set_reads_modes_the_same_way(tmp_path):
    """folder.py converts through to_array too: dark strokes on transparent are dark on white there as well."""
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(strokes_on_transparent((0, 0, 0)))
    data = load_folder(tmp_path, image_size=20)
    x = np.concatenate([data.x_train.numpy(), data.x_test.numpy()])
    assert x.shape == (3, 1, 20, 20) and data.skipped == 0
    assert float(x[:, 0, 0, 0].min()) == 1.0 and float(x[:, 0, 10, 9].max()) < 0.1


def test_file_sizes_are_not_read_past_the_limit(tmp_path):
    """A FIFO or a device is refused by read_bounded, never waited on."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="is not a regular file"):
        read_image_file(fifo)
