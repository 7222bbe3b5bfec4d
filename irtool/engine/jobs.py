"""From what the user typed to a list of jobs: which files, where each result goes, and what happens if it exists.

Inputs are files, folders (`recursive` for subfolders) and glob patterns (expanded here, so they work the same in
every shell), images and videos mixed. Defaults that keep a user's files safe:
- results go to a `restored` folder beside the inputs (inside a folder input, and left out when it is scanned);
- an input is never overwritten: a job whose output is one of the inputs fails before anything runs;
- an output that exists is skipped for folder and glob inputs and is an error for a file named on its own,
  unless `existing` says "skip" or "overwrite";
- folder structure is mirrored under the output folder; two jobs never write the same file;
- a file reached twice (named twice, spelled two ways, or named and inside a folder input) is restored once;
- an entry that is not a regular file (a symlink loop, a dangling link, a FIFO, a device) is a failed job that
  is never opened: reading a FIFO would block the batch forever.
"""

from __future__ import annotations

import glob
import os
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from irtool.engine import entries
from irtool.engine.entries import FILE, FOLDER, MISSING, kind_of, real
from irtool.errors import InputError, UsageError
from irtool.io.images import IMAGE_SUFFIXES, exr_supported, natural_key
from irtool.io.video import VIDEO_SUFFIXES
from irtool.launch import launch_env

DEFAULT_FOLDER = "restored"
TEMPLATE_FIELDS = ("stem", "model", "scale", "task", "parent")
Existing = Literal["auto", "skip", "overwrite"]
_MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES


@dataclass
class Job:
    source: Path
    output: Path
    kind: Literal["image", "video"]
    listed: bool = False  # found in a folder or by a glob, rather than named: existing outputs are skipped
    skip: bool = False  # the output exists and skipping applies
    error: str | None = None  # known to fail before running

    @property
    def runnable(self) -> bool:
        return not self.skip and self.error is None


@dataclass(frozen=True)
class Naming:
    """How an output is named: `{name}{suffix}.{format}` inside the output folder."""

    output: Path | None = None  # -o: a folder, or a file when there is a single input
    name: str = "{stem}"
    suffix: str = ""
    format: str | None = None  # image suffix without the dot; None keeps the input's
    model: str = "model"
    scale: int = 1
    task: str = "sr"


@dataclass
class _Found:
    path: Path
    base: Path  # the folder the output layout mirrors from
    from_folder: bool  # listed from a folder or a glob (skip-existing by default) rather than named
    error: str | None = None  # found, but not a file that can be read


def plan_jobs(inputs: list[str], naming: Naming, *, recursive: bool = False, existing: Existing = "auto") -> list[Job]:
    """One job per input file, in the order given (folders in natural order). Raises InputError if none is found."""
    entries.forget()
    _check_template(naming.name)
    if "/" in naming.suffix or "\\" in naming.suffix:
        raise UsageError(f"--suffix {naming.suffix!r}: text added to the name, not a path")
    if naming.format is not None and f".{naming.format.lower().lstrip('.')}" not in IMAGE_SUFFIXES:
        raise UsageError(f"--format {naming.format}: choose one of {', '.join(sorted(s[1:] for s in IMAGE_SUFFIXES))}")
    single_file_output = _single_file_output(inputs, naming.output)
    jobs: list[Job] = []
    seen: set[tuple[Path, str]] = set()
    for arg in inputs:
        for item in _expand(arg, naming, recursive):
            key = (real(item.path.parent), item.path.name)  # one entry, however spelled; a link is its own entry
            if key in seen:  # the first mention decides where its output goes
                continue
            seen.add(key)
            if item.error is not None:
                jobs.append(Job(item.path, item.path, "image", listed=item.from_folder, error=item.error))
                continue
            kind = "video" if item.path.suffix.lower() in VIDEO_SUFFIXES else "image"
            if single_file_output:
                assert naming.output is not None
                output = naming.output
                if (output.suffix.lower() in VIDEO_SUFFIXES) != (kind == "video"):
                    article = "an" if kind == "image" else "a"
                    raise UsageError(f"-o {output}: {article} {kind} input needs {article} {kind} output file")
            else:
                output = _output_path(item, naming, kind)
            jobs.append(Job(item.path, output, kind, listed=item.from_folder))
    jobs = _drop_earlier_outputs(jobs)
    planned = [j for j in jobs if j.error is None]
    _refuse_overwriting_inputs(planned)
    for job in planned:
        if job.error is None:
            _decide(job, existing)
    _refuse_collisions([j for j in planned if j.error is None])
    if all(j.error is not None for j in jobs):
        raise InputError("; ".join(j.error for j in jobs if j.error))
    return jobs


def plan_before_model(
    inputs: list[str], naming: Naming, *, recursive: bool = False, existing: Existing = "auto"
) -> list[Job] | None:
    """`plan_jobs` and `check_outputs` for a caller that has not loaded its model yet: bad inputs, `-o` and `-f` are
    refused in a moment, not after a model download. Returns the jobs, or None when the name template uses the
    model's fields (`naming`'s are placeholders then): plan again once the model is known."""
    uses_model = bool({"model", "scale", "task"} & set(_fields(naming.name)))
    try:
        jobs = plan_jobs(inputs, naming, recursive=recursive, existing="overwrite" if uses_model else existing)
    except InputError:
        if uses_model:  # it may come from a placeholder name; the plan with the real names tells
            return None
        raise
    check_outputs(jobs)
    return None if uses_model else jobs


def check_outputs(jobs: list[Job]) -> None:
    """Refuse what every job would otherwise find out only after its inference: an EXR output without OpenEXR in
    OpenCV, and an output folder that cannot be created or written in. UsageError, naming the first."""
    runnable = [j for j in jobs if j.runnable]
    exr = next((j for j in runnable if j.kind == "image" and j.output.suffix.lower() == ".exr"), None)
    if exr is not None and not exr_supported():
        raise UsageError("EXR output: this OpenCV build has no OpenEXR support (use -f tif for 32-bit float)")
    problems: dict[Path, str | None] = {}
    for job in runnable:
        folder = job.output.parent
        if folder not in problems:
            problems[folder] = entries.cannot_write_in(folder)
        if problems[folder] is not None:
            raise UsageError(f"cannot write in '{folder}': {problems[folder]}")


def shard(jobs: list[Job]) -> list[Job]:
    """Under torchrun (RANK / WORLD_SIZE set) each process takes every WORLD_SIZE-th job, starting at its RANK."""
    launch = launch_env()
    return jobs[launch.rank :: launch.world_size] if launch.distributed else jobs


def _single_file_output(inputs: list[str], output: Path | None) -> bool:
    """Whether -o names the output file of a single input file, else a folder; UsageError if it can be neither."""
    if output is None:
        return False
    what = kind_of(output)
    if len(inputs) == 1 and kind_of(Path(inputs[0])) == FILE and what != FOLDER and output.suffix:
        if output.suffix.lower() not in _MEDIA_SUFFIXES:
            known = ", ".join(sorted(s[1:] for s in _MEDIA_SUFFIXES))
            raise UsageError(
                f"-o {output}: '{output.suffix}' is not an image or video suffix ({known}); "
                "a new output folder is named without a suffix"
            )
        if what not in (MISSING, FILE):
            raise UsageError(f"-o {output}: is {what}, not a file irtool can write")
        return True
    if what == FILE:
        # Otherwise every job fails on its own, one "File exists" each, after the model has loaded.
        raise UsageError(f"-o {output}: is a file; for a folder, a glob or several inputs -o names a folder")
    if what not in (MISSING, FOLDER):
        raise UsageError(f"-o {output}: is {what}, not a folder")
    return False


def _expand(arg: str, naming: Naming, recursive: bool) -> list[_Found]:
    path = Path(arg)
    what = kind_of(path)
    if what == FOLDER:
        out_root = naming.output if naming.output is not None else path / DEFAULT_FOLDER
        # Results written inside the input folder are not inputs the next time (unless they sit beside them).
        found = _list_media(path, recursive, exclude=None if real(out_root) == real(path) else out_root)
        return found or [_Found(path, path, False, f"'{arg}' holds no images or videos")]
    if what == FILE:
        if not _is_media(path):
            return [_Found(path, path.parent, False, f"'{arg}' is not an image or video file (by its suffix)")]
        return [_Found(path, path.parent, False)]
    if what == MISSING and glob.has_magic(arg):
        base = _glob_base(arg)
        out_root = naming.output if naming.output is not None else base / DEFAULT_FOLDER
        exclude = None if real(out_root) == real(base) else out_root
        found = []
        for match in sorted(Path(p) for p in glob.glob(arg, recursive=True)):
            if _is_media(match) and not _inside(match, exclude):
                found += _entry(match, base)
        return found or [_Found(path, base, False, f"no image or video matches '{arg}'")]
    if what == MISSING:
        return [_Found(path, path.parent, False, f"'{arg}': no such file or folder")]
    return [_Found(path, path.parent, False, entries.not_a_file(path, what))]


def _list_media(folder: Path, recursive: bool, exclude: Path | None) -> list[_Found]:
    """Media files under `folder` in natural order, hidden entries left out. Entries named like media that cannot be
    read (entries.kind_of) and subfolders that cannot be listed come back as errors: none is lost silently."""
    found: list[_Found] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as scan:
                listing = list(scan)
        except OSError as exc:
            found.append(_Found(current, folder, True, f"cannot list folder '{current}': {exc.strerror or exc}"))
            continue
        for entry in listing:
            path = Path(entry.path)
            if entry.name.startswith(".") or _inside(path, exclude):
                continue
            if recursive and entry.is_dir(follow_symlinks=False):  # links to folders are not followed: no cycles
                pending.append(path)
            elif _is_media(path):
                found += _entry(path, folder)
    return sorted(found, key=lambda f: natural_key(f.path))


def _entry(path: Path, base: Path) -> list[_Found]:
    """A listed path: a file, nothing (a folder that happens to have a media suffix), or an error."""
    what = kind_of(path)
    if what == FOLDER:
        return []
    return [_Found(path, base, True, None if what == FILE else entries.not_a_file(path, what))]


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in _MEDIA_SUFFIXES


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        real(path).relative_to(real(folder))
        return True
    except ValueError:
        return False


def _glob_base(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard: outputs mirror the layout below it."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def _output_path(item: _Found, naming: Naming, kind: str) -> Path:
    root = naming.output if naming.output is not None else item.base / DEFAULT_FOLDER
    relative_dir = item.path.parent.relative_to(item.base) if item.from_folder else Path()
    stem = naming.name.format(
        stem=item.path.stem,
        model=naming.model,
        scale=naming.scale,
        task=naming.task,
        parent=item.path.parent.name,
    )
    if kind == "video" or naming.format is None:
        suffix = item.path.suffix.lower()
    else:
        suffix = "." + naming.format.lower().lstrip(".")
    return root / relative_dir / f"{stem}{naming.suffix}{suffix}"


def _drop_earlier_outputs(jobs: list[Job]) -> list[Job]:
    """Leave out listed files that are the outputs of other jobs: with -o inside the input folder, the results of
    an earlier run (`a_x4.png` beside `a.png`) must not become inputs (`a_x4_x4.png`). Under torchrun it also keeps
    every rank's list the same while other ranks are already writing."""
    made_from = {real(j.output): real(j.source) for j in jobs if j.error is None}

    def earlier_output(job: Job) -> bool:
        source = real(job.source)
        return job.listed and made_from.get(source, source) != source  # its own output is refused later instead

    return [j for j in jobs if not earlier_output(j)]


def _decide(job: Job, existing: Existing) -> None:
    what = kind_of(job.output)
    if what == MISSING:
        return
    if what != FILE:  # not even --overwrite replaces a folder, a device or a link that leads nowhere
        job.error = f"its output '{job.output}' is {what}, not a file irtool can replace"
    elif existing == "overwrite":
        return
    elif existing == "skip" or job.listed:
        job.skip = True
    else:
        job.error = f"'{job.output}' exists (pass --overwrite to replace it or --skip-existing to skip it)"


def _refuse_overwriting_inputs(jobs: list[Job]) -> None:
    # By file identity (through links, other spellings, case-insensitive file systems), in one pass: comparing each
    # output with each input took minutes for a folder of a thousand images.
    sources: dict[tuple[int, int] | None, Path] = {entries.identity(j.source): j.source for j in reversed(jobs)}
    sources.pop(None, None)
    for job in jobs:
        clash = sources.get(entries.identity(job.output))  # an output that does not exist yet is no input
        if clash is not None:
            job.error = f"its output '{job.output}' is the input '{clash}'; choose another -o, --name or --suffix"


def _refuse_collisions(jobs: list[Job]) -> None:
    seen: dict[Path, Path] = {}
    for job in jobs:
        key = real(job.output)
        if key in seen and not job.skip:
            job.error = (
                f"its output '{job.output}' would also be written for '{seen[key]}'; "
                "use --name with {parent}, or separate output folders"
            )
        else:
            seen.setdefault(key, job.source)


def _fields(template: str) -> list[str]:
    try:
        return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise UsageError(f"--name {template!r}: {exc}") from None


def _check_template(template: str) -> None:
    names = _fields(template)
    if "/" in template or "\\" in template:
        raise UsageError(f"--name {template!r}: a name, not a path (the folder is -o); subfolders are mirrored")
    unknown = [n for n in names if n not in TEMPLATE_FIELDS]
    if unknown or not names and not template:
        fields = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        raise UsageError(f"--name {template!r}: unknown field(s) {', '.join(unknown) or '(empty name)'}; use {fields}")
