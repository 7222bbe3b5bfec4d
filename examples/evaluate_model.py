"""Score a model on a benchmark set under a paper protocol (what `irtool eval -m MODEL --dataset NAME` does).

    IRTOOL_DATA_DIR=../shared/datasets python examples/evaluate_model.py --model bicubic --dataset Set5 --scale 4
    IRTOOL_DATA_DIR=../shared/datasets python examples/evaluate_model.py --model identity --dataset CBSD68 --sigma 25

For SR the LR input is made here from the HR with the MATLAB-exact bicubic resize; for denoising the noise is drawn
here (NumPy legacy generator seeded with 0 before every image). The report records the protocol and every
convention it used, so a number can be reproduced.
"""

from __future__ import annotations

import argparse
import json

import irtool
from irtool.data import benchmarks
from irtool.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bicubic")
    parser.add_argument("--dataset", default="Set5")
    parser.add_argument("--scale", type=int, default=None, help="SR scale (bicubic takes any)")
    parser.add_argument("--sigma", type=float, default=None, help="noise level on 0..255 (denoising sets)")
    # `irtool eval -m bicubic` picks sr-luma, the pipeline of the published bicubic rows; here say so with --protocol.
    parser.add_argument("--protocol", default=None, help="sr, sr-rgb, sr-luma, denoise, derain (default: the set's)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args()

    data = benchmarks.load(args.dataset, limit=args.limit)  # local under $IRTOOL_DATA_DIR, else downloaded
    # Weightless built-ins are configured by name; trained models know their own scale.
    if args.model == "bicubic":
        model = irtool.create_model("bicubic", scale=args.scale or 4)
    else:
        model = irtool.load_model(args.model)
    report = evaluate(model, data, args.protocol or data.task, scale=args.scale, sigma=args.sigma, device="cpu")

    for s in report.per_image:
        print(f"{s.name:>16}  {s.psnr:8.4f} dB  {s.ssim:.4f}")
    print(f"{'mean':>16}  {report.psnr:8.4f} dB  {report.ssim:.4f}")
    print(json.dumps(report.protocol, indent=2))  # the preset and every knob it implies


if __name__ == "__main__":
    main()
