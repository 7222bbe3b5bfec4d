"""Atomic outputs: complete files only, normal permissions, nothing left behind on failure."""

from __future__ import annotations

import stat

import pytest

from irtool import files


def test_written_file_has_umask_permissions_and_no_temporary_remains(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    files.write_bytes(target, b"abc")
    assert target.read_bytes() == b"abc"
    assert stat.S_IMODE(target.stat().st_mode) == files.new_file_mode()
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), files.atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".safetensors" and tmp.name.startswith(".")
        tmp.write_bytes(b"half")
        raise RuntimeError("writer crashed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]
