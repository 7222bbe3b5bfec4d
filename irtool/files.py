"""Atomic outputs: every file irtool writes goes to a temporary name beside its destination and is renamed into
place when complete, so a reader (or a later `--skip-existing` run) never sees half a file and Ctrl-C leaves none.

The temporary file keeps the destination's suffix (encoders such as PyAV and onnx pick the format from it) and,
once renamed, has the permissions a plain `open()` would give it: some writers (mkstemp, safetensors) create
files 0600, which would make outputs meant for other users or machines unreadable to them.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_path(path: Path) -> Path:
    """A fresh hidden name in `path`'s folder: `.NAME.<random>.tmp<suffix>`."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")


def commit(tmp: Path, path: Path) -> None:
    """Give `tmp` the usual new-file permissions and rename it onto `path` (atomic within one file system)."""
    os.chmod(tmp, new_file_mode())
    os.replace(tmp, path)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; it replaces `path` on success and is removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, flushed to disk before the rename."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@functools.cache
def new_file_mode() -> int:
    # Reading the umask means setting it, so it is read once (cached), before any writer thread starts.
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def copy_into(source: Path, folder: str | Path) -> Path:
    """Copy a file into `folder` (created if needed) under its own name, atomically; a file onto itself is a no-op.

    For copies meant for other machines and users: normal permissions, never half a file.
    """
    import shutil

    dest = Path(folder) / Path(source).name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and dest.resolve() == Path(source).resolve():
        return dest
    with atomic_output(dest) as tmp:
        shutil.copyfile(source, tmp)
    return dest
