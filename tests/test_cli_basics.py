"""The CLI starts instantly, prints its version, documents exit codes and never shows a traceback for bad usage."""

from __future__ import annotations

import subprocess
import sys

from irtool import __version__


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "irtool", *args], capture_output=True, text=True, timeout=120)


def test_version():
    r = _run("--version")
    assert r.returncode == 0
    assert __version__ in r.stdout


def test_help_lists_exit_codes_and_does_not_import_torch():
    code = (
        "import sys\n"
        "from irtool.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "try:\n    main(['--version'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help or --version'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Exit codes" in r.stdout
    assert "130" in r.stdout


def test_unknown_option_is_usage_error_without_traceback():
    r = _run("--no-such-option")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def _main_raising(monkeypatch, capsys, exc: BaseException) -> tuple[int, str]:
    import pytest

    import irtool.cli

    def app(**_):
        raise exc

    monkeypatch.setattr(irtool.cli, "app", app)
    with pytest.raises(SystemExit) as e:
        irtool.cli.main([])
    return e.value.code, capsys.readouterr().err


def test_out_of_memory_is_exit_4_in_one_line(monkeypatch, capsys):
    import torch

    for exc in (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail"), MemoryError()):
        code, err = _main_raising(monkeypatch, capsys, exc)
        assert code == 4, err
        assert err.startswith("error: out of memory") and len(err.strip().splitlines()) == 1, err
    code, err = _main_raising(monkeypatch, capsys, ValueError("a bug"))
    assert code == 1 and "ValueError: a bug" in err
