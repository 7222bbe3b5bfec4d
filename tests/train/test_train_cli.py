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
