"""What a log sees: plain progress lines when stderr is not a terminal, unwrapped messages, the Ctrl-C counts, the
runtime in the restore banner, and which models run as named."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from irtool.cli import _progress, main
from irtool.cli._output import info, warn
from irtool.cli._progress import ProgressBar, format_duration
from irtool.cli._restore_progress import RestoreProgress
from irtool.io.images import write_image

ANSI = re.compile(r"\x1b\[")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_plain_lines_when_stderr_is_not_a_terminal(capsys):
    with ProgressBar(40, description="files", interval=0) as bar:
        assert bar.plain and not bar.enabled
        bar.update(completed=2)
        bar.start_item("photo.jpg", 480, unit="tile", position=3)
        bar.advance_item(120)
        bar.log_line("photo.jpg: done in 6 min", position=3)
    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"files 2/40, 5%, ETA \d+ s", lines[0]), lines
    assert re.fullmatch(r"\[3/40\] photo\.jpg: tile 120/480, 25%, ETA \d+ s", lines[1]), lines
    assert lines[2] == "[3/40] photo.jpg: done in 6 min"
    assert not ANSI.search("\n".join(lines))


def test_plain_lines_are_rate_limited_and_quiet_prints_nothing(capsys):
    with ProgressBar(10, description="files", interval=3600) as bar:
        bar.start_item("big.png", 1000, unit="tile", position=1)
        for _ in range(1000):
            bar.advance_item(1)
        bar.update(advance=1)
        bar.note("a note is always printed")
    assert capsys.readouterr().err.splitlines() == ["a note is always printed"]
    with ProgressBar(10, quiet=True, interval=0) as bar:
        bar.start_item("big.png", 10, unit="tile")
        bar.advance_item(5)
        bar.log_line("done")
        bar.note("not even notes")
    assert capsys.readouterr().err == ""


def test_unknown_totals_and_eta_wording(capsys):
    with ProgressBar(None, description="train", interval=0) as bar:
        bar.start_item("clip.mp4", None, unit="frame")  # a container that does not say its frame count
        bar.advance_item(7)
        bar.end_item()
        bar.reset(100, completed=50)
        bar.update(60, postfix="loss 0.1")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[1] clip.mp4: frame 7"
    assert re.fullmatch(r"train 60/100, 60%, ETA \d+ s  loss 0\.1", lines[1]), lines
    assert [format_duration(s) for s in (0.2, 40, 360, 5400, 7500)] == [
        "1 s",
        "40 s",
        "6 min",
        "1 h 30 min",
        "2 h 05 min",
    ]


def test_long_messages_are_one_line_in_a_log(capsys):
    message = "a long warning about " + " ".join(f"word{i}" for i in range(40)) + " with [brackets] kept"
    warn(message)
    info(message)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"warning: {message}", message]  # not wrapped at 80 columns, markup characters kept


def test_restore_in_a_log_prints_tile_progress_and_a_line_per_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_progress, "PLAIN_INTERVAL", 0.0)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"img{i}.png", np.full((40, 40, 3), 60 * i, np.uint8))
    (folder / "broken.png").write_bytes(b"not a png")
    out = str(tmp_path / "out")
    code, _, err = _cli(capsys, "restore", str(folder), "-m", "bicubic", "-t", "16", "-o", out, "--workers", "1")
    assert code == 1, err
    assert not ANSI.search(err) and "Traceback" not in err
    tiles = re.findall(r"\[(\d)/3\] img0\.png: tile (\d+)/(\d+)", err)
    assert (
        tiles and {t[2] for t in tiles} == {tiles[0][2]} and int(tiles[0][2]) > 1
    )  # the total is known from the start
    assert tiles[-1][1] == tiles[-1][2]  # ... and reached
    assert re.search(r"\[2/3\] img0\.png: done in \d+ s", err)
    assert re.search(r"\[1/3\] broken\.png: failed: .*broken\.png", err)
    # Images side by side (the CPU default for a batch): no tile counts, which would interleave, but a line per file.
    code, _, err = _cli(capsys, "restore", str(folder), "-m", "bicubic", "-t", "16", "-o", out, "--overwrite")
    assert code == 1 and not re.search(r"png: tile", err), err
    assert re.search(r"\[2/3\] img0\.png: done in \d+ s", err) and re.search(r"\[3/3\] img1\.png: done", err)


def test_interrupted_line_counts_done_in_progress_and_not_started():
    jobs = [SimpleNamespace(source=Path(f"in/{i}.png"), kind="image") for i in range(6)]
    with ProgressBar(6, quiet=True) as bar:
        progress = RestoreProgress(bar, jobs)  # type: ignore[arg-type]
        reporter = progress.reporter()
        common = {"seconds": 1.0, "frames": None, "error": "in/1.png: broken"}
        reporter.started(jobs[0], 4)
        reporter.finished(SimpleNamespace(**common, source="in/0.png", status="done"))
        reporter.finished(SimpleNamespace(**common, source="in/1.png", status="failed"))
        reporter.started(jobs[2], 4)
        reporter.started(jobs[2], 16)  # restarted after an out of memory back-off: still one job
    assert progress.interrupted_message() == "interrupted: 1 done, 1 failed, 1 in progress (discarded), 3 not started"


def test_restore_banner_names_onnxruntime(tmp_path, capsys, monkeypatch):
    import irtool.engine.base as base

    image = tmp_path / "a.png"
    write_image(image, np.zeros((8, 8, 3), np.uint8))
    code, _, err = _cli(capsys, "restore", str(image), "-m", "bicubic", "-o", str(tmp_path / "t.png"))
    assert code == 0 and "bicubic (x4 sr) on cpu, fp32: 1 input(s)" in err, err

    real = base.make_runner

    def as_onnx(*args, **kwargs):
        runner = real(*args, **kwargs)
        runner.runtime = "onnxruntime"  # what OnnxRunner says; onnxruntime itself need not be installed here
        return runner

    monkeypatch.setattr(base, "make_runner", as_onnx)
    code, out, err = _cli(capsys, "restore", str(image), "-m", "bicubic", "-o", str(tmp_path / "o.png"), "--json")
    assert code == 0 and "bicubic (x4 sr) on cpu (onnxruntime), fp32: 1 input(s)" in err, err
    assert "on cpu (onnxruntime), fp32, tile" in err and json.loads(out)["runtime"] == "onnxruntime"


def test_models_list_marks_what_runs_and_lists_it_first(capsys):
    code, out, _ = _cli(capsys, "models", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and all(isinstance(r["ready"], bool) for r in rows)
    ready = [r["name"] for r in rows if r["ready"]]
    assert {"sr-x4", "denoise", "bicubic"} <= set(ready) and "restormer" not in ready
    assert [r["ready"] for r in rows] == sorted((r["ready"] for r in rows), reverse=True)  # runnable first
    code, out, _ = _cli(capsys, "models", "list")
    table = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert " ready " in table["sr-x4"] and "weights needed" in table["restormer"]
    assert f"{len(ready)} of {len(rows)} run as named" in out
