"""Check our Restormer against the official implementation: same state_dict in, same output out.

The official `restormer_arch.py` (swz30/Restormer, non-commercial licence) is not part of this repository; pass a
local copy of it:

    python benchmarks/check_restormer_parity.py --reference /tmp/restormer_arch.py [--size 64] [--odd 37x53]

A copy also ships in the `spandrel-extra-arches` wheel (`architectures/Restormer/__arch/restormer_arch.py`); delete
its `store_hyperparameters` import and decorator and it runs stand-alone. (The test suite checks against an
independent functional reference instead: tests/models/test_restormer_reference.py.)

For every released configuration it builds the official network with random weights (every parameter perturbed,
so LayerNorm scales and attention temperatures are not left at 1), saves them the way the official training code
does (`{'params': state_dict}` .pth), loads that file through `irtool.models.load` (architecture detected from the
keys), and reports the max abs difference of the outputs on a random input:
  - at a multiple-of-8 size (the official model's requirement), and
  - at an odd size, where the official side is wrapped in its test scripts' reflect-pad-then-crop.
Exits 1 if any difference exceeds --tol.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

import irtool.models

# name -> official constructor arguments (models.md section 1.4: all share dim 48, blocks [4,6,6,8], heads [1,2,4,8])
CONFIGS = {
    "restormer-derain": {},
    "restormer-deblur-motion": {},
    "restormer-defocus": {},
    "restormer-defocus-dp": {"inp_channels": 6, "dual_pixel_task": True},
    "restormer-denoise-color": {"LayerNorm_type": "BiasFree"},
    "restormer-denoise-gray": {"LayerNorm_type": "BiasFree", "inp_channels": 1, "out_channels": 1},
    "restormer-denoise-real": {"LayerNorm_type": "BiasFree"},
    # not released, but a constructor option: checks the bias=True key layout too
    "(bias=True)": {"bias": True},
}


def load_reference(path: Path):
    spec = importlib.util.spec_from_file_location("official_restormer_arch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Restormer


def official_test_forward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The official test scripts: reflect-pad bottom/right to a multiple of 8, run, crop back."""
    h, w = x.shape[-2:]
    ph, pw = (h + 8) // 8 * 8 - h if h % 8 else 0, (w + 8) // 8 * 8 - w if w % 8 else 0
    return model(F.pad(x, (0, pw, 0, ph), "reflect"))[..., :h, :w]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", type=Path, required=True, help="path to the official restormer_arch.py")
    ap.add_argument("--size", type=int, default=64, help="square test size, a multiple of 8 (default 64)")
    ap.add_argument("--odd", default="37x53", help="HxW of the non-multiple-of-8 test (default 37x53)")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    official_cls = load_reference(args.reference)
    odd = tuple(int(v) for v in args.odd.split("x"))
    torch.manual_seed(0)
    worst = 0.0
    print(f"| config | detected as | params | max abs diff {args.size}x{args.size} | max abs diff {args.odd} |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        for name, kwargs in CONFIGS.items():
            official = official_cls(**kwargs).eval()
            for p in official.parameters():
                p.add_(torch.randn_like(p) * 0.05)
            path = Path(tmp) / f"{name}.pth"
            torch.save({"params": official.state_dict()}, path)
            ours = irtool.models.load(path)
            n_in = kwargs.get("inp_channels", 3)
            diffs = []
            for hw in ((args.size, args.size), odd):
                x = torch.rand(1, n_in, *hw)
                ref = official_test_forward(official, x)
                diffs.append((ours(x) - ref).abs().max().item())
            worst = max(worst, *diffs)
            params = sum(p.numel() for p in ours.parameters())
            detected = ours.descriptor.hparams
            summary = f"{detected['norm']}, in {detected['in_channels']}, dp {detected['dual_pixel']}"
            print(f"| {name} | {summary} | {params:,} | {diffs[0]:.2e} | {diffs[1]:.2e} |")
    print(f"\nworst max abs diff: {worst:.2e} (tolerance {args.tol:g})")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
