"""Benchmark sets: local layouts, listing checksums, and the download path against a fake Hub on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from irtool.cli import main
from irtool.data import benchmarks
from irtool.errors import UnavailableError
from irtool.io.images import write_image
from tests.hubserver import running_hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    with running_hub(monkeypatch, tmp_path) as served:
        yield served


@pytest.fixture
def root(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("IRTOOL_DATA_DIR", str(data))
    return data


def _png(seed: int, tmp_path) -> bytes:
    path = tmp_path / f"src{seed}.png"
    write_image(path, np.random.default_rng(seed).integers(0, 256, (24, 20, 3), dtype=np.uint8))
    return path.read_bytes()


def _archive(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _serve_urban100(fake_hub, monkeypatch, archive: bytes, *, sha256: str | None, revision: str = COMMIT):
    """Serve `archive` as Urban100's pinned source, and make the registry expect a 3-image set."""
    fake_hub.add_file("eugenesiow/Urban100", "data/Urban100_HR.tar.gz", archive, repo_type="dataset", commit=COMMIT)
    bench = benchmarks.BENCHMARKS["Urban100"]
    source = replace(bench.source, revision=revision, sha256=sha256)
    monkeypatch.setitem(benchmarks.BENCHMARKS, "Urban100", replace(bench, count=3, source=source))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    captured = capsys.readouterr()
    return e.value.code, captured.out, captured.err


def test_fetch_from_hub_verifies_and_extracts(fake_hub, root, tmp_path, monkeypatch, capsys):
    pngs = {f"Urban100_HR/img_00{i}.png": _png(i, tmp_path) for i in range(1, 4)}
    archive = _archive({**pngs, "Urban100_HR/readme.txt": b"not an image"})
    _serve_urban100(fake_hub, monkeypatch, archive, sha256=hashlib.sha256(archive).hexdigest())

    code, out, err = _cli(capsys, "datasets", "fetch", "urban100", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["fetched"] and got["count"] == 3 and not got["subset"]
    hr = root / "Urban100" / "HR"
    assert sorted(p.name for p in hr.iterdir()) == ["img_001.png", "img_002.png", "img_003.png"]
    assert (hr / "img_002.png").read_bytes() == pngs["Urban100_HR/img_002.png"]
    assert [p.name for p in root.iterdir()] == ["Urban100"]  # no partial folders left behind
    assert ("HEAD", f"/datasets/eugenesiow/Urban100/resolve/{COMMIT}/data/Urban100_HR.tar.gz") in fake_hub.requests

    # Present now: a second fetch is a no-op, and the set is listed as present.
    code, out, _ = _cli(capsys, "datasets", "fetch", "Urban100", "--json")
    assert code == 0 and not json.loads(out)["fetched"]
    code, out, _ = _cli(capsys, "datasets", "list", "--json")
    row = next(r for r in json.loads(out)["datasets"] if r["name"] == "Urban100")
    assert row["present"] and row["local"] == "yes (3)" and "pinned" in row["source"]


def test_wrong_checksum_is_exit_3_and_installs_nothing(fake_hub, root, tmp_path, monkeypatch, capsys):
    archive = _archive({f"x/{i}.png": _png(i, tmp_path) for i in range(3)})
    _serve_urban100(fake_hub, monkeypatch, archive, sha256="ab" * 32)
    with pytest.raises(UnavailableError, match="checksum mismatch"):
        benchmarks.fetch("Urban100")
    code, _, err = _cli(capsys, "datasets", "fetch", "Urban100")
    assert code == 3 and "checksum mismatch" in err and "Traceback" not in err
    assert not (root / "Urban100").exists()


def test_wrong_image_count_and_unsafe_paths_are_refused(fake_hub, root, tmp_path, monkeypatch):
    _serve_urban100(fake_hub, monkeypatch, _archive({"a/1.png": _png(1, tmp_path)}), sha256=None)
    with pytest.raises(UnavailableError, match="holds 1 images, expected 3"):
        benchmarks.fetch("Urban100")
    evil = _archive({"../../evil.png": _png(2, tmp_path), "a/1.png": _png(1, tmp_path)})
    with pytest.raises(UnavailableError, match="unsafe path"):
        benchmarks.fetch("Urban100", source=_write(tmp_path / "evil.tar.gz", evil))
    assert not (tmp_path / "evil.png").exists() and not (root / "Urban100").exists()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_offline_with_empty_cache_is_exit_3(fake_hub, root, monkeypatch, capsys):
    _serve_urban100(fake_hub, monkeypatch, b"unused", sha256=None)
    code, _, err = _cli(capsys, "datasets", "fetch", "Urban100", "--offline")
    assert code == 3 and "offline" in err and "Urban100" in err
    code, _, err = _cli(capsys, "eval", "--dataset", "Urban100", "-m", "bicubic", "--offline")
    assert code == 3 and "offline" in err
    assert len(err.strip().splitlines()) <= 3  # one message (rich may wrap it), no traceback
    assert fake_hub.requests == []


def test_unpinned_sources_need_consent(fake_hub, root, tmp_path, monkeypatch, capsys):
    archive = _archive({f"Urban100_HR/{i}.png": _png(i, tmp_path) for i in range(3)})
    _serve_urban100(fake_hub, monkeypatch, archive, sha256=None, revision="main")
    code, _, err = _cli(capsys, "datasets", "fetch", "Urban100")
    assert code == 3 and "--allow-unpinned" in err
    code, out, err = _cli(capsys, "datasets", "fetch", "Urban100", "--allow-unpinned", "--json")
    assert code == 0, err
    assert json.loads(out)["count"] == 3


def test_user_path_only_sets_and_subsets(root, tmp_path, capsys):
    code, _, err = _cli(capsys, "datasets", "fetch", "Manga109")
    assert code == 3 and "--from" in err and "academic" in err

    src = tmp_path / "my_manga"
    for i in range(2):
        write_image(src / "HR" / f"title{i}.png", np.full((16, 16, 3), i, np.uint8))
        write_image(src / "LR_bicubic" / "X2" / f"title{i}x2.png", np.full((8, 8, 3), i, np.uint8))
    ds = benchmarks.fetch("Manga109", source=src)
    assert ds.count == 2 and ds.subset and ds.path == root / "Manga109"
    assert sorted(p.name for p in (root / "Manga109" / "HR").iterdir()) == ["title0.png", "title1.png"]

    code, _, err = _cli(capsys, "datasets", "fetch", "CBSD68")  # no download source for denoising sets
    assert code == 3 and "--from" in err


def test_shared_copy_layouts_and_checksums(data_root, monkeypatch):
    monkeypatch.setenv("IRTOOL_DATA_DIR", str(data_root))
    rain = benchmarks.load("Rain100L")
    assert rain.subset and rain.count == 10 and rain.path.name == "Rain100L_subset10"
    assert rain.inputs[0].name == "rain-001.png" and rain.targets[0].name == "norain-001.png"
    # For a set whose folder holds exactly its images, the listing checksum is the data README's command.
    set12 = benchmarks.load("set12")
    assert set12.checksum == "9667277ad432ac46ddad1278bde7d4da3dfe15de2d9037d7f07a9c9c3d5ed242"
    assert benchmarks.load("CBSD68", limit=3).count == 3
    rows = {r["name"]: r for r in benchmarks.status()}
    assert rows["Set5"]["present"] and rows["Rain100L"]["subset"] and not rows["Manga109"]["present"]
    with pytest.raises(UnavailableError, match="unknown dataset"):
        benchmarks.get("Set6")


def test_data_root_defaults_to_the_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("IRTOOL_DATA_DIR", raising=False)
    monkeypatch.setenv("IRTOOL_CACHE_DIR", str(tmp_path / "c"))
    assert benchmarks.data_root() == tmp_path / "c" / "datasets"


def test_one_cache_folder_for_all_layers(monkeypatch, tmp_path):
    from irtool import paths

    monkeypatch.delenv("IRTOOL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert paths.cache_dir() == tmp_path / "xdg" / "irtool"
    monkeypatch.setenv("IRTOOL_CACHE_DIR", "~/somewhere")
    assert paths.cache_dir() == Path.home() / "somewhere"
    assert benchmarks.cache_dir is paths.cache_dir and benchmarks.data_root is paths.data_root


def test_sets_count_benchmark_images_only(tmp_path):
    """Every readable format counts, except float EXR, which is never part of a published (8-bit) set."""
    from irtool.data.catalog import BENCHMARK_SUFFIXES
    from irtool.io.images import IMAGE_SUFFIXES

    assert BENCHMARK_SUFFIXES < IMAGE_SUFFIXES and ".exr" not in BENCHMARK_SUFFIXES
    folder = tmp_path / "Set12"
    for name in ("a.png", "b.tif", "c.exr", "d.txt"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"x")
    found = benchmarks.find_local(benchmarks.get("Set12"), tmp_path)
    assert [p.name for p in found.targets] == ["a.png", "b.tif"] and found.subset
