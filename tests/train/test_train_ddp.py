"""DistributedDataParallel on CPU: two gloo processes started by torchrun, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml


@pytest.mark.slow  # two interpreters importing torch: ~20 s on a loaded 2-core machine
def test_torchrun_two_cpu_processes(tiny_config, tmp_path):
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(tiny_config(schedule={"steps": 4}, run={"checkpoint_every": 2})))
    entry = Path(__file__).parent / "ddp_entry.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(entry),
        str(path),
        "--quiet",
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout)  # one JSON document: rank 0 alone prints
    run = Path(summary["run_dir"])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]  # one writer: rank 0
    assert all(r["images_per_s"] > 0 for r in records)
    state = torch.load(run / "checkpoints" / "step-0000004" / "state.pt", weights_only=False)
    assert state["world_size"] == 2 and len(state["ranks"]) == 2
    gens = [r["sampler"]["generator"] for r in state["ranks"]]
    assert not torch.equal(gens[0], gens[1])  # each rank drew its own patches
