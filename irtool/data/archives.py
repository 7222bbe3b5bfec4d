"""Getting a benchmark set onto disk: its Hub archive, or a folder or archive the user points at.

Downloads come from Hugging Face dataset repositories through `irtool.hub` (HF cache, HF_ENDPOINT, offline mode),
from a pinned commit unless the user explicitly allows a moving branch. Archives are checked (sha256 when known,
image count always) and extracted without trusting their paths, into a temporary folder renamed into place, so a
half-finished fetch never looks like a data set.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from irtool.data.catalog import BENCHMARK_SUFFIXES, INPUT_DIRS, TARGET_DIRS, Benchmark
from irtool.errors import InputError, UnavailableError
from irtool.paths import data_root


def download(bench: Benchmark, *, allow_unpinned: bool, offline: bool) -> Path:
    """The set's archive from the Hub (or the HF cache); UnavailableError when it cannot or may not be had."""
    from irtool import hub

    where = data_root()
    if bench.source is None:
        why = f" ({bench.user_only})" if bench.user_only else ""
        raise UnavailableError(
            f"{bench.name} is not in {where} and irtool cannot download it{why}; "
            f"run `irtool datasets fetch {bench.name} --from PATH` with your copy (a folder or archive)"
        )
    src = bench.source
    if not src.pinned and not allow_unpinned:
        raise UnavailableError(
            f"{bench.name}: its source hf://datasets/{src.repo_id} is not pinned to a commit (revision "
            f"{src.revision!r}), so its content may change; run `irtool datasets fetch {bench.name} --allow-unpinned` "
            "to accept it"
        )
    ref = hub.HubRef(repo_id=src.repo_id, filename=src.filename, revision=src.revision, repo_type="dataset")
    hint = f"run `irtool datasets fetch {bench.name}` on a connected machine and copy {where / bench.name} here"
    try:
        return hub.fetch_file(ref, sha256=src.sha256, offline=offline, hint=hint)
    except UnavailableError as e:
        raise UnavailableError(f"{bench.name} is not in {where}: {e}") from None


# A member of an archive or folder: its path inside (POSIX) and a way to open it.
class _Member:
    def __init__(self, name: str, opener) -> None:
        self.name = name
        self.open = opener


class Members:
    """Context manager yielding the regular files of a folder, .tar(.gz/.bz2/.xz) or .zip, with paths checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._close = None

    def __enter__(self) -> list[_Member]:
        p = self.path
        if p.is_dir():
            return [
                _Member(f.relative_to(p).as_posix(), (lambda f=f: open(f, "rb")))
                for f in sorted(p.rglob("*"))
                if f.is_file() and not f.is_symlink()
            ]
        if tarfile.is_tarfile(p):
            tf = tarfile.open(p)
            self._close = tf.close
            out = []
            for m in tf.getmembers():
                _check_member_path(m.name, p)
                if m.isfile():  # links, devices and fifos are never extracted
                    out.append(_Member(m.name, (lambda m=m: tf.extractfile(m))))
            return out
        if zipfile.is_zipfile(p):
            zf = zipfile.ZipFile(p)
            self._close = zf.close
            out = []
            for info in zf.infolist():
                _check_member_path(info.filename, p)
                if not info.is_dir():
                    out.append(_Member(info.filename, (lambda i=info: zf.open(i))))
            return out
        raise InputError(f"{p}: not a folder, tar or zip archive")

    def __exit__(self, *exc: object) -> None:
        if self._close is not None:
            self._close()


def members_of(path: Path) -> Members:
    """The files of a folder or archive, to use as `with members_of(path) as items: ...`."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return Members(path)


def _check_member_path(name: str, archive: Path) -> None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and (":" in parts[0])) or ".." in parts:
        raise UnavailableError(f"{archive}: refusing an archive with an unsafe path {name!r}")


def _pick(members: list[_Member], bench: Benchmark) -> dict[str, list[_Member]]:
    """Which members make up the set, keyed by subfolder of the installed unit ('' or 'input' / 'target')."""
    images = [
        m
        for m in members
        if PurePosixPath(m.name).suffix.lower() in BENCHMARK_SUFFIXES
        and not any(part.startswith((".", "__MACOSX")) for part in PurePosixPath(m.name).parts)
    ]

    def parent(m: _Member) -> str:
        return PurePosixPath(m.name).parent.name.lower()

    if bench.layout == "pairs":
        inputs = [m for m in images if parent(m) in INPUT_DIRS]
        targets = [m for m in images if parent(m) in TARGET_DIRS]
        if not inputs or len(inputs) != len(targets):
            raise InputError(
                f"{bench.name}: expected paired folders input/ and target/ (or rain/ and norain/) with the same "
                f"number of images, found {len(inputs)} and {len(targets)}"
            )
        return {"input": inputs, "target": targets}
    if bench.layout == "hr" and any(parent(m) == "hr" for m in images):
        images = [m for m in images if parent(m) == "hr"]  # a set shipped with its LR folders: keep HR only
    folders = {str(PurePosixPath(m.name).parent) for m in images}
    if len(folders) > 1:
        raise InputError(
            f"{bench.name}: images are spread over several folders ({', '.join(sorted(folders)[:4])}); "
            "point --from at the folder that holds the ground-truth images"
        )
    return {"": images}


def install(bench: Benchmark, root: Path, members: list[_Member], *, origin: str, exact: bool) -> None:
    """Copy the chosen members into a temporary folder next to the destination, then rename it into place."""
    groups = _pick(members, bench)
    count = len(next(iter(groups.values())))
    if count == 0:
        raise InputError(f"{bench.name}: no images found in {origin}")
    if exact and count != bench.count:
        raise UnavailableError(f"{bench.name}: {origin} holds {count} images, expected {bench.count}")
    if count > bench.count:
        raise InputError(f"{bench.name}: {origin} holds {count} images, more than the {bench.count} of the set")

    # The unit renamed into place: <Name>/HR for SR sets (next to any LR folders a user keeps), <Name> otherwise.
    dest = root / bench.name / "HR" if bench.layout == "hr" else root / bench.name
    if dest.exists() and any(dest.iterdir()):
        raise UnavailableError(f"{dest} exists but does not hold the set ({count} images expected); remove it first")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        for sub, items in groups.items():
            target_dir = tmp / sub if sub else tmp
            target_dir.mkdir(parents=True, exist_ok=True)
            seen: set[str] = set()
            for m in items:
                base = PurePosixPath(m.name).name
                if base in seen:
                    raise InputError(f"{bench.name}: two images named {base} in {origin}")
                seen.add(base)
                with m.open() as src, open(target_dir / base, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
