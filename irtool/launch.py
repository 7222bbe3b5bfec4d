"""Where this process sits in a torchrun launch: RANK, WORLD_SIZE and LOCAL_RANK, read and checked in one place.

Unset (or empty) variables mean a single process. Values that are not whole numbers, or do not fit together, are a
UsageError naming the variable: a rank silently read as 0 would make two processes write the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from irtool.errors import UsageError


@dataclass(frozen=True)
class Launch:
    """This process's place among `world_size` processes (1 without torchrun); `local_rank` picks its GPU."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int_var(name: str, default: int, minimum: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(
            f"{name}={text!r} is not a whole number (torchrun sets it; unset it to run one process)"
        ) from None
    if value < minimum:
        raise UsageError(f"{name}={value} must be at least {minimum}")
    return value


def launch_env() -> Launch:
    """The launch described by RANK / WORLD_SIZE / LOCAL_RANK (defaults 0 / 1 / 0); UsageError when they are bad."""
    world_size = _int_var("WORLD_SIZE", 1, 1)
    rank = _int_var("RANK", 0, 0)
    local_rank = _int_var("LOCAL_RANK", 0, 0)
    if rank >= world_size:
        raise UsageError(f"RANK={rank} must be below WORLD_SIZE={world_size}")
    return Launch(rank=rank, world_size=world_size, local_rank=local_rank)
