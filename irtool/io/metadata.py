"""EXIF, ICC and orientation: read with Pillow, written by splicing blocks into already-encoded files.

Splicing (instead of letting Pillow re-encode) keeps OpenCV's 16-bit PNG/TIFF pixels and JPEG quality untouched.
EXIF is passed around in Pillow's form: b"Exif\\0\\0" followed by a TIFF structure (byte order, IFD0, ...).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np

EXIF_PREFIX = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
# TIFF files carry their EXIF in their own IFD0: only these descriptive tags and sub-IFDs are worth carrying over.
_TIFF_KEEP_TAGS = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)
_TIFF_SUB_IFDS = (0x8769, 0x8825)  # Exif, GPS


def read(data: bytes, fmt: str) -> tuple[bytes | None, bytes | None, int]:
    """(exif, icc, orientation) of an encoded file; exif comes with its orientation already reset to 1."""
    exif = icc = None
    try:
        from PIL import Image as PILImage

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data" and the like: we just carry what is there
            im = PILImage.open(io.BytesIO(data))  # lazy: reads headers, not pixels
            icc = im.info.get("icc_profile") or None
            if fmt == "tiff":
                exif = _exif_from_tiff(im)  # for a TIFF, "EXIF" is its own IFD0
            elif im.info.get("exif"):
                exif = im.info["exif"]
                exif = exif if exif.startswith(EXIF_PREFIX) else EXIF_PREFIX + exif
    except Exception:  # metadata is a bonus: a file OpenCV decodes but Pillow cannot parse just has none
        pass
    if fmt == "tiff" and icc is None:  # e.g. float32 RGB, which Pillow cannot open
        icc = _tiff_tag_bytes(data, 34675)
    # A TIFF file's own IFD0 holds its orientation; everything else has it in the EXIF block.
    orientation = _orientation(data) if fmt == "tiff" else _orientation(exif[len(EXIF_PREFIX) :]) if exif else 1
    if exif and orientation != 1:
        exif = EXIF_PREFIX + reset_orientation(exif[len(EXIF_PREFIX) :])
    return exif, icc, orientation


def _exif_from_tiff(im) -> bytes | None:
    from PIL import Image as PILImage

    source, kept = im.getexif(), PILImage.Exif()
    for tag in _TIFF_KEEP_TAGS:
        if tag in source:
            kept[tag] = source[tag]
    for tag in _TIFF_SUB_IFDS:
        if sub := source.get_ifd(tag):
            kept[tag] = dict(sub)
    return kept.tobytes() if len(kept) else None


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn (H, W, C) pixels upright for EXIF orientation 1-8 (the transform a viewer would apply)."""
    transforms = {
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # upside down
        4: lambda a: a[::-1],  # mirrored top-bottom
        5: lambda a: a.transpose(1, 0, 2),  # transposed
        6: lambda a: np.rot90(a, -1),  # needs 90 degrees clockwise
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # transversed
        8: lambda a: np.rot90(a, 1),  # needs 90 degrees counter-clockwise
    }
    if orientation not in transforms:
        return pixels
    return np.ascontiguousarray(transforms[orientation](pixels))


# --------------------------------------------------------------------------------------- TIFF structure (EXIF, TIFF)


def _ifd0_entries(tiff: bytes):
    """Byte order and (entry offset, tag, type, count) of each IFD0 entry of a classic TIFF structure."""
    if tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return "<", []
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return order, []
    (count,) = struct.unpack_from(order + "H", tiff, ifd)
    entries = []
    for i in range(count):
        at = ifd + 2 + 12 * i
        if at + 12 > len(tiff):
            break
        tag, typ, n = struct.unpack_from(order + "HHI", tiff, at)
        entries.append((at, tag, typ, n))
    return order, entries


def _orientation(tiff: bytes) -> int:
    order, entries = _ifd0_entries(tiff)
    for at, tag, typ, n in entries:
        if tag == ORIENTATION_TAG and typ == 3 and n == 1:
            return struct.unpack_from(order + "H", tiff, at + 8)[0]
    return 1


def tiff_has_unassociated_alpha(data: bytes) -> bool:
    """ExtraSamples = 2: alpha stored straight, which libtiff's 8-bit RGBA reader (used by OpenCV) premultiplies."""
    order, entries = _ifd0_entries(data)
    for at, tag, typ, n in entries:
        if tag == 338 and typ == 3 and n == 1:
            return struct.unpack_from(order + "H", data, at + 8)[0] == 2
    return False


def _tiff_tag_bytes(tiff: bytes, wanted: int) -> bytes | None:
    """The raw value of a BYTE/UNDEFINED IFD0 entry (stored in place up to 4 bytes, else at an offset)."""
    order, entries = _ifd0_entries(tiff)
    for at, tag, typ, n in entries:
        if tag == wanted and typ in (1, 7):
            start = at + 8 if n <= 4 else struct.unpack_from(order + "I", tiff, at + 8)[0]
            return tiff[start : start + n] or None
    return None


def reset_orientation(tiff: bytes) -> bytes:
    """Set the orientation tag to 1 in place, so every other byte (maker notes and their offsets) stays as it was.

    Works on an EXIF block and on a whole TIFF file (whose IFD0 is the same structure)."""
    order, entries = _ifd0_entries(tiff)
    out = bytearray(tiff)
    for at, tag, typ, n in entries:
        if tag == ORIENTATION_TAG and typ == 3 and n == 1:
            struct.pack_into(order + "H", out, at + 8, 1)
    return bytes(out)


# ---------------------------------------------------------------------------------------------------------- writing


def embed(
    data: bytes, fmt: str, *, exif: bytes | None, icc: bytes | None, width: int, height: int, alpha: bool
) -> bytes:
    """Add EXIF and ICC blocks to an encoded file where its format has room for them (BMP and EXR: dropped).

    TIFF keeps the ICC profile only, and gets the ExtraSamples tag OpenCV leaves out, so that other programs
    see the fourth channel as (straight) alpha rather than as an unnamed extra channel.
    """
    if exif and not exif.startswith(EXIF_PREFIX):
        exif = EXIF_PREFIX + exif
    if fmt == "tiff":
        return _patch_tiff(data, icc, alpha)
    if not exif and not icc:
        return data
    if fmt == "png":
        return _embed_png(data, exif, icc)
    if fmt == "jpeg":
        return _embed_jpeg(data, exif, icc)
    if fmt == "webp":
        return _embed_webp(data, exif, icc, width, height, alpha)
    return data


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _embed_png(data: bytes, exif: bytes | None, icc: bytes | None) -> bytes:
    # Both chunks must come before IDAT (Pillow and browsers stop looking there); right after IHDR is always valid.
    ihdr_end = 8 + 8 + struct.unpack_from(">I", data, 8)[0] + 4
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if exif:
        extra += _png_chunk(b"eXIf", exif[len(EXIF_PREFIX) :])
    return data[:ihdr_end] + extra + data[ihdr_end:]


def _embed_jpeg(data: bytes, exif: bytes | None, icc: bytes | None) -> bytes:
    segments = b""
    if exif and len(exif) <= 65533:  # one APP1 segment is all EXIF may use; a bigger block cannot be stored
        segments += b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    if icc:
        # ICC profiles are split over APP2 segments, each tagged with its 1-based number and the total.
        pieces = [icc[i : i + 65519] for i in range(0, len(icc), 65519)]
        for number, piece in enumerate(pieces, 1):
            body = b"ICC_PROFILE\x00" + bytes([number, len(pieces)]) + piece
            segments += b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body
    at = 2  # after SOI, and after a JFIF APP0 segment if the encoder wrote one
    if data[2:4] == b"\xff\xe0":
        at += 2 + struct.unpack_from(">H", data, 4)[0]
    return data[:at] + segments + data[at:]


def jpeg_is_complete(data: bytes) -> bool:
    """Whether the JPEG's image data ends with an EOI marker.

    Needed because libjpeg fills a truncated file with grey and only warns. Walks the header segments first: an
    EXIF thumbnail has its own EOI, and the entropy-coded data that follows SOS can never contain FF D9.
    """
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            return b"\xff\xd9" in data[at:]
        at += 2 + struct.unpack_from(">H", data, at + 2)[0]
    return False


def png_is_complete(data: bytes) -> bool:
    """Whether every chunk up to IEND is whole and the critical chunks (IHDR, PLTE, IDAT, IEND) pass their CRC.

    Checked before decoding because libpng prints its own complaint ("IDAT: CRC error", "input buffer is
    incomplete") straight to stderr, beside our one-line error. Ancillary chunks are not CRC-checked: libpng only
    skips a damaged one, and so should we.
    """
    at, view = 8, memoryview(data)  # the view: no copy of each IDAT chunk for its CRC
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        kind = data[at + 4 : at + 8]
        end = at + 12 + length
        if end > len(data):
            return False
        critical = not kind[0] & 0x20  # an upper-case first letter
        if critical and zlib.crc32(view[at + 4 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            return False
        if kind == b"IEND":
            return True
        at = end
    return False


def _embed_webp(data: bytes, exif: bytes | None, icc: bytes | None, width: int, height: int, alpha: bool) -> bytes:
    # Metadata needs the extended layout: VP8X (flags + canvas size), ICCP, [ALPH], VP8/VP8L, EXIF.
    chunks, at = [], 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], struct.unpack_from("<I", data, at + 4)[0]
        chunks.append((kind, data[at + 8 : at + 8 + size]))
        at += 8 + size + (size & 1)
    flags = chunks.pop(0)[1][0] if chunks and chunks[0][0] == b"VP8X" else 0
    flags |= (0x20 if icc else 0) | (0x10 if alpha else 0) | (0x08 if exif else 0)
    canvas = struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    out = [(b"VP8X", bytes([flags, 0, 0, 0]) + canvas)]
    if icc:
        out.append((b"ICCP", icc))
    out += [(kind, body) for kind, body in chunks if kind not in (b"ICCP", b"EXIF")]
    if exif:
        out.append((b"EXIF", exif[len(EXIF_PREFIX) :]))
    body = b"WEBP" + b"".join(
        kind + struct.pack("<I", len(chunk)) + chunk + (b"\x00" if len(chunk) & 1 else b"") for kind, chunk in out
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _patch_tiff(data: bytes, icc: bytes | None, alpha: bool) -> bytes:
    """Append the profile and a copy of IFD0 with the new entries, then point the header at the new IFD.

    The old IFD0 stays in the file unreferenced; every offset it held is still valid because nothing moves.
    """
    order, entries = _ifd0_entries(data)
    tags = {tag: data[at : at + 12] for at, tag, _, _ in entries}
    add_alpha = alpha and 338 not in tags
    if not entries or not (icc or add_alpha):  # (no entries: BigTIFF; better no profile than a broken file)
        return data
    old_ifd = struct.unpack_from(order + "I", data, 4)[0]
    next_ifd = struct.unpack_from(order + "I", data, old_ifd + 2 + 12 * len(entries))[0]
    out = bytearray(data)
    out += b"\x00" * (len(out) & 1)
    if icc:
        tags[34675] = struct.pack(order + "HHII", 34675, 7, len(icc), len(out))  # InterColorProfile, UNDEFINED
        out += icc + b"\x00" * (len(icc) & 1)
    if add_alpha:
        tags[338] = struct.pack(order + "HHIHH", 338, 3, 1, 2, 0)  # ExtraSamples = unassociated alpha
    new_ifd = len(out)
    out += struct.pack(order + "H", len(tags)) + b"".join(tags[tag] for tag in sorted(tags))
    out += struct.pack(order + "I", next_ifd)
    struct.pack_into(order + "I", out, 4, new_ifd)
    return bytes(out)
