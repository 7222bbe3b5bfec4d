"""`irtool restore FOLDER` with images one at a time vs side by side (`--workers`): wall time per batch on the CPU.

    IRTOOL_TEST_DATA=../shared/datasets python benchmarks/workers.py [--models sr-x4 denoise] [--workers 1 2]
        [--repeats 3] [--threads N] [--images 8] [--format jpg]

SR models restore the first `--images` BSD100 images (481x321, as photos to enlarge), the denoisers and `photo` the
first Kodak24 images (768x512).
Each run is the real command in a subprocess (`--device cpu`, output PNGs in a temporary folder), in interleaved
repetitions; the table gives the median wall time and the speed-up over one image at a time. Start-up (importing
torch, loading the model) is in every run alike. Prints a Markdown table; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.restore import data_root  # noqa: E402


def inputs(model: str, root: Path, count: int) -> list[Path]:
    folder = root / "BSD100" / "HR" if model.startswith(("sr-x", "photo-x")) else root / "Kodak24"
    return sorted(folder.glob("*.png"))[:count]


def run(model: str, files: list[Path], workers: int, threads: int | None, out: Path, fmt: str) -> float:
    cmd = [sys.executable, "-m", "irtool", "restore", *map(str, files), "-m", model, "-o", str(out)]
    cmd += ["--device", "cpu", "--overwrite", "-q", "--workers", str(workers), "-f", fmt]
    cmd += ["--threads", str(threads)] if threads else []
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["sr-x4", "photo-x4", "denoise"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads in all (default: torch's)")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--format", default="jpg", help="output format (-f): jpg, as photos are, or png")
    args = parser.parse_args()
    root = data_root()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            files = inputs(model, root, args.images)
            times: dict[int, list[float]] = {w: [] for w in args.workers}
            for _ in range(args.repeats):  # interleaved, so a busy moment hits every setting alike
                for w in args.workers:
                    times[w].append(run(model, files, w, args.threads, Path(tmp) / model, args.format))
            base = statistics.median(times[args.workers[0]])
            source = "BSD100" if "BSD100" in files[0].parts else files[0].parent.name
            for w in args.workers:
                median = statistics.median(times[w])
                rows.append((model, f"{len(files)} from {source}", w, median, base / median))
    cpus = os.cpu_count()
    title = f"`irtool restore` of a folder to {args.format} on the CPU ({cpus} CPUs)"
    print(f"\n### {title}, wall seconds, median of {args.repeats}\n")
    print(f"| model | images | workers | seconds | speed vs {args.workers[0]} worker(s) |\n|---|---|---:|---:|---:|")
    for model, name, w, seconds, ratio in rows:
        print(f"| {model} | {name} | {w} | {seconds:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
