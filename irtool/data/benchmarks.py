"""Benchmark test sets by name, as found on disk: `load` one (fetching it first when missing), `status` of all.

The data root is `IRTOOL_DATA_DIR`, default `<cache>/datasets` (cache = `IRTOOL_CACHE_DIR` or the platform cache
folder; see `irtool.paths`). Which sets exist and how their folders are laid out is `irtool.data.catalog`; getting
one onto disk (Hub download, user folder or archive, safe extraction) is `irtool.data.archives`. The names other
modules use are all importable from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from irtool.data import archives
from irtool.data.catalog import (
    BENCHMARK_SUFFIXES,
    BENCHMARKS,
    INPUT_DIRS,
    TARGET_DIRS,
    Benchmark,
    HubArchive,
    Layout,
    Task,
    get,
)
from irtool.errors import InputError, UsageError
from irtool.paths import cache_dir, data_root

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "Dataset",
    "HubArchive",
    "Layout",
    "Task",
    "cache_dir",
    "data_root",
    "fetch",
    "find_local",
    "get",
    "listing_checksum",
    "load",
    "status",
]


@dataclass(frozen=True)
class Dataset:
    """A benchmark found on disk: its ground-truth files (and inputs, for paired sets) in a fixed order."""

    name: str
    task: Task
    path: Path
    targets: tuple[Path, ...]
    inputs: tuple[Path, ...] | None  # paired sets only, aligned with `targets`
    expected: int  # images in the full set

    @cached_property
    def checksum(self) -> str:
        """sha256 of the listing of the files used (see `listing_checksum`), paths relative to the data root."""
        return listing_checksum(list(self.targets) + list(self.inputs or ()), self.path.parent)

    @property
    def count(self) -> int:
        return len(self.targets)

    @property
    def subset(self) -> bool:
        return self.count < self.expected

    def info(self) -> dict:
        return {
            "name": self.name,
            "task": self.task,
            "path": str(self.path),
            "count": self.count,
            "expected": self.expected,
            "subset": self.subset,
            "checksum": self.checksum,
            "pairing": "sorted order (MATLAB dir())" if self.inputs is not None else None,
        }


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in BENCHMARK_SUFFIXES and not p.name.startswith("."))


def _subdir(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _scan(bench: Benchmark, folder: Path) -> tuple[list[Path], list[Path] | None]:
    """(targets, inputs) found in a set's folder, in sorted (C-locale) name order; empty when nothing is there."""
    if bench.layout == "hr":
        return _images_in(folder / "HR"), None
    if bench.layout == "flat":
        return _images_in(folder), None
    inp, tgt = _subdir(folder, INPUT_DIRS), _subdir(folder, TARGET_DIRS)
    if inp is None or tgt is None:
        return [], None
    inputs, targets = _images_in(inp), _images_in(tgt)
    if len(inputs) != len(targets):
        raise InputError(f"{folder}: {len(inputs)} inputs but {len(targets)} targets; pairs are matched by order")
    return targets, inputs


def listing_checksum(files: list[Path], root: Path) -> str:
    """sha256 of `<sha256 of file>  <path relative to root>` lines in byte order of the paths.

    The same as `LC_ALL=C find <set> -type f | sort | xargs sha256sum | sha256sum` run in `root`, when `files` are
    all the files of the set.
    """
    lines = []
    for f in sorted(files, key=lambda p: p.relative_to(root).as_posix().encode()):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        lines.append(f"{digest}  {f.relative_to(root).as_posix()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def find_local(bench: Benchmark, root: Path | None = None) -> Dataset | None:
    """The set as it is on disk under `root` (its own name first, then aliases), or None when absent."""
    root = data_root() if root is None else Path(root)
    for folder_name in (bench.name, *bench.aliases):
        folder = root / folder_name
        targets, inputs = _scan(bench, folder)
        if targets:
            return Dataset(
                name=bench.name,
                task=bench.task,
                path=folder,
                targets=tuple(targets),
                inputs=tuple(inputs) if inputs is not None else None,
                expected=bench.count,
            )
    return None


def load(name: str, *, root: Path | None = None, offline: bool = False, limit: int | None = None) -> Dataset:
    """The named set from the data root, fetched first when it is missing (from the download cache only, offline).

    `limit` keeps the first N images (a quick check); the dataset record then says it is a subset.
    """
    bench = get(name)
    found = find_local(bench, root)
    if found is None:
        found = fetch(bench.name, root=root, offline=offline)
    if limit is not None and limit < found.count:
        if limit < 1:
            raise UsageError(f"--limit must be at least 1, got {limit}")
        inputs = found.inputs[:limit] if found.inputs is not None else None
        found = Dataset(found.name, found.task, found.path, found.targets[:limit], inputs, found.expected)
    return found


def status(root: Path | None = None) -> list[dict]:
    """One row per known set: what `irtool datasets list` prints."""
    rows = []
    for bench in BENCHMARKS.values():
        try:
            local = find_local(bench, root)
        except InputError:
            local = None
        if local is None:
            present = "no"
        elif local.subset:
            present = f"subset {local.count}/{bench.count} ({local.path.name})"
        else:
            present = f"yes ({local.count})"
        rows.append(
            {
                "name": bench.name,
                "task": bench.task,
                "images": bench.count,
                "present": local is not None,
                "local": present,
                "path": str(local.path) if local else None,
                "subset": bool(local and local.subset),
                "source": bench.describe_source(),
                "source_short": bench.describe_source(short=True),
            }
        )
    return rows


# ----------------------------------------------------------------------------------------------------- fetching
def fetch(
    name: str,
    *,
    source: str | Path | None = None,
    root: Path | None = None,
    allow_unpinned: bool = False,
    offline: bool = False,
) -> Dataset:
    """Put the named set under the data root, from `source` (a folder or archive) or its Hub archive.

    A set already present is left alone. Raises UnavailableError when there is no usable source (offline with an
    empty cache, checksum or count mismatch, unpinned source without `allow_unpinned`, licence-restricted set).
    """
    bench = get(name)
    root = data_root() if root is None else Path(root)
    found = find_local(bench, root)
    if found is not None and not found.subset:
        return found

    if source is not None:
        members = archives.members_of(Path(source))
        origin = str(source)
    else:
        archive = archives.download(bench, allow_unpinned=allow_unpinned, offline=offline)
        members = archives.members_of(archive)
        origin = bench.describe_source()

    with members as items:
        archives.install(bench, root, items, origin=origin, exact=source is None)
    found = find_local(bench, root)
    assert found is not None
    return found
