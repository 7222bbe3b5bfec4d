"""No network: a Hub that cannot be reached fails in a few seconds with one line and exit 3, not after 25 s of
huggingface_hub's retries; a cached file is still used."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from irtool import hub
from irtool.cli import main
from irtool.io.images import write_image


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _blackhole() -> Iterator[int]:
    """A port whose connects hang: a listener that never accepts, its backlog already full (SYNs are dropped)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.2)
    try:
        yield port
    finally:
        for c in fillers:
            c.close()
        server.close()


def _restore(capsys, tmp_path, ref: str, *extra: str) -> tuple[int, str, float]:
    image = tmp_path / "a.png"
    write_image(image, np.zeros((8, 8, 3), np.uint8))
    started = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        main(["restore", str(image), "-m", ref, "-o", str(tmp_path / "out.png"), "--overwrite", *extra])
    return exc.value.code, capsys.readouterr().err, time.perf_counter() - started


def test_refused_connection_fails_fast_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    code, err, seconds = _restore(capsys, tmp_path, "hf://me/model/m.safetensors")
    assert code == 3 and seconds < 5, (seconds, err)
    assert len(err.strip().splitlines()) == 1 and "Retrying" not in err and "Traceback" not in err, err
    assert err.startswith("error: hf://me/model/m.safetensors is not in the HF cache") and "unreachable" in err


def test_connect_that_hangs_fails_after_the_probe_timeout(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(hub, "CONNECT_TIMEOUT", 1.0)
    with _blackhole() as port:
        assert hub.endpoint_unreachable(f"http://127.0.0.1:{port}") is not None
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        code, err, seconds = _restore(capsys, tmp_path, "hf://me/model/m.safetensors")
    assert code == 3 and seconds < 5, (seconds, err)
    assert len(err.strip().splitlines()) == 1 and "unreachable" in err and "Retrying" not in err, err


def test_cached_files_still_work_when_the_hub_is_unreachable(tmp_path, capsys, monkeypatch):
    from irtool.models import create, save
    from tests.hubserver import running_hub

    weights = tmp_path / "m.safetensors"
    save(create("compact-sr-x2"), weights)
    with running_hub(monkeypatch, tmp_path) as fake:
        commit = fake.add_file("me/sr", "m.safetensors", weights.read_bytes())
        assert hub.endpoint_unreachable(hub.os.environ["HF_ENDPOINT"]) is None  # a live endpoint passes the probe
        code, err, _ = _restore(capsys, tmp_path, f"hf://me/sr@{commit}/m.safetensors")
        assert code == 0, err
        code, err, _ = _restore(capsys, tmp_path, "hf://me/sr/m.safetensors")  # unpinned: "main" is cached too
        assert code == 0, err
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    for ref in (f"hf://me/sr@{commit}/m.safetensors", "hf://me/sr/m.safetensors"):
        code, err, seconds = _restore(capsys, tmp_path, ref)
        assert code == 0 and seconds < 5 and "Retrying" not in err, err
