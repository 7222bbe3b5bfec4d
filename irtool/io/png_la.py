"""Grey + alpha PNG (colour type 4), 8 or 16 bit: the one PNG layout OpenCV cannot encode (it takes 1, 3 or 4
channels) and Pillow cannot hold at 16 bits. The format is simple enough to write here, exactly.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_ROWS_PER_BLOCK = 256  # rows filtered and compressed at a time: a huge image is never copied whole


def encode(pixels: np.ndarray) -> bytes:
    """(H, W, 2) uint8 or uint16 grey + alpha -> PNG bytes."""
    height, width, channels = pixels.shape
    if channels != 2 or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError("grey + alpha PNG takes (H, W, 2) uint8 or uint16 pixels")
    depth = pixels.dtype.itemsize * 8
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 4, 0, 0, 0)
    compressor = zlib.compressobj(6)
    idat = []
    previous = np.zeros((1, width * 2 * pixels.dtype.itemsize), np.uint8)
    for top in range(0, height, _ROWS_PER_BLOCK):
        rows = np.ascontiguousarray(pixels[top : top + _ROWS_PER_BLOCK], dtype=pixels.dtype.newbyteorder(">"))
        raw = rows.view(np.uint8).reshape(rows.shape[0], -1)
        # Filter "Up" on every row: the byte above, whatever the pixel size, so it vectorises; wrap-around is the
        # PNG rule (uint8 arithmetic). On photos it compresses about as well as libpng's adaptive choice.
        filtered = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
        filtered[:, 0] = 2
        filtered[:, 1:] = raw - np.concatenate([previous, raw[:-1]])
        previous = raw[-1:]
        idat.append(compressor.compress(filtered.tobytes()))
    idat.append(compressor.flush())
    body = b"".join(idat)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
