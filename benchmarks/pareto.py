"""The shipped models beside their compact peers: CPU time per output megapixel and quality.

    IRTOOL_TEST_DATA=../shared/datasets python benchmarks/pareto.py [--models sr-x4 denoise] [--threads 1 2]
        [--repeats 3]

RLFN (Kong et al., NTIRE 2022 efficient SR winner, the challenge cut: 4 residual local feature blocks, 46 channels,
48 inside the blocks, ESA with 16) and BSRN (Li et al., 2022, the challenge cut: 5 blocks of blueprint separable
convolutions, 48 channels, ESA + contrast-aware channel attention) stand beside each `sr-xN`, FFDNet (colour: 12
convolutions of 96 channels at half resolution) beside `denoise`. They are rebuilt here from their papers with
random weights: timing needs the shapes, not the weights; their quality comes from the papers (BSD100 x4 PSNR-Y;
CBSD68 sigma 25). Parameters by our count: RLFN 317,218 (the paper's 317K); BSRN 144,867 (the challenge report
gives 156K: our reading of the block is a little lighter, so its time here is a slight underestimate); FFDNet 852K.
SR models restore the Set14 LR images of their scale whole, the denoisers the first 8 CBSD68 images, in interleaved
repetitions, in fp32 and, where `--precision auto` picks another on this CPU (bf16 with native bf16), in that one
too, peers included. The time is the process CPU time (the machine is shared: wall time would count other jobs).
Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from irtool import models
from irtool.engine.devices import choose_precision, cpu_native_precisions, precision_name
from irtool.io.images import read_image, to_float32

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------------ RLFN
class ESA(nn.Module):
    """Enhanced spatial attention: a strided, pooled view of the features gates them (RFDN; RLFN's lighter cut)."""

    def __init__(self, channels: int, inner: int, conv=nn.Conv2d, extra: bool = False):
        super().__init__()
        self.reduce, self.skip = nn.Conv2d(channels, inner, 1), nn.Conv2d(inner, inner, 1)
        self.down = nn.Conv2d(inner, inner, 3, stride=2)
        self.mid = conv(inner, inner, 3, padding=1)
        self.extra = nn.ModuleList([conv(inner, inner, 3, padding=1) for _ in range(2)]) if extra else None
        self.expand = nn.Conv2d(inner, channels, 1)
        self.act = nn.GELU() if extra else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.reduce(x)
        small = F.max_pool2d(self.down(reduced), 7, stride=3)
        small = self.act(self.mid(small))
        if self.extra is not None:
            small = self.extra[1](self.act(self.extra[0](small)))
        small = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.expand(small + self.skip(reduced)))


class RLFB(nn.Module):
    def __init__(self, channels: int, inner: int, esa: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, inner, 3, padding=1),
            nn.LeakyReLU(0.05),
            nn.Conv2d(inner, inner, 3, padding=1),
            nn.LeakyReLU(0.05),
            nn.Conv2d(inner, channels, 3, padding=1),
            nn.LeakyReLU(0.05),
        )
        self.fuse, self.esa = nn.Conv2d(channels, channels, 1), ESA(channels, esa)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.esa(self.fuse(self.body(x) + x))


class RLFN(nn.Module):
    def __init__(self, scale: int = 4, channels: int = 46, inner: int = 48, blocks: int = 4, esa: int = 16):
        super().__init__()
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.body = nn.Sequential(*[RLFB(channels, inner, esa) for _ in range(blocks)])
        self.tail = nn.Conv2d(channels, channels, 3, padding=1)
        self.up = nn.Sequential(nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        return self.up(self.tail(self.body(feat)) + feat)


# ------------------------------------------------------------------------------------------------------ BSRN
class BSConv(nn.Module):
    """Blueprint separable convolution (BSConv-U): a pointwise conv, then a depthwise k x k."""

    def __init__(self, cin: int, cout: int, k: int = 3, padding: int = 1):
        super().__init__()
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.dw = nn.Conv2d(cout, cout, k, padding=padding, groups=cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dw(self.pw(x))


class ContrastAttention(nn.Module):
    """Channel attention from each channel's contrast (std + mean), as IMDN's CCA layer."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.gate = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1),
            nn.ReLU(),
            nn.Conv2d(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        contrast = x.std(dim=(2, 3), keepdim=True, unbiased=False) + x.mean(dim=(2, 3), keepdim=True)
        return x * self.gate(contrast)


class ESDB(nn.Module):
    """Efficient separable distillation block: three distil/refine steps, fusion, ESA and contrast attention."""

    def __init__(self, channels: int):
        super().__init__()
        half = channels // 2
        self.distil = nn.ModuleList([nn.Conv2d(channels, half, 1) for _ in range(3)])
        self.refine = nn.ModuleList([BSConv(channels, channels) for _ in range(3)])
        self.last = BSConv(channels, half)
        self.fuse = nn.Conv2d(half * 4, channels, 1)
        self.esa, self.cca, self.act = (
            ESA(channels, channels // 4, BSConv, extra=True),
            ContrastAttention(channels),
            nn.GELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kept, r = [], x
        for distil, refine in zip(self.distil, self.refine, strict=True):
            kept.append(self.act(distil(r)))
            r = self.act(refine(r) + r)
        kept.append(self.act(self.last(r)))
        return self.cca(self.esa(self.fuse(torch.cat(kept, 1)))) + x


class BSRN(nn.Module):
    def __init__(self, scale: int = 4, channels: int = 48, blocks: int = 5):
        super().__init__()
        self.head = BSConv(3 * 4, channels)  # the input repeated four times, as the paper feeds it
        self.body = nn.ModuleList([ESDB(channels) for _ in range(blocks)])
        self.merge = nn.Sequential(nn.Conv2d(channels * blocks, channels, 1), nn.GELU(), BSConv(channels, channels))
        self.up = nn.Sequential(nn.Conv2d(channels, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(torch.cat([x] * 4, 1))
        outs, h = [], feat
        for block in self.body:
            h = block(h)
            outs.append(h)
        return self.up(self.merge(torch.cat(outs, 1)) + feat)


# ------------------------------------------------------------------------------------------------------ FFDNet
class FFDNet(nn.Module):
    """FFDNet, colour (Zhang et al., 2018): 12 3x3 convolutions of 96 channels at half resolution, on the image
    split into 4 sub-images plus a noise-level map; batch norm folded away, as at inference."""

    def __init__(self, channels: int = 96, layers: int = 12):
        super().__init__()
        convs = [nn.Conv2d(15, channels, 3, padding=1), nn.ReLU()]
        for _ in range(layers - 2):
            convs += [nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()]
        self.body = nn.Sequential(*convs, nn.Conv2d(channels, 12, 3, padding=1))

    def forward(self, x: torch.Tensor, sigma: float = 25 / 255) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
        sub = F.pixel_unshuffle(x, 2)
        noise_map = sub.new_full((sub.shape[0], 3, *sub.shape[-2:]), sigma)
        return F.pixel_shuffle(self.body(torch.cat([sub, noise_map], 1)), 2)[..., :h, :w]


# ------------------------------------------------------------------------------------------------------ timing
# Quality (PSNR): BSD100 Y at the model's scale for SR, CBSD68 RGB at sigma 25 for the denoisers. Ours measured with
# `irtool eval` (the cards), the peers' as published (RLFN and BSRN: their challenge cuts, x4 only).
MEASURED = {"sr-x4": "27.35", "sr-x3": "28.85", "sr-x2": "31.92", "denoise": "31.15"}
PUBLISHED = {("RLFN", 4): "27.58", ("BSRN", 4): "27.55", ("FFDNet", 1): "31.22"}


def peers(name: str, scale: int) -> dict[str, nn.Module]:
    if name == "denoise":
        return {"FFDNet": FFDNet().eval()}
    return {"RLFN": RLFN(scale).eval(), "BSRN": BSRN(scale).eval()}


def inputs(name: str, scale: int, root: Path) -> list[torch.Tensor]:
    """Set14's LR images for SR (whole), the first 8 CBSD68 images for the denoiser."""
    folder = root / "CBSD68" if name == "denoise" else root / "Set14" / "LR_bicubic" / f"X{scale}"
    paths = sorted(folder.glob("*.png"))[: 8 if name == "denoise" else None]
    if not paths:
        raise SystemExit(f"no images under {folder}: set IRTOOL_TEST_DATA")
    images = [torch.from_numpy(to_float32(read_image(p).pixels).transpose(2, 0, 1).copy())[None] for p in paths]
    return [x if x.shape[1] == 3 else x.repeat(1, 3, 1, 1) for x in images]


def cpu_seconds(fn) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def compare(name: str, threads: int, repeats: int, root: Path) -> list[tuple]:
    """Rows (model, precision, params, s/MP, our default s/MP over this row's) for one shipped model and its peers."""
    shipped = models.load(name).eval()
    scale = shipped.descriptor.scale
    images = inputs(name, scale, root)
    out_mp = sum(x.shape[-2] * x.shape[-1] for x in images) * scale**2 / 1e6
    torch.manual_seed(0)
    nets = {name: shipped, **peers(name, scale)}
    torch.set_num_threads(threads)
    default = precision_name(choose_precision("auto", torch.device("cpu"), shipped.descriptor))
    runs = [(n, p) for n in nets for p in dict.fromkeys(["fp32", default])]

    def run(net: nn.Module, precision: str) -> None:
        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=precision == "bf16"):
            for x in images:
                net(x)

    for n, p in runs:
        run(nets[n], p)  # warm-up: kernels and allocator
    times: dict[tuple, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):  # interleaved, so a busy moment hits every model alike
        for n, p in runs:
            times[(n, p)].append(cpu_seconds(lambda n=n, p=p: run(nets[n], p)))
    ours = statistics.median(times[(name, default)]) / out_mp
    rows = []
    for n, p in runs:
        per_mp = statistics.median(times[(n, p)]) / out_mp
        label = f"{p} (default)" if n == name and p == default else p
        params = sum(t.numel() for t in nets[n].parameters())
        rows.append((n, threads, label, params, per_mp, ours / per_mp, scale))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["sr-x4", "sr-x3", "sr-x2", "denoise"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = Path(os.environ.get("IRTOOL_TEST_DATA") or REPO.parent / "shared" / "datasets")
    bf16 = "bf16 native" if "bf16" in cpu_native_precisions() else "no native bf16"
    print(f"\n### Whole images, CPU s per output MP ({bf16} on this CPU; `restore` runs the '(default)' rows)\n")
    print("| model | threads | precision | params | CPU s / output MP | shipped default's time / this | PSNR (dB) |")
    print("|---|---|---|---:|---:|---:|---|")
    for name in args.models:
        for threads in args.threads:
            for n, t, label, params, per_mp, ratio, scale in compare(name, threads, args.repeats, root):
                if n in MEASURED:
                    quality = f"{MEASURED[n]} (measured)"
                else:
                    quality = f"{PUBLISHED[n, scale]} (published)" if (n, scale) in PUBLISHED else "-"
                print(f"| {n} | {t} | {label} | {params / 1e3:.0f}K | {per_mp:.3f} | {ratio:.2f}x | {quality} |")


if __name__ == "__main__":
    main()
