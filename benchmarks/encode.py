"""What the video encoder costs at 4K, per speed preset: frames/s, CPU time, size and fidelity.

    python benchmarks/encode.py                                 # libx264, every preset, 24 frames 3840x2160
    python benchmarks/encode.py --codec libx265 --presets medium veryfast --frames 12
    python benchmarks/encode.py --size 1920x1080 --frames 48

Frames: the Kodak24 images (../shared/datasets or $IRTOOL_TEST_DATA), a 960x540 crop of each panned by 4 pixels a
frame and enlarged x4 with bicubic, the smooth content an SR model writes; every preset gets the same frames, in
interleaved repetitions. Encoding goes through irtool's own writer (`irtool.io.video.VideoWriter`, crf 18 unless
--crf), so the figures are what `irtool restore --preset P` pays. Fidelity is the PSNR of the decoded frames
against the frames given. Prints a markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.restore import data_root  # noqa: E402
from irtool.io.video import PRESETS, Frame, VideoReader, VideoWriter  # noqa: E402


def frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    width, height = size
    images = sorted((data_root() / "Kodak24").glob("*.png"))
    out = []
    for i in range(count):
        image = cv2.cvtColor(cv2.imread(str(images[i % len(images)])), cv2.COLOR_BGR2RGB)
        x = (4 * i) % max(1, image.shape[1] - width // 4)
        crop = image[: height // 4, x : x + width // 4]
        out.append(cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC))
    return out


def source_clip(folder: Path, size: tuple[int, int]) -> VideoReader:
    """A one-frame clip for the writer to take its rate and time base from."""
    from tests.test_video import make_video

    clip = folder / "source.mp4"
    make_video(clip, frames=1, size=(size[1] // 4, size[0] // 4))
    return VideoReader(clip)


def encode(folder: Path, reader: VideoReader, images: list[np.ndarray], codec: str, preset: str, crf: int) -> dict:
    height, width = images[0].shape[:2]
    out = folder / f"{codec}-{preset}.mkv"
    wall, cpu = time.perf_counter(), time.process_time()
    writer = VideoWriter(out, reader, width, height, codec=codec, crf=crf, preset=preset)
    for image in images:
        writer.write_frame(image, None)
    writer.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    check = VideoReader(out)
    decoded = [item.pixels for item in check.items() if isinstance(item, Frame)]
    check.close()
    mse = np.mean([np.mean((a.astype(np.float64) - b) ** 2) for a, b in zip(images, decoded, strict=True)])
    return {
        "fps": len(images) / wall,
        "cpu_per_frame": cpu / len(images),
        "kb_per_frame": out.stat().st_size / 1024 / len(images),
        "psnr": 10 * np.log10(255**2 / mse),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", default="libx264")
    parser.add_argument("--presets", nargs="+", help="default: every preset of the codec")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="3840x2160")
    parser.add_argument("--crf", type=int, default=18)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    presets = args.presets or list(PRESETS[args.codec])
    images = frames(args.frames, size)
    results: dict[tuple, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        reader = source_clip(Path(tmp), size)
        for _ in range(args.repeats):
            for preset in presets:
                row = encode(Path(tmp), reader, images, args.codec, preset, args.crf)
                results.setdefault(preset, []).append(row)
        reader.close()
    print(f"{args.codec}, crf {args.crf}, {args.frames} frames {args.size}, {os.cpu_count()} CPUs, ", end="")
    print(f"median of {args.repeats}")
    print("| preset | frames/s | CPU s / frame | KB / frame | PSNR vs input (dB) |")
    print("|---|---:|---:|---:|---:|")
    for preset, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(
            f"| {preset} | {med['fps']:.2f} | {med['cpu_per_frame']:.3f} | {med['kb_per_frame']:.0f} "
            f"| {med['psnr']:.2f} |"
        )


if __name__ == "__main__":
    main()
