"""The photo models against their baselines on realistic inputs: the README's and the cards' photo table.

    IRTOOL_DATA_DIR=../shared/datasets python benchmarks/photo_scores.py [--scales 4 2 1] [--sets BSD100 Set14]
        [--weights photo-x4=runs/photo-x4/last.safetensors] [--json-dir scores/] [--clean]
        [--jpeg 60] [--only bicubic sr-x4]

For each scale, every row is scored with `irtool eval --degradation real --seed 0` (the realistic chain with its
default ranges, drawn per image from [seed, index]; protocol `sr`: Y channel, border = scale):
- x4 and x2: `bicubic` at that scale, the benchmark model `sr-xN`, and `photo-xN`;
- x1: `identity` (the degraded input itself), the Gaussian denoiser `denoise`, and `photo`.
`--clean` adds each SR row on the clean bicubic LR (the published protocol), where the photo models pay for their
robustness. `--jpeg Q` adds the case the desktop default is chosen for: each Kodak24 image made 1/scale smaller
(MATLAB bicubic) and saved as a JPEG of quality Q, as a phone or a website would, then restored and scored against
the original (same `sr` scoring). Same code as `irtool eval`. Prints markdown; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from irtool import models
from irtool.evaluate import evaluate

ROWS = {4: ["bicubic", "sr-x4", "photo-x4"], 2: ["bicubic", "sr-x2", "photo-x2"], 1: ["identity", "denoise", "photo"]}


def _model(name: str, scale: int, files: dict[str, str]):
    if name == "bicubic":
        return models.create("bicubic", scale=scale)
    return models.load(files.get(name, name))


def kodak_jpeg(model, scale: int, quality: int) -> float:
    """Mean PSNR-Y over Kodak24 of `model` on 1/scale-size JPEGs of quality `quality` (identity at scale 1)."""
    import cv2
    import numpy as np

    from irtool.data import benchmarks
    from irtool.engine.base import make_runner
    from irtool.evaluate import PROTOCOLS, score
    from irtool.evaluate.protocols import to_uint8
    from irtool.evaluate.samples import dataset_samples
    from irtool.ops.degrade import bicubic_lr
    from irtool.ops.resize import modcrop

    runner = make_runner(model, device="cpu", precision="fp32", tile=0)
    values = []
    for sample in dataset_samples(benchmarks.load("Kodak24")):
        target = modcrop(sample.target, scale)
        small = bicubic_lr(target, scale) if scale > 1 else target
        ok, buf = cv2.imencode(".jpg", small[:, :, ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, quality])
        lr = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
        out = runner.restore(np.ascontiguousarray(lr.transpose(2, 0, 1), dtype=np.float32) / 255)
        values.append(score(to_uint8(out, PROTOCOLS["sr"]), target, PROTOCOLS["sr"], scale=scale)[0])
    return float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[4, 2, 1])
    parser.add_argument("--sets", nargs="+", default=["BSD100", "Set14"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", nargs="+", default=[], metavar="NAME=FILE", help="score FILE under NAME's row")
    parser.add_argument("--clean", action="store_true", help="also score SR rows on the clean bicubic LR")
    parser.add_argument("--jpeg", type=int, metavar="Q", help="also Kodak24 at 1/scale size saved as JPEG quality Q")
    parser.add_argument("--json-dir", type=Path, help="write each row's reports to NAME.json here")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="score only these rows (e.g. --only bicubic sr-x4)")
    args = parser.parse_args()
    files = dict(w.split("=", 1) for w in args.weights)
    reports: dict[str, list[dict]] = {}
    start = time.perf_counter()
    columns = [f"{s} real" for s in args.sets] + ([f"{s} clean" for s in args.sets] if args.clean else [])
    columns += [f"Kodak24 JPEG q{args.jpeg}"] if args.jpeg else []
    print("| scale | model | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 2) + "|")
    for scale in args.scales:
        for name in [n for n in ROWS[scale] if not args.only or n in args.only]:
            model = _model(name, scale, files)
            cells = []
            for set_name in args.sets:
                r = evaluate(model, set_name, "sr", scale=scale, degradation="real", seed=args.seed)
                reports.setdefault(name, []).append(r.to_dict())
                cells.append(f"{r.psnr:.2f} / {r.ssim:.4f}")
            if args.clean:
                for set_name in args.sets:
                    if scale == 1:
                        cells.append("-")
                        continue
                    r = evaluate(model, set_name, "sr", scale=scale)
                    reports[name].append(r.to_dict())
                    cells.append(f"{r.psnr:.2f} / {r.ssim:.4f}")
            if args.jpeg:
                cells.append(f"{kodak_jpeg(model, scale, args.jpeg):.2f}")
            print(f"| x{scale} | `{name}` | " + " | ".join(cells) + " |", flush=True)
    print(f"\n(PSNR-Y dB / SSIM, real degradation seed {args.seed}; {time.perf_counter() - start:.0f} s)")
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)
        for name, rows in reports.items():
            (args.json_dir / f"{name}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
