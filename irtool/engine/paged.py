"""Pixel arrays of huge images kept in a temporary file, so a 48 MP image does not sit in RAM twice over.

The engine walks an image from top to bottom. With the input and the output in a file-backed mapping, the rows it
has finished with are handed back to the operating system (`release_rows`): the process keeps only the stripe it
works on, and its memory stays roughly what one tile costs, whatever the image size. The page cache writes the
rest to disk if memory gets short. Small images (below `SPILL_BYTES`) stay ordinary arrays: no files, no cost.

The file lives in irtool's cache folder (on disk; /tmp is RAM on many systems) and is unlinked at once, so it
disappears with the mapping even if the process is killed.
"""

from __future__ import annotations

import mmap
import os
import tempfile

import numpy as np

SPILL_BYTES = 96 << 20  # a 32 MP RGB 8-bit image; smaller arrays stay in RAM

# A forward pass of a 512-pixel tile allocates gigabytes of activations in blocks glibc maps fresh and unmaps on
# free: a page fault per 4 KB, nearly as much kernel time as the model's own work (sr-x4: 1.1 M faults, 3.9 s system
# beside 5.3 s user per tile). Backed by transparent huge pages (torch's CPU allocator reads this at its first
# allocation) they fault ~30 times less and cost a third of the kernel time, at no cost in resident memory
# (benchmarks/restore.py rss). Set here as the batch pipeline imports this module before any model is loaded.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


class PagedArray(np.ndarray):
    """An ndarray in a mapped temporary file (the mapping is `_map` on the array `paged` returned)."""

    _map: mmap.mmap | None = None

    def release_rows(self, start: int, stop: int) -> None:
        """See `release_rows`; how code below the engine (irtool.io's band encoders) reaches it."""
        release_rows(self, start, stop)


def empty(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised array: file-backed when it is large, an ordinary one otherwise."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes < SPILL_BYTES:
        return np.empty(shape, dtype)
    with tempfile.TemporaryFile(dir=_spill_dir(), prefix="irtool-", suffix=".pixels") as f:
        f.truncate(nbytes)
        mapped = mmap.mmap(f.fileno(), nbytes)  # the mapping keeps the (already unlinked) file alive
    array = np.frombuffer(mapped, dtype=dtype).reshape(shape).view(PagedArray)
    array._map = mapped
    return array


def spill(array: np.ndarray) -> np.ndarray:
    """`array` itself when small; else a file-backed copy (the caller drops the original to free its RAM)."""
    if array.nbytes < SPILL_BYTES or isinstance(array, PagedArray):
        return array
    paged = empty(array.shape, array.dtype)
    rows_per_step = max(1, (16 << 20) // max(1, array[0].nbytes))
    for top in range(0, array.shape[0], rows_per_step):
        paged[top : top + rows_per_step] = array[top : top + rows_per_step]
        release_rows(paged, top, top + rows_per_step)
    return paged


def release_rows(array: np.ndarray, start: int, stop: int) -> None:
    """Hand the pages of rows [start, stop) back to the OS; the data stays in the file (no-op for RAM arrays)."""
    mapped = getattr(array, "_map", None)
    if mapped is None or not hasattr(mmap, "MADV_DONTNEED"):
        return
    row_bytes = array.strides[0]
    page = mmap.PAGESIZE
    first = -(-max(0, start) * row_bytes // page) * page  # whole pages inside the range only
    last = min(stop, array.shape[0]) * row_bytes // page * page
    if last > first:
        mapped.madvise(mmap.MADV_DONTNEED, first, last - first)


def _spill_dir() -> str:
    from irtool.paths import cache_dir

    folder = os.environ.get("IRTOOL_TMPDIR") or str(cache_dir() / "tmp")
    os.makedirs(folder, exist_ok=True)
    return folder
