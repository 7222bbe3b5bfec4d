"""CPU seconds per megapixel: onnxruntime on the exported graph vs PyTorch eager, for each shipped model.

    python benchmarks/onnx_vs_torch.py                       # shipped models (compact-* untrained if none shipped)
    python benchmarks/onnx_vs_torch.py --models restormer hiir-sr-x4 --size 128 --threads 1 2 4

Each model is exported with `irtool.export.export_onnx` (fp32, opset 17, verified), then both runtimes restore the
same random (1, C, size, size) input, whole image, `--repeats` times after one warm-up; the best time counts.
Seconds per megapixel are per megapixel of *input* (for SR the output is scale^2 times larger). The last column is
the max abs difference between the two outputs on that input. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from irtool import models
from irtool.export import export_onnx
from irtool.models.onnx import OnnxModel

SHIPPED = ("sr-x2", "sr-x3", "sr-x4", "denoise")
STAND_INS = ("compact-sr-x2", "compact-sr-x3", "compact-sr-x4", "compact-denoise")


def default_models() -> list[tuple[str, bool]]:
    """(name, trained) for each shipped model; its compact-* configuration, untrained, where none is shipped yet."""
    names = {e.name: e for e in models.list_models()}
    chosen = []
    for shipped, stand_in in zip(SHIPPED, STAND_INS, strict=True):
        entry = names.get(shipped)
        if entry is not None and entry.weights_ref() is not None:
            chosen.append((shipped, True))
        else:
            chosen.append((stand_in, False))
    return chosen


def best_seconds(fn, x, repeats: int) -> tuple[float, np.ndarray]:
    out = fn(x)  # warm-up: first-call allocations and onnxruntime's graph preparation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(x)
        times.append(time.perf_counter() - start)
    return min(times), out


def bench(name: str, trained: bool, size: int, threads: list[int], repeats: int, workdir: Path) -> dict:
    model = models.load(name) if trained else models.create(name).eval()
    path = workdir / f"{name}.onnx"
    export = export_onnx(model, path)
    c = model.descriptor.in_channels
    x = np.random.default_rng(0).random((1, c, size, size), dtype=np.float32)
    megapixels = size * size / 1e6
    row = {
        "model": name,
        "trained": trained,
        "input": f"{size}x{size}",
        "export_check_max_abs_diff": export.verification.max_abs_diff,
    }
    for n in threads:
        torch.set_num_threads(n)

        def run_torch(a: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model(torch.from_numpy(a)).numpy()

        t_torch, ref = best_seconds(run_torch, x, repeats)
        session = OnnxModel(path, threads=n)
        t_ort, got = best_seconds(session.run, x, repeats)
        row[f"torch_s_per_mp_{n}t"] = t_torch / megapixels
        row[f"onnx_s_per_mp_{n}t"] = t_ort / megapixels
        row["max_abs_diff"] = float(np.abs(got - ref).max())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", help="registry names (random weights where none exist)")
    parser.add_argument("--size", type=int, default=256, help="input side in pixels (default 256)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print rows as JSON instead of a table")
    args = parser.parse_args()

    if args.models:
        chosen = []
        for name in args.models:
            entry = next((e for e in models.list_models() if e.name == name), None)
            chosen.append((name, entry is not None and entry.weights_ref() is not None))
    else:
        chosen = default_models()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, trained in chosen:
            print(f"{name}: exporting and timing...", file=sys.stderr, flush=True)
            rows.append(bench(name, trained, args.size, args.threads, args.repeats, Path(tmp)))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    header = ["model", "input"]
    for n in args.threads:
        header += [f"torch {n}t s/MP", f"onnx {n}t s/MP", "speed-up"]
    header += ["max |diff|"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        cells = [r["model"] + ("" if r["trained"] else " (untrained)"), r["input"]]
        for n in args.threads:
            t, o = r[f"torch_s_per_mp_{n}t"], r[f"onnx_s_per_mp_{n}t"]
            cells += [f"{t:.2f}", f"{o:.2f}", f"{t / o:.2f}x"]
        cells.append(f"{r['max_abs_diff']:.1e}")
        print("| " + " | ".join(cells) + " |")
    print(f"\ntorch {torch.__version__}; CPU threads as given; best of {args.repeats} after a warm-up.")


if __name__ == "__main__":
    main()
