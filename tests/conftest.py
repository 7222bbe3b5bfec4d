"""Shared fixtures. Benchmark images are read from ../shared/datasets (or $IRTOOL_TEST_DATA), never copied here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    env = os.environ.get("IRTOOL_TEST_DATA")
    # Resolved: relative roots in training configs are read under $IRTOOL_DATA_DIR, not the working directory.
    return Path(env).resolve() if env else REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The benchmark data folder. CI sets IRTOOL_REQUIRE_DATA=1 so that a missing folder fails instead of skips."""
    root = _data_root()
    if not (root / "Set5").is_dir():
        if os.environ.get("IRTOOL_REQUIRE_DATA"):
            pytest.fail(f"benchmark data not found at {root} (set IRTOOL_TEST_DATA)")
        pytest.skip(f"benchmark data not found at {root} (set IRTOOL_TEST_DATA)")
    return root


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    """No test may touch the user's caches or the network: HF and irtool caches go to a temp folder."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("HF_HOME", str(cache / "hf"))
    monkeypatch.setenv("IRTOOL_CACHE_DIR", str(cache / "irtool"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
