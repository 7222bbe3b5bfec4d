"""`irtool restore` on inputs and outputs that are not plain files and folders (issue #15): symlink loops, FIFOs,
devices, the same file twice, an `-o` that cannot be, and checks that must come before the model loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from irtool.cli import main
from irtool.io.images import exr_supported, read_image, write_image

posix = pytest.mark.skipif(sys.platform == "win32", reason="symlinks, FIFOs and devices as POSIX has them")


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["restore", *args])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def _images(folder: Path, count: int = 2) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        paths.append(folder / f"img{i}.png")
        write_image(paths[-1], rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    return paths


@pytest.fixture
def no_model(monkeypatch):
    """Makes loading a model fail the test: the checks under test must refuse before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the check")

    monkeypatch.setattr("irtool.models.ref.open_model", refuse)


@posix
def test_a_folder_with_symlink_loops_restores_the_rest_and_exits_1(tmp_path, capsys):
    folder = tmp_path / "in"
    _images(folder)
    (folder / "self.png").symlink_to("self.png")
    (folder / "a.png").symlink_to("b.png")
    (folder / "b.png").symlink_to("a.png")
    (folder / "dangling.png").symlink_to("nowhere.png")
    code, out, err = run_cli(capsys, str(folder), "-m", "identity", "--json")
    summary = json.loads(out)
    assert code == 1 and (summary["done"], summary["failed"]) == (2, 4)
    failed = {Path(i["source"]).name: i["error"] for i in summary["items"] if i["status"] == "failed"}
    assert set(failed) == {"self.png", "a.png", "b.png", "dangling.png"}
    assert "symlink loop" in failed["self.png"] and "dangling symlink" in failed["dangling.png"]
    assert sorted(p.name for p in (folder / "restored").iterdir()) == ["img0.png", "img1.png"]
    assert "Traceback" not in err and "RuntimeError" not in err


def test_the_same_file_named_twice_is_restored_once(tmp_path, capsys, monkeypatch):
    _images(tmp_path / "in")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(capsys, "in/img0.png", "in/img0.png", "./in/img0.png", "-m", "identity", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["done"], summary["failed"], len(summary["items"])) == (1, 0, 1)
    code, out, _ = run_cli(capsys, "in", "in/img1.png", "-m", "identity", "-o", "out", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["done"], summary["failed"]) == (2, 0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png"]


@posix
def test_a_fifo_and_devices_as_inputs_fail_clearly_without_blocking(tmp_path):
    (image,) = _images(tmp_path / "in", count=1)
    os.mkfifo(tmp_path / "in" / "pipe.png")  # nothing ever writes to it: opening it for reading would block
    command = [sys.executable, "-m", "irtool", "restore", str(tmp_path / "in" / "pipe.png"), "/dev/null", str(image)]
    proc = subprocess.run(
        [*command, "-m", "identity", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert [i["status"] for i in summary["items"]] == ["failed", "failed", "done"]
    assert "not a regular file (a FIFO)" in summary["items"][0]["error"]
    assert "not a regular file (a character device)" in summary["items"][1]["error"]
    assert "no such file" not in proc.stderr and "Traceback" not in proc.stderr


@posix
def test_a_fifo_in_a_folder_is_reported_and_the_rest_restored(tmp_path, capsys):
    _images(tmp_path / "in")
    os.mkfifo(tmp_path / "in" / "pipe.png")
    code, out, _ = run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "--json")
    summary = json.loads(out)
    assert code == 1 and (summary["done"], summary["failed"]) == (2, 1)


@posix
def test_a_device_as_output_is_named_before_the_model_loads(tmp_path, capsys, no_model):
    (image,) = _images(tmp_path / "in", count=1)
    code, _, err = run_cli(capsys, str(image), "-m", "identity", "-o", "/dev/full")
    assert code == 2 and "-o /dev/full: is a character device, not a folder" in err
    assert "File exists" not in err


def test_an_output_suffix_that_is_no_format_is_a_usage_error(tmp_path, capsys, no_model):
    (image,) = _images(tmp_path / "in", count=1)
    code, _, err = run_cli(capsys, str(image), "-m", "identity", "-o", str(tmp_path / "out.xyz"))
    assert code == 2 and "'.xyz' is not an image or video suffix" in err
    assert not (tmp_path / "out.xyz").exists()


def test_a_suffixless_output_stays_a_folder(tmp_path, capsys):
    (image,) = _images(tmp_path / "in", count=1)
    code, _, err = run_cli(capsys, str(image), "-m", "identity", "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert read_image(tmp_path / "out" / "img0.png").pixels.shape == (6, 5, 3)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and /sys are Linux's")
def test_outputs_that_cannot_be_written_are_refused_before_the_model_loads(tmp_path, capsys, no_model):
    (image,) = _images(tmp_path / "in", count=1)
    for out, why in (
        ("/proc/x/out", "nothing can be created in '/proc'"),
        ("/sys/irtool-out", "nothing can be created in '/sys'"),
        (str(image / "sub"), f"'{image}' is a file, not a folder"),
    ):
        code, _, err = run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "-o", out)
        assert code == 2 and why in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_exr_without_openexr_is_refused_before_the_model_loads(tmp_path, capsys, request):
    (image,) = _images(tmp_path / "in", count=1)
    if exr_supported():  # this OpenCV build as it is: either way the test says what happens
        code, _, err = run_cli(capsys, str(image), "-m", "identity", "-f", "exr")
        assert code == 0, err
        return
    request.getfixturevalue("no_model")
    code, _, err = run_cli(capsys, str(image), "-m", "identity", "-f", "exr")
    assert code == 2 and "no OpenEXR support" in err and "-f tif" in err
    assert not (tmp_path / "in" / "restored").exists()


def test_missing_inputs_are_refused_before_the_model_loads(tmp_path, capsys, no_model):
    code, _, err = run_cli(capsys, str(tmp_path / "missing.png"), "-m", "identity")
    assert code == 1 and "no such file" in err
