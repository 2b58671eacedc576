"""Significance between systems in the pipeline: the compare stage's library (per-chapter statistics from
the evaluate stage's output, comparisons, breakdown per genre and book, the decision criteria) and the
stage itself. The systems are the sample books' own reference translations, some with sentences dropped
(the evaluate stage's real code scores them: booktrans.evaluate.book.evaluate_book)."""

from __future__ import annotations

import json

import pytest
from project import align_book, book_eval
from stagecmd import run_stage
from test_evaluate import reference_translation

from booktrans.errors import BooktransError
from booktrans.evaluate.book import evaluate_book
from booktrans.evaluate.decision import check_criteria, decide
from booktrans.evaluate.significance import compare_all, units_of

BOOKS = {"night-train": "novel", "sky-blue": "popsci", "four-seasons": "poetry"}
DROPS = {"r0": 0.3, "r1": 0.05, "r2": 0.05, "deepseek": 0.0}  # r2 translates exactly as r1


def evaluate_systems(sample_paragraphs) -> dict:
    """{system: {book: evaluate_book result}} for zh->en."""
    out: dict = {s: {} for s in DROPS}
    for book in BOOKS:
        zh, en = sample_paragraphs[(book, "zh")], sample_paragraphs[(book, "en")]
        beads, _ = align_book(zh, en)
        for system, share in DROPS.items():
            every = round(1 / share) if share else 0
            rows = reference_translation(zh, beads, drop=lambda k, n, e=every: bool(e) and k % e == 1)
            out[system][book] = evaluate_book(rows, zh, beads, "zh", "en", cfg=book_eval())
    return out


@pytest.fixture(scope="module")
def evaluated(sample_paragraphs):
    return evaluate_systems(sample_paragraphs)


def compare_document(evaluated) -> dict:
    """What the compare stage writes, from these systems (the report test reads it)."""
    directions = compare_all(_units(evaluated), ["r0", "r1", "r2"], ["deepseek"], BOOKS, 1000, 12345, 0.05)
    criteria = [
        {"name": "few dropped sentences", "metric": "omission_rate", "at_most": 0.1, "significant": True},
        {
            "name": "chrF close to deepseek",
            "metric": "chrf",
            "against": "deepseek",
            "margin": 10.0,
            "significant": True,
        },
        {"name": "experts satisfied", "metric": "expert", "at_least": 3.5},
    ]
    return {
        "settings": {"resamples": 1000, "seed": 12345, "unit": "chapter", "alpha": 0.05},
        "directions": directions,
        "decision": decide(criteria, ["r0", "r1", "r2"], list(directions), directions, None),
    }


def _units(evaluated):
    return {
        "zh-en": {
            s: units_of(
                {b: ev["segments"] for b, ev in books.items()}, {b: ev["chapters"] for b, ev in books.items()}, "en"
            )
            for s, books in evaluated.items()
        }
    }


@pytest.fixture(scope="module")
def compared(evaluated):
    return compare_all(_units(evaluated), ["r0", "r1", "r2"], ["deepseek"], BOOKS, 1000, 12345, 0.05)["zh-en"]


def test_dropping_sentences_is_significant_and_identical_rounds_are_not(compared):
    c = compared["comparisons"]
    assert set(c) == {"r0 vs deepseek", "r1 vs r0", "r1 vs deepseek", "r2 vs r1", "r2 vs r0", "r2 vs deepseek"}
    better = c["r1 vs r0"]
    assert better["omission_rate"]["delta"] < 0 and better["omission_rate"]["significant"]
    assert better["chrf"]["delta"] > 0 and better["chrf"]["ci_low"] > 0 and better["chrf"]["significant"]
    assert better["length_ratio"]["delta"] > 0
    same = c["r2 vs r1"]
    for m in ("bleu", "chrf", "omission_rate", "length_ratio"):
        assert same[m]["delta"] == 0 and same[m]["p"] == 1.0 and not same[m]["significant"], (m, same[m])
    assert "comet" not in same and "comet" in compared["absent"]["r1"]


def test_breakdown_counts_every_segment_once_per_level(compared, evaluated):
    b = compared["breakdown"]
    assert set(b["genre"]) == set(BOOKS.values()) and set(b["book"]) == set(BOOKS)
    total = sum(len(ev["segments"]) for ev in evaluated["r1"].values())
    assert compared["segments"] == total
    assert sum(g["segments"] for g in b["genre"].values()) == sum(g["segments"] for g in b["book"].values()) == total
    for book, genre in BOOKS.items():
        assert b["book"][book]["segments"] == len(evaluated["r1"][book]["segments"])
        assert b["genre"][genre]["systems"] == b["book"][book]["systems"]  # one book per genre here
        assert b["book"][book]["systems"]["r0"]["omission_rate"] > b["book"][book]["systems"]["r1"]["omission_rate"]


def test_decision_verdicts_with_their_evidence(compared):
    r1 = compared["systems"]["r1"]["omission_rate"]
    close = round((r1["value"] + r1["ci_high"]) / 2, 4)  # r1 meets it, its interval reaches past it
    criteria = [
        {"name": "close call", "metric": "omission_rate", "at_most": close, "significant": True},
        {"name": "close call, point value", "metric": "omission_rate", "at_most": close},
        {"name": "few drops", "metric": "omission_rate", "at_most": 0.15, "significant": True},
        {"name": "near deepseek", "metric": "chrf", "against": "deepseek", "margin": 50.0, "significant": True},
        {"name": "as good as r1", "metric": "chrf", "against": "r1", "margin": 0.0, "significant": True},
        {"name": "experts", "metric": "expert", "at_least": 3.5},
    ]
    check_criteria(criteria, ["r0", "r1", "r2", "deepseek"])
    got = decide(
        criteria, ["r0", "r1", "r2"], ["zh-en"], {"zh-en": compared}, {"status": "absent: no sheets", "systems": {}}
    )
    v = {r: {x["name"]: x["verdict"] for x in rows} for r, rows in got.items()}
    assert v["r0"]["few drops"] == "not met" and v["r1"]["few drops"] == "met"
    assert v["r1"]["near deepseek"] == "met"
    assert v["r2"]["as good as r1"] == "met"  # identical: a difference of exactly 0 either way
    assert v["r1"]["close call"] == "not significant" and v["r1"]["close call, point value"] == "met"
    assert v["r0"]["as good as r1"] == "no data"  # no comparison of r0 with a later round
    assert v["r1"]["experts"] == "no data"
    ev = next(x for x in got["r1"] if x["name"] == "few drops")["evidence"]
    assert "95% interval" in ev and "at most 0.15" in ev


def test_bad_criteria_are_refused_with_the_reason():
    with pytest.raises(BooktransError, match="against 'gpt'"):
        check_criteria([{"metric": "chrf", "against": "gpt", "margin": 1}], ["r0", "r1"])
    with pytest.raises(BooktransError, match="metric 'blue'"):
        check_criteria([{"metric": "blue", "at_least": 1}], ["r0"])
    with pytest.raises(BooktransError, match="at_most or at_least"):
        check_criteria([{"metric": "bleu"}], ["r0"])


def test_compare_stage_writes_the_same_bytes_twice(evaluated, tmp_path, root):
    from booktrans.io import write_json, write_jsonl

    ev_dir = tmp_path / "evaluation"
    for system in ("r0", "r1", "deepseek"):
        ev = evaluated[system]["night-train"]  # the manifest's one test book
        write_json(
            ev_dir / system / "details.json", {"books": {"night-train": {"zh-en": {"chapters": ev["chapters"]}}}}
        )
        write_jsonl(ev_dir / system / "segments" / "night-train.zh-en.jsonl", ev["segments"])
    params = tmp_path / "params.yaml"
    params.write_text(
        (root / "params.yaml").read_text(encoding="utf-8").replace("directions: [zh-en, en-zh]", "directions: [zh-en]"),
        encoding="utf-8",
    )
    outs = []
    for k in range(2):
        out = tmp_path / f"compare{k}.json"
        res = run_stage(
            "compare",
            root,
            "--params",
            str(params),
            "--evaluation",
            str(ev_dir),
            "--human",
            str(tmp_path / "none.json"),
            "--out",
            str(out),
        )
        assert res.returncode == 0, res.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    doc = json.loads(outs[0])
    assert doc["settings"]["unit"] == "chapter" and doc["settings"]["resamples"] == 1000
    assert set(doc["directions"]["zh-en"]["comparisons"]) == {"r0 vs deepseek", "r1 vs r0", "r1 vs deepseek"}
    assert [x["name"] for x in doc["decision"]["r1"]][:1] == ["few dropped sentences"]
