"""What a file holds beyond one plain still image: frames and pages, grey + alpha, more pixels than is sane.

Every case is a real file, made here with Pillow, OpenCV or by hand where neither writes the layout.
"""

from __future__ import annotations

import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from irtool.errors import InputError
from irtool.io import headers
from irtool.io.images import MAX_PIXELS, read_image, write_image

RNG = np.random.default_rng(0)


def frames(count: int, size=(30, 20)) -> list[PILImage.Image]:
    return [PILImage.fromarray(np.full((*size, 3), 10 * i, np.uint8)) for i in range(count)]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_black_png(path, side: int = 20000) -> None:
    """A valid 1-bit grey PNG of side x side zeros: a few hundred KB on disk, side^2 bytes once decoded."""
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------------------------------- frames and pages


@pytest.mark.parametrize(
    ("suffix", "what"),
    [(".webp", "animated WebP with 12 frames"), (".png", "animated PNG with 12 frames"), (".tif", "multi-page TIFF")],
)
def test_animations_and_page_stacks_are_refused_not_cut_to_one_frame(tmp_path, suffix, what):
    first, *rest = frames(12)
    first.save(tmp_path / f"a{suffix}", save_all=True, append_images=rest, duration=80, loop=0)
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / f"a{suffix}")
    message = str(exc.value)
    assert what in message and "still images" in message and f"a{suffix}" in message
    if suffix == ".tif":
        assert "12 pages" in message and "one file per page" in message
    else:
        assert "convert it to a video" in message


@pytest.mark.parametrize("suffix", [".webp", ".png", ".tif"])
def test_a_one_frame_file_saved_as_an_animation_still_reads(tmp_path, suffix):
    (only,) = frames(1)
    only.save(tmp_path / f"a{suffix}", save_all=True, append_images=[], duration=80)
    np.testing.assert_array_equal(read_image(tmp_path / f"a{suffix}").pixels, np.asarray(only))


def _tiff_ifd(entries: list[tuple[int, int, int | tuple[int, int]]], next_ifd: int) -> bytes:
    """Classic little-endian IFD of values that fit in place: (tag, type, value or two SHORTs)."""
    out = struct.pack("<H", len(entries))
    for tag, typ, value in sorted(entries):
        values = value if isinstance(value, tuple) else (value,)
        inline = struct.pack("<" + ("H" if typ == 3 else "I") * len(values), *values).ljust(4, b"\x00")
        out += struct.pack("<HHI", tag, typ, len(values)) + inline
    return out + struct.pack("<I", next_ifd)


def test_a_tiff_with_a_thumbnail_ifd_is_one_page(tmp_path):
    """NewSubfileType 1 marks a reduced-resolution copy (scanners and cameras write them): not a second page."""
    main = RNG.integers(0, 256, (3, 4), dtype=np.uint8)
    thumb = np.zeros((1, 2), np.uint8)

    def ifd(pixels, data_at, subfile, next_ifd):
        h, w = pixels.shape
        tags = [(254, 4, subfile), (256, 3, w), (257, 3, h), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
        tags += [(273, 4, data_at), (277, 3, 1), (278, 3, h), (279, 4, pixels.size)]
        return _tiff_ifd(tags, next_ifd)

    ifd_size = 2 + 10 * 12 + 4
    ifd0, ifd1 = 8, 8 + ifd_size
    data0 = ifd1 + ifd_size
    data1 = data0 + main.size
    blob = b"II*\x00" + struct.pack("<I", ifd0) + ifd(main, data0, 0, ifd1) + ifd(thumb, data1, 1, 0)
    (tmp_path / "t.tif").write_bytes(blob + main.tobytes() + thumb.tobytes())
    with open(tmp_path / "t.tif", "rb") as f:
        assert headers.read_header(f, "tiff") == headers.Header(4, 3, frames=1)
    np.testing.assert_array_equal(read_image(tmp_path / "t.tif").pixels[:, :, 0], main)


# --------------------------------------------------------------------------------------------- grey + alpha


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_alpha_png_round_trips_as_two_channels(tmp_path, dtype):
    la = RNG.integers(0, np.iinfo(dtype).max + 1, (9, 300, 2), dtype=dtype)
    write_image(tmp_path / "la.png", la)
    data = (tmp_path / "la.png").read_bytes()
    assert data[24:26] == bytes([np.dtype(dtype).itemsize * 8, 4])  # IHDR: bit depth, colour type 4 (grey + alpha)
    back = read_image(tmp_path / "la.png")
    assert back.pixels.dtype == dtype and back.has_alpha
    np.testing.assert_array_equal(back.pixels, la)
    # libpng itself (through OpenCV, which expands grey + alpha to BGRA) agrees on every sample.
    bgra = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(bgra[:, :, [0, 3]], la)


def test_grey_alpha_png_taller_than_one_compression_block(tmp_path):
    la = RNG.integers(0, 256, (700, 5, 2), dtype=np.uint8)
    write_image(tmp_path / "la.png", la)
    with PILImage.open(tmp_path / "la.png") as im:
        assert im.mode == "LA"
        np.testing.assert_array_equal(np.asarray(im), la)


def test_grey_alpha_from_pillow_and_grey_with_a_transparent_level(tmp_path):
    la = RNG.integers(0, 256, (6, 7, 2), dtype=np.uint8)
    PILImage.fromarray(la, "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png").pixels, la)
    PILImage.fromarray(la, "LA").save(tmp_path / "la.tif")  # OpenCV alone would drop this alpha
    np.testing.assert_array_equal(read_image(tmp_path / "la.tif").pixels, la)

    grey = np.arange(20, dtype=np.uint8).reshape(4, 5)
    PILImage.fromarray(grey).save(tmp_path / "key.png", transparency=3)  # tRNS: level 3 is transparent
    pixels = read_image(tmp_path / "key.png").pixels
    assert pixels.shape == (4, 5, 2)
    np.testing.assert_array_equal(pixels[:, :, 0], grey)
    np.testing.assert_array_equal(pixels[:, :, 1], np.where(grey == 3, 0, 255))

    bits = np.arange(20).reshape(4, 5) % 3 == 0
    PILImage.fromarray(bits).convert("1").save(tmp_path / "key1.png", transparency=0)  # 1-bit: key widened to 0
    pixels = read_image(tmp_path / "key1.png").pixels
    np.testing.assert_array_equal(pixels[:, :, 1], np.where(bits, 255, 0))


def test_grey_alpha_16_bit_tiff_is_refused_rather_than_losing_its_alpha(tmp_path):
    la = np.full((3, 4, 2), 40000, np.uint16)
    tags = [(256, 3, 4), (257, 3, 3), (258, 3, (16, 16)), (259, 3, 1), (262, 3, 1), (273, 4, 8 + 2 + 10 * 12 + 4)]
    tags += [(277, 3, 2), (278, 3, 3), (279, 4, la.nbytes), (338, 3, 2)]  # ExtraSamples 2: straight alpha
    (tmp_path / "la16.tif").write_bytes(b"II*\x00" + struct.pack("<I", 8) + _tiff_ifd(tags, 0) + la.tobytes())
    with open(tmp_path / "la16.tif", "rb") as f:
        assert headers.read_header(f, "tiff") == headers.Header(4, 3, grey_alpha_tiff=16)
    with pytest.raises(InputError, match="16-bit grey \\+ alpha TIFF, whose alpha irtool cannot read"):
        read_image(tmp_path / "la16.tif")


@pytest.mark.parametrize(("suffix", "channels"), [(".tif", 4), (".webp", 4), (".bmp", 4), (".jpg", 1)])
def test_grey_alpha_into_formats_without_that_layout(tmp_path, suffix, channels):
    la = np.stack([np.full((8, 8), 90, np.uint8), np.full((8, 8), 200, np.uint8)], axis=-1)
    write_image(tmp_path / f"o{suffix}", la)
    back = read_image(tmp_path / f"o{suffix}").pixels
    assert back.shape[2] == channels
    assert np.abs(back[:, :, 0].astype(int) - 90).max() <= 2
    if channels == 4:
        assert (back[:, :, 3] == 200).all()


# ---------------------------------------------------------------------------------------------- pixel limit


def test_a_20000_square_png_is_refused_from_its_header_in_milliseconds(tmp_path):
    huge_black_png(tmp_path / "huge.png")
    assert (tmp_path / "huge.png").stat().st_size < 2_000_000  # small on disk, 400 MB decoded
    started = time.perf_counter()
    with pytest.raises(InputError) as exc:
        read_image(tmp_path / "huge.png")
    assert time.perf_counter() - started < 0.5  # decoding alone takes seconds and 400 MB
    message = str(exc.value)
    assert "huge.png" in message and "20000 x 20000 = 400,000,000 pixels" in message
    assert f"{MAX_PIXELS:,}" in message and "--max-pixels 400000000" in message and "0 = no limit" in message


def image_files(tmp_path) -> list:
    """One small real file per format (and per WebP and TIFF layout the header parser reads differently)."""
    rgb = RNG.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    rgba = RNG.integers(0, 256, (13, 17, 4), dtype=np.uint8)
    made = []
    for name, pixels, kwargs in [
        ("a.png", rgb, {}),
        ("a.jpg", rgb, {}),
        ("lossless.webp", rgb, {}),
        ("lossy.webp", rgb, {"quality": 80}),
        ("alpha.webp", rgba, {"quality": 80}),  # VP8X container
        ("a.tif", rgb, {}),
        ("f.tif", rgb.astype(np.float32) / 255, {}),  # float32 RGB: Pillow cannot open it
        ("a.bmp", rgb, {}),
    ]:
        write_image(tmp_path / name, pixels, **kwargs)
        made.append(tmp_path / name)
    PILImage.fromarray(rgb).save(tmp_path / "big.tif", big_tiff=True)
    PILImage.fromarray(rgb).save(tmp_path / "progressive.jpg", progressive=True, exif=PILImage.Exif().tobytes())
    return [*made, tmp_path / "big.tif", tmp_path / "progressive.jpg"]


def test_the_limit_applies_to_every_format_at_exactly_its_pixel_count(tmp_path):
    for path in image_files(tmp_path):
        assert read_image(path, max_pixels=13 * 17).pixels.shape[:2] == (13, 17), path.name
        with pytest.raises(InputError, match="17 x 13 = 221 pixels, over the limit of 220 "):
            read_image(path, max_pixels=13 * 17 - 1)
        assert read_image(path, max_pixels=0).pixels.shape[:2] == (13, 17)
        assert read_image(path, max_pixels=None).pixels.shape[:2] == (13, 17)


def test_exr_and_damaged_headers(tmp_path):
    attribute = b"dataWindow\x00box2i\x00" + struct.pack("<i", 16) + struct.pack("<iiii", 2, 3, 101, 53)
    channels = b"channels\x00chlist\x00" + struct.pack("<i", 4) + b"\x00" * 4
    exr = b"v/1\x01" + struct.pack("<I", 2) + channels + attribute + b"\x00"
    assert headers.read_header(io.BytesIO(exr), "exr") == headers.Header(100, 51)
    # A cut or garbled header is not ours to judge: None, and the decoder reports the file as corrupt.
    for fmt, data in [
        ("png", b"\x89PNG\r\n\x1a\n\x00"),
        ("tiff", b"II*\x00\xff\xff\xff\x7f"),
        ("jpeg", b"\xff\xd8\xff"),
    ]:
        assert headers.read_header(io.BytesIO(data), fmt) is None
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.png")
