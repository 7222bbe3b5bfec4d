"""`irtool train` on the command line: presets, overrides, one-line errors with exit code 2, a short real run."""

from __future__ import annotations

import json

import yaml

from irtool.cli import main


def _run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(["train", *args])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_print_config_applies_overrides_to_a_preset(capsys):
    code, out, _ = _run(capsys, "--preset", "sr-x4", "--set", "optim.lr=2e-4", "--out", "somewhere", "--print-config")
    assert code == 0
    cfg = yaml.safe_load(out)
    assert cfg["optim"]["lr"] == 2e-4 and cfg["run"]["out_dir"] == "somewhere"
    assert cfg["model"]["name"] == "compact-sr-x4" and cfg["data"]["scale"] == 4


def test_presets_name_registered_models(capsys):
    from irtool import models

    code, out, _ = _run(capsys, "--list-presets", "--json")
    assert code == 0
    rows = json.loads(out)
    names = {m.name for m in models.list_models()}
    assert {r["name"] for r in rows} >= {"sr-x2", "sr-x3", "sr-x4", "denoise"}
    assert all(r["model"] in names for r in rows)


def test_bad_config_is_one_line_and_exit_2(capsys, tmp_path):
    code, _, err = _run(capsys, "--preset", "sr-x4", "--set", "optim.lrr=1")
    assert code == 2 and "unknown key 'optim.lrr'" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    code, _, err = _run(capsys, str(bad))
    assert code == 2 and "not valid YAML" in err
    code, _, err = _run(capsys)
    assert code == 2 and "CONFIG file or --preset" in err


def test_a_short_run_from_the_command_line(capsys, tiny_config, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config(schedule={"steps": 2})))
    code, out, err = _run(capsys, str(path), "--quiet", "--json", "--out", str(tmp_path / "cli-run"))
    assert code == 0, err
    summary = json.loads(out)
    assert summary["steps"] == 2 and (tmp_path / "cli-run" / "last.safetensors").is_file()


def test_progress_bar_draws_on_a_terminal_only_and_keeps_notes(monkeypatch):
    """The CLI's one progress helper: off when quiet or piped (notes still printed unless quiet), bars otherwise."""
    import io

    from rich.console import Console

    from irtool.cli import _progress

    def console(terminal: bool) -> tuple[Console, io.StringIO]:
        buf = io.StringIO()
        return Console(file=buf, force_terminal=terminal, width=100), buf

    piped, piped_buf = console(False)
    monkeypatch.setattr(_progress, "err", piped)
    with _progress.ProgressBar(3, description="files") as bar:
        assert not bar.enabled
        bar.start_item("a.png", total=None)
        bar.advance_item(2)
        bar.update(advance=1, postfix="ok")
        bar.note("a note")
    assert piped_buf.getvalue() == "a note\n"
    with _progress.ProgressBar(3, quiet=True) as bar:
        bar.note("hidden")
    assert piped_buf.getvalue() == "a note\n"

    tty, tty_buf = console(True)
    monkeypatch.setattr(_progress, "err", tty)
    with _progress.ProgressBar(description="train") as bar:
        assert bar.enabled
        bar.reset(10, completed=4)
        bar.update(5, postfix="1.00 it/s")
        bar.start_item("big.png", total=None)
        bar.advance_item(3)
        bar.start_item("small.png", total=2)
        bar.advance_item(1)
        tasks = {t.description: t for t in bar._bar.tasks}
        assert tasks["train"].completed == 5 and tasks["train"].total == 10
        assert tasks["train"].fields["postfix"] == "1.00 it/s"
        assert "big.png" not in tasks and tasks["small.png"].total == 2 and tasks["small.png"].completed == 1
        bar.end_item()
        bar.note("val line")
    assert "val line" in tty_buf.getvalue()
    bar.update(7)  # after the block: a no-op, not an error
