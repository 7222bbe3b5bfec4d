"""Benchmark test sets by name: where they live locally, where they come from, and how they are checked.

Layout under the data root (`IRTOOL_DATA_DIR`, default `<cache>/datasets`, cache = `IRTOOL_CACHE_DIR` or the platform
cache folder):

    <Name>/HR/*.png                 SR sets: ground truth only; LR inputs are always made locally from it
    <Name>/*.png                    denoising sets: ground truth only; noise is added by the protocol
    <Name>/input/*, <Name>/target/* deraining sets: paired by sorted order, as MATLAB's dir() did

Downloads come from Hugging Face dataset repositories through `irtool.hub` (HF cache, HF_ENDPOINT, offline mode),
from a pinned commit unless the user explicitly allows a moving branch. Archives are checked (sha256 when known,
image count always) and extracted without trusting their paths, into a temporary folder renamed into place, so a
half-finished fetch never looks like a data set.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Literal

from irtool.errors import InputError, UnavailableError, UsageError

Task = Literal["sr", "denoise", "derain"]
Layout = Literal["hr", "flat", "pairs"]

IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp")
# Folder names accepted for the two halves of a paired set (ours, then those of common copies of Rain100L).
_INPUT_DIRS = ("input", "rain", "lq")
_TARGET_DIRS = ("target", "norain", "gt")


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


# ----------------------------------------------------------------------------------------------- where things are
def cache_dir() -> Path:
    """irtool's cache folder: IRTOOL_CACHE_DIR, else the platform's user cache folder."""
    if os.environ.get("IRTOOL_CACHE_DIR"):
        return Path(os.environ["IRTOOL_CACHE_DIR"]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "irtool" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "irtool"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "irtool"


def data_root() -> Path:
    """Where benchmark sets live: IRTOOL_DATA_DIR, else `<cache>/datasets`."""
    env = os.environ.get("IRTOOL_DATA_DIR")
    return Path(env).expanduser() if env else cache_dir() / "datasets"


def get(name: str) -> Benchmark:
    """The benchmark called `name` (case-insensitive, aliases accepted); UnavailableError if unknown."""
    key = name.strip().lower()
    for b in BENCHMARKS.values():
        if key == b.name.lower() or key in (a.lower() for a in b.aliases):
            return b
    raise UnavailableError(f"unknown dataset {name!r}; known: {', '.join(BENCHMARKS)}")


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _subdir(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _scan(bench: Benchmark, folder: Path) -> tuple[list[Path], list[Path] | None]:
    """(targets, inputs) found in a set's folder, in sorted (C-locale) name order; empty when nothing is there."""
    if bench.layout == "hr":
        return _images_in(folder / "HR"), None
    if bench.layout == "flat":
        return _images_in(folder), None
    inp, tgt = _subdir(folder, _INPUT_DIRS), _subdir(folder, _TARGET_DIRS)
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
        members = _members_of(Path(source))
        origin = str(source)
    else:
        archive = _download(bench, allow_unpinned=allow_unpinned, offline=offline)
        members = _members_of(archive)
        origin = bench.describe_source()

    with members as items:
        _install(bench, root, items, origin=origin, exact=source is None)
    found = find_local(bench, root)
    assert found is not None
    return found


def _download(bench: Benchmark, *, allow_unpinned: bool, offline: bool) -> Path:
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


class _Members:
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


def _members_of(path: Path) -> _Members:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return _Members(path)


def _check_member_path(name: str, archive: Path) -> None:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and (":" in parts[0])) or ".." in parts:
        raise UnavailableError(f"{archive}: refusing an archive with an unsafe path {name!r}")


def _pick(members: list[_Member], bench: Benchmark) -> dict[str, list[_Member]]:
    """Which members make up the set, keyed by subfolder of the installed unit ('' or 'input' / 'target')."""
    images = [
        m
        for m in members
        if PurePosixPath(m.name).suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith((".", "__MACOSX")) for part in PurePosixPath(m.name).parts)
    ]

    def parent(m: _Member) -> str:
        return PurePosixPath(m.name).parent.name.lower()

    if bench.layout == "pairs":
        inputs = [m for m in images if parent(m) in _INPUT_DIRS]
        targets = [m for m in images if parent(m) in _TARGET_DIRS]
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


def _install(bench: Benchmark, root: Path, members: list[_Member], *, origin: str, exact: bool) -> None:
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
