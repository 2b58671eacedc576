"""Four CPU processes over gloo: two data-parallel groups x Ulysses degree 2 (the cluster's layout in
small: six groups of four), with gradient accumulation, YaRN and LongLoRA's trainable embeddings and
norms, against one process reading the same global batch per step.

One launch (accelerate launch with configs/accelerate/cpu-4x-zero2.yaml, the cluster's ZeRO-2 file)
of one round: batch 1 and 2 accumulated micro-batches per group, so each optimizer step reads 4 rows,
2 per group; 8 training documents are exactly one epoch of 2 steps, so accelerate's even_batches
repeats nothing. The reference reads 1 row x 4 micro-batches per step in this process. Tolerances
as in tests/test_train_multiprocess.py (fp32; only the order of reductions differs).
"""

from __future__ import annotations

import json

import pytest
from test_train_multiprocess import (
    SOURCES,
    TARGETS,
    YARN,
    _assert_longlora_trained,
    _assert_same_weights,
    _docs,
    _grad_norms,
    _job,
    _launch,
    _losses,
    _rows_read,
    _single,
    _summary,
)

from booktrans.model import read_info

pytestmark = pytest.mark.multiprocess

SETTINGS = {
    "sequence_parallel": 2,
    "grad_accum": 2,
    "batch_size": 1,
    "max_steps": 2,
    "loss_chunk": 16,
    "rope_scaling": YARN,
    "trainable": ["embed_tokens", "norm"],
    "extra": {"measure": ["logits"]},  # the logits meter: the largest vocabulary-wide tensor, train and eval
}


SENTENCES = (1, 3, 2, 5, 1, 4, 3, 5)  # sentences of each training document's translation


def _train_docs():
    """8 documents, translations of 1 to 5 sentences and no system prompt: in 5 rows the targets
    start in the first half, so both slices of the row carry some; in 3 the first slice holds none."""
    return [
        {
            "messages": [
                {"role": "user", "content": "Translate into English.\n\n" + source},
                {"role": "assistant", "content": " ".join(TARGETS[(i + j) % len(TARGETS)] for j in range(k))},
            ]
        }
        for i, (source, k) in enumerate(zip(SOURCES, SENTENCES))
    ]


def _valid():
    """Two validation documents over four processes: even_batches gives ranks 2 and 3 the same rows again."""
    return _docs()[6:]


@pytest.fixture(scope="module")
def four(tiny_base, tmp_path_factory):
    work = tmp_path_factory.mktemp("four")
    docs, valid = work / "docs.json", work / "valid.json"
    docs.write_text(json.dumps(_train_docs(), ensure_ascii=False), encoding="utf-8")
    valid.write_text(json.dumps(_valid(), ensure_ascii=False), encoding="utf-8")
    job = {**_job(work, "dp2sp2", docs, tiny_base, **SETTINGS), "valid": str(valid)}
    res = _launch("configs/accelerate/cpu-4x-zero2.yaml", {"dp2sp2": job}, work)
    assert res.returncode == 0, res.stderr[-4000:]
    return work, [_summary(work, "dp2sp2", r) for r in range(4)]


@pytest.fixture(scope="module")
def one(tiny_base, tmp_path_factory):
    """The same round in this process: 1 row x 4 accumulated micro-batches, no DeepSpeed."""
    tmp = tmp_path_factory.mktemp("four-one")
    config = {**SETTINGS, "sequence_parallel": 1, "grad_accum": 4}
    return tmp / "one", _single(tiny_base, tmp, "one", _train_docs(), _valid(), **config)


def _slices(summary: dict) -> dict[tuple[int, int], dict]:
    """{(step, row): the rank's micro-batch record} (one row per micro-batch)."""
    out = {}
    for m in summary["micro_batches"]:
        assert len(m["rows"]) == 1, m
        out[(m["step"], m["rows"][0])] = m
    return out


def test_two_groups_of_two_read_their_own_rows_and_each_group_splits_its_rows(four, one):
    """Per step, the two ranks of a group read the same rows and the two groups different ones,
    together the 4 rows one process reads in its 4 micro-batches; within a group positions continue
    across the two slices, and each row's cross-entropy over its two slices is the one process's."""
    _, ranks = four
    _, ref = one
    for r in ranks:
        assert r["layout"] == {"world_size": 4, "zero_stage": 2, "sequence_parallel": 2, "data_parallel": 2}
    expected = _rows_read(ref)
    assert sorted(expected) == [1, 2] and all(len(rows) == 4 for rows in expected.values())
    seen = [_rows_read(r) for r in ranks]
    assert all(sorted(s) == [1, 2] for s in seen)
    ref_slices = _slices(ref)
    both = 0
    for step, rows in expected.items():
        group0, group1 = (seen[0][step].keys(), seen[1][step].keys()), (seen[2][step].keys(), seen[3][step].keys())
        assert group0[0] == group0[1] and group1[0] == group1[1], (step, group0, group1)  # a group: same rows
        assert len(group0[0]) == len(group1[0]) == 2 and not group0[0] & group1[0], (step, group0, group1)
        assert group0[0] | group1[0] == rows.keys(), step  # together the one process's step
        for lead in (0, 2):
            a, b = _slices(ranks[lead]), _slices(ranks[lead + 1])
            for row in seen[lead][step]:
                x, y, whole = a[(step, row)], b[(step, row)], ref_slices[(step, row)]
                n = whole["shape"][1]
                half = (n + n % 2) // 2
                assert x["shape"] == y["shape"] == [1, half]
                assert x["positions"] == [0, half - 1] and y["positions"] == [half, 2 * half - 1]
                assert x["targets"] + y["targets"] == whole["targets"]
                assert x["loss_sum"] + y["loss_sum"] == pytest.approx(rows[row], rel=1e-5), (step, row)
                assert all((m["loss_sum"] > 0) == (m["targets"] > 0) for m in (x, y))
                both += x["targets"] > 0 and y["targets"] > 0
    assert both == 5  # rows whose two slices both carry targets: each slice's loss counts


def test_two_groups_of_two_train_like_one_process(four, one, tiny_base):
    """The step's loss and gradient norm (the round's full-precision record), the evaluation loss
    (whole rows, two documents over four ranks, repeats counted once) and the adapter with the
    embeddings and every norm trained in full equal one process's."""
    work, ranks = four
    ref_dir, ref = one
    for r in ranks:  # every rank records the global step
        assert _losses(r) == pytest.approx(_losses(ref), rel=1e-5)
        assert _grad_norms(r) == pytest.approx(_grad_norms(ref), rel=1e-5)
        assert [s["targets"] for s in r["step_records"]] == [s["targets"] for s in ref["step_records"]]
        assert r["eval_targets"] == ref["eval_targets"] > 0
        assert r["eval_loss"] == pytest.approx(ref["eval_loss"], rel=1e-5)
    _assert_longlora_trained(work / "dp2sp2", tiny_base)
    assert read_info(work / "dp2sp2").extra["rope_scaling"] == YARN
    _assert_same_weights(work / "dp2sp2", ref_dir)


def test_no_rank_builds_logits_wider_than_one_loss_chunk(four):
    """With two groups of two, YaRN and LongLoRA trainables, no rank ever holds more than loss_chunk rows of
    vocabulary-wide logits, in training (its slice of each row) or in evaluation (whole rows)."""
    _, ranks = four
    rows = [r["measured"]["largest_logits_rows"] for r in ranks]
    assert all(0 < m["train"] <= SETTINGS["loss_chunk"] and 0 < m["eval"] <= SETTINGS["loss_chunk"] for m in rows), rows
