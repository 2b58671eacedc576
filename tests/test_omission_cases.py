"""The omission detector on what LLMs do to a translation (eval/omission_cases.py, issue 23), on the
report half of real MT (pol, zh->en), kept short: moved sentences are not dropped, a long gap is
found whole without smearing "dropped" onto the sentences around it, and the score is a probability."""

from __future__ import annotations

import pytest
from tools import load_tool


@pytest.fixture(scope="module")
def pol(shared):
    mod = load_tool("eval/omission_cases.py")
    _, report = mod.load_nonlit(shared, "pol")
    report.src, report.blocks = report.src[:240], [b for b in report.blocks if b[0][0] < 240]
    return mod, report


def _run(mod, doc, case, **draw):
    from booktrans.evaluate.omission import source_coverage

    c = mod.make_case(doc, case, 1, **draw)
    return c, source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang)


def test_sentences_moved_within_a_few_places_are_not_dropped(pol):
    mod, doc = pol
    case, cov = _run(mod, doc, "swap")
    moved = [c for c in cov.lines if c.line in case.touched]
    assert len(moved) >= 30
    # the monotone search alone called about 16% of them dropped on this text (docs/evaluate.md)
    assert sum(c.omitted for c in moved) <= 0.08 * len(moved)
    # the translation aligned to a moved sentence is its own: it shares its words
    assert sum(c.moved for c in moved) >= 1


def test_a_long_gap_is_found_whole_and_nothing_around_it(pol):
    mod, doc = pol
    case, cov = _run(mod, doc, "gap", gap=80)
    assert len(case.dropped) == 80
    assert all(cov.lines[i].omitted for i in case.dropped)
    lo, hi = min(case.dropped), max(case.dropped)
    around = [c for c in cov.lines if lo - 15 <= c.line < lo or hi < c.line <= hi + 15]
    assert not any(c.omitted for c in around)
    # the correct sentences after the gap are confidently translated, not "0.0000"
    assert min(c.score for c in around) > 0.5


def test_runs_of_sentences_merged_without_a_mark_are_kept(pol):
    mod, doc = pol
    case, cov = _run(mod, doc, "merge")
    merged = [c for c in cov.lines if c.line in case.touched]
    # without trying a neighbour's stretch shared (locate.joint_evidence), 3 of these 49 were dropped
    assert len(merged) >= 30 and sum(c.omitted for c in merged) <= 0.03 * len(merged)
    assert sum(c.omitted for c in cov.lines) <= 0.01 * len(cov.lines)


def test_clause_cuts_are_found_partial_with_and_without_the_reference(shared):
    """pol's whole report half (zh->en), as the benchmark cuts its clauses: at least 60% of the cut
    clauses are found without the reference (issue 23, point 2; 0.62 here, 0.66 before the gap between
    the run's anchors, 0.50 before the zh->en model of partial.py, 0.30 before any model), and the
    clauses the MT itself left out (read by a person: eval/mt_own_omissions.tsv) are found too. With
    the reference the complete sentences are flagged less (7 of 474 against 12 without it; 22 before
    its model learnt from the WMT23 systems judged against another's output and took a reference's
    missing words against the document's median). On this draw fewer cut clauses are found with it
    (17 of 32 against 20; 16 before the reference's own word runs, partial.ref_word_runs); over five
    draws a little fewer at less than half the false alarms (0.605 at 1.28% against 0.628 at 2.86%,
    docs/evaluate.md), so the floor with the reference is 50%."""
    from booktrans.evaluate.omission import align_references, source_coverage

    mod = load_tool("eval/omission_cases.py")
    _, doc = mod.load_nonlit(shared, "pol")
    case = mod.make_case(doc, "clause", 1)
    assert len(case.partial) >= 30 and len(doc.own_omissions) >= 10
    refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang)
    found, flagged = {}, {}
    for label, references, least in (("no reference", None, 0.6), ("reference", refs, 0.5)):
        cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang, references=references)
        cut = [cov.lines[i] for i in case.partial]
        # a sentence that lost a clause is partial (with the clause listed), not dropped
        found[label] = sum(c.partial for c in cut)
        assert found[label] >= least * len(cut), (label, found[label], len(cut))
        assert all(c.missing_clauses for c in cut if c.partial)
        assert sum(c.omitted for c in cut) <= 0.1 * len(cut), (label, sum(c.omitted for c in cut))
        own = [c for c in cov.lines if c.line in doc.own_omissions and c.line not in case.partial]
        assert sum(c.partial for c in own) >= 0.5 * len(own), (label, sum(c.partial for c in own), len(own))
        others = [c for c in cov.lines if c.line not in case.partial and c.line not in doc.own_omissions]
        flagged[label] = sum(c.partial for c in others)
        assert flagged[label] <= 0.03 * len(others), (label, flagged[label], len(others))
    assert flagged["reference"] < flagged["no reference"]


def test_a_cut_clause_leaves_a_run_of_the_reference_unsaid(shared):
    """pol's report half with a clause cut from 10% of its sentences, judged with the human reference:
    the run of the reference's own words the translation lacks (partial.ref_word_runs) is longer than
    the reference's freeness explains far more often for a sentence that lost a clause than for a
    complete one (ranked above a complete sentence's 84% of the time on this draw; median excess 3.0
    words against 1.2)."""
    from booktrans.evaluate.omission import align_references, source_coverage

    mod = load_tool("eval/omission_cases.py")
    _, doc = mod.load_nonlit(shared, "pol")
    case = mod.make_case(doc, "clause", 1)
    refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang)
    cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang, references=refs)
    cut = [c.clause_features["ref_word_excess"] for c in cov.lines if c.line in case.partial and c.clause_features]
    whole = [
        c.clause_features["ref_word_excess"]
        for c in cov.lines
        if c.line not in case.partial and c.line not in doc.own_omissions and c.clause_features
    ]
    assert len(cut) >= 25 and len(whole) >= 400
    above = sum((a > b) + 0.5 * (a == b) for a in cut for b in whole) / (len(cut) * len(whole))
    assert above >= 0.75, above
    assert sorted(cut)[len(cut) // 2] >= 2 * sorted(whole)[len(whole) // 2]


def test_a_freer_reference_does_not_flag_more_complete_sentences(shared):
    """A literary translator's reference shares fewer words with any translation than pol's does. Made
    freer (eval/omission_free_reference.py: 30% of its words replaced by others of the same
    reference), it must not make pol's complete sentences look cut: 4 of 502 are flagged against 6
    with the reference as it is (7 of 503 against 9 before the detector read eight senses; a model
    counting the reference's missing words, tried and not kept, went from 2.2% to 3.3% over three
    draws), and half the cut clauses are still found (18 of 32; 19 before)."""
    from booktrans.evaluate.omission import align_references, source_coverage

    mod = load_tool("eval/omission_cases.py")
    free = load_tool("eval/omission_free_reference.py")
    _, doc = mod.load_nonlit(shared, "pol")
    refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang)
    complete = mod.make_case(doc, "complete", 1)
    flagged = {}
    for share in (0.0, 0.3):
        cov = source_coverage(doc.src, complete.hyp, doc.src_lang, doc.tgt_lang, references=free.freer(refs, share))
        whole = [c for c in cov.lines if c.line not in doc.own_omissions and not c.omitted]
        assert len(whole) >= 450
        flagged[share] = sum(c.partial for c in whole)
        assert flagged[share] <= 0.03 * len(whole), (share, flagged[share], len(whole))
    assert flagged[0.3] <= flagged[0.0], flagged
    case = mod.make_case(doc, "clause", 1)
    cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang, references=free.freer(refs, 0.3))
    assert sum(cov.lines[i].partial for i in case.partial) >= 0.5 * len(case.partial)


def test_an_llms_clause_cuts_are_found_without_flagging_its_complete_segments(shared):
    """GPT4-5shot's real zh->en news output (WMT23, the report half of its documents), as the benchmark
    cuts its clauses: 11 of 21 are found on this draw (10 before the gap between the run's anchors, 4
    with the model fitted on literal MT alone, before the zh->en model learnt from this system's tune
    half and pol's own omissions; over five draws 0.609 since the detector reads eight senses and
    names by their sound, 0.565 before), and hardly any of its complete segments is called partial (1
    of 168 others here)."""
    from booktrans.evaluate.omission import source_coverage

    mod = load_tool("eval/omission_cases.py")
    if not (shared / "omission-dev").is_dir():
        pytest.skip(f"{shared}/omission-dev: not found")
    _, doc = mod.load_wmt23(shared, "GPT4-5shot")
    case = mod.make_case(doc, "clause", 1)
    cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang)
    assert len(case.partial) >= 20
    assert sum(cov.lines[i].partial for i in case.partial) >= 0.4 * len(case.partial)
    others = [c for c in cov.lines if c.line not in case.partial]
    assert sum(c.partial for c in others) <= 0.015 * len(others)


def test_a_cut_clause_leaves_its_anchors_side_by_side(shared):
    """GPT4-5shot's real news output (WMT23, report half) and pol's MT, a clause cut from 10% of the
    segments, no reference: where the dictionary misses a run of 3+ source words, the translation of a
    complete segment holds its own unexplained words in that place (partial.gap_free) and a cut one
    mostly does not: on this draw a cut segment's gap is the smaller 64% of the time (44 cut, 252
    complete; median gap 2 words against 3 in GPT4-5shot's, 1 against 2 in pol's; five draws:
    GPT4-5shot 0.64, pol 0.65). When it came, the feature let the zh->en model without a reference
    find more cuts on the nine WMT23 systems no knob saw (0.505 against 0.477 over three draws, false
    alarms 2.20% against 2.17%)."""
    from booktrans.evaluate.omission import source_coverage

    mod = load_tool("eval/omission_cases.py")
    if not (shared / "omission-dev").is_dir():
        pytest.skip(f"{shared}/omission-dev: not found")
    cut, whole, medians = [], [], []
    for doc in (mod.load_wmt23(shared, "GPT4-5shot")[1], mod.load_nonlit(shared, "pol")[1]):
        first = len(cut), len(whole)
        for name in ("clause", "complete"):
            case = mod.make_case(doc, name, 1)
            cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang)
            for c in cov.lines:
                f = c.clause_features
                if not f or c.omitted or f["run_missing"] < 3 or c.line in doc.own_omissions:
                    continue
                if name == "clause" and c.line in case.partial:
                    cut.append(f["gap_free"])
                elif name == "complete":
                    whole.append(f["gap_free"])
        mine = sorted(cut[first[0] :]), sorted(whole[first[1] :])
        medians.append((doc.name, mine[0][len(mine[0]) // 2], mine[1][len(mine[1]) // 2]))
    assert len(cut) >= 30 and len(whole) >= 150, (len(cut), len(whole))
    below = sum((a < b) + 0.5 * (a == b) for a in cut for b in whole) / (len(cut) * len(whole))
    assert below >= 0.58, below
    assert all(c < w for _, c, w in medians), medians


def test_an_llm_systems_real_output_is_judged_like_mt(shared):
    """GPT4-5shot's zh->en news translation (WMT23, the report half of its documents): the complete
    output is rarely called dropped, segments removed from it are found, moved ones are not dropped."""
    from booktrans.evaluate.omission import source_coverage

    mod = load_tool("eval/omission_cases.py")
    if not (shared / "omission-dev").is_dir():
        pytest.skip(f"{shared}/omission-dev: not found")
    _, doc = mod.load_wmt23(shared, "GPT4-5shot")
    assert len(doc.src) > 150
    got = {}
    for case in ("complete", "drop", "swap"):
        c = mod.make_case(doc, case, 1)
        cov = source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang)
        present = [x for x in cov.lines if x.line not in c.dropped]
        got[case] = (
            sum(cov.lines[i].omitted for i in c.dropped),
            len(c.dropped),
            sum(x.omitted for x in present),
            len(present),
        )
    assert got["complete"][2] <= 0.02 * got["complete"][3], got
    assert got["drop"][0] >= 0.85 * got["drop"][1] and got["drop"][2] <= 0.02 * got["drop"][3], got
    assert got["swap"][2] <= 0.03 * got["swap"][3], got


def test_a_short_sentence_inside_a_long_gap_is_reported_with_the_gap(shared):
    """mag's tune half (en->zh) with 200 blocks removed: the search kept 'But he did it. "', a
    sentence in the middle of the gap with no informative word, on one unit at the gap's edge (its
    length fits anything); judged on its own words (``locate.gap_islands``) it is dropped with the
    rest, so a reviewer sees one gap, not two with a translated sentence between."""
    mod = load_tool("eval/omission_cases.py")
    doc, _ = mod.load_nonlit(shared, "mag")
    case, cov = _run(mod, doc, "gap", gap=200)
    assert len(case.dropped) == 200
    assert [i for i in case.dropped if not cov.lines[i].omitted] == []
    island = [i for i in case.dropped if doc.src[i].startswith("But he did it.")]
    assert len(island) == 1 and cov.lines[island[0]].score < 0.5 and cov.lines[island[0]].counterpart == ()
    hi = max(case.dropped)
    after = [c for c in cov.lines if hi < c.line <= hi + 20]
    assert not any(c.omitted for c in after)


def test_a_moved_sentence_split_between_two_neighbours_is_not_dropped(shared):
    """mag's tune half (en->zh) with 10% of the sentences moved: after several moves close together the
    translation of "In the U.S. alone, 2 million men have the bone-thinning ailment, ..." lies across a
    boundary (仅在美国， ending one sentence's stretch, a free unit, 还有300万… starting the next); the
    local search tries such split stretches, so the sentence is not reported dropped."""
    mod = load_tool("eval/omission_cases.py")
    doc, _ = mod.load_nonlit(shared, "mag")
    case, cov = _run(mod, doc, "swap")
    target = [i for i in case.touched if doc.src[i].startswith("In the U.S. alone, 2 million men")]
    assert len(target) == 1
    line = cov.lines[target[0]]
    assert not line.omitted and line.moved and line.score > 0.5
    moved = [c for c in cov.lines if c.line in case.touched]
    assert sum(c.omitted for c in moved) <= 0.03 * len(moved)


def test_a_heading_run_into_the_date_after_it_is_not_dropped(shared):
    """pol's report half (zh->en) with its last 40 sentences removed: the heading 提高开放型经济水平
    and the date （2013年4月8日） after it fell into one translation line, and the MT, which ends the
    heading without a mark, runs them into one sentence, "Improve the level of open economy (April 8,
    2013)". Cut only at its comma, the heading's words shared a unit with the date and the heading was
    called dropped (margin -0.5) though the complete text keeps it; a unit now also starts at an
    opening bracket (``units.brackets``), so the heading has its own and the gap is found whole."""
    mod = load_tool("eval/omission_cases.py")
    _, doc = mod.load_nonlit(shared, "pol")
    case, cov = _run(mod, doc, "gap", gap=40, at_end=True)
    assert len(case.dropped) == 40
    assert all(cov.lines[i].omitted for i in case.dropped)
    lo = min(case.dropped)
    before = [c for c in cov.lines if lo - 20 <= c.line < lo]
    heading = [c for c in before if doc.src[c.line] == "提高开放型经济水平"]
    assert len(heading) == 1 and heading[0].score > 0.5
    assert not any(c.omitted for c in before)


def test_a_clause_cut_from_a_sentence_without_commas_is_partial(shared):
    """aca's tune half (en->zh) with clauses cut: "The deniers' most successful publicity coup was
    their clever idea of sending college newspapers advertisements calling for "open debate" on the
    Holocaust." has no comma, so judging the source clause by clause never looked at it; its
    translation lost "calling for open debate on the Holocaust" (…发送广告，). The run of source words
    the translation lacks shows it, and the reviewer is shown those words, not the whole sentence."""
    mod = load_tool("eval/omission_cases.py")
    doc, _ = mod.load_nonlit(shared, "aca")
    case, cov = _run(mod, doc, "clause")
    target = [i for i in case.partial if doc.src[i].startswith("The deniers")]
    assert len(target) == 1
    line = cov.lines[target[0]]
    assert line.partial and not line.omitted
    assert len(line.missing_clauses) == 1 and "open debate" in line.missing_clauses[0]
    assert "most successful publicity coup" not in line.missing_clauses[0]


def test_with_the_reference_most_clause_cuts_are_found_en_zh(shared):
    """aca's and mag's report halves (en->zh), as the benchmark cuts their clauses: at least 60% of the
    cut clauses are found, with the human reference (0.53 before the reference-clause and
    position-aware features of partial.py) and without it (0.57 before the en->zh model of its own),
    at least as many with it (34 of 53 either way on this draw; over five draws 0.70 against 0.69),
    and the complete sentences are seldom called partial (13 and 11 of about 1,000; issue 23, point
    2)."""
    from booktrans.evaluate.omission import align_references, source_coverage

    mod = load_tool("eval/omission_cases.py")
    found = {"no reference": 0, "reference": 0}
    flagged = {"no reference": 0, "reference": 0}
    cut_total = others_total = 0
    for name in ("aca", "mag"):
        _, doc = mod.load_nonlit(shared, name)
        case = mod.make_case(doc, "clause", 1)
        refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang)
        for label, references in (("no reference", None), ("reference", refs)):
            cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang, references=references)
            found[label] += sum(cov.lines[i].partial for i in case.partial)
            others = [c for c in cov.lines if c.line not in case.partial]
            flagged[label] += sum(c.partial for c in others)
            if references is not None:
                cut_total += len(case.partial)
                others_total += len(others)
    assert cut_total >= 50
    assert found["reference"] >= 0.6 * cut_total and found["no reference"] >= 0.6 * cut_total, (found, cut_total)
    assert found["reference"] >= found["no reference"]
    assert flagged["reference"] <= 0.03 * others_total and flagged["no reference"] <= 0.03 * others_total, flagged


def test_clause_cuts_on_nine_systems_no_knob_saw(shared):
    """The nine WMT23 zh->en systems other than GPT4-5shot (LLM-based and neural MT news output, both
    halves, no model, threshold or figure fitted on them; eval/omission_systems.py), one draw of the
    clause case: about half the cut clauses are found (0.52; 0.47 before the detector read eight
    senses and names by their sound, 0.46 before the gap between the run's anchors; the dev report
    halves reach 0.6), fewer than 3% of the segments no rater marked with an omission error are called
    partial (2.7%; 2.2% before), and the complete output is hardly called dropped (1.3%)."""
    if not (shared / "omission-dev").is_dir():
        pytest.skip(f"{shared}/omission-dev: not found")
    bench = load_tool("eval/omission_systems.py")
    systems = sorted(bench.wmt23_lines.read_omission_marks(shared / "omission-dev"))
    assert len(systems) == 10
    total: dict[str, int] = {}
    for system in systems:
        if system in bench.TUNED:
            continue
        for doc in bench.load_wmt23(shared, system):
            for k, v in bench.judge(doc, 1).items():
                total[k] = total.get(k, 0) + v
    assert total["cut"] >= 200 and total["clean"] >= 2500
    assert total["found"] >= 0.4 * total["cut"], total
    assert total["cut_dropped"] <= 0.02 * total["cut"], total
    assert total["false"] <= 0.03 * total["clean"], total
    assert total["dropped"] <= 0.02 * total["segments"], total


def test_with_another_hand_as_the_reference_more_cuts_are_found_and_few_flagged(shared):
    """The report halves of the ten WMT23 zh->en systems, each with the next system's output as its
    reference (eval/omission_systems.py --reference: a translation by another hand; the zh->en model
    with the reference was fitted on pol and these systems' tune halves), one draw of the clause case:
    with the reference at least 60% of the cut clauses are found (86 of 128; 88 before the detector
    read eight senses, 84 before the reference's own word runs, partial.ref_word_runs), more than
    without it (64), and at most 3% of the segments no rater marked with an omission error are called
    partial (16 of 1,634)."""
    from booktrans.evaluate.omission import source_coverage

    if not (shared / "omission-dev").is_dir():
        pytest.skip(f"{shared}/omission-dev: not found")
    bench = load_tool("eval/omission_systems.py")
    total: dict[str, int] = {}
    found_without = 0
    texts = bench.wmt23_against_next(shared, 1)
    assert len(texts) == 10
    for _, doc, refs in texts:
        for key, v in bench.judge(doc, 1, refs).items():
            total[key] = total.get(key, 0) + v
        case = bench.make_case(doc, "clause", 1)
        cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang)
        found_without += sum(cov.lines[i].partial for i in case.partial)
    assert total["cut"] >= 100 and total["clean"] >= 1500, total
    assert total["found"] >= 0.6 * total["cut"], total
    assert total["found"] > found_without, (total, found_without)
    assert total["false"] <= 0.03 * total["clean"], total
    assert total["cut_dropped"] <= 0.02 * total["cut"], total


def test_score_is_a_probability_on_the_report_halves(shared):
    """Issue 23, point 5, in small: the report halves of pol (literal MT), GPT4-5shot (an LLM's output)
    and the six MAC-Dev chapters (published human translation), complete and with sentences dropped,
    moved, merged and a 40-sentence gap, one draw: binned by score, the share of sentences really
    translated matches the score (expected calibration error 0.035 here, 0.018 over every case of
    the benchmark; target 0.05; with the score's slope at half its fitted value it was 0.075)."""
    import numpy as np

    from booktrans.evaluate.omission import source_coverage

    mod = load_tool("eval/omission_cases.py")
    if not (shared / "omission-dev").is_dir():
        pytest.skip(f"{shared}/omission-dev: not found")
    docs = [mod.load_nonlit(shared, "pol")[1], mod.load_wmt23(shared, "GPT4-5shot")[1]]
    docs += [mod.load_mac(shared, f"00{n}")[1] for n in range(1, 7)]
    score, translated = [], []
    for doc in docs:
        for case, draw in (("complete", {}), ("drop", {}), ("swap", {}), ("merge", {}), ("gap", {"gap": 40})):
            c = mod.make_case(doc, case, 1, **draw)
            for line in source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang).lines:
                if doc.src[line.line].strip() and line.line not in doc.untranslated:
                    score.append(line.score)
                    translated.append(line.line not in c.dropped)
    s, t = np.array(score), np.array(translated, dtype=float)
    assert len(s) >= 7000 and (t == 0).sum() >= 300
    which = np.minimum((s * 10).astype(int), 9)
    bins = [which == b for b in range(10) if (which == b).any()]
    assert sum(abs(s[k].mean() - t[k].mean()) * k.sum() for k in bins) / len(s) <= 0.05
    assert t[s < 0.1].mean() <= 0.1 and t[s >= 0.9].mean() >= 0.99  # the confident ends are right
