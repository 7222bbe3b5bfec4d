"""Video files in and out through PyAV, frame by frame: no temporary frame folders, no ffmpeg subprocess.

The reader demuxes the file once. Video packets are decoded to RGB arrays (48-bit when the source has more than 8
bits); audio and subtitle packets come out untouched, in file order, for the writer to copy (remux, no re-encode).
The writer encodes frames with the source's timestamps in the source's time base, so frame rate, variable frame
timing and the frame count are kept; it writes to a temporary file beside the target and renames it when the
stream is complete, so an interrupted job leaves nothing behind. What players need besides pixels comes along too:
the display rotation (phone videos are stored sideways and turned on playback), container and stream tags (title,
creation time, audio language), stream dispositions (default / forced) and chapters.

PyAV (`av`) is the optional `video` extra: it is imported only when a video is opened.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from irtool import files
from irtool.errors import InputError, UnavailableError, UsageError

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".webm", ".avi"})
# The encoder used when --codec is not given, per container.
DEFAULT_CODECS = {".webm": "libvpx-vp9"}
DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18
DEFAULT_PIX_FMT = "yuv420p"
DEEP_PIX_FMT = "yuv420p10le"  # the default for sources of more than 8 bits
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libsvtav1", "libaom-av1"}
# Speed presets, per encoder: x264/x265 by name, SVT-AV1 by number (0 slowest .. 13), NVENC p1 (fastest) .. p7.
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
_NVENC_PRESETS = tuple(f"p{i}" for i in range(1, 8))
# x264/x265 default to veryfast, not their own medium: on 4K frames it took 2.6x less CPU for the same file size at
# crf 18 (0.5 dB further from the frames given, still 41 dB; benchmarks/encode.py), and encoding is what bounds a
# GPU restore of a video.
DEFAULT_PRESETS = {"libx264": "veryfast", "libx265": "veryfast"}
PRESETS = {
    "libx264": _X26X_PRESETS,
    "libx265": _X26X_PRESETS,
    "libsvtav1": tuple(str(i) for i in range(14)),
    "h264_nvenc": _NVENC_PRESETS,
    "hevc_nvenc": _NVENC_PRESETS,
    "av1_nvenc": _NVENC_PRESETS,
}
# Tags that describe the old file rather than its content: the muxer and encoder write their own.
_STALE_TAGS = {
    "encoder",
    "major_brand",
    "minor_version",
    "compatible_brands",
    "duration",
    "rotate",
    "bps",
    "number_of_frames",
    "number_of_bytes",
}


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise UnavailableError("videos need PyAV: pip install 'irtool[video]'") from None
    return av


@dataclass
class Frame:
    """One decoded picture: (H, W, 3) RGB, uint8 or uint16; `pts` in the video stream's time base (None if unknown)."""

    pixels: np.ndarray
    pts: int | None


class VideoReader:
    """The frames of a file's first video stream, interleaved with the packets of its audio and subtitle streams."""

    def __init__(self, path: str | os.PathLike):
        av = _av()
        self.path = Path(path)
        try:
            self.container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"cannot read video '{self.path}': {_reason(exc)}") from None
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"cannot read video '{self.path}': it has no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"
        self.copied = [s for s in self.container.streams if s.type in ("audio", "subtitle")]
        self.deep = _bits(self.video.codec_context.format) > 8
        self.rgb_format = "rgb48le" if self.deep else "rgb24"
        # The display rotation travels on decoded frames, and the writer needs it before its first frame: read
        # up to the first frame now and hand out what was read first.
        self._stream = self._demux()
        self._pending: list[Frame | Any] = []
        self._first_frame = True
        self.rotation = 0
        try:
            for item in self._stream:
                self._pending.append(item)
                if isinstance(item, Frame):
                    break
        except InputError:
            self.container.close()
            raise

    @property
    def width(self) -> int:
        return self.video.codec_context.width

    @property
    def height(self) -> int:
        return self.video.codec_context.height

    @property
    def rate(self) -> Fraction:
        return Fraction(self.video.average_rate or self.video.guessed_rate or 25)

    @property
    def frame_count(self) -> int | None:
        """From the container header, when it says (mkv and webm often do not); for progress bars only."""
        return self.video.frames or None

    def items(self) -> Iterator[Frame | Any]:
        """Frames (decoded) and av.Packet objects of the copied streams, in the order the file holds them."""
        while self._pending:
            yield self._pending.pop(0)
        yield from self._stream

    def _demux(self) -> Iterator[Frame | Any]:
        wanted = [self.video, *self.copied]
        try:
            for packet in self.container.demux(wanted):
                if packet.stream.index == self.video.index:
                    for frame in packet.decode():
                        if self._first_frame:
                            self._first_frame = False
                            self.rotation = int(getattr(frame, "rotation", 0) or 0)  # degrees, counter-clockwise
                        yield Frame(self._rgb(frame), frame.pts)
                elif packet.dts is not None:  # skip the empty packets that only flush a decoder
                    yield packet
        except av_errors() as exc:
            raise InputError(f"cannot decode video '{self.path}': {_reason(exc)}") from None

    def _rgb(self, frame: Any) -> np.ndarray:
        # A frame without a colour matrix tag is read as players read it: BT.709 from 720 lines up, BT.601 below
        # (swscale alone would take BT.601 at any size, shifting the colours of untagged HD video).
        untagged = getattr(frame, "colorspace", None) == _UNSPECIFIED
        guess = "itu709" if untagged and frame.height >= 720 else None
        return frame.to_ndarray(format=self.rgb_format, src_colorspace=guess)

    def close(self) -> None:
        self.container.close()


_UNSPECIFIED = 2  # FFmpeg's AVCOL_*_UNSPECIFIED
_BT709 = 1  # AVCOL_SPC_BT709, AVCOL_PRI_BT709, AVCOL_TRC_BT709 and AVCOL_RANGE_MPEG (limited range) alike
_BT2020, _PQ, _HLG = 9, 16, 18  # BT.2020 primaries and its non-constant-luminance matrix share the number
_SWS_MATRICES = {1, 4, 5, 6, 7, 9}  # the matrices swscale converts with: BT.709, FCC, BT.601 (x2), SMPTE 240M, BT.2020


def _colour_tags(source: Any) -> tuple[int, int, int]:
    """(matrix, primaries, transfer) for the output: BT.709, the HD/UHD standard players assume, unless the source
    is wide-gamut or HDR (an HLG phone clip, a PQ film), whose code values only mean something under their own tags."""
    primaries, trc = getattr(source, "color_primaries", None), getattr(source, "color_trc", None)
    if primaries == _BT2020 or trc in (_PQ, _HLG):
        matrix = source.colorspace if source.colorspace in _SWS_MATRICES else _BT2020
        return matrix, primaries, trc
    return _BT709, _BT709, _BT709


def _tag_colours(context: Any, tags: tuple[int, int, int]) -> bool:
    """Tag an encoder's output (limited range); False where this PyAV cannot set the tags."""
    try:
        context.colorspace, context.color_primaries, context.color_trc = tags
        context.color_range = 1  # AVCOL_RANGE_MPEG: swscale's YUV is limited range
    except (AttributeError, TypeError, ValueError):
        return False
    return True


def _even_for(pix_fmt: str, width: int, height: int) -> tuple[int, int]:
    """The largest frame size the pixel format can hold within width x height."""
    if "420" in pix_fmt or pix_fmt in ("nv12", "nv21"):
        return width - width % 2, height - height % 2
    if "422" in pix_fmt:
        return width - width % 2, height
    return width, height


class VideoWriter:
    """Encodes restored frames and copies the reader's other streams into `path` (renamed into place on `close`)."""

    def __init__(
        self,
        path: str | os.PathLike,
        reader: VideoReader,
        width: int,
        height: int,
        *,
        codec: str | None = None,
        crf: int | None = None,
        pix_fmt: str | None = None,
        preset: str | None = None,
    ):
        av = _av()
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        codec = codec or DEFAULT_CODECS.get(suffix, DEFAULT_CODEC)
        pix_fmt = _check_encoder(av, codec, pix_fmt, deep=reader.deep)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Subsampled chroma needs even sides (4:2:0 both, 4:2:2 the width): an odd one loses its last pixel row or
        # column, as ffmpeg users do with scale=trunc(iw/2)*2; the encoder would refuse the frame otherwise.
        width, height = _even_for(pix_fmt, width, height)
        self.width, self.height = width, height
        self.tmp = files.temp_path(self.path)  # keeps the suffix: PyAV picks the container from it
        self.rgb_format = reader.rgb_format
        self.time_base = reader.video.time_base
        self._next_pts = 0
        self._ticks_per_frame = max(1, round(1 / (reader.rate * self.time_base))) if self.time_base else 1
        try:
            self.container = av.open(str(self.tmp), "w")
            self.stream = self.container.add_stream(codec, rate=reader.rate)
            self.stream.width, self.stream.height = width, height
            self.stream.pix_fmt = pix_fmt
            # PyAV's default, slice threads only, makes x264 cut every frame into slices (sliced_threads=1): its
            # low-latency mode, which scales worse and compresses a little worse. AUTO is the ffmpeg command line's
            # choice, frame threads.
            self.stream.thread_type = "AUTO"
            # YUV output is converted with the matrix it is tagged with (untagged BT.601, swscale's default, showed
            # shifted colours in players, which take HD and 4K as BT.709).
            tags = _colour_tags(reader.video.codec_context)
            tagged = pix_fmt.startswith("yuv") and _tag_colours(self.stream.codec_context, tags)
            self.matrix = tags[0] if tagged else None
            if self.time_base:
                self.stream.codec_context.time_base = self.time_base
            if reader.rotation and hasattr(self.stream, "set_display_rotation"):
                self.stream.set_display_rotation(reader.rotation)
            _copy_tags(reader.container.metadata, self.container.metadata)
            _copy_tags(reader.video.metadata, self.stream.metadata)
            options = {}
            if codec in _CRF_CODECS:
                options["crf"] = str(DEFAULT_CRF if crf is None else crf)
                if codec.startswith("libvpx"):
                    options["b:v"] = "0"  # constant quality rather than a bitrate cap
            elif crf is not None:
                raise UsageError(f"--crf does not apply to codec {codec}")
            preset = preset or DEFAULT_PRESETS.get(codec)
            if preset is not None:
                options["preset"] = _check_preset(codec, preset)
            self.stream.options = options
            try:  # now, so an encoder that cannot start is named, not blamed on the first packet muxed
                self.stream.codec_context.open()
            except av_errors() as exc:
                raise UsageError(f"--codec {codec}: the encoder cannot start ({_reason(exc)}); try libx264") from None
            self.copies = {}
            for source in reader.copied:
                try:
                    self.copies[source.index] = self.container.add_stream_from_template(source)
                except (ValueError, av.error.FFmpegError) as exc:
                    raise InputError(
                        f"cannot copy the {source.type} stream ({source.codec_context.name}) of '{reader.path}' "
                        f"into a {suffix} file ({_reason(exc)}); choose an .mkv output"
                    ) from None
                _copy_tags(source.metadata, self.copies[source.index].metadata)
                self.copies[source.index].disposition = source.disposition
            with contextlib.suppress(Exception):  # chapters are a nicety no container must refuse a file over
                self.container.set_chapters(reader.container.chapters())
        except BaseException:
            self.abort()
            raise

    def write_frame(self, pixels: np.ndarray, pts: int | None) -> None:
        av = _av()
        pixels = pixels[: self.height, : self.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=self.rgb_format)
        if self.matrix is not None:
            frame = frame.reformat(format=self.stream.pix_fmt, dst_colorspace=self.matrix)
        frame.pts = self._next_pts if pts is None else pts
        self._next_pts = frame.pts + self._ticks_per_frame
        if self.time_base:
            frame.time_base = self.time_base
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except av_errors() as exc:
            raise InputError(f"cannot encode '{self.path}': {_reason(exc)}") from None

    def copy_packet(self, packet: Any) -> None:
        target = self.copies.get(packet.stream.index)
        if target is None:
            return
        packet.stream = target
        try:
            self.container.mux(packet)
        except av_errors() as exc:
            raise InputError(f"cannot copy a {target.type} packet into '{self.path}': {_reason(exc)}") from None

    def close(self) -> None:
        """Flush the encoder, finish the file and move it into place."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
        except av_errors() as exc:
            self.abort()
            raise InputError(f"cannot finish '{self.path}': {_reason(exc)}") from None
        files.commit(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        container = getattr(self, "container", None)
        if container is not None:
            with contextlib.suppress(Exception):  # a half-initialised container may fail to close; the file goes anyway
                container.close()
        self.tmp.unlink(missing_ok=True)


def probe(path: str | os.PathLike) -> dict[str, Any]:
    """Frame count (by decoding), size, rate and stream kinds: what the tests and `--json` report about a video."""
    reader = VideoReader(path)
    try:
        frames = sum(1 for item in reader.items() if isinstance(item, Frame))
        return {
            "frames": frames,
            "width": reader.width,
            "height": reader.height,
            "rate": float(reader.rate),
            "streams": [s.type for s in reader.container.streams],
        }
    finally:
        reader.close()


def av_errors() -> tuple[type[BaseException], ...]:
    av = _av()
    return (av.error.FFmpegError,)


def _check_preset(codec: str, preset: str) -> str:
    known = PRESETS.get(codec)
    if known is None:
        raise UsageError(f"--preset does not apply to codec {codec}")
    if preset not in known:
        raise UsageError(f"--preset {preset}: {codec} takes {', '.join(known)}")
    return preset


def _check_encoder(av: Any, codec: str, pix_fmt: str | None, *, deep: bool) -> str:
    """The pixel format to encode with, checked against the encoder. None picks the default: yuv420p, or its 10-bit
    form for a source deeper than 8 bits where the encoder has it (nothing is lost)."""
    try:
        found = av.codec.Codec(codec, "w")
    except Exception:
        raise UsageError(f"--codec {codec}: this PyAV build has no such encoder") from None
    if found.type != "video":
        raise UsageError(f"--codec {codec}: not a video encoder")
    formats = [f.name for f in found.video_formats or ()]
    if pix_fmt is None:
        pix_fmt = DEEP_PIX_FMT if deep and DEEP_PIX_FMT in formats else DEFAULT_PIX_FMT
    if formats and pix_fmt not in formats:
        raise UsageError(f"--pix-fmt {pix_fmt}: {codec} takes {', '.join(formats)}")
    return pix_fmt


def _copy_tags(source: dict[str, str], target: dict[str, str]) -> None:
    for key, value in source.items():
        if key.lower() not in _STALE_TAGS and not key.lower().startswith("_statistics"):
            target[key] = value


def _bits(fmt: Any) -> int:
    try:
        return max(c.bits for c in fmt.components)
    except (AttributeError, ValueError):
        return 8


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
