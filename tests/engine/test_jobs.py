"""`plan_jobs` and `check_outputs` on real file-system oddities: symlink loops, dangling links, FIFOs, devices, the
same file reached twice, and outputs that cannot be written. No model involved."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from irtool.engine import jobs as jobs_module
from irtool.engine.jobs import Naming, check_outputs, plan_before_model, plan_jobs
from irtool.errors import InputError, UsageError
from irtool.io.images import exr_supported

posix = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, devices and /proc are POSIX")


def _files(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")  # the plan never decodes; a name and a file suffice
    return [folder / n for n in names]


def _errors(planned) -> dict[str, str]:
    return {j.source.name: j.error for j in planned if j.error is not None}


def _plan_in_thread(*args, **kwargs):
    """plan_jobs with a deadline: had it opened a FIFO, it would block forever instead of failing the test."""
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["jobs"] = plan_jobs(*args, **kwargs)
        except Exception as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert not thread.is_alive(), "plan_jobs blocked (did it open a FIFO?)"
    return result


@posix
def test_symlink_loops_and_dangling_links_in_a_folder_are_failed_jobs_not_an_abort(tmp_path):
    folder = tmp_path / "in"
    _files(folder, "img1.png", "img2.png")
    (folder / "self.png").symlink_to("self.png")
    (folder / "a.png").symlink_to("b.png")
    (folder / "b.png").symlink_to("a.png")
    (folder / "dangling.png").symlink_to("gone.png")
    (folder / "cycle").symlink_to(".")  # a linked folder leading back: not followed, so the walk ends

    planned = plan_jobs([str(folder)], Naming(), recursive=True)

    assert [j.source.name for j in planned if j.runnable] == ["img1.png", "img2.png"]
    errors = _errors(planned)
    assert set(errors) == {"self.png", "a.png", "b.png", "dangling.png"}
    assert "symlink loop" in errors["self.png"] and "symlink loop" in errors["a.png"]
    assert "dangling symlink" in errors["dangling.png"] and "gone.png" in errors["dangling.png"]
    assert all(str(folder) in message for message in errors.values())  # each message names its entry


@posix
def test_symlink_loops_named_or_globbed(tmp_path):
    folder = tmp_path / "in"
    (good,) = _files(folder, "good.png")
    (folder / "self.png").symlink_to("self.png")
    with pytest.raises(InputError, match="self.png': a symlink loop"):
        plan_jobs([str(folder / "self.png")], Naming())
    planned = plan_jobs([str(folder / "self.png"), str(good)], Naming())
    assert [(j.source.name, j.runnable) for j in planned] == [("self.png", False), ("good.png", True)]
    planned = plan_jobs([str(folder / "*.png")], Naming(output=tmp_path / "out"))
    assert _errors(planned).keys() == {"self.png"} and [j.source for j in planned if j.runnable] == [good]


@posix
def test_a_symlink_loop_as_output_is_refused_not_a_crash(tmp_path):
    (image,) = _files(tmp_path / "in", "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").symlink_to("a.png")
    with pytest.raises(InputError, match="output .* is a symlink loop"):
        plan_jobs([str(image)], Naming(output=out), existing="overwrite")
    with pytest.raises(UsageError, match="symlink loop"):
        plan_jobs([str(image)], Naming(output=out / "a.png"))


def test_the_same_file_twice_is_planned_once(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    a, b = _files(folder, "a.png", "b.png")
    monkeypatch.chdir(tmp_path)
    for inputs in (
        ["in/a.png", "in/a.png"],
        ["in/a.png", "./in/a.png", str(a)],
        ["in", "in/a.png"],
        ["in/a.png", "in"],
        ["in", "in/*.png", "in/../in"],
    ):
        planned = plan_jobs(inputs, Naming())
        assert all(j.runnable for j in planned), inputs
        names = sorted(j.source.name for j in planned)
        assert names == (["a.png", "b.png"] if len(names) == 2 else ["a.png"]), inputs
        assert len({j.output.resolve() for j in planned}) == len(planned)
    # The first mention decides: named first, it is the named file's job (refused if its output exists).
    assert not plan_jobs(["in/a.png", "in"], Naming())[0].listed
    assert plan_jobs(["in", "in/a.png"], Naming())[0].listed


@posix
def test_a_linked_folder_or_a_link_under_another_name(tmp_path):
    folder = tmp_path / "in"
    (a,) = _files(folder, "a.png")
    (tmp_path / "alias").symlink_to(folder)
    assert len(plan_jobs([str(a), str(tmp_path / "alias" / "a.png")], Naming())) == 1  # one entry, two spellings
    (folder / "copy.png").symlink_to("a.png")  # another name: its own output, copy.png
    planned = plan_jobs([str(folder)], Naming())
    assert sorted(j.output.name for j in planned if j.runnable) == ["a.png", "copy.png"]


@posix
def test_fifos_and_devices_are_refused_without_being_opened(tmp_path):
    folder = tmp_path / "in"
    (good,) = _files(folder, "good.png")
    os.mkfifo(folder / "pipe.png")
    result = _plan_in_thread([str(folder / "pipe.png"), "/dev/null", "/dev/zero", str(good)], Naming())
    planned = result["jobs"]
    assert [j.runnable for j in planned] == [False, False, False, True]
    assert planned[0].error == f"'{folder / 'pipe.png'}': not a regular file (a FIFO)"
    assert planned[1].error == "'/dev/null': not a regular file (a character device)"
    assert "no such file" not in planned[2].error
    result = _plan_in_thread([str(folder)], Naming())  # in a folder: a failed entry, the rest planned
    assert _errors(result["jobs"]) == {"pipe.png": f"'{folder / 'pipe.png'}': not a regular file (a FIFO)"}
    assert isinstance(_plan_in_thread(["/dev/null"], Naming())["error"], InputError)


@posix
def test_an_output_that_is_a_device_is_named_as_such(tmp_path):
    (image,) = _files(tmp_path / "in", "a.png")
    with pytest.raises(UsageError, match="-o /dev/full: is a character device, not a folder"):
        plan_jobs([str(image)], Naming(output=Path("/dev/full")))
    with pytest.raises(UsageError, match="is a character device"):
        plan_jobs([str(tmp_path / "in")], Naming(output=Path("/dev/null")))
    os.mkfifo(tmp_path / "out.png")
    with pytest.raises(UsageError, match="is a FIFO, not a file"):
        plan_jobs([str(image)], Naming(output=tmp_path / "out.png"))


def test_an_output_suffix_must_be_an_image_or_video_format(tmp_path):
    (image,) = _files(tmp_path / "in", "a.png")
    with pytest.raises(UsageError, match="'.xyz' is not an image or video suffix"):
        plan_jobs([str(image)], Naming(output=tmp_path / "out.xyz"))
    assert not (tmp_path / "out.xyz").exists()
    assert plan_jobs([str(image)], Naming(output=tmp_path / "out"))[0].output == tmp_path / "out" / "a.png"
    assert plan_jobs([str(image)], Naming(output=tmp_path / "o.jpg"))[0].output == tmp_path / "o.jpg"
    (tmp_path / "v1.5").mkdir()  # an existing folder is a folder, whatever its name
    assert plan_jobs([str(image)], Naming(output=tmp_path / "v1.5"))[0].output == tmp_path / "v1.5" / "a.png"
    # For a folder input -o is a folder anyway.
    assert plan_jobs([str(tmp_path / "in")], Naming(output=tmp_path / "x.y"))[0].output == tmp_path / "x.y" / "a.png"


def test_an_existing_folder_in_an_outputs_place_is_a_failed_job(tmp_path):
    (image,) = _files(tmp_path / "in", "a.png", "b.png")[:1]
    (tmp_path / "out" / "a.png").mkdir(parents=True)
    planned = plan_jobs([str(tmp_path / "in")], Naming(output=tmp_path / "out"), existing="overwrite")
    assert "is a folder" in planned[0].error and planned[1].runnable


def test_check_outputs_accepts_a_writable_place_and_leaves_nothing_behind(tmp_path):
    _files(tmp_path / "in", "a.png")
    check_outputs(plan_jobs([str(tmp_path / "in")], Naming(output=tmp_path / "new" / "deeper")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no probe, no folder made early


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and /sys are Linux's")
def test_check_outputs_refuses_folders_that_cannot_be_made(tmp_path):
    (image,) = _files(tmp_path / "in", "a.png")
    with pytest.raises(UsageError, match=r"cannot write in '/proc/x/out': nothing can be created in '/proc'"):
        check_outputs(plan_jobs([str(image)], Naming(output=Path("/proc/x/out"))))
    with pytest.raises(UsageError, match="nothing can be created in '/sys'"):  # a folder no one may write in
        check_outputs(plan_jobs([str(image)], Naming(output=Path("/sys/irtool-out"))))
    with pytest.raises(UsageError, match=f"'{image}' is a file, not a folder"):
        check_outputs(plan_jobs([str(tmp_path / "in")], Naming(output=image / "sub")))
    # Jobs that will not run are not checked: an output that exists and is skipped writes nothing.
    planned = plan_jobs([str(image)], Naming(output=Path("/proc/x/out")))
    planned[0].skip = True
    check_outputs(planned)


def test_exr_outputs_are_checked_before_anything_runs(tmp_path, monkeypatch):
    (image,) = _files(tmp_path / "in", "a.png")
    planned = plan_jobs([str(image)], Naming(output=tmp_path / "out", format="exr"))
    if exr_supported():
        check_outputs(planned)
    else:  # this OpenCV build, as it is
        with pytest.raises(UsageError, match="no OpenEXR support"):
            check_outputs(planned)
    monkeypatch.setattr(jobs_module, "exr_supported", lambda: False)
    with pytest.raises(UsageError, match="EXR output: .*-f tif"):
        check_outputs(plan_jobs([str(image)], Naming(output=tmp_path / "o.exr")))
    check_outputs(plan_jobs([str(image)], Naming(output=tmp_path / "out", format="tif")))


def test_plan_before_model_with_and_without_model_fields_in_the_name(tmp_path):
    (image,) = _files(tmp_path / "in", "a.png")
    planned = plan_before_model([str(image)], Naming())
    assert planned is not None and planned[0].output == tmp_path / "in" / "restored" / "a.png"
    with pytest.raises(InputError, match="no such file"):
        plan_before_model([str(tmp_path / "missing.png")], Naming())
    # {model} is not known yet: nothing final is planned, but -o is still checked.
    assert plan_before_model([str(image)], Naming(name="{stem}_{model}")) is None
    with pytest.raises(UsageError, match="not an image or video suffix"):
        plan_before_model([str(image)], Naming(name="{stem}_{model}", output=tmp_path / "o.xyz"))
    # An output that exists only under the placeholder name does not refuse the run before the model is known.
    (tmp_path / "in" / "restored").mkdir()
    (tmp_path / "in" / "restored" / "a_model.png").write_bytes(b"")
    assert plan_before_model([str(image)], Naming(name="{stem}_{model}")) is None


def test_an_input_reached_through_a_link_or_another_spelling_is_never_an_output(tmp_path, monkeypatch):
    a, b, c = _files(tmp_path / "in", "a.png", "b.png", "c.png")
    out = tmp_path / "out"
    out.mkdir()
    os.link(a, out / "a.png")  # a hard link: the same file under another path
    (out / "b.png").symlink_to(b)
    planned = plan_jobs([str(a), str(b), str(c)], Naming(output=out), existing="overwrite")
    assert [j.error is not None and "is the input" in j.error for j in planned] == [True, True, False]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="is the input"):
        plan_jobs(["in/a.png"], Naming(output=Path("./in/../in/a.png")), existing="overwrite")


def test_planning_a_big_folder_stays_linear(tmp_path):
    """Each output used to be compared with each input: 1,000 images took minutes to plan."""
    import time

    _files(tmp_path / "in", *(f"img{i}.png" for i in range(3000)))
    started = time.perf_counter()
    planned = plan_jobs([str(tmp_path / "in")], Naming(output=tmp_path / "in", suffix="_x"))
    assert len(planned) == 3000 and time.perf_counter() - started < 30
