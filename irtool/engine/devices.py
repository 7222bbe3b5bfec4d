"""Which device to run on, how much memory it has free, and the precision a model may use there.

`--device auto` prefers CUDA, then Apple MPS, then the CPU. Under torchrun each rank takes the GPU named by
LOCAL_RANK. A device that was asked for by name but is not there is a ResourceError (exit 4), never a silent
fallback to the CPU: a job meant for a GPU should not crawl for hours unnoticed.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import TYPE_CHECKING

from irtool.errors import ResourceError, UsageError
from irtool.launch import launch_env

if TYPE_CHECKING:
    import torch

    from irtool.models.descriptor import ModelDescriptor

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' -> a torch.device that exists on this machine."""
    import torch

    spec = spec.strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", launch_env().local_rank % torch.cuda.device_count())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise ResourceError("--device mps: Apple MPS is not available (it needs macOS 12.3+ on Apple silicon)")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        index_text = spec.partition(":")[2] or str(launch_env().local_rank)
        if not index_text.isdigit():
            raise UsageError(f"--device {spec}: expected cuda or cuda:N with N a number")
        if not torch.cuda.is_available():
            hint = " (torch is a CPU-only build: see `irtool doctor`)" if _cpu_only_torch() else ""
            raise ResourceError(f"--device {spec}: no CUDA device is available{hint}")
        count = torch.cuda.device_count()
        if int(index_text) >= count:
            raise ResourceError(f"--device {spec}: only {count} CUDA device(s) present (cuda:0 .. cuda:{count - 1})")
        return torch.device("cuda", int(index_text))
    raise UsageError(f"--device {spec!r}: choose auto, cpu, cuda, cuda:N or mps")


def choose_precision(requested: str, device: torch.device, descriptor: ModelDescriptor) -> torch.dtype:
    """What `--precision auto` means where the model runs; an explicit request is honoured as it is.

    GPU: fp16 where the descriptor vouches for its range (3 more mantissa bits than bf16 keep it closer to fp32 at
    the same speed), else bf16. CPU: bf16 only where the CPU computes it natively (AMX or AVX-512 BF16) and a probe
    finds it faster; on other CPUs torch emulates it, 11-13x slower than fp32 for the shipped models. Under autocast
    the shipped models lose at most 0.008 dB in bf16 (`benchmarks/precision.py`). A request against the
    descriptor's advice is honoured too (the NaN guard still protects the output).
    """
    import torch

    requested = requested.strip().lower()
    if requested not in PRECISIONS:
        raise UsageError(f"--precision {requested!r}: choose {', '.join(PRECISIONS)}")
    if requested != "auto":
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[requested]
    if device.type == "cuda":
        if descriptor.fp16_safe:
            return torch.float16
        if descriptor.bf16_safe and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if device.type == "mps":
        return torch.float16 if descriptor.fp16_safe else torch.float32
    return torch.bfloat16 if descriptor.bf16_safe and cpu_bf16_faster() else torch.float32


def cpu_native_precisions() -> set[str]:
    """The reduced precisions this CPU computes natively: bf16 with Intel AMX or AVX-512 BF16 (Cooper Lake, AMD Zen
    4/5), fp16 with AMX-FP16. torch emulates the others, many times slower than fp32."""
    import torch

    try:  # private helpers (cpuinfo underneath), so a torch without them means "not known to have any"
        native = {
            "bf16": torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported(),
            "fp16": torch.cpu._is_amx_fp16_supported(),
        }
    except AttributeError:
        return set()
    return {name for name, present in native.items() if present}


@functools.cache
def cpu_bf16_faster() -> bool:
    """bf16 autocast beats fp32 on this CPU: measured once per process, on a CPU whose flags promise it.

    The flags say the instructions exist, not that oneDNN's kernels for our small layers win with them (AMX does:
    sr-x4 1.65-1.74x; AVX-512 BF16 alone is unmeasured). The bar, 1.25x, is far from both measured cases (AMX
    several times faster per layer, emulation 11x slower), so a busy moment cannot flip the choice.
    """
    return "bf16" in cpu_native_precisions() and bf16_speedup() > 1.25


def bf16_speedup() -> float:
    """fp32 time over bf16-autocast time for the shipped models' commonest layers (a 48-channel 3x3 convolution
    and a 48->192 linear layer on a 96x96 map), best of 3 each after a warm-up: about 0.1 s."""
    import time

    import torch

    conv, linear = torch.nn.Conv2d(48, 48, 3, padding=1), torch.nn.Linear(48, 192)
    x = torch.rand(1, 48, 96, 96)

    def seconds(dtype: torch.dtype) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                linear(conv(x).flatten(2).transpose(1, 2))
            best = min(best, time.perf_counter() - started)
        return best

    with torch.inference_mode():
        seconds(torch.bfloat16)  # the first call builds oneDNN's kernels
        return seconds(torch.float32) / seconds(torch.bfloat16)


def precision_name(dtype: torch.dtype) -> str:
    import torch

    return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def free_memory(device: torch.device) -> int | None:
    """Bytes the device can still give us, or None on the CPU (where the tile size is fixed instead)."""
    import torch

    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    return None


def release_cached_memory(device: torch.device) -> None:
    """Hand cached blocks back after an out-of-memory error so the retry starts from a clean slate."""
    import gc

    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()
    trim_host_memory()


def trim_host_memory() -> None:
    """Give the C heap's free memory back to the OS (glibc on Linux; elsewhere nothing to do).

    After a run of large tensors glibc keeps the freed heap (its mmap and trim thresholds rise with the blocks it
    sees). Without this, several hundred MB of it would sit beside the next stage's buffers, e.g. beside a 48 MP
    output while it is encoded. Cheap enough once per image; not per video frame.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim): nothing to hand back this way
        pass


# How allocation failures read when they are not torch.OutOfMemoryError: MPS ("MPS backend out of memory"), the CPU
# allocator ("DefaultCPUAllocator: can't allocate memory"), cuDNN / cuBLAS workspaces ("CUDNN_STATUS_ALLOC_FAILED").
_OOM_MESSAGES = ("out of memory", "can't allocate memory", "status_alloc_failed")


def is_out_of_memory(exc: BaseException) -> bool:
    """An allocation failure on any device: smaller tiles may get through."""
    torch = sys.modules.get("torch")  # not imported: not a torch error (and an ONNX-only run has no torch to import)
    if torch is not None and isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(m in text for m in _OOM_MESSAGES)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _cpu_only_torch() -> bool:
    import torch

    return torch.version.cuda is None and getattr(torch.version, "hip", None) is None


def nvidia_gpu_present() -> bool:
    """An NVIDIA driver is installed, whatever torch thinks (for the "+cpu torch on a GPU machine" hint)."""
    import shutil

    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None
