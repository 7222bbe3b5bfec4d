"""From what the user typed to a list of jobs: which files, where each result goes, and what happens if it exists.

Inputs are files, folders (`recursive` for subfolders) and glob patterns (expanded here, so they work the same in
every shell), images and videos mixed. Defaults that keep a user's files safe:
- results go to a `restored` folder beside the inputs (inside a folder input, and left out when it is scanned);
- an input is never overwritten: a job whose output is one of the inputs fails before anything runs;
- an output that exists is skipped for folder and glob inputs and is an error for a file named on its own,
  unless `existing` says "skip" or "overwrite";
- folder structure is mirrored under the output folder; two jobs never write the same file.
"""

from __future__ import annotations

import glob
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from irtool.errors import InputError, UsageError
from irtool.io.images import IMAGE_SUFFIXES, same_file
from irtool.io.video import VIDEO_SUFFIXES
from irtool.launch import launch_env

DEFAULT_FOLDER = "restored"
TEMPLATE_FIELDS = ("stem", "model", "scale", "task", "parent")
Existing = Literal["auto", "skip", "overwrite"]


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


def plan_jobs(inputs: list[str], naming: Naming, *, recursive: bool = False, existing: Existing = "auto") -> list[Job]:
    """One job per input file, in the order given (folders in natural order). Raises InputError if none is found."""
    _check_template(naming.name)
    if "/" in naming.suffix or "\\" in naming.suffix:
        raise UsageError(f"--suffix {naming.suffix!r}: text added to the name, not a path")
    if naming.format is not None and f".{naming.format.lower().lstrip('.')}" not in IMAGE_SUFFIXES:
        raise UsageError(f"--format {naming.format}: choose one of {', '.join(sorted(s[1:] for s in IMAGE_SUFFIXES))}")
    single_file_output = (
        naming.output is not None
        and len(inputs) == 1
        and Path(inputs[0]).is_file()
        and naming.output.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
        and not naming.output.is_dir()
    )
    if naming.output is not None and not single_file_output and naming.output.is_file():
        # Otherwise every job fails on its own, one "File exists" each, after the model has loaded.
        raise UsageError(f"-o {naming.output}: is a file; for a folder, a glob or several inputs -o names a folder")
    jobs: list[Job] = []
    for arg in inputs:
        found, problem = _expand(arg, naming, recursive)
        if problem is not None:
            jobs.append(Job(Path(arg), Path(arg), "image", error=problem))
        for item in found:
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


def shard(jobs: list[Job]) -> list[Job]:
    """Under torchrun (RANK / WORLD_SIZE set) each process takes every WORLD_SIZE-th job, starting at its RANK."""
    launch = launch_env()
    return jobs[launch.rank :: launch.world_size] if launch.distributed else jobs


def _expand(arg: str, naming: Naming, recursive: bool) -> tuple[list[_Found], str | None]:
    path = Path(arg)
    if path.is_dir():
        out_root = naming.output if naming.output is not None else path / DEFAULT_FOLDER
        # Results written inside the input folder are not inputs the next time (unless they sit beside them).
        files = _list_media(path, recursive, exclude=None if _same_dir(out_root, path) else out_root)
        return [_Found(f, path, True) for f in files], None if files else f"'{arg}' holds no images or videos"
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            return [], f"'{arg}' is not an image or video file (by its suffix)"
        return [_Found(path, path.parent, False)], None
    if glob.has_magic(arg):
        base = _glob_base(arg)
        out_root = naming.output if naming.output is not None else base / DEFAULT_FOLDER
        matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
        exclude = None if _same_dir(out_root, base) else out_root
        files = [p for p in matches if p.is_file() and _is_media(p) and not _inside(p, exclude)]
        return [_Found(f, base, True) for f in files], None if files else f"no image or video matches '{arg}'"
    return [], f"'{arg}': no such file or folder"


def _list_media(folder: Path, recursive: bool, exclude: Path | None) -> list[Path]:
    found = []
    for path in folder.rglob("*") if recursive else folder.iterdir():
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or _inside(path, exclude):
            continue
        if _is_media(path) and path.is_file():
            found.append(path)
    return sorted(found, key=_natural_key)


def _natural_key(path: Path) -> list[tuple[int, int, str]]:
    """img2 before img10."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", path.as_posix().lower())]


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _same_dir(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


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
    made_from = {j.output.resolve(): j.source.resolve() for j in jobs if j.error is None}

    def earlier_output(job: Job) -> bool:
        source = job.source.resolve()
        return job.listed and made_from.get(source, source) != source  # its own output is refused later instead

    return [j for j in jobs if not earlier_output(j)]


def _decide(job: Job, existing: Existing) -> None:
    if not job.output.exists() or existing == "overwrite":
        return
    if existing == "skip" or job.listed:
        job.skip = True
    else:
        job.error = f"'{job.output}' exists (pass --overwrite to replace it or --skip-existing to skip it)"


def _refuse_overwriting_inputs(jobs: list[Job]) -> None:
    sources = [j.source for j in jobs]
    for job in jobs:
        clash = next((s for s in sources if same_file(job.output, s)), None)
        if clash is not None:
            job.error = f"its output '{job.output}' is the input '{clash}'; choose another -o, --name or --suffix"


def _refuse_collisions(jobs: list[Job]) -> None:
    seen: dict[Path, Path] = {}
    for job in jobs:
        key = job.output.resolve()
        if key in seen and not job.skip:
            job.error = (
                f"its output '{job.output}' would also be written for '{seen[key]}'; "
                "use --name with {parent}, or separate output folders"
            )
        else:
            seen.setdefault(key, job.source)


def _check_template(template: str) -> None:
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise UsageError(f"--name {template!r}: {exc}") from None
    if "/" in template or "\\" in template:
        raise UsageError(f"--name {template!r}: a name, not a path (the folder is -o); subfolders are mirrored")
    unknown = [n for n in names if n not in TEMPLATE_FIELDS]
    if unknown or not names and not template:
        fields = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        raise UsageError(f"--name {template!r}: unknown field(s) {', '.join(unknown) or '(empty name)'}; use {fields}")
