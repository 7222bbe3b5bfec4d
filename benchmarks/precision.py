"""What fp16 and bf16 cost the shipped models: largest activation, max |difference| and PSNR lost against fp32.

Measured as the engine runs them (autocast: convolutions and matrix products in the reduced format, the rest as
autocast decides), so the numbers are what `--precision` changes.

    IRTOOL_TEST_DATA=../shared/datasets python benchmarks/precision.py [--models sr-x4 denoise] [--device cpu]

SR models run on Set5's LR images of their scale and are scored against HR (RGB PSNR of 8-bit outputs); the photo
models on Set5's HR put through the realistic chain (`--degradation real --seed 0`) at their scale; the denoiser
runs on the first 4 CBSD68 images with sigma-50 noise (legacy NumPy generator, seed 0). The "largest
activation" is the largest |output| of any module in fp32: fp16 overflows at 65504. On the CPU this measures the
formats with the CPU's kernels; a GPU's accumulate differently, so rerun with --device cuda where one is at hand.
Prints a markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from irtool.engine import Runner
from irtool.io.images import read_image, to_float32
from irtool.models import load

DATA = Path(os.environ.get("IRTOOL_TEST_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets")


def tensor_of(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(to_float32(pixels).transpose(2, 0, 1).copy())[None]


def pairs(name: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, target) batches of one image each."""

    def tensor(path: Path) -> torch.Tensor:
        return tensor_of(read_image(path).pixels)

    if name == "denoise":
        out = []
        for path in sorted((DATA / "CBSD68").glob("*.png"))[:4]:
            clean = tensor(path)
            noise = np.random.RandomState(0).normal(0, 50 / 255, clean.shape).astype(np.float32)
            out.append((clean + torch.from_numpy(noise), clean))
        return out
    if name.startswith("photo"):  # the realistic chain of `irtool eval --degradation real --seed 0` on Set5's HR
        from irtool.ops.realistic import real_lr
        from irtool.ops.resize import modcrop

        s = int(name[-1]) if name[-1].isdigit() else 1
        out = []
        for i, path in enumerate(sorted((DATA / "Set5" / "HR").glob("*.png"))):
            hr = modcrop(read_image(path).pixels, s)
            lr, _ = real_lr(hr, s, 0, i)
            out.append((tensor_of(lr), tensor_of(hr)))
        return out
    s = name[-1]
    lr_dir = DATA / "Set5" / "LR_bicubic" / f"X{s}"
    return [
        (tensor(p), tensor(DATA / "Set5" / "HR" / p.name.replace(f"x{s}.png", ".png")))
        for p in sorted(lr_dir.glob("*.png"))
    ]


def psnr(y: torch.Tensor, target: torch.Tensor) -> float:
    y = (y.clamp(0, 1) * 255).round() / 255
    return float(-10 * torch.log10((y - target[..., : y.shape[-2], : y.shape[-1]]).pow(2).mean()))


def measure(name: str, device: str) -> dict:
    model = load(name).eval().to(device)
    peak = [0.0]

    def hook(module: torch.nn.Module, inputs: tuple, output: object) -> None:
        if isinstance(output, torch.Tensor):
            peak[0] = max(peak[0], float(output.detach().abs().max()))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    row = {"model": name, "fp16_safe": model.descriptor.fp16_safe}
    data = [(x.to(device), t.to(device)) for x, t in pairs(name)]
    with torch.inference_mode():
        full = [model(x)[0] for x, _ in data]
    for h in handles:
        h.remove()
    for label in ("fp16", "bf16"):
        # The engine's path (autocast: convolutions and matmuls in the format, reductions and the rest in fp32),
        # whole images, without the NaN guard's fp32 redo so that an overflow shows.
        runner = Runner(model, device=device, precision=label, tile=0)
        with torch.inference_mode():
            outs = [runner._run(x, runner.dtype)[0].float() for x, _ in data]
        row[f"{label}_finite"] = all(bool(torch.isfinite(o).all()) for o in outs)
        row[f"{label}_max_diff"] = max(float((o - f).abs().max()) for o, f in zip(outs, full, strict=True))
        row[f"{label}_psnr_loss"] = max(
            psnr(f, t[0]) - psnr(o, t[0]) for o, f, (_, t) in zip(outs, full, data, strict=True)
        )
    row["peak_activation"] = peak[0]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", nargs="+", default=["sr-x2", "sr-x3", "sr-x4", "denoise", "photo-x2", "photo-x4", "photo"]
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print("| model | marked fp16-safe | largest activation | fp16 max diff | fp16 PSNR loss (dB) | bf16 max diff "
          "| bf16 PSNR loss (dB) |\n|---|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for name in args.models:
        r = measure(name, args.device)
        flags = "" if r["fp16_finite"] and r["bf16_finite"] else " (non-finite output!)"
        print(
            f"| {name} | {r['fp16_safe']} | {r['peak_activation']:.1f} | {r['fp16_max_diff']:.1e} | "
            f"{r['fp16_psnr_loss']:.4f} | {r['bf16_max_diff']:.1e} | {r['bf16_psnr_loss']:.4f} |{flags}"
        )
    print(f"\ntorch {torch.__version__}, device {args.device}; max over images; max diff on the 0-1 scale.")


if __name__ == "__main__":
    main()
