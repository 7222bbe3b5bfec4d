"""The GPU table of issue 12 in one command: bare model vs the engine, video end to end, the trainer, peak memory.

    python benchmarks/gpu.py                      # on a CUDA machine: the full table, about 5 minutes on an H200
    python benchmarks/gpu.py --device cpu --quick # the same code on tiny sizes (a smoke test, minutes on a laptop)

Rows (frames per second; each number is the median of timed repetitions after warm-up, with the device
synchronised before the clock is read):
- bare model: `model(x)` on a device-resident tensor at each precision (fp32, fp16/bf16 autocast), and for the
  first model fp16 with torch.compile, bare and through the engine (its one-off compile time printed beside it);
- engine float: `Runner.restore` on a host float image (the tiled path), whole frame (tile 0) and the automatic tile;
- engine uint8: `Runner.restore_uint8`, whole frames up and down in 8 bits, one and four frames a pass;
- video: `irtool restore clip.mp4 -o out.mp4` end to end (decode + restore + encode), libx264 at `--preset` medium
  (x264's own default), veryfast (irtool's default) and superfast;
- trainer: images/s and it/s of `irtool.train` at the `sr-x4` preset's patch at batch 64 and 256, and the data
  path alone (patches cut and degraded on the device);
- peak memory of each row (torch.cuda.max_memory_allocated; host runs print "-").
Prints a Markdown table and, with --json, writes the rows. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # benchmarks.train_speed and the tests' clip maker
FULL = {"sr-x4": (544, 960), "sr-x2": (1088, 1920), "denoise": (1088, 1920)}  # input H, W: 540p -> 4K, 1080p
QUICK = {"sr-x4": (32, 48), "sr-x2": (48, 64), "denoise": (48, 64)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_mb(device: torch.device) -> str:
    return f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f}" if device.type == "cuda" else "-"


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _fps(fn, device: torch.device, reps: int) -> float:
    fn()  # warm-up: kernels, allocator, lazy initialisation
    _sync(device)
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - started)
    return 1.0 / statistics.median(times)


def bare_and_engine(
    name: str, size: tuple[int, int], device: torch.device, reps: int, precisions: list[str], compile_it: bool
) -> list:
    from irtool import models
    from irtool.engine import make_runner

    rows = []
    model = models.load(name)
    h, w = size
    x = torch.rand(1, model.descriptor.in_channels, h, w, device=device)
    for precision in precisions:
        dtype = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        net = model.to(device).eval()

        def bare(net=net, dtype=dtype) -> None:
            with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=bool(dtype)):
                net(x)

        _reset_peak(device)
        rows.append((f"{name} bare", precision, f"{h}x{w}", _fps(bare, device, reps), _peak_mb(device)))
    if device.type == "cuda" and compile_it:  # pays off on a GPU only; its cost is stated, not hidden in the fps
        compiled = torch.compile(model.to(device).eval())
        started = time.perf_counter()
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
            compiled(x)
        _sync(device)
        compile_s = time.perf_counter() - started

        def bare_compiled() -> None:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
                compiled(x)

        label = f"{name} bare, compiled ({compile_s:.0f} s to compile)"
        rows.append((label, "fp16", f"{h}x{w}", _fps(bare_compiled, device, reps), _peak_mb(device)))
    host = np.random.default_rng(0).random((model.descriptor.in_channels, h, w), dtype=np.float32)
    frames = (host.transpose(1, 2, 0)[None] * 255).astype(np.uint8)
    engine_reps = max(2, reps // 4)
    for precision in precisions:
        for tile in (0, None):
            runner = make_runner(model, device=str(device), precision=precision, tile=tile)
            _reset_peak(device)
            fps = _fps(lambda runner=runner: runner.restore(host), device, engine_reps)
            rows.append(
                (f"{name} engine float, tile {runner.tile_label}", precision, f"{h}x{w}", fps, _peak_mb(device))
            )
        runner = make_runner(model, device=str(device), precision=precision, tile=0)
        for batch in (1, 4):  # whole frames in 8 bits through the device (Runner.restore_uint8), as video would
            many = np.repeat(frames, batch, axis=0)
            _reset_peak(device)
            fps = batch * _fps(lambda runner=runner, many=many: runner.restore_uint8(many), device, engine_reps)
            rows.append((f"{name} engine uint8, {batch} frame(s) a pass", precision, f"{h}x{w}", fps, _peak_mb(device)))
    if device.type == "cuda" and compile_it:  # what `irtool restore --compile` runs, its compile time stated
        runner = make_runner(model, device=str(device), precision="fp16", tile=0, compile=True)
        started = time.perf_counter()
        runner.restore_uint8(frames)
        compile_s = time.perf_counter() - started
        _reset_peak(device)
        fps = _fps(lambda: runner.restore_uint8(frames), device, engine_reps)
        label = f"{name} engine uint8, compiled ({compile_s:.0f} s to compile)"
        rows.append((label, "fp16", f"{h}x{w}", fps, _peak_mb(device)))
    return rows


def video(device: torch.device, size: tuple[int, int], frames: int, presets: list[str]) -> list[tuple]:
    """`irtool restore clip.mp4` end to end, once per libx264 preset."""
    import importlib.util

    if importlib.util.find_spec("av") is None:  # PyAV is an extra
        return [("video sr-x4 end to end", "-", f"{size[0]}x{size[1]}", float("nan"), "skipped: PyAV not installed")]
    from tests.test_video import make_video

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip, out = Path(tmp) / "clip.mp4", Path(tmp) / "out.mp4"
        make_video(clip, frames=frames, size=(size[1], size[0]))
        for preset in presets:
            cmd = [sys.executable, "-m", "irtool", "restore", str(clip), "-o", str(out), "-d", str(device)]
            cmd += ["--json", "-q", "--overwrite", "--preset", preset]
            started = time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            seconds = time.perf_counter() - started
            label = f"video sr-x4 end to end, libx264 {preset} ({frames} frames, start-up included)"
            if run.returncode != 0:
                rows.append((label, "auto", f"{size[0]}x{size[1]}", float("nan"), run.stderr.strip()[:60]))
                continue
            precision = json.loads(run.stdout)["precision"]
            rows.append((label, precision, f"{size[0]}x{size[1]}", frames / seconds, "-"))
    return rows


def trainer(device: torch.device, batches: list[int], steps: int) -> list:
    from benchmarks.train_speed import data_rate, timing_overrides
    from irtool.train import config
    from irtool.train.loop import train

    rows = []
    for batch in batches:
        with tempfile.TemporaryDirectory() as tmp:
            overrides = [*timing_overrides(tmp, str(device), steps), f"data.batch_size={batch}"]
            cfg = config.load(config.preset_path("sr-x4"), overrides)
            _reset_peak(device)
            train(cfg)
            steady = json.loads((Path(tmp) / "metrics.jsonl").read_text().splitlines()[-1])
        patch = steady["patch"]
        label = f"trainer sr-x4, patch {patch}, batch {batch} ({steady['it_per_s']:.1f} it/s)"
        rows.append((label, cfg.run.amp, f"{patch}x{patch}", steady["images_per_s"], _peak_mb(device)))
        data = data_rate(cfg, str(device), patch, batch, steps)
        rows.append((f"data path alone, batch {batch}", "-", f"{patch}x{patch}", data, "-"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (a smoke test)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    device = torch.device(args.device)
    sizes = QUICK if args.quick else FULL
    reps = 3 if args.quick else 12
    precisions = ["fp32", "bf16"] + (["fp16"] if device.type == "cuda" else [])
    started = time.perf_counter()
    rows = []
    for i, (name, size) in enumerate(sizes.items()):
        rows += bare_and_engine(name, size, device, reps, precisions, compile_it=i == 0)
        print(f"  {name} done at {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    rows += video(device, sizes["sr-x4"], 8 if args.quick else 120, ["medium", "veryfast", "superfast"])
    rows += trainer(device, [4] if args.quick else [64, 256], 6 if args.quick else 40)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"\n### irtool on {where} (torch {torch.__version__}), {time.perf_counter() - started:.0f} s\n")
    print("| what | precision | size | fps or images/s | peak MB |\n|---|---|---|---|---|")
    for label, precision, size, rate, peak in rows:
        print(f"| {label} | {precision} | {size} | {rate:.1f} | {peak} |")
    if args.json:
        keys = ("what", "precision", "size", "rate", "peak_mb")
        args.json.write_text(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=1))


if __name__ == "__main__":
    main()
