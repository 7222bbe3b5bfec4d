"""Band-by-band PNG and JPEG writers: the files decode to exactly what OpenCV's whole-image encoding gives."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from irtool.io import images, metadata, streaming
from irtool.io.images import read_image, write_image


def _photo(height: int, width: int, channels: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Smooth fields plus noise: compresses like a photo, exercises every coefficient."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([np.sin(x / 7 + c) * np.cos(y / 11 - c) for c in range(channels)], -1) * 0.4 + 0.5
    noisy = np.clip(base + rng.normal(0, 0.08, base.shape), 0, 1)
    top = np.iinfo(dtype).max
    return np.floor(noisy * top + 0.5).astype(dtype)


def _png_bytes(pixels: np.ndarray, **kw) -> bytes:
    f = io.BytesIO()
    streaming.write_png(f, pixels, **kw)
    return f.getvalue()


def _jpeg_bytes(pixels: np.ndarray, quality: int = 95, **kw) -> bytes:
    f = io.BytesIO()
    streaming.write_jpeg(f, pixels, quality=quality, **kw)
    return f.getvalue()


def _decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _opencv(pixels: np.ndarray, suffix: str, params=()) -> bytes:
    c = pixels.shape[2]
    bgr = pixels[:, :, 0] if c == 1 else cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if c == 3 else cv2.COLOR_RGBA2BGRA)
    ok, data = cv2.imencode(suffix, bgr, list(params))
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_decodes_to_what_opencv_encodes(channels, dtype):
    pixels = _photo(37, 29, channels, dtype)
    data = _png_bytes(pixels, rows=5)  # bands that do not divide the height
    assert metadata.png_is_complete(data)  # every critical chunk's CRC
    assert np.array_equal(_decode(data), _decode(_opencv(pixels, ".png")))
    with PILImage.open(io.BytesIO(data)) as im:  # a second decoder, which checks the zlib stream too
        im.load()


def test_png_grey_alpha_and_chunk_layout():
    pixels = _photo(20, 30, 2, np.uint16)
    data = _png_bytes(pixels, rows=3)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, colour) == (30, 20, 16, 4)
    assert data.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")
    with PILImage.open(io.BytesIO(data)) as im:  # Pillow widens 16-bit grey + alpha: decoding it is the check
        im.load()
    # The raw scanlines: filter type Sub on every row, and un-filtering gives the pixels back.
    idat = b"".join(_chunks(data, b"IDAT"))
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(20, 1 + 30 * 4)
    assert (rows[:, 0] == 1).all()
    raw = np.cumsum(rows[:, 1:].reshape(20, 30, 4).astype(np.int64), axis=1) % 256  # Sub undone, per byte lane
    expected = pixels.astype(">u2").view(np.uint8).reshape(20, 30, 4)
    assert np.array_equal(raw, expected)


def _chunks(data: bytes, kind: bytes):
    at = 8
    while at < len(data):
        (length,) = struct.unpack_from(">I", data, at)
        if data[at + 4 : at + 8] == kind:
            yield data[at + 8 : at + 8 + length]
        at += 12 + length


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("height", "width"), [(300, 200), (257, 131), (128, 17), (5, 3)])
def test_jpeg_decodes_to_what_opencv_encodes(channels, height, width):
    pixels = _photo(height, width, channels)
    for quality in (95, 60):
        data = _jpeg_bytes(pixels, quality=quality, rows=128)
        whole = _opencv(pixels, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert np.array_equal(_decode(data), _decode(whole))
        with PILImage.open(io.BytesIO(data)) as im:
            assert im.size == (width, height)
            assert np.array_equal(np.asarray(im), np.asarray(PILImage.open(io.BytesIO(whole))))


def test_jpeg_bands_must_keep_restart_numbers():
    with pytest.raises(ValueError, match="multiple of 128"):
        _jpeg_bytes(_photo(300, 20, 3), rows=64)


def test_bands_are_released_once_encoded():
    pixels = _photo(300, 40, 3)
    for write in (_png_bytes, _jpeg_bytes):
        released: list[tuple[int, int]] = []
        write(pixels, rows=128, release=lambda a, b: released.append((a, b)))  # noqa: B023
        assert released == [(0, 128), (128, 256), (256, 300)]


def test_write_image_streams_large_outputs_with_metadata(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "STREAM_BYTES", 1)  # every output takes the band-by-band path
    monkeypatch.setattr(streaming, "BAND_BYTES", 4096)
    exif = PILImage.Exif()
    exif[0x010F] = "irtool test camera"
    exif_bytes = exif.tobytes()
    icc = b"fake icc profile " * 20
    pixels = _photo(270, 50, 4, np.uint16)  # RGBA 16-bit: a JPEG gets 8-bit RGB, a PNG keeps everything
    for suffix in (".png", ".jpg"):
        path = tmp_path / f"out{suffix}"
        write_image(path, pixels, exif=exif_bytes, icc=icc, quality=90)
        back = read_image(path)
        assert back.icc == icc
        assert back.exif is not None and b"irtool test camera" in back.exif
        monkeypatch.setattr(images, "STREAM_BYTES", 1 << 62)
        reference = tmp_path / f"ref{suffix}"
        write_image(reference, pixels, exif=exif_bytes, icc=icc, quality=90)
        monkeypatch.setattr(images, "STREAM_BYTES", 1)
        assert np.array_equal(back.pixels, read_image(reference).pixels)
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_write_image_streamed_failure_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "STREAM_BYTES", 1)
    with pytest.raises(images.InputError, match="at most 65500 pixels"):
        write_image(tmp_path / "tall.jpg", np.zeros((70000, 1, 3), np.uint8))
    monkeypatch.setattr(streaming, "BAND_BYTES", 4096)
    encode, calls = streaming._encode_jpeg, []

    def fail_on_third_band(bgr, params):
        calls.append(bgr.shape)
        if len(calls) == 4:  # the probe, two bands written, then the disk is full
            raise OSError(28, "No space left on device")
        return encode(bgr, params)

    monkeypatch.setattr(streaming, "_encode_jpeg", fail_on_third_band)
    with pytest.raises(images.InputError, match="No space left"):
        write_image(tmp_path / "out.jpg", _photo(400, 20, 3))
    assert list(tmp_path.iterdir()) == []
