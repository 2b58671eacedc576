"""eval/omission_tries.py re-runs the ways tried and not kept that docs/evaluate.md gives figures for, by
swapping one function of the detector for the run. If the detector stopped calling that function, the
script would print the plain detector's figures under the try's name; these tests see that it does not."""

from __future__ import annotations

import pytest
from tools import load_tool


@pytest.fixture(scope="module")
def dropped(shared):
    """pol's report half with 10% of its sentences removed, judged with its reference: a run of the
    detector as ``omission_tries`` makes it, returning the removed sentences it calls dropped."""
    from booktrans.evaluate.omission import align_references, source_coverage

    cases = load_tool("eval/omission_cases.py")
    _, doc = cases.load_nonlit(shared, "pol")
    refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang)
    case = cases.make_case(doc, "drop", 1)

    def run() -> int:
        cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang, references=refs)
        return sum(cov.lines[i].omitted for i in case.dropped)

    assert len(case.dropped) >= 40
    return run


def test_a_try_changes_what_the_detector_finds_and_is_undone_after(dropped):
    tries = load_tool("eval/omission_tries.py")
    from booktrans.evaluate.omission import api
    from booktrans.evaluate.omission.evidence import Evidence

    plain = dropped()
    assert plain >= 45  # 50 of 52 on this draw
    total, local = Evidence.total, api.local_evidence
    # the reference's missing words counting nothing: removed sentences whose neighbours share their
    # dictionary words are no longer told from present ones (41 found)
    with tries.capped(0.0, 0.0):
        assert Evidence.total is not total
        assert dropped() <= plain - 5
    # any word found near its place keeps a sentence: in pol, which repeats its words, every removed
    # sentence is kept (none found)
    with tries.rescuing(0.0, 0):
        assert api.local_evidence is not local
        assert dropped() <= 5
    assert Evidence.total is total and api.local_evidence is local
