"""`irtool restore` on inputs beyond one plain still image: animations, grey + alpha, huge images (--max-pixels)."""

from __future__ import annotations

import json
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from irtool.cli import main
from irtool.io.images import read_image, write_image


def huge_black_png(path, side: int = 20000) -> None:
    """A valid 1-bit grey PNG of side x side zeros: a few hundred KB on disk, side^2 bytes once decoded.

    (The same as tests/io/test_images_formats.py's: test folders are not packages here.)"""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def run_cli(capsys, *args: str) -> tuple[int, dict, str]:
    with pytest.raises(SystemExit) as exc:
        main(["restore", *args, "--json"])
    captured = capsys.readouterr()
    return exc.value.code, json.loads(captured.out), captured.err


def failures(summary: dict) -> dict[str, str]:
    return {item["source"].rsplit("/", 1)[-1]: item["error"] for item in summary["items"] if item["status"] == "failed"}


def test_animations_and_page_stacks_fail_by_name_and_the_batch_goes_on(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    first, *rest = [PILImage.fromarray(np.full((10, 12, 3), 20 * i, np.uint8)) for i in range(12)]
    first.save(folder / "anim.webp", save_all=True, append_images=rest, duration=[50 + i for i in range(12)], loop=0)
    first.save(folder / "anim.png", save_all=True, append_images=rest[:2], duration=100)
    first.save(folder / "stack.tif", save_all=True, append_images=rest[:4])
    first.save(folder / "still.png")
    code, summary, err = run_cli(capsys, str(folder), "-m", "identity")
    assert code == 1
    assert (summary["done"], summary["failed"]) == (1, 3)
    failed = failures(summary)
    assert "animated WebP with 12 frames: irtool restores still images; extract the frames" in failed["anim.webp"]
    assert "animated PNG with 3 frames" in failed["anim.png"]
    assert "multi-page TIFF with 5 pages" in failed["stack.tif"]
    assert sorted(p.name for p in (folder / "restored").iterdir()) == ["still.png"]  # nothing cut to one frame
    assert "animated WebP with 12 frames" in err and "Traceback" not in err


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("model", ["identity", "bicubic"])
def test_grey_alpha_png_comes_out_grey_alpha_at_its_bit_depth(tmp_path, capsys, dtype, model):
    rng = np.random.default_rng(3)
    top = np.iinfo(dtype).max
    grey = rng.integers(0, top + 1, (9, 11), dtype=dtype)
    alpha = np.linspace(0, top, 9 * 11).reshape(9, 11).astype(dtype)
    if dtype == np.uint8:
        PILImage.fromarray(np.stack([grey, alpha], axis=-1), "LA").save(tmp_path / "la.png")  # Pillow's own LA PNG
    else:
        write_image(tmp_path / "la.png", np.stack([grey, alpha], axis=-1))  # Pillow cannot write 16-bit LA
    code, summary, _ = run_cli(capsys, str(tmp_path / "la.png"), "-m", model, "-o", str(tmp_path / "out.png"))
    assert code == 0 and summary["done"] == 1
    data = (tmp_path / "out.png").read_bytes()
    assert data[24:26] == bytes([np.dtype(dtype).itemsize * 8, 4])  # IHDR: same bit depth, colour type 4
    out = read_image(tmp_path / "out.png").pixels
    s = 1 if model == "identity" else 4
    assert out.shape == (9 * s, 11 * s, 2) and out.dtype == dtype
    if model == "identity":
        np.testing.assert_array_equal(out[:, :, 0], grey)
        np.testing.assert_array_equal(out[:, :, 1], alpha)
    else:  # alpha never goes through the model: bicubic-upscaled on its own, in its own dtype
        np.testing.assert_array_equal(out[:, :, 1], cv2.resize(alpha, (44, 36), interpolation=cv2.INTER_CUBIC))
        assert np.abs(out[:, :, 0][::4, ::4].astype(float) - grey).mean() < 0.25 * top  # the grey plane, upscaled
    if dtype == np.uint8:
        with PILImage.open(tmp_path / "out.png") as im:
            assert im.mode == "LA"


def test_a_20000_square_png_fails_fast_and_the_batch_goes_on(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    huge_black_png(folder / "a_huge.png")
    write_image(folder / "b_small.png", np.zeros((10, 12, 3), np.uint8))
    started = time.perf_counter()
    code, summary, err = run_cli(capsys, str(folder), "-m", "identity")
    assert time.perf_counter() - started < 30  # decoding and writing 400 MP would take minutes here
    assert code == 1 and (summary["done"], summary["failed"]) == (1, 1)
    item = next(i for i in summary["items"] if i["status"] == "failed")
    assert item["seconds"] < 1.0  # refused from the header, before any decoding
    message = item["error"]
    assert "a_huge.png" in message and "20000 x 20000 = 400,000,000 pixels" in message
    assert "limit of 178,956,970" in message and "--max-pixels 400000000 (0 = no limit)" in message
    assert (folder / "restored" / "b_small.png").is_file() and not (folder / "restored" / "a_huge.png").exists()
    assert "Traceback" not in err


def test_max_pixels_overrides_the_limit_and_zero_lifts_it(tmp_path, capsys):
    write_image(tmp_path / "img.png", np.zeros((10, 12, 3), np.uint8))
    code, summary, _ = run_cli(capsys, str(tmp_path / "img.png"), "-m", "identity", "--max-pixels", "119")
    assert code == 1 and "12 x 10 = 120 pixels, over the limit of 119" in failures(summary)["img.png"]
    code, summary, _ = run_cli(capsys, str(tmp_path / "img.png"), "-m", "identity", "--max-pixels", "120")
    assert code == 0 and summary["done"] == 1
    code, summary, _ = run_cli(capsys, str(tmp_path / "img.png"), "-m", "identity", "--max-pixels", "0", "--overwrite")
    assert code == 0 and summary["done"] == 1
    with pytest.raises(SystemExit) as exc:
        main(["restore", str(tmp_path / "img.png"), "--max-pixels", "-1"])
    assert exc.value.code == 2


def test_video_frames_are_not_held_to_the_image_pixel_limit(tmp_path, capsys):
    """The limit guards decoding one image whole; a video is decoded one frame at a time (a 4K frame is 8.3 MP)."""
    av = pytest.importorskip("av")
    with av.open(str(tmp_path / "clip.mp4"), "w") as c:
        stream = c.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((24, 32, 3), 40 * i, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)
    write_image(tmp_path / "img.png", np.zeros((24, 32, 3), np.uint8))
    code, summary, _ = run_cli(
        capsys,
        str(tmp_path / "clip.mp4"),
        str(tmp_path / "img.png"),
        "-m",
        "identity",
        "-o",
        str(tmp_path / "out"),
        "--max-pixels",
        "100",
    )
    assert code == 1
    done = {item["source"].rsplit("/", 1)[-1]: item for item in summary["items"]}
    assert done["clip.mp4"]["status"] == "done" and done["clip.mp4"]["frames"] == 3
    assert "32 x 24 = 768 pixels, over the limit of 100" in done["img.png"]["error"]
