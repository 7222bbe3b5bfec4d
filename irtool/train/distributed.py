"""Process groups for `torchrun --nproc_per_node N -m irtool train ...` (gloo on CPU, nccl on CUDA).

A single process (no torchrun) is world size 1 and touches nothing distributed. Every rank samples its own patches
(seed offset by rank) and DistributedDataParallel averages the gradients, so N processes train with N x the batch.
Rank 0 alone logs, validates and writes checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from irtool.errors import ResourceError, UsageError
from irtool.launch import launch_env


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device '{name}' (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ResourceError("device 'cuda' requested but CUDA is not available")
        if device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ResourceError("device 'mps' requested but MPS is not available")
    return device


def setup(device_name: str) -> Context:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), and pick this rank's device."""
    launch = launch_env()
    device = pick_device(device_name, launch.local_rank)
    if launch.distributed and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend=backend, rank=launch.rank, world_size=launch.world_size)
    return Context(launch.rank, launch.world_size, launch.local_rank, device)


def teardown(ctx: Context) -> None:
    if ctx.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def wrap(model: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def mean(value: float, ctx: Context) -> float:
    """The mean of a scalar over all ranks (for logging)."""
    if not ctx.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    torch.distributed.all_reduce(t)
    return float(t.item()) / ctx.world_size


def gather(obj: Any, ctx: Context) -> list[Any]:
    """Every rank's `obj`, in rank order (used to checkpoint each rank's RNG states)."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        torch.distributed.barrier()
