"""The scripts in examples/ stay valid: all compile, and the cheap ones run against the shared benchmark data."""

from __future__ import annotations

import os
import py_compile
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

EXAMPLES = REPO / "examples"


def test_examples_exist_and_compile(tmp_path):
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert {p.name for p in scripts} >= {"restore_folder.py", "evaluate_model.py"}
    for script in scripts:
        py_compile.compile(str(script), cfile=str(tmp_path / f"{script.stem}.pyc"), doraise=True)
    for script in EXAMPLES.glob("*.sh"):
        assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0, script


def _run(*args: str, data_root) -> subprocess.CompletedProcess:
    env = {**os.environ, "IRTOOL_DATA_DIR": str(data_root), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, cwd=REPO)


def test_evaluate_example_prints_the_published_bicubic_row(data_root):
    r = _run(str(EXAMPLES / "evaluate_model.py"), "--dataset", "Set5", "--scale", "4", "--protocol", "sr-luma",
             data_root=data_root)  # fmt: skip
    assert r.returncode == 0, r.stderr
    mean = next(line for line in r.stdout.splitlines() if line.strip().startswith("mean"))
    assert "28.42" in mean and "0.8104" in mean
    assert '"name": "sr-luma"' in r.stdout


def test_restore_folder_example_keeps_names_and_scales(data_root, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(data_root / "Set5" / "LR_bicubic" / "X4" / "birdx4.png", src)
    r = _run(str(EXAMPLES / "restore_folder.py"), str(src), str(tmp_path / "out"), "--model", "bicubic",
             "--device", "cpu", data_root=data_root)  # fmt: skip
    assert r.returncode == 0, r.stderr
    from irtool.io.images import read_image

    assert read_image(tmp_path / "out" / "birdx4.png").pixels.shape == (288, 288, 3)


@pytest.mark.slow
def test_score_folders_example_runs(data_root, tmp_path):
    env = {**os.environ, "IRTOOL_DATA_DIR": str(data_root), "IRTOOL": f"{sys.executable} -m irtool"}
    r = subprocess.run(["bash", str(EXAMPLES / "score_folders.sh"), str(tmp_path / "out")], capture_output=True,
                       text=True, env=env, timeout=600, cwd=REPO)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Set5 x4: 28.43" in r.stdout
