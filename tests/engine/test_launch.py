"""RANK / WORLD_SIZE / LOCAL_RANK are read in one place (irtool.launch), checked, and used to shard the inputs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from irtool.errors import UsageError
from irtool.launch import Launch, launch_env


@pytest.fixture
def env(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_no_torchrun_is_a_single_process(env):
    env(RANK="")  # empty counts as unset, as before
    assert launch_env() == Launch(rank=0, world_size=1, local_rank=0)
    assert not launch_env().distributed and launch_env().is_main


def test_torchrun_values_are_read(env):
    env(RANK="3", WORLD_SIZE="4", LOCAL_RANK="1")
    launch = launch_env()
    assert (launch.rank, launch.world_size, launch.local_rank) == (3, 4, 1)
    assert launch.distributed and not launch.is_main


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not a whole number"),
        ({"RANK": "1.5", "WORLD_SIZE": "2"}, "RANK='1.5' is not a whole number"),
        ({"LOCAL_RANK": "-1"}, "LOCAL_RANK=-1 must be at least 0"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 must be at least 1"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 must be below WORLD_SIZE=2"),
    ],
)
def test_bad_values_are_a_one_line_usage_error(env, values, message):
    env(**values)
    with pytest.raises(UsageError, match=message) as caught:
        launch_env()
    assert "\n" not in str(caught.value)


def test_inputs_are_sharded_by_rank(env):
    from irtool.engine.jobs import shard

    jobs = list(range(7))
    assert shard(jobs) == jobs
    env(RANK="1", WORLD_SIZE="3")
    assert shard(jobs) == [1, 4]
    env(RANK="x")
    with pytest.raises(UsageError):
        shard(jobs)


def test_the_launch_helper_and_the_spill_files_stay_low_level():
    """irtool.launch imports no torch; the engine's spill files do not pull in the data layer for a folder name."""
    code = (
        "import sys, irtool.launch, irtool.paths; assert 'torch' not in sys.modules\n"
        "import irtool.engine.paged as p; p._spill_dir()\n"
        "print(sorted(m for m in sys.modules if m.startswith('irtool.data')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_spill_files_go_to_the_irtool_cache(monkeypatch, tmp_path):
    from irtool.engine import paged

    monkeypatch.delenv("IRTOOL_TMPDIR", raising=False)
    monkeypatch.setenv("IRTOOL_CACHE_DIR", str(tmp_path / "c"))
    assert paged._spill_dir() == str(tmp_path / "c" / "tmp")
