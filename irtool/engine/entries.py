"""What a path on disk is, found without opening it, for planning jobs (`irtool.engine.jobs`).

Pathlib's own answers lose what the user needs to hear: `is_file()` is False alike for a missing file, a FIFO, a
device, a dangling link and a symlink loop, and `resolve()` raises RuntimeError on a loop (Python < 3.13).
"""

from __future__ import annotations

import errno
import functools
import os
import secrets
import stat
from pathlib import Path

FILE, FOLDER, MISSING = "a file", "a folder", "missing"
_SPECIAL = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def kind_of(path: Path) -> str:
    """FILE, FOLDER, MISSING, or what else `path` is ("a FIFO", "a symlink loop", ...), links followed."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"a dangling symlink (to '{os.readlink(path)}')" if os.path.islink(path) else MISSING
        return f"not readable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return FOLDER
    return next((kind for test, kind in _SPECIAL if test(mode)), "a special file")


def not_a_file(path: Path, kind: str) -> str:
    """The failure message for an input that `kind_of` found to be `kind`, not a file."""
    return f"'{path}': {kind}, not a file" if "symlink" in kind else f"'{path}': not a regular file ({kind})"


def cannot_write_in(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (created if needed), or None. A uniquely named probe folder is made
    and removed in its nearest existing ancestor: nothing is left behind, and torchrun's ranks do not race."""
    existing = folder
    while (kind := kind_of(existing)) == MISSING and existing.parent != existing:
        existing = existing.parent
    if kind != FOLDER:
        return f"'{existing}' is {kind}, not a folder"
    probe = existing / f".irtool-probe-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return f"nothing can be created in '{existing}' ({exc.strerror or exc})"
    return None


def identity(path: Path) -> tuple[int, int] | None:
    """The file's (device, inode), as os.path.samefile compares them; None if it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def real(path: Path) -> Path:
    """The path with links resolved, never raising (a loop stays unresolved). Folders are looked up once per plan:
    planning a folder of 20,000 images resolved each file's whole path several times."""
    if path.name in ("", ".", "..") or os.path.islink(path):
        return Path(os.path.realpath(path))
    return _real_folder(path.parent) / path.name


@functools.cache
def _real_folder(folder: Path) -> Path:
    return Path(os.path.realpath(folder))


def forget() -> None:
    """Drop the folders `real` has looked up: a new plan sees the disk as it is now."""
    _real_folder.cache_clear()
