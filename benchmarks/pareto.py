"""The shipped SR models beside their compact peers: CPU time per output megapixel and published quality.

    IRTOOL_TEST_DATA=../shared/datasets python benchmarks/pareto.py [--threads 1 2] [--repeats 3] [--scale 4]

RLFN (Kong et al., NTIRE 2022 efficient SR winner, the challenge cut: 4 residual local feature blocks, 46 channels,
48 inside the blocks, ESA with 16) and BSRN (Li et al., 2022, the challenge cut: 5 blocks of blueprint separable
convolutions, 48 channels, ESA + contrast-aware channel attention) are rebuilt here from their papers with random
weights: timing needs the shapes, not the weights, and their quality comes from the papers (BSD100 x4 PSNR-Y).
Parameters by our count: RLFN 317,218 (the paper's 317K); BSRN 144,867 (the challenge report gives 156K: our
reading of the block is a little lighter, so its time here is a slight underestimate).
Every model restores the Set14 x4 LR images whole, fp32, in interleaved repetitions; the time is the process CPU
time (the machine is shared: wall time would count other jobs). Prints a Markdown table; asserts nothing.
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
from irtool.io.images import read_image, to_float32

REPO = Path(__file__).resolve().parents[1]
# BSD100 x4 PSNR-Y as published (RLFN: challenge cut; BSRN: BSRN-S, the challenge cut; IMDN for reference).
PUBLISHED = {"RLFN": 27.58, "BSRN": 27.55, "IMDN": 27.56}


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


# ------------------------------------------------------------------------------------------------------ timing
def cpu_seconds(fn) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=int, default=4)
    args = parser.parse_args()
    root = Path(os.environ.get("IRTOOL_TEST_DATA") or REPO.parent / "shared" / "datasets")
    paths = sorted((root / "Set14" / "LR_bicubic" / f"X{args.scale}").glob("*.png"))
    if not paths:
        raise SystemExit(f"no Set14 x{args.scale} LR images under {root}: set IRTOOL_TEST_DATA")
    images = [torch.from_numpy(to_float32(read_image(p).pixels).transpose(2, 0, 1).copy())[None] for p in paths]
    images = [x if x.shape[1] == 3 else x.repeat(1, 3, 1, 1) for x in images]
    out_mp = sum(x.shape[-2] * x.shape[-1] for x in images) * args.scale**2 / 1e6
    torch.manual_seed(0)
    shipped = f"sr-x{args.scale}"
    nets = {shipped: models.load(shipped), "RLFN": RLFN(args.scale).eval(), "BSRN": BSRN(args.scale).eval()}

    def run(net: nn.Module) -> None:
        with torch.inference_mode():
            for x in images:
                net(x)

    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for net in nets.values():
            run(net)  # warm-up: kernels and allocator
        times: dict[str, list[float]] = {name: [] for name in nets}
        for _ in range(args.repeats):  # interleaved, so a busy moment hits every model alike
            for name, net in nets.items():
                times[name].append(cpu_seconds(lambda net=net: run(net)))
        ours = statistics.median(times[shipped]) / out_mp
        for name, net in nets.items():
            per_mp = statistics.median(times[name]) / out_mp
            params = sum(p.numel() for p in net.parameters())
            rows.append((name, threads, params, per_mp, ours / per_mp))
    scores = {shipped: "27.35 (measured, `irtool eval`)" if args.scale == 4 else "see README"}
    print(f"\n### Set14 x{args.scale} LR, whole images, fp32 (the default precision on a CPU), CPU s per output MP\n")
    print(f"| model | threads | params | CPU s / output MP | speed vs {shipped} | BSD100 x4 PSNR-Y |")
    print("|---|---|---:|---:|---:|---|")
    for name, threads, params, per_mp, ratio in rows:
        quality = scores.get(name) or f"{PUBLISHED[name]} (published)"
        print(f"| {name} | {threads} | {params / 1e3:.0f}K | {per_mp:.3f} | {ratio:.2f}x | {quality} |")


if __name__ == "__main__":
    main()
