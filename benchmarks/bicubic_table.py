"""Print the bicubic baseline on Set5 / Set14 / BSD100 x2/x3/x4 next to the published numbers (markdown).

    IRTOOL_DATA_DIR=../shared/datasets python benchmarks/bicubic_table.py [--protocols sr,sr-luma] [--sets Set5]

Published rows: the VDSR table (Kim et al., CVPR 2016), which later papers copy; its Set14 uses the classic
MATLAB grey convention. The "modern" Set14 row treats the grey image as RGB (BasicSR). Those rows come from the
MATLAB luma pipeline, `--protocol sr-luma`; the default `sr` protocol (RGB uint8 LR, float Y) is printed beside.
"""

from __future__ import annotations

import argparse
import time

from irtool import models
from irtool.evaluate import evaluate

# (set, grey convention) -> {scale: (PSNR, SSIM or None)}
PUBLISHED = {
    ("Set5", "rgb"): {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)},
    ("Set14", "rgb"): {2: (30.32, None), 3: (27.63, None), 4: (26.09, None)},
    ("Set14", "matlab"): {2: (30.24, 0.8688), 3: (27.55, 0.7742), 4: (26.00, 0.7027)},
    ("BSD100", "rgb"): {2: (29.56, 0.8431), 3: (27.21, 0.7385), 4: (25.96, 0.6675)},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocols", default="sr,sr-luma", help="comma-separated protocol presets")
    parser.add_argument("--sets", default="Set5,Set14,BSD100", help="comma-separated sets")
    args = parser.parse_args()
    protocols = args.protocols.split(",")
    sets = args.sets.split(",")

    header = ["set", "grey", "scale", "published PSNR / SSIM"]
    for p in protocols:
        header += [f"{p} PSNR / SSIM", f"{p} diff (dB / SSIM)"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    start = time.perf_counter()
    for (name, gray), rows in PUBLISHED.items():
        if name not in sets:
            continue
        for scale, (pub_psnr, pub_ssim) in rows.items():
            pub = f"{pub_psnr:.2f} / {pub_ssim:.4f}" if pub_ssim is not None else f"{pub_psnr:.2f} / -"
            cells = [name, gray, f"x{scale}", pub]
            for p in protocols:
                r = evaluate(models.create("bicubic", scale=scale), name, p, gray=gray, device="cpu")
                d_ssim = f"{r.ssim - pub_ssim:+.4f}" if pub_ssim is not None else "-"
                cells += [f"{r.psnr:.4f} / {r.ssim:.4f}", f"{r.psnr - pub_psnr:+.4f} / {d_ssim}"]
            print("| " + " | ".join(cells) + " |", flush=True)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
