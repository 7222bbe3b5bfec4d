"""What `irtool restore` costs and keeps: Set5 PSNR, video round trip, peak memory, tiled-vs-whole error, throughput.

    python benchmarks/restore.py psnr                        # `irtool restore` on Set5 x4 LR, no network, vs bicubic
    python benchmarks/restore.py psnr --python /tmp/fresh/bin/python   # the same from a fresh `pip install .` venv
    python benchmarks/restore.py video                       # 24-frame clip with audio through the SR model
    python benchmarks/restore.py rss --sizes 4 12 48 --sr-sizes 2 6 24   # peak RSS, CPU, faults of `irtool restore`
    python benchmarks/restore.py rss --trees /tmp/mem-before .   # the same, two checkouts side by side
    python benchmarks/restore.py tiling                      # max |tiled - whole| per shipped model
    python benchmarks/restore.py speed --threads 1 2 --opencv-python /tmp/cv4/bin/python   # MP/s, beside OpenCV
    python benchmarks/restore.py speed --device cuda         # fp32 and bf16, with and without torch.compile
    python benchmarks/restore.py quality --opencv-python /tmp/cv4/bin/python   # PSNR beside FSRCNN/ESPCN
    python benchmarks/restore.py all

A fresh venv for `psnr`: `python -m venv /tmp/fresh && /tmp/fresh/bin/pip install .` (from the checkout). The
restore runs in a temporary folder (so `-m irtool` cannot pick up the checkout), with HF_HUB_OFFLINE=1, an empty
HF_HOME and proxies pointing at a closed port: any attempt to reach the network fails.

OpenCV's FSRCNN/ESPCN need opencv-contrib (cv2.dnn_superres) 4.x, which must not share an environment with
opencv-python-headless: `python -m venv /tmp/cv4 && /tmp/cv4/bin/pip install "opencv-contrib-python-headless<5"`.

Models: `--weights sr=FILE denoise=FILE`, else the shipped `sr-x4` / `denoise` when their weights exist, otherwise
`compact-sr-x4` / `compact-denoise` with random weights (timings and memory do not depend on the weights; the
tiling error does). Every table says which. Data: Set5 LR and CBSD68 from ../shared/datasets (or
$IRTOOL_TEST_DATA); synthetic images for the memory runs. Prints markdown tables (and JSON with --json); asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.test_video.make_video

PEERS = REPO.parent / "shared" / "peers"
SHIPPED = {"sr": ("sr-x4", "compact-sr-x4"), "denoise": ("denoise", "compact-denoise")}


def data_root() -> Path:
    root = Path(os.environ.get("IRTOOL_TEST_DATA") or REPO.parent / "shared" / "datasets")
    if not (root / "Set5").is_dir():  # a table of zeros would read as a measurement
        sys.exit(f"no benchmark images under {root}: set IRTOOL_TEST_DATA to the shared datasets folder")
    return root


WEIGHTS: dict[str, Path] = {}  # task -> weight file, from --weights (e.g. a training run's best.safetensors)


def get_model(task: str, name: str | None = None):
    """(model, label): --weights, else shipped weights, else the compact architecture with random weights.

    Random weights get their zero-initialised layers (the last convolution of an SR head, norm biases) filled with
    noise too, so the network branch is not silently off (an untrained compact-sr model is exactly bicubic).
    """
    import torch

    from irtool.errors import UnavailableError
    from irtool.models import create, load

    shipped, compact = SHIPPED[task]
    if task in WEIGHTS and name is None:
        return load(WEIGHTS[task]), f"{compact} ({WEIGHTS[task].parent.name}/{WEIGHTS[task].name})"
    try:
        return load(name or shipped), f"{name or shipped} (trained)"
    except UnavailableError:
        model = create(name or compact).eval()
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in model.parameters():
                if not p.any():
                    p.normal_(0, 0.02, generator=generator)
        return model, f"{name or compact} (random weights)"


def model_file(task: str, folder: Path) -> tuple[str, str]:
    """A -m argument for the CLI: the weights in use, saved to a file unless they are a shipped model."""
    from irtool.models import save

    model, label = get_model(task)
    if "trained" in label:
        return SHIPPED[task][0], label
    path = folder / f"{SHIPPED[task][1]}.safetensors"
    save(model, path)
    return str(path), label


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load:.1f}"


# ---------------------------------------------------------------------------------------------------- psnr
def bench_psnr(args: argparse.Namespace) -> dict:
    """`irtool restore DIR -o OUT` with the default model on Set5 x4 LR, scored against HR beside bicubic."""
    from irtool.evaluate import evaluate_folders

    set5 = data_root() / "Set5"
    lr, hr = set5 / "LR_bicubic" / "X4", set5 / "HR"
    python = args.python or sys.executable
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        closed = "http://127.0.0.1:9"  # the discard port: nothing answers, so a network attempt fails at once
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp / "empty-hf-home"), "NO_PROXY": ""}
        env.update({"HTTP_PROXY": closed, "HTTPS_PROXY": closed, "http_proxy": closed, "https_proxy": closed})
        env.pop("HF_HUB_CACHE", None)
        if args.python is None:  # this interpreter: the checkout, wherever it is run from
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        where = subprocess.run(
            [python, "-c", "import irtool; print(irtool.__file__)"], capture_output=True, text=True, env=env, cwd=tmp
        ).stdout.strip()
        for key, extra in (("irtool", []), ("bicubic", ["-m", "bicubic"])):
            out = tmp / key
            cmd = [python, "-m", "irtool", "restore", str(lr), "-o", str(out), "-q", "--json", *extra]
            run = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
            if run.returncode != 0:
                raise SystemExit(f"`{' '.join(cmd)}` failed ({run.returncode}): {run.stderr.strip()}")
            summary = json.loads(run.stdout)
            report = evaluate_folders(out, hr, "sr", scale=4)  # pairs babyx4.png with baby.png by sorted order
            results[key] = {
                "model": summary["model"],
                "images": report.dataset["count"],
                "psnr": round(report.psnr, 3),
                "ssim": round(report.ssim, 4),
                "per_image": {s.name: round(s.psnr, 2) for s in report.per_image},
            }
    gain = results["irtool"]["psnr"] - results["bicubic"]["psnr"]
    print(f"\n### `irtool restore` on Set5 x4 LR, no network (irtool from {where})\n")
    print("Protocol `sr`: Y channel (BT.601), border 4, outputs as written (8-bit).\n")
    print("| | model | images | PSNR dB | SSIM |\n|---|---|---|---|---|")
    for key, r in results.items():
        print(f"| {key} | {r['model']} | {r['images']} | {r['psnr']} | {r['ssim']} |")
    print(f"\nGain over bicubic: {gain:+.2f} dB ({'meets' if gain >= 1 else 'misses'} the >= 1 dB target).")
    return {"irtool_from": where, **results, "gain_db": round(gain, 3)}


# --------------------------------------------------------------------------------------------------- video
def bench_video(args: argparse.Namespace) -> dict:
    import av

    from irtool.io.video import probe
    from tests.test_video import make_video

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref, label = model_file("sr", tmp)
        clip, out = tmp / "clip.mp4", tmp / "clip_x4.mp4"
        make_video(clip, frames=24, size=(32, 24))
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-m", "irtool", "restore", str(clip), "-m", ref, "-o", str(out), "--json", "-q"],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"restore failed: {run.stderr}")
        src, dst = probe(clip), probe(out)

        def audio_packets(p: Path) -> int:
            with av.open(str(p)) as c:
                return sum(1 for packet in c.demux(audio=0) if packet.dts is not None)

        result = {
            "model": label,
            "input": src,
            "output": dst,
            "audio_packets": [audio_packets(clip), audio_packets(out)],
            "seconds": round(seconds, 2),
        }
    print(f"\n### Video round trip ({label})\n")
    print("| | frames | size | fps | streams | audio packets |\n|---|---|---|---|---|---|")
    for key, info, packets in (("input", src, result["audio_packets"][0]), ("output", dst, result["audio_packets"][1])):
        streams = "+".join(info["streams"])
        print(
            f"| {key} | {info['frames']} | {info['width']}x{info['height']} | {info['rate']} | {streams} | {packets} |"
        )
    print(f"\n{seconds:.1f} s including start-up.")
    return result


# ----------------------------------------------------------------------------------------------------- rss
def synthetic_photo(megapixels: float, path: Path, aspect: float = 4 / 3) -> tuple[int, int]:
    """A picture (4:3 unless told): smooth colour fields plus Gaussian noise (sigma 15), written as JPEG quality 95."""
    from irtool.io.images import write_image

    width = int(round((megapixels * 1e6 * aspect) ** 0.5))
    height = int(round(width / aspect))
    rng = np.random.default_rng(0)
    rows = []
    xs = np.linspace(0, 6, width, dtype=np.float32)
    for y0 in range(0, height, 512):  # built in stripes so the benchmark's own memory stays small
        ys = np.linspace(y0 / height * 4, min(y0 + 512, height) / height * 4, min(512, height - y0), dtype=np.float32)
        base = np.stack(
            [
                np.sin(xs[None] + ys[:, None]),
                np.cos(xs[None] * 0.7 - ys[:, None]),
                np.sin(xs[None] * ys[:, None] * 0.3),
            ],
            axis=-1,
        )
        noisy = (base * 80 + 128) + rng.normal(0, 15, base.shape).astype(np.float32)
        rows.append(np.clip(noisy, 0, 255).astype(np.uint8))
    write_image(path, np.concatenate(rows), quality=95)
    return width, height


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def peak_rss(cmd: list[str], limit: float | None = None, env: dict | None = None, cwd: Path | None = None) -> dict:
    """What one child process cost, from its own rusage (os.wait4): peak RSS, CPU time, page faults, wall time.

    With `limit`, a child still running after that many seconds gets Ctrl-C (exit 130): its peak so far is
    reported, which covers decoding and the steady tile-by-tile phase but not the final write.
    """
    started = time.perf_counter()
    # A shell that starts jobs in the background ignores SIGINT for them; the child must hear Ctrl-C.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_default_sigint, env=env, cwd=cwd
    )
    interrupted = False
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if limit is None else os.WNOHANG)
        if pid == proc.pid:
            break
        if not interrupted and time.perf_counter() - started > limit:
            proc.send_signal(signal.SIGINT)
            interrupted = True
        time.sleep(0.5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kB on Linux and in bytes on macOS.
    mb = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    return {
        "peak_rss_mb": round(mb),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "minor_faults": usage.ru_minflt,
        "major_faults": usage.ru_majflt,
        "wall_s": round(time.perf_counter() - started, 1),
        "exit": proc.returncode,
    }


def bench_rss(args: argparse.Namespace) -> dict:
    """Peak RSS, CPU time and page faults of `irtool restore` on one synthetic JPEG, per model, size and tree.

    `--trees A B` runs every case once per irtool checkout (PYTHONPATH), interleaved, so a before/after pair shares
    the machine's load; the children run in a temporary folder so that `-m irtool` cannot pick up the cwd.
    """
    trees = [Path(t).resolve() for t in args.trees] if args.trees else [REPO]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref, label = model_file("denoise", tmp) if args.rss_model is None else (args.rss_model, args.rss_model)
        # SR inputs are 3:2 like a camera's: 24 MP is 6000 x 4000 (a 24000 x 16000 output from sr-x4).
        cases = [(ref, label, mp, 4 / 3) for mp in args.sizes]
        cases += [(args.sr_model, args.sr_model, mp, 3 / 2) for mp in args.sr_sizes]

        def env_for(tree: Path) -> dict:
            return {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")])),
            }

        imports = [sys.executable, "-c", "import torch, irtool.models, irtool.engine.pipeline"]
        base = {str(t): peak_rss(imports, env=env_for(t), cwd=tmp)["peak_rss_mb"] for t in trees}
        for model, model_label, mp, aspect in cases:
            src = tmp / f"in_{mp}mp.jpg"
            w, h = synthetic_photo(mp, src, aspect)
            for tree in trees:
                out = tmp / f"out.{args.rss_output}"
                cmd = [sys.executable, "-m", "irtool", "restore", str(src), "-m", model, "-o", str(out)]
                cmd += ["--overwrite", "-q", "--threads", str(args.rss_threads)]
                run = peak_rss(cmd, args.rss_limit, env=env_for(tree), cwd=tmp)
                row = {"tree": str(tree), "model": model_label, "megapixels": mp, "size": f"{w}x{h}", **run}
                print(f"  {row}", file=sys.stderr)
                rows.append(row)
                out.unlink(missing_ok=True)
            src.unlink()
    print(f"\n### `irtool restore` of one JPEG to .{args.rss_output} ({args.rss_threads} threads, default tiles)\n")
    print(f"Machine: {machine()}. Python + torch + irtool imported, nothing run: "
          + ", ".join(f"{mb} MB ({t})" for t, mb in base.items()) + ".\n")  # fmt: skip
    print("| model | input | size | tree | peak RSS MB | user s | sys s | minor faults | wall s | run |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        run = {0: "complete", 130: "stopped by --rss-limit (peak so far)"}.get(r["exit"], f"exit {r['exit']}")
        print(
            f"| {r['model']} | {r['megapixels']} MP | {r['size']} | {Path(r['tree']).name} | {r['peak_rss_mb']} | "
            f"{r['user_s']} | {r['sys_s']} | {r['minor_faults']} | {r['wall_s']} | {run} |"
        )
    return {"denoise_model": label, "import_only_mb": base, "runs": rows}


# -------------------------------------------------------------------------------------------------- tiling
def bench_tiling(args: argparse.Namespace) -> dict:
    import torch

    from irtool.engine import Runner
    from irtool.io.images import read_image, to_float32

    root = data_root()
    lr = root / "Set5" / "LR_bicubic"
    cases = [  # every shipped model (sr-x4 and denoise may be replaced by --weights)
        ("sr", "sr-x2", lr / "X2" / "babyx2.png", [64, 96]),
        ("sr", "sr-x3", lr / "X3" / "babyx3.png", [64, 96]),
        ("sr", None, lr / "X4" / "babyx4.png", [64, 96]),
        ("denoise", None, root / "CBSD68" / "101085.png", [128, 256]),
    ]
    torch.set_num_threads(args.threads[-1])
    results = []
    for task, name, path, tiles in cases:
        model, label = get_model(task, name)
        pixels = to_float32(read_image(path).pixels).transpose(2, 0, 1)
        if task == "denoise":
            pixels = pixels + np.random.default_rng(0).normal(0, 25 / 255, pixels.shape).astype(np.float32)
        whole = Runner(model, device="cpu", tile=0).restore(pixels)
        seen = set()  # an overlap too wide for the tile is clamped: report each (tile, overlap) once
        for tile in tiles:
            for overlap in args.overlaps:
                runner = Runner(model, device="cpu", tile=tile, overlap=overlap)
                tiled = runner.restore(pixels)
                if (tile, runner.last_plan.overlap) in seen:
                    continue
                seen.add((tile, runner.last_plan.overlap))
                diff = np.abs(np.clip(tiled, 0, 1) - np.clip(whole, 0, 1))
                mse = float(np.mean(diff.astype(np.float64) ** 2))
                results.append(
                    {
                        "model": label,
                        "image": f"{path.parent.name}/{path.name} {pixels.shape[2]}x{pixels.shape[1]}",
                        "tile": tile,
                        "overlap": runner.last_plan.overlap,
                        "tiles": runner.last_plan.tile_count,
                        "max_abs_255": round(float(diff.max()) * 255, 3),
                        "mean_abs_255": round(float(diff.mean()) * 255, 4),
                        "psnr_vs_whole": round(10 * np.log10(1 / mse), 2) if mse > 0 else float("inf"),
                    }
                )
    print("\n### Tiled vs whole-image output (values on the 0-255 scale)\n")
    print(
        "| model | image | tile | overlap | tiles | max abs | mean abs | PSNR vs whole |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for r in results:
        print(
            f"| {r['model']} | {r['image']} | {r['tile']} | {r['overlap']} | {r['tiles']} | {r['max_abs_255']} | "
            f"{r['mean_abs_255']} | {r['psnr_vs_whole']} |"
        )
    return {"runs": results}


# --------------------------------------------------------------------------------------------------- speed
def opencv_peer(args: argparse.Namespace) -> None:
    """Time OpenCV's dnn_superres on images; prints JSON. Needs only cv2 (opencv-contrib) and numpy.

    Runs in whatever Python --opencv-python names: OpenCV's contrib wheels must not share an environment with
    opencv-python-headless, and OpenCV 5.0's dnn cannot read these graphs (DepthToSpace), so the benchmark may
    call a separate environment with opencv-contrib-python-headless 4.x.
    """
    import cv2

    cv2.setNumThreads(args.peer_threads)
    sr = cv2.dnn_superres.DnnSuperResImpl_create()
    sr.readModel(str(args.pb))
    sr.setModel(args.algo, args.scale)
    images = [cv2.imread(str(p)) for p in args.images]
    if args.out_dir is not None:  # quality: keep every result, named like its input
        for path, im in zip(args.images, images, strict=True):
            cv2.imwrite(str(args.out_dir / path.name), sr.upsample(im))
        return
    sr.upsample(images[0])  # warm-up
    started = time.perf_counter()
    pixels = sum(out.shape[0] * out.shape[1] for out in (sr.upsample(im) for im in images))
    print(json.dumps({"output_mp": pixels / 1e6, "seconds": time.perf_counter() - started, "cv2": cv2.__version__}))


def _time_peer(
    python: str, algo: str, pb: Path, scale: int, threads: int, images: list[Path], out_dir: Path | None = None
) -> dict:
    cmd = [python, __file__, "opencv-peer", "--algo", algo, "--pb", str(pb), "--scale", str(scale)]
    cmd += ["--peer-threads", str(threads), "--images", *map(str, images)]
    if out_dir is not None:
        cmd += ["--out-dir", str(out_dir)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["failed"])[-1]}
    return {} if out_dir is not None else json.loads(run.stdout.strip().splitlines()[-1])


def bench_quality(args: argparse.Namespace) -> dict:
    """PSNR/SSIM of OpenCV's FSRCNN/ESPCN beside the shipped SR models, all scored by irtool's `sr` protocol.

    The peers get the same LR images the models get (MATLAB bicubic of the HR, made by irtool) and their outputs
    are scored with `irtool.evaluate.evaluate_folders`, so the only difference is the network. (OpenCV's graphs
    were trained on LR made another way; on the benchmark LR they land near bicubic, which is what a user gets.)
    """
    from irtool.evaluate import evaluate, evaluate_folders
    from irtool.io.images import read_image, write_image
    from irtool.ops.degrade import bicubic_lr

    rows = []
    for name in args.sets:
        hr_dir = data_root() / name / "HR"
        for s in args.scales:
            model, label = get_model("sr", f"sr-x{s}" if s != 4 else None)
            report = evaluate(model, name, "sr")
            rows.append({"set": name, "scale": s, "model": label, "psnr": report.psnr, "ssim": report.ssim})
            with tempfile.TemporaryDirectory() as tmp:
                lr_dir, out_dir = Path(tmp) / "lr", Path(tmp) / "out"
                lr_dir.mkdir()
                for hr in sorted(hr_dir.glob("*.png")):
                    pixels = read_image(hr).pixels
                    rgb = pixels if pixels.shape[2] == 3 else pixels.repeat(3, axis=2)  # Set14's grey bridge
                    write_image(lr_dir / hr.name, bicubic_lr(rgb, s))
                for algo, pb in (
                    ("fsrcnn", PEERS / "opencv-fsrcnn" / f"FSRCNN_x{s}.pb"),
                    ("espcn", PEERS / "opencv-espcn" / f"ESPCN_x{s}.pb"),
                ):
                    out_dir.mkdir(exist_ok=True)
                    for old in out_dir.iterdir():
                        old.unlink()
                    ran = _time_peer(args.opencv_python, algo, pb, s, 1, sorted(lr_dir.glob("*.png")), out_dir)
                    if "error" in ran:
                        print(f"  OpenCV {algo} x{s}: unavailable ({ran['error']})", file=sys.stderr)
                        continue
                    peer = evaluate_folders(out_dir, hr_dir, "sr", scale=s)
                    rows.append({"set": name, "scale": s, "model": f"OpenCV {algo.upper()}", "psnr": peer.psnr,
                                 "ssim": peer.ssim})  # fmt: skip
            for r in rows[-3:]:
                print(f"  {name} x{s} {r['model']}: {r['psnr']:.2f} / {r['ssim']:.4f}", file=sys.stderr)
    print("\n### Quality beside OpenCV's peers (irtool `sr` protocol: Y channel, border = scale; PSNR dB / SSIM)\n")
    print("| set | scale | model | PSNR / SSIM |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | x{r['scale']} | {r['model']} | {r['psnr']:.2f} / {r['ssim']:.4f} |")
    return {"runs": rows}


def bench_speed(args: argparse.Namespace) -> dict:
    import torch

    from irtool.engine import Runner
    from irtool.engine.pixels import restore_pixels
    from irtool.io.images import read_image

    root = data_root()
    lr_paths = {s: sorted((root / "Set5" / "LR_bicubic" / f"X{s}").glob("*.png")) for s in args.scales}
    noisy_paths = sorted((root / "CBSD68").glob("*.png"))[:4]
    # The shipped model of each scale (sr-x4 may be replaced by --weights).
    ours = [(*get_model("sr", f"sr-x{s}" if s != 4 else None), lr_paths[s]) for s in args.scales]
    if args.denoise:
        ours.append((*get_model("denoise"), noisy_paths))
    gpu = args.device != "cpu"
    # On the CPU: fp32 at each thread count. On a GPU: each precision, with and without torch.compile.
    settings = [("fp32", False)] if not gpu else [(p, c) for p in args.precisions for c in (False, True)]

    rows = []
    for threads in args.threads if not gpu else args.threads[:1]:  # CPU threads hardly matter to a GPU run
        torch.set_num_threads(threads)
        for model, label, paths in ours:
            images = [read_image(p).pixels for p in paths]
            for precision, compiled in settings:
                runner = Runner(model, device=args.device, precision=precision, compile=compiled)
                # Warm-up: allocator, kernels, lazy init; on a GPU every image size once (compile per shape).
                for im in images if gpu else images[:1]:
                    restore_pixels(runner, im)
                started = time.perf_counter()
                pixels = sum(out.shape[0] * out.shape[1] for out in (restore_pixels(runner, im) for im in images))
                seconds = time.perf_counter() - started  # restore_pixels returns host arrays: the GPU is done
                tag = f"{label}, {runner.device} {runner.precision}{', compiled' if compiled else ''}"
                rows.append(_speed_row(tag, threads, len(images), pixels / 1e6, seconds))
        for s in args.scales:
            for algo, pb in (
                ("fsrcnn", PEERS / "opencv-fsrcnn" / f"FSRCNN_x{s}.pb"),
                ("espcn", PEERS / "opencv-espcn" / f"ESPCN_x{s}.pb"),
            ):
                timing = _time_peer(args.opencv_python, algo, pb, s, threads, lr_paths[s])
                label = f"OpenCV dnn_superres {algo.upper()} x{s}"
                if "error" in timing:
                    print(f"  {label}: unavailable ({timing['error']})", file=sys.stderr)
                    continue
                rows.append(
                    _speed_row(
                        f"{label} (cv2 {timing['cv2']})",
                        threads,
                        len(lr_paths[s]),
                        timing["output_mp"],
                        timing["seconds"],
                    )
                )
    where = "CPU" if not gpu else f"{args.device} (OpenCV rows: CPU)"
    print(f"\n### {where} throughput, output megapixels per second ({machine()})\n")
    print("Set5 LR images for SR, 4 CBSD68 images for denoising; engine defaults (tile auto, overlap 16).\n")
    print("| model | threads | images | output MP | seconds | MP/s |\n|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['threads']} | {r['images']} | {r['output_mp']} | {r['seconds']} | {r['mp_per_s']} |"
        )
    return {"machine": machine(), "runs": rows}


def _speed_row(label: str, threads: int, images: int, output_mp: float, seconds: float) -> dict:
    row = {
        "model": label,
        "threads": threads,
        "images": images,
        "output_mp": round(output_mp, 3),
        "seconds": round(seconds, 2),
        "mp_per_s": round(output_mp / seconds, 4),
    }
    print(f"  {label}, {threads} thread(s): {row['mp_per_s']} MP/s", file=sys.stderr)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["psnr", "video", "rss", "tiling", "speed", "quality", "all", "opencv-peer"])
    parser.add_argument("--python", help="psnr: the interpreter of a fresh venv with irtool installed")
    parser.add_argument("--sizes", type=float, nargs="+", default=[4, 12, 48], help="megapixels for rss")
    parser.add_argument("--rss-model", default=None, help="-m for the rss runs (default: the denoiser)")
    parser.add_argument("--rss-threads", type=int, default=2)
    parser.add_argument("--rss-limit", type=float, help="stop a run after this many seconds (peak so far)")
    parser.add_argument("--sr-sizes", type=float, nargs="*", default=[2, 6, 24], help="input megapixels for rss SR")
    parser.add_argument("--sr-model", default="sr-x4", help="-m for the rss SR runs")
    parser.add_argument("--rss-output", default="jpg", help="rss: the output format (suffix)")
    parser.add_argument("--trees", nargs="+", help="rss: irtool checkouts to compare, interleaved (default: this one)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4], help="speed: SR scales (sr-x2 ...)")
    parser.add_argument("--device", default="cpu", help="speed: cpu, cuda, cuda:N or mps")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], help="speed on a GPU")
    parser.add_argument("--overlaps", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--no-denoise", dest="denoise", action="store_false", help="speed: skip the denoiser")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--weights", nargs="+", default=[], metavar="TASK=FILE", help="e.g. sr=run/best.safetensors")
    parser.add_argument("--opencv-python", default=sys.executable, help="a Python with opencv-contrib (speed)")
    # opencv-peer (run by `speed` in the --opencv-python environment)
    parser.add_argument("--algo", help=argparse.SUPPRESS)
    parser.add_argument("--pb", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--peer-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--images", nargs="+", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14", "BSD100"], help="quality: SR test sets")
    args = parser.parse_args()
    if args.what == "opencv-peer":
        opencv_peer(args)
        return
    for item in args.weights:
        task, _, path = item.partition("=")
        WEIGHTS[task] = Path(path)
    benches = {
        "psnr": bench_psnr,
        "video": bench_video,
        "rss": bench_rss,
        "tiling": bench_tiling,
        "speed": bench_speed,
        "quality": bench_quality,
    }
    chosen = list(benches) if args.what == "all" else [args.what]
    results = {"machine": machine(), **{name: benches[name](args) for name in chosen}}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
