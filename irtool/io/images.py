"""Image files in and out, exact to the bit: OpenCV decodes and encodes the pixels, we handle the rest.

Why OpenCV and not Pillow for pixels: it reads and writes 16-bit RGB(A) PNG/TIFF and float32 TIFF, which Pillow cannot.
What OpenCV gets wrong for us, and what this module does instead:
- it works in BGR(A); we hand out RGB(A), always as a 3-D (H, W, C) array with C in {1, 2, 3, 4} (2: grey + alpha);
- it expands grey + alpha PNG to BGRA and drops a grey TIFF's alpha; we keep both as 2 channels;
- `imread` cannot open non-ASCII paths on Windows; we read and write bytes ourselves (`imdecode` / `imencode`);
- `IMREAD_UNCHANGED` ignores EXIF orientation and `imencode` drops EXIF and ICC; `irtool.io.metadata` reads them with
  Pillow, rotates the pixels exactly once, and splices the blocks into OpenCV's encoded bytes (pixels not re-encoded);
- a truncated file may decode to a half-grey picture without an error (older libjpeg builds); we check the end marker;
- libpng prints its complaints about a damaged PNG on stderr itself; we check the PNG's chunks before it sees them;
- it decodes any size, and only an animation's first frame; we read the header first (`irtool.io.headers`) and refuse
  images over a pixel limit and animations, before any pixel is decoded.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # read when OpenCV first meets an EXR file; harmless otherwise

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from irtool.errors import InputError, UnavailableError, UsageError  # noqa: E402
from irtool.io import headers, metadata  # noqa: E402
from irtool.io.headers import MAX_PIXELS  # noqa: E402

SUFFIX_FORMATS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".exr": "exr",
}
# PNG and JPEG outputs this large are encoded band by band (irtool.io.streaming), never whole in RAM.
STREAM_BYTES = 96 << 20
# The suffixes irtool reads and writes: the one list (benchmark sets derive a narrower one in irtool.data.catalog).
IMAGE_SUFFIXES = frozenset(SUFFIX_FORMATS)
# What each format can hold. Pixels a format cannot hold are reduced on write: float -> 16 or 8 bit, 16 -> 8 bit
# (rounded), alpha dropped (JPEG only). WebP has no grey mode: a grey image comes back as RGB.
FORMAT_DTYPES = {
    "png": ("uint8", "uint16"),
    "jpeg": ("uint8",),
    "webp": ("uint8",),
    "tiff": ("uint8", "uint16", "float32"),
    "bmp": ("uint8",),
    "exr": ("float32",),
}
ALPHA_FORMATS = frozenset({"png", "webp", "tiff", "bmp", "exr"})

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"BM", "bmp"),
    (b"v/1\x01", "exr"),
]


@dataclass
class Image:
    """A decoded image. `pixels` is (H, W, C) grey, grey + alpha, RGB or RGBA (C = 1, 2, 3, 4), uint8 / uint16 /
    float32, already turned upright.

    `exif` is in Pillow's form (starts with b"Exif\\0\\0", orientation tag reset to 1); `icc` is the raw ICC profile.
    """

    pixels: np.ndarray
    path: Path
    format: str
    exif: bytes | None = None
    icc: bytes | None = None

    @property
    def bit_depth(self) -> int:
        return self.pixels.dtype.itemsize * 8

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] in (2, 4)


def is_image_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def format_of(path: str | os.PathLike) -> str:
    """The format named by a file's suffix ('png', 'jpeg', ...); UsageError for anything else."""
    fmt = SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(IMAGE_SUFFIXES))
        raise UsageError(f"cannot tell the image format of '{path}' from its suffix (use one of {known})")
    return fmt


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in `folder` in natural order (img2 before img10), skipping hidden files and folders."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"cannot list images in '{root}': no such folder")
    found = []
    for path in root.rglob("*") if recursive else root.iterdir():
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        if not hidden and is_image_path(path) and path.is_file():
            found.append(path)
    return sorted(found, key=natural_key)


def natural_key(path: Path) -> list:
    return [(0, int(tok), "") if tok.isdigit() else (1, 0, tok) for tok in re.split(r"(\d+)", path.as_posix().lower())]


def to_float32(pixels: np.ndarray) -> np.ndarray:
    """uint8 / 255, uint16 / 65535, float as it is: the [0, 1] range the models work in."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255)
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / np.float32(65535)
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels.astype(np.float32, copy=False)
    raise ValueError(f"unsupported pixel type {pixels.dtype}")


def from_float32(arr: np.ndarray, dtype) -> np.ndarray:
    """[0, 1] floats to uint8 / uint16: clip, scale, round half up (NaN becomes 0). float32 passes unclipped (HDR)."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return arr.astype(np.float32, copy=False)
    if dtype not in (np.uint8, np.uint16):
        raise ValueError(f"unsupported pixel type {dtype}")
    scaled = np.clip(np.nan_to_num(np.asarray(arr, dtype=np.float32), nan=0.0), 0, 1) * np.iinfo(dtype).max
    return np.floor(scaled + 0.5).astype(dtype)


# ----------------------------------------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike, *, max_pixels: int | None = MAX_PIXELS) -> Image:
    """Decode an image file. Raises InputError with one line naming the file when it cannot be read.

    Refused from the header, before anything is decoded: images over `max_pixels` pixels (0 or None: no limit) and
    animations or multi-page TIFFs (irtool restores still images; decoding the first frame would lose the rest).
    A grey + alpha image comes back with 2 channels.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            fmt = _sniff(f.read(16))
            header = headers.read_header(f, fmt) if fmt else None
            if header is not None:
                headers.check(path, fmt, header, max_pixels)
            f.seek(0)
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"cannot read image '{path}': no such file") from None
    except IsADirectoryError:
        raise InputError(f"cannot read image '{path}': it is a folder") from None
    except OSError as exc:
        raise InputError(f"cannot read image '{path}': {exc.strerror or exc}") from None

    if fmt is None:
        why = "the file is empty" if not data else "not a PNG, JPEG, WebP, TIFF, BMP or EXR file"
        raise InputError(f"cannot read image '{path}': {why}")
    if fmt == "exr":
        _require_exr(path)
    if (fmt == "jpeg" and not metadata.jpeg_is_complete(data)) or (fmt == "png" and not metadata.png_is_complete(data)):
        raise InputError(f"cannot read image '{path}': the file is truncated or corrupt")
    exif, icc, orientation = metadata.read(data, fmt)
    if fmt == "tiff" and orientation != 1:
        # OpenCV's TIFF decoder turns some TIFFs by itself, even with IMREAD_UNCHANGED; hide the tag so that
        # every format is turned in one place, below, exactly once.
        data = metadata.reset_orientation(data)
    with _quiet_opencv():
        try:
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:
            bgr = None
    if bgr is None or bgr.size == 0:
        raise InputError(f"cannot read image '{path}': the file is truncated or corrupt")

    if header is not None and header.grey and bgr.ndim == 3 and bgr.shape[2] == 4:
        pixels = bgr[:, :, [0, 3]]  # libpng expands grey + alpha (and grey + tRNS) to BGRA: back to 2 channels
    elif header is not None and header.grey_key is not None and bgr.ndim == 2:
        # libpng, as OpenCV drives it, drops a grey PNG's transparent level: it becomes the alpha it stands for.
        alpha = np.where(bgr == header.grey_key, 0, np.iinfo(bgr.dtype).max).astype(bgr.dtype)
        pixels = np.stack([bgr, alpha], axis=-1)
    elif header is not None and header.grey_alpha_tiff:
        pixels = _grey_alpha_tiff(path, data, header.grey_alpha_tiff)
    else:
        pixels = _to_rgb(path, bgr)
    if (
        fmt == "tiff"
        and pixels.dtype == np.uint8
        and pixels.shape[2] == 4
        and metadata.tiff_has_unassociated_alpha(data)
    ):
        pixels = _read_with_pillow(data, "RGBA")
    pixels = metadata.apply_orientation(pixels, orientation)
    return Image(pixels=pixels, path=path, format=fmt, exif=exif, icc=icc)


def _sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


def _to_rgb(path: Path, bgr: np.ndarray) -> np.ndarray:
    """OpenCV's channel order to ours, in place: a decoded 48 MP image is not held twice."""
    if bgr.ndim == 2:
        return bgr[:, :, None]
    if bgr.shape[2] in (3, 4):
        return _swap_red_blue(bgr, in_place=True)
    raise InputError(f"cannot read image '{path}': {bgr.shape[2]} channels (irtool reads grey, RGB, with alpha)")


def _grey_alpha_tiff(path: Path, data: bytes, bits: int) -> np.ndarray:
    """OpenCV (libtiff) decodes a grey + alpha TIFF without its alpha; Pillow reads the 8-bit ones whole."""
    if bits == 8:
        try:
            return _read_with_pillow(data, "LA")
        except Exception:  # a layout Pillow does not know either: refused below, not decoded without its alpha
            pass
    raise InputError(
        f"cannot read image '{path}': a {bits}-bit grey + alpha TIFF, whose alpha irtool cannot read "
        "(save it as PNG, or as an RGBA TIFF)"
    )


def _swap_red_blue(pixels: np.ndarray, *, in_place: bool) -> np.ndarray:
    """RGB(A) <-> BGR(A); with `in_place` the array itself is converted (it must be contiguous and writeable)."""
    code = cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA  # the same swap both ways
    if in_place and pixels.flags.c_contiguous and pixels.flags.writeable:
        return cv2.cvtColor(pixels, code, dst=pixels)
    return cv2.cvtColor(pixels, code)


def _read_with_pillow(data: bytes, mode: str) -> np.ndarray:
    """The one case where Pillow decodes: 8-bit straight-alpha TIFF, which OpenCV (libtiff) returns premultiplied."""
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert(mode))


def exr_supported() -> bool:
    """Whether this OpenCV build reads and writes OpenEXR (pip's opencv wheels may lack it)."""
    return bool(cv2.haveImageWriter(".exr"))


def _require_exr(path: Path) -> None:
    if not exr_supported():
        raise UnavailableError(
            f"cannot handle '{path}': this OpenCV build has no OpenEXR support (save as 32-bit float .tif instead)"
        )


@contextmanager
def _quiet_opencv():
    """libpng/libtiff chatter on stderr (several lines per bad file) would garble the CLI's progress display."""
    logging = cv2.utils.logging
    before = logging.setLogLevel(logging.LOG_LEVEL_SILENT)  # a failed decode is reported once, naming the file
    try:
        yield
    finally:
        logging.setLogLevel(before)


# ----------------------------------------------------------------------------------------------------------- writing


def write_image(
    path: str | os.PathLike,
    pixels: np.ndarray,
    *,
    exif: bytes | None = None,
    icc: bytes | None = None,
    quality: int | None = None,
    protect: Iterable[str | os.PathLike] = (),
    consume: bool = False,
) -> None:
    """Encode `pixels` (H, W, C: grey, grey + alpha, RGB, RGBA) to the format named by the suffix, atomically.

    With `consume` the caller hands `pixels` over (it will not read them again): the encoder may reorder their
    channels in place instead of in a copy, so that a huge output is not held twice while it is encoded.

    `quality` (1-100) applies to JPEG (default 95) and WebP (default None = lossless); other formats are lossless.
    EXIF and ICC go into PNG, JPEG and WebP; TIFF keeps the ICC profile only; BMP and EXR keep neither.
    Pixels are reduced to what the format holds (see FORMAT_DTYPES, ALPHA_FORMATS; grey + alpha is kept in PNG,
    becomes RGBA in the other alpha formats). `protect` lists files
    (the inputs) that must not be overwritten: the write is refused with InputError if `path` is one of them.
    """
    path = Path(path)
    fmt = format_of(path)
    if fmt == "exr":
        _require_exr(path)
    for other in protect:
        if same_file(path, other):
            raise InputError(f"refusing to write '{path}': it is the input file '{other}'")
    if fmt in ("png", "jpeg") and isinstance(pixels, np.ndarray) and pixels.nbytes >= STREAM_BYTES:
        from irtool.io import streaming

        quality = _encode_params(fmt, quality)[1] if fmt == "jpeg" else None
        fit = functools.partial(_fit_to_format, fmt=fmt)
        streaming.write_file(path, pixels, fmt, fit=fit, quality=quality, exif=exif, icc=icc)
        return
    pixels = _fit_to_format(pixels, fmt)
    height, width, channels = pixels.shape
    if channels == 2:  # grey + alpha (PNG only): OpenCV cannot encode it, the band-by-band PNG writer can
        from irtool.io import streaming

        buffer = io.BytesIO()
        streaming.write_png(buffer, pixels, exif=exif, icc=icc)
        atomic_write_bytes(path, buffer.getvalue())
        return
    data = _encode(path, pixels, fmt, quality, consume)
    data = metadata.embed(data, fmt, exif=exif, icc=icc, width=width, height=height, alpha=channels == 4)
    atomic_write_bytes(path, data)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True if the two paths name the same file (through links, case-insensitive file systems, relative paths)."""
    a, b = Path(a), Path(b)
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet, or is a symlink loop (where Path.resolve() raises)
        return os.path.realpath(a) == os.path.realpath(b)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write atomically (irtool.files); a failure is one error naming the file."""
    from irtool import files

    try:
        files.write_bytes(path, data)
    except OSError as exc:
        raise InputError(f"cannot write image '{path}': {exc.strerror or exc}") from None


def _fit_to_format(pixels: np.ndarray, fmt: str) -> np.ndarray:
    if not isinstance(pixels, np.ndarray) or pixels.ndim not in (2, 3):
        raise ValueError("pixels must be a (H, W) or (H, W, C) numpy array")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"pixels must have 1, 2, 3 or 4 channels, not {pixels.shape[2]}")
    if pixels.shape[2] in (2, 4) and fmt not in ALPHA_FORMATS:
        pixels = pixels[:, :, :-1]
    elif pixels.shape[2] == 2 and fmt != "png":  # only PNG has a grey + alpha layout that OpenCV or we can write
        pixels = pixels[:, :, [0, 0, 0, 1]]
    allowed = FORMAT_DTYPES[fmt]
    if pixels.dtype.name not in allowed:
        deepest = allowed[-1]
        pixels = to_float32(pixels) if deepest == "float32" else from_float32(to_float32(pixels), deepest)
    return pixels


def _encode_params(fmt: str, quality: int | None) -> list[int]:
    if quality is not None and fmt in ("jpeg", "webp"):
        if not 1 <= quality <= 100:
            raise UsageError(f"quality must be between 1 and 100, not {quality}")
        flag = cv2.IMWRITE_JPEG_QUALITY if fmt == "jpeg" else cv2.IMWRITE_WEBP_QUALITY
        return [flag, int(quality)]
    return [cv2.IMWRITE_JPEG_QUALITY, 95] if fmt == "jpeg" else []


def _encode(path: Path, pixels: np.ndarray, fmt: str, quality: int | None, consume: bool) -> bytes:
    params = _encode_params(fmt, quality)
    bgr = pixels[:, :, 0] if pixels.shape[2] == 1 else _swap_red_blue(pixels, in_place=consume)
    try:
        ok, encoded = cv2.imencode(path.suffix.lower(), np.ascontiguousarray(bgr), params)
    except cv2.error:
        ok = False
    if not ok:
        raise InputError(f"cannot write image '{path}': the {fmt.upper()} encoder failed")
    return encoded.tobytes()
