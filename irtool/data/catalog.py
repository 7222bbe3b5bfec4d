"""The named benchmark sets irtool knows: their task, size, on-disk layout and where a copy can come from.

A set's folder under the data root (see `irtool.data.benchmarks`) is laid out by its task:

    <Name>/HR/*.png                 SR sets: ground truth only; LR inputs are always made locally from it
    <Name>/*.png                    denoising sets: ground truth only; noise is added by the protocol
    <Name>/input/*, <Name>/target/* deraining sets: paired by sorted order, as MATLAB's dir() did
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from irtool.errors import UnavailableError
from irtool.io.images import IMAGE_SUFFIXES

Task = Literal["sr", "denoise", "derain"]
Layout = Literal["hr", "flat", "pairs"]

# Published sets are 8-bit images scored on integer levels. An EXR (float, linear light) is never part of one, so
# it is not counted: a stray one in a set's folder would change its image count and its listing checksum.
BENCHMARK_SUFFIXES = IMAGE_SUFFIXES - {".exr"}
# Folder names accepted for the two halves of a paired set (ours, then those of common copies of Rain100L).
INPUT_DIRS = ("input", "rain", "lq")
TARGET_DIRS = ("target", "norain", "gt")


@dataclass(frozen=True)
class HubArchive:
    """An archive in a Hugging Face dataset repository. `revision` should be a commit; a branch is 'unpinned'."""

    repo_id: str
    filename: str
    revision: str
    sha256: str | None = None

    @property
    def pinned(self) -> bool:
        return len(self.revision) == 40 and all(c in "0123456789abcdef" for c in self.revision)

    def describe(self, short: bool = False) -> str:
        if short:
            return f"hf:{self.repo_id}@{self.revision[:7]}" + ("" if self.pinned else " (unpinned)")
        pin = "pinned" if self.pinned else "UNPINNED: needs --allow-unpinned"
        return f"hf://datasets/{self.repo_id}@{self.revision}/{self.filename} ({pin})"


@dataclass(frozen=True)
class Benchmark:
    name: str
    task: Task
    count: int  # images (pairs for deraining) in the full set
    source: HubArchive | None = None
    aliases: tuple[str, ...] = ()  # other folder names a local copy may have
    user_only: str | None = None  # why the set can only come from a user path (licence), and where to get it

    @property
    def layout(self) -> Layout:
        return {"sr": "hr", "denoise": "flat", "derain": "pairs"}[self.task]

    def describe_source(self, short: bool = False) -> str:
        if self.source is not None:
            return self.source.describe(short)
        if self.user_only:
            return "--from PATH only (licence)" if short else f"user path only (--from PATH): {self.user_only}"
        return "--from PATH" if short else "local only (--from PATH, or copy into the data root)"


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        # The eugenesiow/* revisions other than Urban100's could not be looked up from here: they follow `main`
        # and are refused unless the user passes --allow-unpinned. Pin them (and add sha256) when known.
        Benchmark("Set5", "sr", 5, HubArchive("eugenesiow/Set5", "data/Set5_HR.tar.gz", "main")),
        Benchmark("Set14", "sr", 14, HubArchive("eugenesiow/Set14", "data/Set14_HR.tar.gz", "main")),
        Benchmark("BSD100", "sr", 100, HubArchive("eugenesiow/BSD100", "data/BSD100_HR.tar.gz", "main")),
        Benchmark(
            "Urban100",
            "sr",
            100,
            HubArchive("eugenesiow/Urban100", "data/Urban100_HR.tar.gz", "fb0d8a4c6b2471d32bd133de40bb8bb10dde69b9"),
        ),
        Benchmark(
            "Manga109",
            "sr",
            109,
            user_only="academic use only; its owners send it on request: http://www.manga109.org",
        ),
        Benchmark("CBSD68", "denoise", 68),
        Benchmark("Kodak24", "denoise", 24),
        Benchmark("McMaster", "denoise", 18),
        Benchmark("BSD68", "denoise", 68),
        Benchmark("Set12", "denoise", 12),
        Benchmark("Rain100L", "derain", 100, aliases=("Rain100L_subset10",)),
    )
}


def get(name: str) -> Benchmark:
    """The benchmark called `name` (case-insensitive, aliases accepted); UnavailableError if unknown."""
    key = name.strip().lower()
    for b in BENCHMARKS.values():
        if key == b.name.lower() or key in (a.lower() for a in b.aliases):
            return b
    raise UnavailableError(f"unknown dataset {name!r}; known: {', '.join(BENCHMARKS)}")
