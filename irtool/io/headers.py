"""What an image file holds, from its header alone: size, frame count, grey + alpha. No pixel is decoded.

`irtool.io.images.read_image` asks this before decoding, so that a 20000 x 20000 PNG is refused in a millisecond
instead of after gigabytes of decoding, and an animation is not cut to its first frame without a word.
Pillow's lazy `Image.open` cannot stand in: it raises its own decompression-bomb error on exactly the files we
want to measure (and only through a process-wide setting), opens no float32 RGB TIFF and no EXR, and counts a
TIFF's thumbnail IFD as a page. The parsers read a few hundred bytes, seeking past pixel data.

A header we cannot parse gives `None`: the decoder then reports the file as corrupt, as it would anyway.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from irtool.errors import InputError

# The default limit on an input's pixels: Pillow's decompression-bomb error threshold (2 x Image.MAX_IMAGE_PIXELS),
# the convention image tools share. 179 MP (16384 x 10922) is far above any camera (a 4K video frame is 8.3 MP), yet
# decodes to 0.5-1.4 GB before the output (16x that at x4) exists: from a small file, that is worth a question.
MAX_PIXELS = 178_956_970
# Where a TIFF IFD chain or a PNG/WebP chunk list stops being believable: a damaged file must not keep us walking.
_MAX_STEPS = 100_000


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    frames: int = 1  # animation frames or TIFF pages (thumbnails and masks not counted)
    grey: bool = False  # PNG colour types 0 and 4: a decoded fourth channel is alpha over grey, not RGBA
    grey_key: int | None = None  # grey PNG's transparent level (tRNS), scaled to the decoded 8 or 16 bits
    grey_alpha_tiff: int = 0  # bits per sample of a grey + alpha TIFF, which OpenCV decodes without its alpha

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(f: BinaryIO, fmt: str) -> Header | None:
    """The header of an open file of format `fmt` ('png', 'webp', ... as irtool.io.images sniffs it)."""
    parse = {"png": _png, "webp": _webp, "tiff": _tiff, "jpeg": _jpeg, "bmp": _bmp, "exr": _exr}[fmt]
    try:
        header = parse(f)
    except (struct.error, ValueError, OSError):
        return None
    return header if header is not None and header.width > 0 and header.height > 0 else None


def check(path: Path, fmt: str, header: Header, max_pixels: int | None) -> None:
    """InputError, naming the file, for what irtool will not decode: an animation, more than `max_pixels` pixels."""
    if header.frames > 1:
        what = {"webp": "animated WebP", "png": "animated PNG", "tiff": "multi-page TIFF"}.get(fmt, fmt.upper())
        units = "pages" if fmt == "tiff" else "frames"
        fix = "split it into one file per page" if fmt == "tiff" else "extract the frames or convert it to a video"
        raise InputError(
            f"cannot read image '{path}': {what} with {header.frames} {units}: "
            f"irtool restores still images; {fix} first"
        )
    if max_pixels and header.pixels > max_pixels:
        raise InputError(
            f"cannot read image '{path}': {header.width} x {header.height} = {header.pixels:,} pixels, over the "
            f"limit of {max_pixels:,} (a guard against decompression bombs); if you trust the file, raise it with "
            f"--max-pixels {header.pixels} (0 = no limit)"
        )


def _at(f: BinaryIO, offset: int, size: int) -> bytes:
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise ValueError("short read")
    return data


def _png(f: BinaryIO) -> Header | None:
    width, height, depth, colour = struct.unpack(">IIBB", _at(f, 16, 10))
    frames, at, key = 1, 8, None
    for _ in range(_MAX_STEPS):  # acTL, the APNG marker, must come before the first IDAT
        length, kind = struct.unpack(">I4s", _at(f, at, 8))
        if kind == b"acTL":
            frames = struct.unpack(">I", _at(f, at + 8, 4))[0]
        if kind == b"tRNS" and colour == 0 and length == 2:
            # libpng widens 1, 2 and 4-bit grey to 8 bits (x255, x85, x17): the key must be widened with it.
            key = struct.unpack(">H", _at(f, at + 8, 2))[0] * (255 // (2**depth - 1) if depth < 8 else 1)
        if kind in (b"IDAT", b"IEND"):
            break
        at += 12 + length
    return Header(width, height, max(frames, 1), grey=colour in (0, 4), grey_key=key)


def _webp(f: BinaryIO) -> Header | None:
    (riff_size,) = struct.unpack("<I", _at(f, 4, 4))
    end, at = 8 + riff_size, 12
    width = height = 0
    frames = 0
    for _ in range(_MAX_STEPS):
        if at + 8 > end:
            break
        head = _at(f, at, 8)
        kind, size = head[:4], struct.unpack("<I", head[4:])[0]
        if kind == b"VP8X":
            body = _at(f, at + 8, 10)
            width = 1 + int.from_bytes(body[4:7], "little")
            height = 1 + int.from_bytes(body[7:10], "little")
        elif kind == b"ANMF":
            frames += 1
        elif kind == b"VP8 " and not width:
            body = _at(f, at + 8, 10)
            width, height = (v & 0x3FFF for v in struct.unpack("<HH", body[6:10]))
        elif kind == b"VP8L" and not width:
            bits = int.from_bytes(_at(f, at + 9, 4), "little")
            width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        at += 8 + size + (size & 1)
    return Header(width, height, max(frames, 1))


def _tiff(f: BinaryIO) -> Header | None:
    order = "<" if _at(f, 0, 2) == b"II" else ">"
    big = struct.unpack(order + "H", _at(f, 2, 2))[0] == 43
    count_fmt, entry_size, offset_fmt = ("Q", 20, "Q") if big else ("H", 12, "I")
    ifd = struct.unpack(order + offset_fmt, _at(f, 8 if big else 4, 8 if big else 4))[0]
    first: dict[int, int] | None = None
    pages, seen = 0, set()
    while ifd and ifd not in seen and len(seen) < _MAX_STEPS:
        seen.add(ifd)
        count_size = struct.calcsize(count_fmt)
        (count,) = struct.unpack(order + count_fmt, _at(f, ifd, count_size))
        table = _at(f, ifd + count_size, count * entry_size)
        tags = {}
        for i in range(count):
            entry = table[i * entry_size : (i + 1) * entry_size]
            tag, typ = struct.unpack(order + "HH", entry[:4])
            value = entry[12:] if big else entry[8:]
            code = {3: "H", 4: "I", 16: "Q"}.get(typ)
            # BitsPerSample has one value per sample: the first one, in place for up to 2 (4 in BigTIFF), will do.
            if tag in (254, 256, 257, 258, 262, 277) and code and struct.calcsize(code) <= len(value):
                tags[tag] = struct.unpack_from(order + code, value)[0]
        # NewSubfileType bit 0: a reduced-resolution copy (thumbnail); bit 2: a transparency mask. Neither is a page.
        if not tags.get(254, 0) & 0b101:
            pages += 1
            first = first or tags
        ifd = struct.unpack(order + offset_fmt, _at(f, ifd + count_size + count * entry_size, 8 if big else 4))[0]
    if first is None:
        return None
    grey_alpha = first.get(262) in (0, 1) and first.get(277) == 2  # min-is-white/black with one extra sample
    return Header(first.get(256, 0), first.get(257, 0), pages, grey_alpha_tiff=first.get(258, 1) if grey_alpha else 0)


def _jpeg(f: BinaryIO) -> Header | None:
    at = 2
    for _ in range(_MAX_STEPS):
        marker = _at(f, at, 2)
        if marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xFF:  # fill byte
            at += 1
            continue
        if kind == 0x01 or 0xD0 <= kind <= 0xD7:
            at += 2
            continue
        if kind in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        (length,) = struct.unpack(">H", _at(f, at + 2, 2))
        if 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", _at(f, at + 5, 4))
            return Header(width, height)
        at += 2 + length
    return None


def _bmp(f: BinaryIO) -> Header | None:
    (dib_size,) = struct.unpack("<I", _at(f, 14, 4))
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
        width, height = struct.unpack("<HH", _at(f, 18, 4))
    else:
        width, height = struct.unpack("<ii", _at(f, 18, 8))  # a negative height means top-down rows
    return Header(abs(width), abs(height))


def _exr(f: BinaryIO) -> Header | None:
    f.seek(8)  # magic, version and flags
    for _ in range(_MAX_STEPS):
        name = _cstring(f)
        if not name:
            return None
        _cstring(f)  # attribute type
        (size,) = struct.unpack("<i", f.read(4))
        if name == b"dataWindow":
            x0, y0, x1, y1 = struct.unpack("<iiii", f.read(16))
            return Header(x1 - x0 + 1, y1 - y0 + 1)
        f.seek(size, 1)
    return None


def _cstring(f: BinaryIO) -> bytes:
    out = bytearray()
    while (c := f.read(1)) not in (b"", b"\x00"):
        out += c
        if len(out) > 255:  # attribute names are at most 255 bytes long
            raise ValueError("not an EXR header")
    return bytes(out)
