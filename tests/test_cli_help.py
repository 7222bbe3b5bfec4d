"""Help text: on/off flags read as flags (no value type after them), in every command."""

from __future__ import annotations

import re

import pytest

from irtool.cli import main

COMMANDS = [
    [],
    ["restore"],
    ["eval"],
    ["train"],
    ["export"],
    ["doctor"],
    ["compare"],
    ["datasets", "list"],
    ["datasets", "fetch"],
    ["models", "list"],
    ["models", "info"],
    ["models", "convert"],
    ["models", "download"],
]


def _help(capsys, command: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "irtool")
def test_flags_show_no_value_type(capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(capsys, command)
    assert "--help" in text
    assert "<bool>" not in text and "BOOLEAN" not in text, text
    for line in text.splitlines():  # `--help  -h   Show this message`: nothing between the names and the help
        if "Show this message and exit" in line:
            assert re.search(r"--help\s+-h\s+Show this message", line), line


def test_restore_help_keeps_value_types_for_options_that_take_values(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    text = _help(capsys, ["restore"])
    overwrite = next(line for line in text.splitlines() if "--overwrite" in line)
    assert re.search(r"--overwrite\s+Replace existing outputs", overwrite), overwrite
    assert re.search(r"--tile\s+-t\s+<str>", text) and re.search(r"--quality\s+<int range>", text)
