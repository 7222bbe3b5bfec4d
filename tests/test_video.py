"""Videos: frames, frame rate and timestamps kept, audio copied, nothing half-written on failure or Ctrl-C."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from torch import nn

av = pytest.importorskip("av")

from irtool.cli import main  # noqa: E402
from irtool.engine import Runner  # noqa: E402
from irtool.engine.jobs import Job  # noqa: E402
from irtool.engine.pipeline import VideoOptions, restore_video  # noqa: E402
from irtool.errors import UnavailableError  # noqa: E402
from irtool.io.video import VideoReader, probe  # noqa: E402
from irtool.models.descriptor import ModelDescriptor  # noqa: E402


def make_video(
    path: Path, *, frames: int = 24, size: tuple[int, int] = (32, 24), rate: int = 24, audio: bool = True
) -> None:
    """A small H.264 clip with a moving gradient and, optionally, one second of AAC sine per 24 frames."""
    w, h = size
    with av.open(str(path), "w") as c:
        video = c.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        sound = c.add_stream("aac", rate=48000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i in range(frames):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = (np.arange(w) * 8 + i * 5) % 256
            img[..., 1] = (np.arange(h)[:, None] * 10) % 256
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        if sound is not None:
            n = 48000 * frames // rate
            samples = (0.3 * np.sin(np.arange(n) * 2 * np.pi * 440 / 48000)).astype(np.float32)[None]
            for start in range(0, n, 1024):
                frame = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 48000, start
                for packet in sound.encode(frame):
                    c.mux(packet)
            for packet in sound.encode(None):
                c.mux(packet)
        for packet in video.encode(None):
            c.mux(packet)


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [round(float(f.time), 4) for f in c.decode(video=0)]


def _audio_packets(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(audio=0) if p.dts is not None)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["restore", *args])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_video_with_audio_keeps_frames_timing_and_audio(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    make_video(clip)
    out = tmp_path / "clip_x4.mp4"
    code, stdout, err = run_cli(capsys, str(clip), "-m", "bicubic", "-o", str(out), "--json")
    assert code == 0, err
    assert json.loads(stdout)["items"][0]["frames"] == 24
    info = probe(out)
    assert (info["frames"], info["width"], info["height"]) == (24, 128, 96)
    assert info["rate"] == 24.0 and info["streams"] == ["video", "audio"]
    assert _frame_times(out) == _frame_times(clip)
    assert _audio_packets(out) == _audio_packets(clip) > 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_mkv_default_output_name_and_encoder_options(tmp_path, capsys):
    clip = tmp_path / "clip.mkv"
    make_video(clip, frames=6, rate=25)
    code, _, err = run_cli(capsys, str(clip), "-m", "identity", "--codec", "libx265", "--crf", "30")
    assert code == 0, err
    out = tmp_path / "restored" / "clip.mkv"
    info = probe(out)
    assert (info["frames"], info["width"], info["rate"]) == (6, 32, 25.0)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "hevc"
    assert run_cli(capsys, str(clip), "-m", "identity", "--codec", "no-such-codec", "--overwrite")[0] == 2
    assert run_cli(capsys, str(clip), "-m", "identity", "--pix-fmt", "nv99", "--overwrite")[0] == 2


def _x264_settings(path: Path) -> bytes:
    """The option string x264 writes into its first packet (SEI user data)."""
    with av.open(str(path)) as c:
        first = bytes(next(p for p in c.demux(video=0) if p.size))
    return first[first.index(b"options: ") :].split(b"\x00")[0]


def test_preset_reaches_the_encoder_and_bad_ones_are_refused(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=4, size=(64, 128), audio=False)  # 8 macroblock rows: enough for x264 to slice
    outputs = {p: tmp_path / f"{p}.mp4" for p in ("ultrafast", "medium", "default")}
    for preset, out in outputs.items():
        extra = [] if preset == "default" else ["--preset", preset]
        assert run_cli(capsys, str(clip), "-m", "identity", "-o", str(out), *extra)[0] == 0
    settings = {p: _x264_settings(out) for p, out in outputs.items()}
    # ultrafast: no CABAC, the cheapest motion search; medium (x264's own default): subme 7, 3 reference frames;
    # irtool's default, veryfast: subme 2, 1 reference frame
    assert b"cabac=0" in settings["ultrafast"] and b"subme=0" in settings["ultrafast"]
    assert b"subme=7" in settings["medium"] and b" ref=3" in settings["medium"]
    assert b"subme=2" in settings["default"] and b" ref=1" in settings["default"]
    # Frame threads, as the ffmpeg command line gives, not the slices of PyAV's default threading.
    assert b"sliced_threads=0" in settings["default"]
    code, _, err = run_cli(capsys, str(clip), "-m", "identity", "--preset", "warp", "--overwrite")
    assert code == 2 and "ultrafast" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, str(clip), "-m", "identity", "--codec", "mpeg4", "--preset", "fast", "--overwrite")
    assert code == 2 and "does not apply to codec mpeg4" in err


def _flat_yuv_clip(path: Path, size: tuple[int, int], yuv: tuple[int, int, int], tags: tuple = ()) -> None:
    """Two frames of one Y'CbCr colour, written as they are; colour tags (matrix, primaries, transfer) if given."""
    w, h = size
    planes = np.empty((h * 3 // 2, w), np.uint8)
    planes[:h], planes[h : h + h // 4], planes[h + h // 4 :] = yuv
    with av.open(str(path), "w") as c:
        video = c.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        if tags:
            context = video.codec_context
            context.colorspace, context.color_primaries, context.color_trc = tags
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = i
            c.mux(video.encode(frame))
        c.mux(video.encode())


def _first_rgb(path: Path) -> np.ndarray:
    reader = VideoReader(path)
    try:
        return next(item.pixels for item in reader.items() if hasattr(item, "pixels")).astype(int)
    finally:
        reader.close()


def test_colours_survive_the_round_trip_as_players_show_them(tmp_path, capsys):
    # Pure red in limited-range Y'CbCr: BT.709 (what players assume for untagged HD) and BT.601 (below 720 lines).
    hd, sd = tmp_path / "hd.mp4", tmp_path / "sd.mp4"
    _flat_yuv_clip(hd, (1280, 720), (63, 102, 240))
    _flat_yuv_clip(sd, (64, 48), (81, 90, 240))
    for clip in (hd, sd):
        assert np.abs(_first_rgb(clip)[8:-8, 8:-8] - [255, 0, 0]).max() <= 4, clip.name
    # The output is BT.709 and says so, whatever the input was: a player shows the red it was given.
    out = tmp_path / "out.mp4"
    assert run_cli(capsys, str(sd), "-m", "identity", "-o", str(out))[0] == 0
    with av.open(str(out)) as c:
        context = c.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc, context.color_range) == (1, 1, 1, 1)
        luma = next(c.decode(video=0)).to_ndarray(format="yuv420p")[:48]
    assert abs(int(np.median(luma)) - 63) <= 2  # BT.709's luma for red (BT.601's would be 81)
    assert np.abs(_first_rgb(out)[8:-8, 8:-8] - [255, 0, 0]).max() <= 4
    # A wide-gamut HDR source (BT.2020, HLG, as phones record) keeps its description: its code values mean nothing
    # under BT.709's.
    hlg = tmp_path / "hlg.mp4"
    _flat_yuv_clip(hlg, (64, 48), (120, 100, 160), tags=(9, 9, 18))
    assert run_cli(capsys, str(hlg), "-m", "identity", "-o", str(out), "--overwrite")[0] == 0
    with av.open(str(out)) as c:
        context = c.streams.video[0].codec_context
        assert (context.colorspace, context.color_primaries, context.color_trc) == (9, 9, 18)
        luma = next(c.decode(video=0)).to_ndarray(format="yuv420p")[:48]
    assert abs(int(np.median(luma)) - 120) <= 2  # the same matrix both ways: the code values come back


def test_a_10_bit_source_gets_a_10_bit_output(tmp_path, capsys):
    clip, out = tmp_path / "deep.mkv", tmp_path / "out.mkv"
    ramp = (np.linspace(0, 65535, 64)[None, :, None] * np.ones((48, 1, 3))).astype(np.uint16)
    with av.open(str(clip), "w") as c:
        video = c.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p10le"
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(ramp, format="rgb48le")
            frame.pts = i
            c.mux(video.encode(frame))
        c.mux(video.encode())
    assert run_cli(capsys, str(clip), "-m", "identity", "-o", str(out))[0] == 0
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
    # --pix-fmt still decides.
    assert run_cli(capsys, str(clip), "-m", "identity", "-o", str(out), "--pix-fmt", "yuv420p", "--overwrite")[0] == 0
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_audio_a_container_cannot_hold_fails_with_advice(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=4)
    code, _, err = run_cli(capsys, str(clip), "-m", "identity", "-o", str(tmp_path / "out.webm"))
    assert code == 1 and ".mkv" in err
    assert list(tmp_path.glob("*.webm")) == [] and list(tmp_path.glob(".*")) == []


class _StopsAfter(nn.Module):
    """Identity that raises `exc` on frame number `n` (counting from 1)."""

    def __init__(self, n: int, exc: BaseException):
        super().__init__()
        self.n, self.exc, self.seen = n, exc, 0
        self.descriptor = ModelDescriptor(arch="stop", task="denoise")

    def forward(self, x):
        self.seen += 1
        if self.seen == self.n:
            raise self.exc
        return x


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), RuntimeError("model broke")])
def test_interrupted_or_failed_video_leaves_no_file(tmp_path, exc):
    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=12)
    out = tmp_path / "out" / "clip.mp4"
    runner = Runner(_StopsAfter(5, exc), device="cpu", tile=0)
    job = Job(clip, out, "video")
    if isinstance(exc, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            restore_video(job, runner, VideoOptions())
    else:
        outcome = restore_video(job, runner, VideoOptions())
        assert outcome.status == "failed" and "model broke" in outcome.error
    assert list((tmp_path / "out").iterdir()) == []  # neither the output nor its temporary file


def test_broken_video_is_a_failed_job(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 definitely not a movie")
    outcome = restore_video(
        Job(bad, tmp_path / "o.mp4", "video"), Runner(_StopsAfter(0, RuntimeError()), device="cpu"), VideoOptions()
    )
    assert outcome.status == "failed" and "bad.mp4" in outcome.error


def test_rate_and_deep_frames_are_read(tmp_path):
    clip = tmp_path / "c.mkv"
    make_video(clip, frames=3, rate=30, audio=False)
    reader = VideoReader(clip)
    try:
        assert reader.rate == Fraction(30) and reader.rgb_format == "rgb24" and reader.copied == []
        frames = [item for item in reader.items() if hasattr(item, "pixels")]
        assert len(frames) == 3 and frames[0].pixels.shape == (24, 32, 3)
    finally:
        reader.close()


def test_missing_pyav_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(UnavailableError, match=r"irtool\[video\]"):
        VideoReader(tmp_path / "x.mp4")


def test_frames_go_through_the_model(tmp_path):
    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=3, audio=False)

    class Darken(nn.Module):
        descriptor = ModelDescriptor(arch="darken", task="denoise")

        def forward(self, x):
            return x * 0.5

    outcome = restore_video(Job(clip, tmp_path / "o.mp4", "video"), Runner(Darken(), device="cpu"), VideoOptions())
    assert outcome.status == "done" and outcome.frames == 3
    with av.open(str(clip)) as a, av.open(str(tmp_path / "o.mp4")) as b:
        src = next(a.decode(video=0)).to_ndarray(format="rgb24").astype(float)
        dst = next(b.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    assert abs(dst.mean() - src.mean() / 2) < 4  # a codec round trip away from half as bright


def test_rotation_tags_dispositions_and_chapters_are_carried_over(tmp_path, capsys):
    """A phone clip is stored sideways and turned by its display matrix; titles, languages and chapters matter too."""
    plain = tmp_path / "plain.mp4"
    make_video(plain, frames=6)
    clip = tmp_path / "phone.mkv"
    with av.open(str(plain)) as src, av.open(str(clip), "w") as dst:
        dst.metadata.update({"title": "Holiday", "creation_time": "2020-01-02T03:04:05.000000Z"})
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        audio = streams[src.streams.audio[0].index]
        audio.metadata["language"] = "fra"
        audio.disposition = av.stream.Disposition.default
        streams[src.streams.video[0].index].set_display_rotation(90)
        dst.set_chapters([{"id": 1, "start": 0, "end": 1000, "time_base": Fraction(1, 1000), "metadata": {}}])
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    out = tmp_path / "out.mkv"
    code, _, err = run_cli(capsys, str(clip), "-m", "identity", "-o", str(out))
    assert code == 0, err
    with av.open(str(clip)) as a, av.open(str(out)) as b:
        assert next(b.decode(video=0)).rotation == next(a.decode(video=0)).rotation == 90
        assert b.metadata["title"] == "Holiday" and b.metadata["creation_time"].startswith("2020-01-02")
        assert b.streams.audio[0].metadata.get("language") == "fra"
        assert b.streams.audio[0].disposition & av.stream.Disposition.default
        assert len(b.chapters()) == len(a.chapters()) == 1


def test_odd_output_sizes_lose_one_row_or_column_for_subsampled_chroma(tmp_path):
    from irtool.io.video import VideoWriter

    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=3, audio=False)
    for pix_fmt, expected in (("yuv420p", (32, 24)), ("yuv422p", (32, 25)), ("yuv444p", (33, 25))):
        out = tmp_path / f"odd_{pix_fmt}.mkv"
        reader = VideoReader(clip)
        try:
            writer = VideoWriter(out, reader, 33, 25, pix_fmt=pix_fmt)  # e.g. x3 of an 11 x 8.33 picture
            for i in range(3):
                writer.write_frame(np.full((25, 33, 3), 40 * i, np.uint8), None)
            writer.close()
        finally:
            reader.close()
        info = probe(out)
        assert (info["width"], info["height"], info["frames"]) == (*expected, 3)


def test_an_encoder_that_cannot_start_is_named(tmp_path, capsys):
    """NVENC is in PyAV's wheel but needs an NVIDIA GPU: without one it must be named, not blamed on a packet."""
    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=4)
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(capsys, str(clip), "-m", "bicubic", "-o", str(out), "--codec", "h264_nvenc")
    if code == 0:  # a machine where NVENC runs: then it simply works
        assert out.is_file()
        return
    assert code == 2 and "--codec h264_nvenc: the encoder cannot start" in err and "packet" not in err
    assert not out.exists() and not any(p.name.startswith(".") for p in tmp_path.iterdir())
