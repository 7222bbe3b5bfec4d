"""`irtool doctor`: what this installation can do, and the fix for what it cannot."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import typer

from irtool.cli._app import app

_EPILOG = """\
Examples:

  irtool doctor                 # a readable report
  irtool doctor --json | jq .torch

Exit code 0 always: the report is the result, warnings included.
"""

# Where to get a CUDA build of torch when pip gave a CPU one (pipx installs on Windows always do).
_CUDA_TORCH_FIX = (
    "NVIDIA GPU present but torch is a CPU-only build: reinstall torch from the PyTorch CUDA index, e.g. "
    "`pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124` "
    "(pipx: `pipx runpip irtool install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu124`)"
)


@app.command("doctor", epilog=_EPILOG)
def doctor_command(
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Check torch, GPUs, video and ONNX support, caches and offline settings."""
    report = collect()
    if json_out:
        from irtool.cli._output import print_json

        print_json(report)
    else:
        _print(report)


def collect() -> dict[str, Any]:
    """Everything the report shows, as plain data; `hints` lists problems with their fix."""
    from irtool import __version__

    hints: list[str] = []
    report: dict[str, Any] = {
        "irtool": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": _torch(hints),
        "video": _video(hints),
        "onnx": _onnx(),
        "caches": _caches(),
        "offline": _offline(),
        "hints": hints,
    }
    return report


def _torch(hints: list[str]) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        hints.append("torch is not installed: pip install torch")
        return {"installed": False}
    from irtool.engine.devices import cpu_bf16_faster, cpu_native_precisions, nvidia_gpu_present

    cuda_build = torch.version.cuda
    info: dict[str, Any] = {
        "installed": True,
        "version": torch.__version__,
        "build": f"CUDA {cuda_build}" if cuda_build else ("ROCm " + torch.version.hip if torch.version.hip else "CPU"),
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_native": sorted(cpu_native_precisions()),
        "cpu_auto_precision": "bf16" if cpu_bf16_faster() else "fp32",
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": [],
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "nvidia_gpu_present": nvidia_gpu_present(),
    }
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            free, total = torch.cuda.mem_get_info(i)
            info["cuda_devices"].append(
                {
                    "index": i,
                    "name": props.name,
                    "capability": f"{props.major}.{props.minor}",
                    "memory_gb": round(total / 2**30, 1),
                    "free_gb": round(free / 2**30, 1),
                    "bf16": props.major >= 8,
                }
            )
        info["cudnn"] = torch.backends.cudnn.version()
    if info["nvidia_gpu_present"] and not cuda_build:
        hints.append(_CUDA_TORCH_FIX)
    elif info["nvidia_gpu_present"] and not torch.cuda.is_available():
        hints.append("NVIDIA GPU present and torch has CUDA, but no device is usable: check the driver (nvidia-smi)")
    if sys.platform == "darwin" and platform.machine() == "arm64" and not info["mps_available"]:
        hints.append("Apple silicon without MPS: update macOS (12.3+) and torch")
    if info["mps_available"] and os.environ.get("PYTORCH_ENABLE_MPS_FALLBACK") != "1":
        hints.append("on MPS, set PYTORCH_ENABLE_MPS_FALLBACK=1 so an operator MPS lacks runs on the CPU")
    return info


def _video(hints: list[str]) -> dict[str, Any]:
    info: dict[str, Any] = {"ffmpeg_on_path": shutil.which("ffmpeg")}
    try:
        import av
    except ImportError:
        hints.append("video input/output needs PyAV: pip install 'irtool[video]'")
        return {**info, "pyav": None}
    encoders = {}
    for name in ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "aac", "libopus"):
        try:
            av.codec.Codec(name, "w")
            encoders[name] = True
        except Exception:
            encoders[name] = False
    if not encoders["libx264"]:
        hints.append("this PyAV build has no libx264: pass --codec (e.g. mpeg4) for mp4/mkv outputs")
    return {
        **info,
        "pyav": av.__version__,
        "ffmpeg_libraries": getattr(av, "ffmpeg_version_info", None),
        "encoders": encoders,
    }


def _onnx() -> dict[str, Any]:
    info: dict[str, Any] = {"onnx": _version("onnx"), "onnxruntime": _version("onnxruntime")}
    if info["onnxruntime"]:
        try:
            import onnxruntime

            info["providers"] = onnxruntime.get_available_providers()
        except ImportError:
            info["providers"] = []
    return info


def _caches() -> dict[str, Any]:
    from irtool.data.benchmarks import cache_dir, data_root
    from irtool.hub import hf_cache_dir

    return {
        "huggingface": str(hf_cache_dir()),
        "irtool": str(cache_dir()),
        "datasets": str(data_root()),
        "hf_endpoint": os.environ.get("HF_ENDPOINT") or "https://huggingface.co",
    }


def _offline() -> dict[str, Any]:
    from irtool.hub import offline_requested

    return {"offline": offline_requested(), "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE")}


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _print(report: dict[str, Any]) -> None:
    from rich.table import Table

    from irtool.cli._output import out

    t = report["torch"]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # paths must show whole, not end in an ellipsis
    table.add_row("irtool", f"{report['irtool']} (Python {report['python']}, {report['platform']})")
    if not t["installed"]:
        table.add_row("torch", "[red]not installed[/red]")
    else:
        table.add_row("torch", f"{t['version']} ({t['build']} build, {t['threads']} CPU threads)")
        auto = "bf16 where the model allows" if t["cpu_auto_precision"] == "bf16" else "fp32"
        native = ", ".join(t["cpu_native"]) or "none"
        table.add_row("cpu", f"{t['cpu_capability']}; native bf16/fp16: {native}; --precision auto runs {auto}")
        for d in t["cuda_devices"]:
            table.add_row(
                f"cuda:{d['index']}",
                f"{d['name']} (compute {d['capability']}, {d['free_gb']} of {d['memory_gb']} GB free, "
                f"bf16 {'yes' if d['bf16'] else 'no'})",
            )
        if not t["cuda_devices"]:
            table.add_row("cuda", "no device" + (" (NVIDIA GPU present)" if t["nvidia_gpu_present"] else ""))
        table.add_row("mps", "available" if t["mps_available"] else "not available")
    v = report["video"]
    if v.get("pyav"):
        have = ", ".join(name for name, ok in v["encoders"].items() if ok)
        table.add_row("video", f"PyAV {v['pyav']} (FFmpeg {v['ffmpeg_libraries']}); encoders: {have}")
    else:
        table.add_row("video", "[yellow]PyAV missing[/yellow]")
    o = report["onnx"]
    ort = f"onnxruntime {o['onnxruntime']} ({', '.join(o.get('providers', []))})" if o["onnxruntime"] else "no runtime"
    table.add_row("onnx", f"onnx {o['onnx'] or 'missing'}, {ort}")
    c = report["caches"]
    table.add_row("caches", f"HF {c['huggingface']}; irtool {c['irtool']}; datasets {c['datasets']}")
    table.add_row("hub", f"{c['hf_endpoint']}, offline {'on' if report['offline']['offline'] else 'off'}")
    for hint in report["hints"]:
        table.add_row("[yellow]hint[/yellow]", hint)
    out.print(table, highlight=False, soft_wrap=True)
