"""Restore every image in a folder with the Python API (what `irtool restore IN -o OUT -m MODEL` does for images).

    python examples/restore_folder.py photos/ out/ --model sr-x4 [--device cpu]

`open_model` takes any model reference the CLI takes (a name, a weight file, an .onnx graph, an hf:// reference);
the runner that `make_runner` builds holds it on its device and tiles large images; `restore_pixels` keeps each
file's bit depth, grey or alpha. EXIF and ICC profile are carried from the input to the output file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from irtool.engine import make_runner
from irtool.engine.pixels import restore_pixels
from irtool.io.images import list_images, read_image, write_image
from irtool.models import open_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="folder of images")
    parser.add_argument("output", type=Path, help="folder for the results (created)")
    parser.add_argument("--model", default="sr-x4", help="registry name, weight file, .onnx or hf:// reference")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N, mps")
    args = parser.parse_args()

    # One runner for the whole folder: the model moves to the device and sizes its tiles only once.
    runner = make_runner(open_model(args.model, device=args.device), device=args.device)
    for path in list_images(args.input):
        image = read_image(path)  # (H, W, C) RGB(A) or grey, uint8/uint16/float32, already turned upright
        restored = restore_pixels(runner, image.pixels)  # same dtype and channels, scaled by the model
        out = args.output / path.name
        write_image(out, restored, exif=image.exif, icc=image.icc, protect=[path])  # atomic: temp file + rename
        print(f"{path} -> {out} ({restored.shape[1]}x{restored.shape[0]})")


if __name__ == "__main__":
    main()
