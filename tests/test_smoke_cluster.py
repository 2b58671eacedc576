"""`make smoke-cluster` on this machine: the CPU rehearsal of the first-node check (tiny model, two
processes over gloo, ZeRO-3, Ulysses degree 2). It must pass its own checks (losses against a degree-1
reference of the same engine, ZeRO stage and dtype; each rank's measured peak memory at most 15% above
the planner's) and print every figure the team reads on the GPU node."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.multiprocess


def test_smoke_cluster_rehearsal_passes_and_prints_its_figures(root, tmp_path):
    out = tmp_path / "smoke.json"
    res = subprocess.run(
        [
            sys.executable,
            str(root / "bench" / "smoke_cluster.py"),
            "--cpu",
            "--steps",
            "3",
            "--work",
            str(tmp_path / "work"),
            "--json",
            str(out),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1"),
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    text = res.stdout
    for line in (
        "smoke of round r3",
        "loss, degree 2 vs degree 1",
        "gradient norm, degree 2 vs degree 1",
        "adapter:",
        "none empty",
        "tokens/s per GPU",
        "MFU",
        "peak memory per GPU (live tensor bytes)",
        "planned",
        "measured/planned",
    ):
        assert line in text, line
    data = json.loads(out.read_text())
    assert data["sequence_parallel"] == 2 and data["zero_stage"] == 3 and data["processes"] == 2
    assert data["max_relative_difference"] <= 1e-5 and data["grad_norm_max_relative_difference"] <= 1e-5
    assert len(data["loss_degreeN"]) == 3 and data["adapter_ok"] and data["tokens_per_second_per_gpu"] > 0
    # the reference ran with the checked run's engine, ZeRO stage and dtype, sequence parallelism off
    assert data["reference"] == {
        "engine": "deepspeed",
        "zero_stage": 3,
        "dtype": data["dtype"],
        "sequence_parallel": 1,
        "processes": 2,
    }
    assert data["engine"] == "deepspeed" and data["dtype"] == "float32"
    # every rank's peak of live tensor bytes, against the plan (no overhead or fragmentation on the CPU):
    # the rank holding the target side's slice within 15% of it, none above it by more
    peaks, planned = data["peak_bytes_per_rank"], data["planned_bytes"]
    assert len(peaks) == 2 and all(p > 0 for p in peaks) and planned > 0
    assert 0.85 <= max(peaks) / planned <= 1.15, (peaks, planned)
    assert data["memory_ok"] and data["memory_ratio"] == max(peaks) / planned
