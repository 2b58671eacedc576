"""Sparse attention under Ulysses sequence parallelism: two processes over gloo (accelerate launch with
configs/accelerate/cpu-2x-zero2.yaml, the cluster's DeepSpeed file), degree 2, against one process.

One launch trains two rounds: moba with packed rows (the pattern must read the gathered positions, or
packed documents would see each other) and s2 (each rank holds half of the heads: rank 0 the plain
groups, rank 1 the shifted ones, so the rank's head offset must be right). Tolerances as in
tests/test_train_multiprocess.py (fp32, only the order of reductions differs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from project import train_keywords

from booktrans.train import TrainConfig, train_round

pytestmark = pytest.mark.multiprocess

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    "岛上没有树。",
    "梅从六岁起就住在那里，她的母亲在灯塔工作。",
    "灯塔每晚都亮着。",
    "船在黎明时到达，带来了信件和面粉。",
    "她数着海浪。",
    "风从北方吹来，整夜不停。",
]
TARGETS = [
    "The island had no trees.",
    "Mei had lived there since she was six; her mother worked at the lighthouse.",
    "The lighthouse was lit every night.",
    "The boat arrived at dawn, bringing letters and flour.",
    "She counted the waves.",
    "The wind came from the north and did not stop all night.",
]
BASE = train_keywords(context=128, learning_rate=5e-3, max_steps=3, lora_r=4, lora_alpha=8, save_steps=0, select="last")
JOBS = {
    "moba-packed": dict(packing=True, sparse_attention={"kind": "moba", "block": 8, "topk": 2}),
    "s2": dict(sparse_attention={"kind": "s2", "group_ratio": 0.125}),
}


def _docs():
    return [
        {
            "messages": [
                {"role": "system", "content": "You translate."},
                {"role": "user", "content": "Translate into English.\n\n" + s},
                {"role": "assistant", "content": t},
            ]
        }
        for s, t in zip(SOURCES, TARGETS)
    ]


@pytest.fixture(scope="module")
def launched(tiny_base, tmp_path_factory):
    work = tmp_path_factory.mktemp("sparse-sp")
    docs = work / "docs.json"
    docs.write_text(json.dumps(_docs(), ensure_ascii=False), encoding="utf-8")
    (work / "summaries").mkdir()
    jobs = {
        name: {
            "base": str(tiny_base),
            "out": str(work / name),
            "scratch": str(work / f"scratch-{name}"),
            "docs": str(docs),
            "config": {**BASE, **extra, "sequence_parallel": 2},
        }
        for name, extra in JOBS.items()
    }
    spec = work / "spec.json"
    spec.write_text(json.dumps({"summaries": str(work / "summaries"), "jobs": jobs}), encoding="utf-8")
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    res = subprocess.run(
        [
            str(Path(sys.executable).with_name("accelerate")),
            "launch",
            "--config_file",
            "configs/accelerate/cpu-2x-zero2.yaml",
            str(ROOT / "tests" / "mp_round.py"),
            str(spec),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return work, res


@pytest.mark.parametrize("job", list(JOBS))
def test_two_processes_with_sequence_parallelism_2_train_what_one_process_trains(launched, tiny_base, tmp_path, job):
    work, res = launched
    one = train_round(
        tiny_base, tmp_path / job, _docs(), [], TrainConfig(**{**BASE, **JOBS[job]}), "r1", tmp_path / "s"
    )
    ranks = [json.loads((work / "summaries" / f"{job}.rank{r}.json").read_text()) for r in (0, 1)]
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
