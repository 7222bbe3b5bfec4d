"""Score the shipped models (or any weight files) on the standard sets: the tables of the README and model cards.

    IRTOOL_DATA_DIR=../shared/datasets python benchmarks/shipped_scores.py [--models sr-x4 denoise]
        [--weights sr-x4=runs/a/best.safetensors] [--json-dir scores/] [--tta] [--sigmas 25]

SR models: Set5, Set14, BSD100 under the `sr` protocol (Y channel, border = scale); Urban100 too when
`--urban100` is given and the set is under $IRTOOL_DATA_DIR. Denoisers: CBSD68, Kodak24, McMaster at sigma 15, 25
and 50 under the `denoise` protocol (RGB, legacy-NumPy noise seeded 0 per image). Same code as `irtool eval`.
Reference rows (published, same protocols): bicubic as measured by `benchmarks/bicubic_table.py`, IMDN (715K
params) for SR, FFDNet for colour denoising. `--json-dir` writes each model's `irtool eval` reports to
NAME.json, which `irtool export --eval-json` puts into a model card. `--tta` scores the x8 self-ensemble (rows named
NAME+, as papers do). Prints markdown; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from irtool import models
from irtool.evaluate import evaluate

SR_SETS = ["Set5", "Set14", "BSD100"]
DENOISE_SETS = ["CBSD68", "Kodak24", "McMaster"]
SIGMAS = [15, 25, 50]
# Published PSNR (dB) on the same protocols, for the comparison columns.
IMDN = {2: [38.00, 33.63, 32.19], 3: [34.36, 30.32, 29.09], 4: [32.21, 28.58, 27.56]}
BICUBIC = {2: [33.66, 30.32, 29.56], 3: [30.39, 27.63, 27.21], 4: [28.42, 26.09, 25.96]}
FFDNET = {"CBSD68": [33.88, 31.22, 27.97], "Kodak24": [34.63, 32.13, 28.98], "McMaster": [34.66, 32.35, 29.18]}


def score_sr(name: str, model, sets: list[str], reports: list[dict], tta: bool) -> None:
    scale = model.descriptor.scale
    cells = []
    for s in sets:
        r = evaluate(model, s, "sr", self_ensemble=tta)
        reports.append(r.to_dict())
        cells.append(f"{r.psnr:.2f} / {r.ssim:.4f}")
    bic = " / ".join(f"{v:.2f}" for v in BICUBIC[scale])
    imdn = " / ".join(f"{v:.2f}" for v in IMDN[scale])
    print(f"| `{name}{'+' if tta else ''}` | " + " | ".join(cells) + f" | {bic} | {imdn} |", flush=True)


def score_denoise(name: str, model, sets: list[str], reports: list[dict], tta: bool, sigmas: list[float]) -> None:
    for s in sets:
        cells = []
        for sigma in sigmas:
            r = evaluate(model, s, "denoise", sigma=sigma, self_ensemble=tta)
            reports.append(r.to_dict())
            cells.append(f"{r.psnr:.2f} / {r.ssim:.4f}")
        ref = " / ".join(f"{v:.2f}" for v in FFDNET[s])
        print(f"| `{name}{'+' if tta else ''}` | {s} | " + " | ".join(cells) + f" | {ref} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["sr-x2", "sr-x3", "sr-x4", "denoise"])
    parser.add_argument("--weights", nargs="+", default=[], metavar="NAME=FILE", help="score FILE under NAME's row")
    parser.add_argument("--urban100", action="store_true", help="add Urban100 to the SR sets")
    parser.add_argument("--json-dir", type=Path, help="write each model's reports to NAME.json here")
    parser.add_argument("--tta", action="store_true", help="score the x8 self-ensemble")
    parser.add_argument("--sigmas", type=float, nargs="+", default=SIGMAS, help="denoise noise levels")
    parser.add_argument("--sets", nargs="+", help="only these sets (SR or denoise)")
    args = parser.parse_args()
    files = dict(w.split("=", 1) for w in args.weights)
    sets = SR_SETS + (["Urban100"] if args.urban100 else [])
    denoise_sets = DENOISE_SETS
    if args.sets:
        sets = [x for x in sets if x in args.sets]
        denoise_sets = [x for x in DENOISE_SETS if x in args.sets]
    reports: dict[str, list[dict]] = {name: [] for name in args.models}
    start = time.perf_counter()

    sr = [m for m in args.models if models.load(files.get(m, m)).descriptor.task == "sr"]
    dn = [m for m in args.models if m not in sr]
    if sr:
        print("| model | " + " | ".join(sets) + " | bicubic (Set5 / Set14 / BSD100) | IMDN, 715K params |")
        print("|---" * (len(sets) + 3) + "|")
        for name in sr:
            score_sr(name, models.load(files.get(name, name)), sets, reports[name], args.tta)
    if dn:
        print("\n| model | set | " + " | ".join(f"sigma {s:g}" for s in args.sigmas) + " | FFDNet (15 / 25 / 50) |")
        print("|---" * (len(args.sigmas) + 3) + "|")
        for name in dn:
            score_denoise(name, models.load(files.get(name, name)), denoise_sets, reports[name], args.tta, args.sigmas)
    print(f"\n(PSNR dB / SSIM; {time.perf_counter() - start:.0f} s)")
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)
        for name, rows in reports.items():
            (args.json_dir / f"{name}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
