"""PNG and JPEG files written band by band, so a huge output is never held whole in RAM while it is encoded.

OpenCV's `imencode` needs the whole image as one array plus the whole compressed file beside it; for a 384 MP
output that is 1.15 GB of pixels (all of a file-backed array's pages resident again) and the encoded bytes on top.
Here the pixels are read one band of rows at a time and the file grows as the bands are encoded; after each band
`release(top, stop)` lets the caller hand those rows back to the OS (irtool.engine.paged).

- PNG: our own IHDR / IDAT / IEND around one zlib stream. Rows use the Sub filter at zlib level 1 with the RLE
  strategy, what OpenCV's PNG writer uses by default, so the files are about the same size and speed. Lossless:
  the file decodes to exactly the pixels given.
- JPEG: each band is encoded by OpenCV (the same libjpeg, quality and chroma subsampling as a whole-image write)
  with a restart marker after every MCU row, and the bands' entropy-coded data are joined under one header. A
  restart marker resets the decoder's DC prediction, and bands start on MCU rows, so every 8x8 block gets the very
  coefficients a whole-image encode gives it: the file decodes to the same pixels as OpenCV's own (it is larger
  by two bytes per MCU row). Bands are a multiple of 8 MCU rows, so the markers inside a band (RST0, RST1, ...)
  already carry the numbers they have in the whole file.

Callers pass pixels already reduced to what the format holds, one band at a time (`fit`), and EXIF/ICC blocks
as irtool.io.metadata takes them.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from irtool import files
from irtool.errors import InputError
from irtool.io import metadata

Fit = Callable[[np.ndarray], np.ndarray]  # a band of rows in the caller's dtype -> the format's dtype and channels
Release = Callable[[int, int], None]  # rows [top, stop) will not be read again

BAND_BYTES = 32 << 20  # pixels read per band: large enough that per-band overhead vanishes
_PNG_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> grey, grey + alpha, RGB, RGBA
_IDAT_BYTES = 1 << 20
_JPEG_MAX_SIDE = 65500  # libjpeg's limit, which OpenCV reports as an encoder failure
_JPEG_BAND_MULTIPLE = 128  # 8 MCU rows of the tallest MCU (16 pixels, 4:2:0): restart numbers line up


def write_file(
    path: Path,
    pixels: np.ndarray,
    fmt: str,
    *,
    fit: Fit,
    quality: int | None = None,
    exif: bytes | None = None,
    icc: bytes | None = None,
) -> None:
    """Write a PNG or JPEG (`fmt`) atomically, flushed to disk before the rename; errors name the file."""
    # File-backed pixels (irtool.engine.paged) hand each band's pages back once it is encoded.
    release = getattr(pixels, "release_rows", None)

    def contiguous(band: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(fit(band))

    try:
        with files.atomic_output(path) as tmp, open(tmp, "wb") as f:
            if fmt == "png":
                write_png(f, pixels, fit=contiguous, exif=exif, icc=icc, release=release)
            else:
                write_jpeg(f, pixels, quality=quality or 95, fit=contiguous, exif=exif, icc=icc, release=release)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise InputError(f"cannot write image '{path}': {exc.strerror or exc}") from None
    except ValueError as exc:  # an encoder failure or a size the format cannot hold
        raise InputError(f"cannot write image '{path}': {exc}") from None


def band_rows(row_bytes: int, multiple: int = 1) -> int:
    """Rows per band: about BAND_BYTES of pixels, a multiple of `multiple`."""
    return max(multiple, BAND_BYTES // max(1, row_bytes) // multiple * multiple)


def write_png(
    f: BinaryIO,
    pixels: np.ndarray,
    *,
    fit: Fit = lambda band: band,
    exif: bytes | None = None,
    icc: bytes | None = None,
    release: Release | None = None,
    rows: int | None = None,
) -> None:
    """Write `pixels` (H, W, C) as a PNG to `f`, `rows` rows (default: about BAND_BYTES) at a time."""
    height, width = pixels.shape[:2]
    first = fit(pixels[:1])
    channels, dtype = first.shape[2], first.dtype
    if channels not in _PNG_COLOR_TYPES or dtype not in (np.uint8, np.uint16):
        raise ValueError(f"PNG holds 1-4 channels of uint8 or uint16, not {channels} of {dtype}")
    bpp = channels * dtype.itemsize  # the Sub filter's distance: one pixel, in bytes
    ihdr = struct.pack(">IIBBBBB", width, height, dtype.itemsize * 8, _PNG_COLOR_TYPES[channels], 0, 0, 0)
    head = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
    f.write(metadata.embed(head, "png", exif=exif, icc=icc, width=width, height=height, alpha=channels % 2 == 0))

    deflate = zlib.compressobj(1, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    pending = bytearray()
    stride = width * bpp
    step = rows or band_rows(stride)
    filtered = np.empty((0, 1 + stride), np.uint8)
    for top in range(0, height, step):
        band = fit(pixels[top : top + step])
        raw = np.ascontiguousarray(band, dtype=">u2" if dtype == np.uint16 else np.uint8).view(np.uint8)
        raw = raw.reshape(band.shape[0], stride)
        if filtered.shape[0] != raw.shape[0]:
            filtered = np.empty((raw.shape[0], 1 + stride), np.uint8)
            filtered[:, 0] = 1  # filter type Sub on every row
        filtered[:, 1 : 1 + bpp] = raw[:, :bpp]
        np.subtract(raw[:, bpp:], raw[:, :-bpp], out=filtered[:, 1 + bpp :])  # modulo 256, as the filter wants
        del band, raw
        if release is not None:
            release(top, min(height, top + step))
        pending += deflate.compress(filtered)
        pending = _write_idat(f, pending, final=False)
    pending += deflate.flush()
    _write_idat(f, pending, final=True)
    f.write(_chunk(b"IEND", b""))


def _write_idat(f: BinaryIO, pending: bytearray, *, final: bool) -> bytearray:
    """Write whole IDAT chunks of `pending` (and the rest too when `final`); return what is left."""
    view = memoryview(pending)
    at = 0
    while len(pending) - at >= _IDAT_BYTES or (final and at < len(pending)):
        body = view[at : at + _IDAT_BYTES]
        _write_chunk(f, b"IDAT", body)
        at += len(body)
    view.release()
    return pending[at:]


def _write_chunk(f: BinaryIO, kind: bytes, body: bytes | memoryview) -> None:
    f.write(struct.pack(">I", len(body)) + kind)
    f.write(body)
    f.write(struct.pack(">I", zlib.crc32(body, zlib.crc32(kind))))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def write_jpeg(
    f: BinaryIO,
    pixels: np.ndarray,
    *,
    quality: int,
    fit: Fit = lambda band: band,
    exif: bytes | None = None,
    icc: bytes | None = None,
    release: Release | None = None,
    rows: int | None = None,
) -> None:
    """Write `pixels` (H, W, C) RGB or grey as a baseline JPEG to `f` (see the module notes); ValueError if OpenCV's
    JPEG layout is not the one the join relies on (nothing has been written then)."""
    height, width = pixels.shape[:2]
    if max(height, width) > _JPEG_MAX_SIDE:
        raise ValueError(f"a JPEG is at most {_JPEG_MAX_SIDE} pixels a side, not {width} x {height}")
    multiple = _JPEG_BAND_MULTIPLE
    step = rows or band_rows(width * pixels.shape[2] * pixels.dtype.itemsize, multiple)
    if step % multiple:
        raise ValueError(f"JPEG bands must be a multiple of {multiple} rows, not {step}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    mcu_row_params: list[int] | None = None
    for top in range(0, height, step):
        band = fit(pixels[top : top + step])
        bgr = band[:, :, 0] if band.shape[2] == 1 else cv2.cvtColor(band, cv2.COLOR_RGB2BGR)
        del band
        if mcu_row_params is None:  # one restart per MCU row; the MCU's width depends on the subsampling
            mcu_width = 8 * _max_h_sampling(_encode_jpeg(bgr[:16, :16], params))
            mcu_row_params = [*params, cv2.IMWRITE_JPEG_RST_INTERVAL, -(-width // mcu_width)]
        data = _encode_jpeg(bgr, mcu_row_params)
        del bgr
        if release is not None:
            release(top, min(height, top + step))
        scan_at, interval, mcu_height = _parse_jpeg(data)
        if interval != mcu_row_params[-1] or step % (8 * mcu_height):
            raise ValueError("OpenCV's JPEG does not have the restart layout the banded writer joins")
        if top == 0:
            head = _with_height(data[:scan_at], height)
            f.write(metadata.embed(head, "jpeg", exif=exif, icc=icc, width=width, height=height, alpha=False))
        else:
            f.write(b"\xff\xd7")  # after 8k MCU rows the next restart number is always RST7
        f.write(memoryview(data)[scan_at:-2])  # the band's entropy-coded data, without its EOI
    f.write(b"\xff\xd9")


def _encode_jpeg(bgr: np.ndarray, params: list[int]) -> bytes:
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(bgr), params)
    if not ok:
        raise ValueError("the JPEG encoder failed")
    return encoded.tobytes()


def _segments(data: bytes):
    """(marker, offset of its length field, segment length) for each header segment, up to and including SOS."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            raise ValueError("not a JPEG header")
        marker = data[at + 1]
        length = struct.unpack_from(">H", data, at + 2)[0]
        yield marker, at + 2, length
        if marker == 0xDA:
            return
        at += 2 + length


def _sof(data: bytes) -> tuple[int, bytes]:
    for marker, at, length in _segments(data):
        if marker == 0xC0:  # baseline: the only kind OpenCV writes unless asked for progressive
            return at, data[at : at + length]
    raise ValueError("no baseline SOF in OpenCV's JPEG")


def _max_h_sampling(data: bytes) -> int:
    _, sof = _sof(data)
    return max(sof[9 + 3 * i] >> 4 for i in range(sof[7]))


def _parse_jpeg(data: bytes) -> tuple[int, int, int]:
    """(offset of the entropy-coded data, restart interval, MCU height in pixels) of one encoded band."""
    interval = 0
    for marker, at, length in _segments(data):
        if marker == 0xDD:
            interval = struct.unpack_from(">H", data, at + 2)[0]
        if marker == 0xDA:
            _, sof = _sof(data)
            mcu_height = 8 * max(sof[9 + 3 * i] & 0x0F for i in range(sof[7]))
            return at + length, interval, mcu_height
    raise ValueError("no scan in OpenCV's JPEG")


def _with_height(head: bytes, height: int) -> bytes:
    """The header with the frame's height set to the whole image's (the first band's SOF names its own)."""
    at, _ = _sof(head)
    out = bytearray(head)
    struct.pack_into(">H", out, at + 3, height)  # length(2), precision(1), then the height
    return bytes(out)
