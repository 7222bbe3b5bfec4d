"""`irtool restore` end to end on tiny files: batches, skipping, safety of inputs, fidelity, JSON, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from irtool.cli import main
from irtool.io.images import read_image, write_image


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["restore", *args])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def _images(folder: Path, count: int = 3, size: tuple[int, int] = (12, 10)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.png"
        write_image(path, rng.integers(0, 256, (*size, 3), dtype=np.uint8))
        paths.append(path)
    return paths


def test_folder_with_a_broken_file_finishes_the_rest_and_exits_1(tmp_path, capsys):
    _images(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "in" / "notes.txt").write_text("not an image: ignored")
    code, out, err = run_cli(capsys, str(tmp_path / "in"), "-m", "bicubic", "--json")
    assert code == 1
    summary = json.loads(out)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (3, 0, 1)
    assert {"device", "precision", "tile", "seconds", "model"} <= set(summary)
    failed = [i for i in summary["items"] if i["status"] == "failed"]
    assert failed[0]["source"].endswith("broken.png") and "broken.png" in failed[0]["error"]
    for i in range(3):  # default output folder: <input>/restored, same names, 4x the size
        assert read_image(tmp_path / "in" / "restored" / f"img{i}.png").pixels.shape == (48, 40, 3)
    assert "3 done, 0 skipped, 1 failed" in err and "broken.png" in err
    assert "Traceback" not in err


def test_existing_outputs_are_skipped_for_folders_and_refused_for_named_files(tmp_path, capsys):
    paths = _images(tmp_path / "in", count=2)
    assert run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "-o", str(tmp_path / "out"))[0] == 0
    out_file = tmp_path / "out" / "img0.png"
    stamp = out_file.stat().st_mtime_ns
    code, out, _ = run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "-o", str(tmp_path / "out"), "--json")
    assert code == 0 and json.loads(out)["skipped"] == 2 and out_file.stat().st_mtime_ns == stamp
    # A file named on its own: an existing output is an error unless asked for.
    code, _, err = run_cli(capsys, str(paths[0]), "-m", "identity", "-o", str(tmp_path / "out"))
    assert code == 1 and "--overwrite" in err
    code, out, _ = run_cli(
        capsys, str(paths[0]), "-m", "identity", "-o", str(tmp_path / "out"), "--skip-existing", "--json"
    )
    assert code == 0 and json.loads(out)["skipped"] == 1
    code, out, _ = run_cli(
        capsys, str(paths[0]), "-m", "identity", "-o", str(tmp_path / "out"), "--overwrite", "--json"
    )
    assert code == 0 and json.loads(out)["done"] == 1 and out_file.stat().st_mtime_ns != stamp
    assert run_cli(capsys, str(paths[0]), "--skip-existing", "--overwrite")[0] == 2


def test_an_input_is_never_overwritten(tmp_path, capsys):
    paths = _images(tmp_path / "in", count=2)
    before = [p.read_bytes() for p in paths]
    code, _, err = run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "-o", str(tmp_path / "in"), "--overwrite")
    assert code == 1 and "is the input" in err
    code, _, err = run_cli(capsys, str(paths[0]), "-m", "identity", "-o", str(paths[0]), "--overwrite")
    assert code == 1 and "is the input" in err
    assert [p.read_bytes() for p in paths] == before
    # With a suffix the same folder is fine.
    assert run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "-o", str(tmp_path / "in"), "--suffix", "_x")[0] == 0
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["img0.png", "img0_x.png", "img1.png", "img1_x.png"]


def test_globs_recursion_names_and_formats(tmp_path, capsys):
    _images(tmp_path / "in" / "a", count=1)
    _images(tmp_path / "in" / "b", count=1)
    code, out, _ = run_cli(
        capsys,
        str(tmp_path / "in" / "**" / "*.png"),
        "-m",
        "identity",
        "-o",
        str(tmp_path / "out"),
        "--name",
        "{parent}_{stem}_{model}",
        "-f",
        "jpg",
        "--quality",
        "90",
        "--json",
    )
    assert code == 0 and json.loads(out)["done"] == 2
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.jpg")) == [
        "a/a_img0_identity.jpg",
        "b/b_img0_identity.jpg",
    ]
    # A folder without --recursive sees no subfolders; with it, the tree is mirrored.
    assert run_cli(capsys, str(tmp_path / "in"), "-m", "identity")[0] == 1
    assert run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "-r")[0] == 0
    assert (tmp_path / "in" / "restored" / "b" / "img0.png").is_file()


def test_grey_16bit_alpha_and_metadata_survive(tmp_path, capsys):
    from PIL import Image, ImageCms

    rng = np.random.default_rng(1)
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "grey16.png", rng.integers(0, 65536, (9, 7, 1), dtype=np.uint16))
    write_image(folder / "rgba.png", rng.integers(0, 256, (9, 7, 4), dtype=np.uint8))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "irtool test camera"  # Make
    Image.fromarray(rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)).save(
        folder / "photo.jpg", exif=exif.tobytes(), icc_profile=icc, quality=95
    )
    assert run_cli(capsys, str(folder), "-m", "bicubic")[0] == 0
    grey = read_image(folder / "restored" / "grey16.png").pixels
    assert grey.dtype == np.uint16 and grey.shape == (36, 28, 1)
    rgba = read_image(folder / "restored" / "rgba.png").pixels
    assert rgba.shape == (36, 28, 4)
    photo = read_image(folder / "restored" / "photo.jpg")
    assert photo.icc == icc
    assert b"irtool test camera" in (photo.exif or b"")
    code, _, _ = run_cli(
        capsys, str(folder / "photo.jpg"), "-m", "identity", "-o", str(tmp_path / "s.jpg"), "--strip-metadata"
    )
    assert code == 0
    stripped = read_image(tmp_path / "s.jpg")
    assert stripped.icc is None and b"irtool test camera" not in (stripped.exif or b"")


def test_torchrun_ranks_split_the_inputs(tmp_path, capsys, monkeypatch):
    _images(tmp_path / "in", count=5)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    code, out, _ = run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["rank"], summary["world_size"]) == (1, 2)
    assert [Path(i["source"]).name for i in summary["items"]] == ["img1.png", "img3.png"]


def test_outputs_written_beside_the_inputs_are_not_inputs_the_next_time(tmp_path, capsys):
    _images(tmp_path / "in", count=2)
    args = (str(tmp_path / "in"), "-m", "identity", "-o", str(tmp_path / "in"), "--suffix", "_x1", "--json")
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and [i["status"] for i in json.loads(out)["items"]] == ["done", "done"]
    code, out, _ = run_cli(capsys, *args)  # again: img0_x1.png is img0.png's output, not a new input
    items = json.loads(out)["items"]
    assert code == 0 and [(Path(i["source"]).name, i["status"]) for i in items] == [
        ("img0.png", "skipped"),
        ("img1.png", "skipped"),
    ]
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["img0.png", "img0_x1.png", "img1.png", "img1_x1.png"]


def test_bad_options_are_usage_errors(tmp_path, capsys):
    paths = _images(tmp_path / "in", count=1)
    assert run_cli(capsys, str(paths[0]), "-m", "identity", "-t", "big")[0] == 2
    assert run_cli(capsys, str(paths[0]), "-m", "identity", "--name", "{nope}")[0] == 2
    assert run_cli(capsys, str(paths[0]), "-m", "identity", "--precision", "fp8")[0] == 2
    code, _, err = run_cli(capsys, str(paths[0]), "-m", "identity", "-o", str(tmp_path / "x.mp4"))
    assert code == 2 and "an image input needs an image output file" in err
    (tmp_path / "notes.txt").write_text("not a folder")
    code, _, err = run_cli(capsys, str(tmp_path / "in"), "-m", "identity", "-o", str(tmp_path / "notes.txt"))
    assert code == 2 and "is a file" in err
    code, _, err = run_cli(capsys, str(paths[0]), "-m", "identity", "--name", "../{stem}")
    assert code == 2 and "a name, not a path" in err  # nothing may be written outside the output folder
    assert run_cli(capsys, str(paths[0]), "-m", "identity", "--suffix", "/../x")[0] == 2
    code, _, err = run_cli(capsys, str(tmp_path / "missing.png"), "-m", "identity")
    assert code == 1 and "no such file" in err
    code, _, err = run_cli(capsys, str(paths[0]), "-m", "no-such-model")
    assert code == 3 and "unknown model" in err


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_exits_130_and_leaves_no_partial_files(tmp_path):
    _images(tmp_path / "in", count=40, size=(96, 96))  # a batch on the CPU: two images side by side
    proc = subprocess.Popen(
        [sys.executable, "-m", "irtool", "restore", str(tmp_path / "in"), "-m", "bicubic", "-o", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        # If this test itself runs as a background job, SIGINT is ignored and the child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "out").is_dir():  # the batch has started writing
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    written = list((tmp_path / "out").iterdir())
    assert len(written) < 40
    assert all(p.suffix == ".png" and not p.name.startswith(".") for p in written)  # no temp files left
    for p in written:
        assert read_image(p).pixels.shape == (384, 384, 3)  # every file there is complete
    # One line says what the interruption left: files written, work dropped, files never started.
    last = err.strip().splitlines()[-1]
    m = re.fullmatch(r"interrupted: (\d+) done(?:, (\d+) in progress \(discarded\))?, (\d+) not started", last)
    assert m, err
    done, in_progress, not_started = int(m[1]), int(m[2] or 0), int(m[3])
    assert done == len(written) and done + in_progress + not_started == 40 and not_started > 0


def test_models_download_then_restore_offline(tmp_path, capsys, monkeypatch):
    from irtool.models import create, save
    from tests.hubserver import running_hub

    weights = tmp_path / "m.safetensors"
    save(create("compact-sr-x2"), weights)
    image = _images(tmp_path / "in", count=1)[0]
    with running_hub(monkeypatch, tmp_path) as hub:
        commit = hub.add_file("me/sr", "m.safetensors", weights.read_bytes())
        ref = f"hf://me/sr@{commit}/m.safetensors"
        with pytest.raises(SystemExit) as exc:
            main(["models", "download", ref, "--to", str(tmp_path / "usb"), "--json"])
        assert exc.value.code in (0, None)
        got = json.loads(capsys.readouterr().out)
        assert Path(got["path"]).read_bytes() == weights.read_bytes()
        code, out, err = run_cli(capsys, str(image), "-m", ref, "--json")
        assert code == 0, err
        assert json.loads(out)["model"] == "compact-sr-x2"
    # The server is gone: the pinned file comes from the HF cache, and the copied file works on its own.
    code, _, err = run_cli(capsys, str(image), "-m", ref, "--offline", "--overwrite")
    assert code == 0, err
    code, _, err = run_cli(capsys, str(image), "-m", ref.replace("hf://", "hf:"), "--offline", "--overwrite")
    assert code == 0, err  # the short spelling, as in `hf:owner/repo@rev/file`
    code, _, err = run_cli(capsys, str(image), "-m", str(tmp_path / "usb" / "m.safetensors"), "--overwrite")
    assert code == 0, err
    assert read_image(tmp_path / "in" / "restored" / "img0.png").pixels.shape == (24, 20, 3)
    code, _, err = run_cli(capsys, str(image), "-m", f"hf://me/sr@{'0' * 40}/m.safetensors", "--offline", "--overwrite")
    assert code == 3 and "cache" in err


def test_two_inputs_never_write_the_same_output(tmp_path, capsys):
    a = _images(tmp_path / "a", count=1)[0]
    b = _images(tmp_path / "b", count=1)[0]
    code, out, err = run_cli(capsys, str(a), str(b), "-m", "identity", "-o", str(tmp_path / "out"), "--json")
    summary = json.loads(out)
    assert code == 1 and (summary["done"], summary["failed"]) == (1, 1)
    assert "would also be written" in err and "{parent}" in err
    code, out, _ = run_cli(
        capsys, str(a), str(b), "-m", "identity", "-o", str(tmp_path / "o2"), "--name", "{parent}_{stem}", "--json"
    )
    assert code == 0 and json.loads(out)["done"] == 2


def test_out_of_memory_at_the_smallest_tile_still_summarises_and_exits_4(tmp_path, capsys, monkeypatch):
    import torch

    from irtool.models.descriptor import ModelDescriptor

    class OOMAbove(torch.nn.Module):  # "runs out of memory" on anything above 500 pixels, whatever the tile
        descriptor = ModelDescriptor(arch="oom", task="denoise")

        def forward(self, x):
            if x.shape[-1] * x.shape[-2] > 500:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            return x

    monkeypatch.setattr("irtool.models.ref.open_model", lambda *a, **k: OOMAbove())
    folder = tmp_path / "in"
    _images(folder, count=1)  # img0: 12 x 10, fits
    write_image(folder / "img1.png", np.zeros((100, 100, 3), np.uint8))  # fails even in 32 px tiles
    write_image(folder / "img2.png", np.zeros((8, 8, 3), np.uint8))  # never reached
    code, out, err = run_cli(capsys, str(folder), "--json", "--workers", "1")
    assert code == 4 and "out of memory" in err and "Traceback" not in err
    items = {Path(i["source"]).name: i for i in json.loads(out)["items"]}
    assert [items[n]["status"] for n in ("img0.png", "img1.png", "img2.png")] == ["done", "failed", "failed"]
    assert items["img2.png"]["error"].startswith("not run:")
    assert (folder / "restored" / "img0.png").is_file() and not (folder / "restored" / "img2.png").exists()
    # Two images side by side: the batch stops the same way; an image already under way may still finish.
    code, out, err = run_cli(capsys, str(folder), "--json", "--workers", "2", "--overwrite")
    assert code == 4 and "out of memory" in err and "Traceback" not in err
    items = {Path(i["source"]).name: i for i in json.loads(out)["items"]}
    assert items["img1.png"]["status"] == "failed" and items["img0.png"]["status"] == "done"


def test_tta_runs_the_self_ensemble_and_says_so(tmp_path, capsys):
    yy, xx = np.mgrid[0:16, 0:20] / 4.0
    smooth = np.stack([np.sin(xx + yy), np.cos(xx - 0.5 * yy), np.sin(0.3 * xx * yy)], axis=2) * 100 + 128
    src = tmp_path / "in" / "smooth.png"
    src.parent.mkdir()
    write_image(src, smooth.round().astype(np.uint8))
    code, out, _ = run_cli(capsys, str(src), "-m", "sr-x2", "-o", str(tmp_path / "plain"), "--json")
    assert code == 0 and json.loads(out)["tta"] is False
    code, out, err = run_cli(capsys, str(src), "-m", "sr-x2", "-o", str(tmp_path / "tta"), "-x", "--json")
    assert code == 0 and json.loads(out)["tta"] is True
    assert "self-ensemble" in err
    plain = read_image(tmp_path / "plain" / src.name).pixels.astype(int)
    ensembled = read_image(tmp_path / "tta" / src.name).pixels.astype(int)
    assert plain.shape == ensembled.shape == (32, 40, 3)
    diff = np.abs(plain - ensembled)
    assert diff.max() > 0 and diff.mean() < 2  # a different, nearby result
