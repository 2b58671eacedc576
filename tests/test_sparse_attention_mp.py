"""Sparse attention under Ulysses sequence parallelism: two processes over gloo (accelerate launch with
configs/accelerate/cpu-2x-zero2.yaml, the cluster's DeepSpeed file), degree 2, against one process.

One launch trains two rounds: moba with packed rows (the pattern must read the gathered positions, or
packed documents would see each other) and s2 (each rank holds half of the heads: rank 0 the plain
groups, rank 1 the shifted ones, so the rank's head offset must be right). Tolerances as in
tests/test_train_multiprocess.py (fp32, only the order of reductions differs).
"""

from __future__ import annotations

import json

import pytest
from test_train_multiprocess import BASE as MP_BASE
from test_train_multiprocess import _docs as _mp_docs
from test_train_multiprocess import _job, _launch, _summary

from booktrans.train import TrainConfig, train_round

pytestmark = pytest.mark.multiprocess

BASE = {**MP_BASE, "max_steps": 3}
JOBS = {
    "moba-packed": dict(packing=True, sparse_attention={"kind": "moba", "block": 8, "topk": 2}),
    "s2": dict(sparse_attention={"kind": "s2", "group_ratio": 0.125}),
}


def _docs():
    return _mp_docs(6)


@pytest.fixture(scope="module")
def launched(tiny_base, tmp_path_factory):
    work = tmp_path_factory.mktemp("sparse-sp")
    docs = work / "docs.json"
    docs.write_text(json.dumps(_docs(), ensure_ascii=False), encoding="utf-8")
    jobs = {
        name: _job(work, name, docs, tiny_base, **{**BASE, **extra, "sequence_parallel": 2})
        for name, extra in JOBS.items()
    }
    res = _launch("configs/accelerate/cpu-2x-zero2.yaml", jobs, work)
    assert res.returncode == 0, res.stderr[-4000:]
    return work, res


@pytest.mark.parametrize("job", list(JOBS))
def test_two_processes_with_sequence_parallelism_2_train_what_one_process_trains(launched, tiny_base, tmp_path, job):
    work, res = launched
    one = train_round(
        tiny_base, tmp_path / job, _docs(), [], TrainConfig(**{**BASE, **JOBS[job]}), "r1", tmp_path / "s"
    )
    ranks = [_summary(work, job, r) for r in (0, 1)]
    assert ranks[0]["layout"]["sequence_parallel"] == 2 and ranks[0]["layout"]["world_size"] == 2
    for r in ranks:
        # each rank held half of every row, and its sparse function ran on the gathered rows
        assert all(m["shape"][1] * 2 >= w["shape"][1] for m, w in zip(r["micro_batches"], one["micro_batches"]))
        kind = JOBS[job]["sparse_attention"]["kind"]
        assert r["sparse_attention_calls"].get(kind, 0) >= 2 * 3, r["sparse_attention_calls"]  # 2 layers x 3 steps
        # the step's loss and gradient norm from the round's own record (full precision)
        assert [x["loss"] for x in r["step_records"]] == pytest.approx(
            [x["loss"] for x in one["step_records"]], rel=1e-5
        )
        assert r["grad_norms"] == pytest.approx(one["grad_norms"], rel=1e-5)
        # per row, the two slices' cross-entropies add up to the whole row's
        for m, w in zip(r["micro_batches"], one["micro_batches"]):
            assert m["rows"] == w["rows"]
    for a, b, w in zip(ranks[0]["micro_batches"], ranks[1]["micro_batches"], one["micro_batches"]):
        assert a["loss_sum"] + b["loss_sum"] == pytest.approx(w["loss_sum"], rel=1e-5)
    assert one["sparse_attention_calls"].get(JOBS[job]["sparse_attention"]["kind"], 0) > 0
    if job == "moba-packed":
        assert one["train_rows"] < one["train_documents"]  # rows really held several documents
