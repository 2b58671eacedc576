"""Evaluation of whole translated books: segment metrics, omissions, shrinkage, bad input, COMET."""

import json
import subprocess
import sys

import pytest
from project import align_book, book_eval
from stagecmd import run_stage
from tools import load_tool

from booktrans.errors import BooktransError
from booktrans.evaluate import corpus_scores
from booktrans.evaluate.book import evaluate_book
from booktrans.evaluate.omission import align_references, source_coverage, table_translator
from booktrans.evaluate.omission.render import book_rows, html_page
from booktrans.text import split_sentences

BOOK = "night-train"


@pytest.fixture(scope="module")
def book(sample_paragraphs):
    zh, en = sample_paragraphs[(BOOK, "zh")], sample_paragraphs[(BOOK, "en")]
    beads, _ = align_book(zh, en)
    return zh, en, beads


def reference_translation(zh, beads, drop=lambda k, n: False):
    """Rows as translate@rN writes them, zh->en, with the reference's own sentences as the translation:
    one chunk per paragraph; ``drop(k, n)`` removes the translation of source sentence k of n."""
    ref_of: dict[str, list[str]] = {}
    for b in beads:
        if b["zh"] and b["en"]:
            ref_of[b["zh"][0]] = b["en"]
    sents = [s for p in zh for s in split_sentences(p["text"], "zh")]
    rows, k = [], 0
    for p in zh:
        out = []
        for s in split_sentences(p["text"], "zh"):
            if not drop(k, len(sents)):
                out += ref_of.get(s, [])
            k += 1
        rows.append({"chapter": p["chapter"], "paras": [p["para"]], "source": p["text"], "translation": " ".join(out)})
    return rows


def test_the_reference_scores_as_a_perfect_translation(book):
    zh, _en, beads = book
    ev = evaluate_book(reference_translation(zh, beads), zh, beads, "zh", "en", cfg=book_eval())
    m = ev["metrics"]
    scores = corpus_scores(
        [s["mt"] for s in ev["segments"]],
        [s["ref"] for s in ev["segments"]],
        "en",
        docs=([ev["docs"][0]], [ev["docs"][1]]),
    )
    assert scores["bleu"] > 95 and scores["chrf"] > 95 and scores["ter"] < 5 and scores["d_bleu"] > 95
    assert "tok:13a" in scores["signatures"]["bleu"] and "tok:13a" in scores["signatures"]["d_bleu"]
    assert scores["signatures"]["ter"].startswith("nrefs:1")
    assert m["omission_rate"] < 0.1 and m["length_ratio"] == pytest.approx(1.0, abs=0.05)
    assert m["empty_translations"] == m["wrong_language_chunks"] == m["untranslated_spans"] == 0
    assert 0.9 < m["length_ratio_late_vs_early"] < 1.1 and ev["flags"] == []
    # every paragraph's translation stays linked to it: segments carry chapter and position
    assert all(0 <= s["position"] < 1 for s in ev["segments"])


def test_shrinkage_late_in_the_book_shows_in_omissions_and_the_position_curve(book):
    zh, _en, beads = book
    full = evaluate_book(reference_translation(zh, beads), zh, beads, "zh", "en", cfg=book_eval())
    # drop every second sentence in the last 40% of the book
    rows = reference_translation(zh, beads, drop=lambda k, n: k > 0.6 * n and k % 2 == 0)
    ev = evaluate_book(rows, zh, beads, "zh", "en", cfg=book_eval())
    m = ev["metrics"]
    assert m["omission_rate"] > full["metrics"]["omission_rate"] + 0.1
    assert m["length_ratio_late_vs_early"] < 0.8
    curve = [p["length_ratio"] for p in ev["positions"]]
    assert curve[0] == pytest.approx(full["positions"][0]["length_ratio"]) and curve[-1] < 0.75 * curve[0]
    omissions_late = [p["omission_rate"] for p in ev["positions"]][-3:]
    assert min(omissions_late) > max(p["omission_rate"] for p in full["positions"][-3:])
    # the examples name the missing source sentences, with their place
    missed = {o["sentence"] for o in ev["omissions"]}
    dropped = [
        s
        for k, s in enumerate(s for p in zh for s in split_sentences(p["text"], "zh"))
        if k > 0.6 * sum(len(split_sentences(p["text"], "zh")) for p in zh) and k % 2 == 0
    ]
    assert len(missed & set(dropped)) >= 0.7 * len(dropped)
    assert all(o["position"] > 0.5 for o in ev["omissions"] if o["sentence"] in dropped)
    by_chapter = {c["chapter"]: c for c in ev["chapters"]}
    assert by_chapter[max(by_chapter)]["omission_rate"] > by_chapter[min(by_chapter)]["omission_rate"]
    # the book's side-by-side page (the evaluate stage writes it) marks exactly those sentences
    rows = book_rows(ev["sentences"])
    page = html_page(rows, "night-train zh-en", "summary")
    marked = [r for r in rows if r.omitted]
    assert {r.text for r in marked} == missed and page.count('class="dropped"') == len(marked)
    assert all(f'<tr id="s{r.index}" class="dropped">' in page and f'href="#s{r.index}"' in page for r in marked)
    assert all(r.translation for r in rows if not r.omitted and not r.partial)


def test_the_report_links_the_per_book_omission_pages():
    from booktrans.report import render_report

    details = {
        "r1": {"books": {"night-train": {"zh-en": {"omissions": [], "page": "omissions/night-train.zh-en.html"}}}}
    }
    page = render_report({"r1": {"directions": {}}}, details=details)
    assert 'href="evaluation/r1/omissions/night-train.zh-en.html"' in page


def test_bad_translations_are_flagged_not_silently_zero(book):
    zh, _en, beads = book
    rows = reference_translation(zh, beads)
    empty = [dict(r, translation="") for r in rows]
    ev = evaluate_book(empty, zh, beads, "zh", "en", cfg=book_eval())
    assert ev["metrics"]["empty_translations"] == len(rows) and any("empty translation" in f for f in ev["flags"])
    assert ev["metrics"]["omission_rate"] == 1.0
    wrong = [dict(r, translation=r["source"]) for r in rows]  # copied source: Chinese instead of English
    ev = evaluate_book(wrong, zh, beads, "zh", "en", cfg=book_eval())
    assert ev["metrics"]["wrong_language_chunks"] == len(rows) and ev["metrics"]["untranslated_rate"] > 0.9
    assert any("not in en" in f for f in ev["flags"]) and any("untranslated zh" in f for f in ev["flags"])
    loop = [dict(r, translation="the train the train the train the train the train " * 4) for r in rows]
    ev = evaluate_book(loop, zh, beads, "zh", "en", cfg=book_eval())
    assert ev["metrics"]["repetition_rate"] > 0.5 and any("repeat" in f for f in ev["flags"])


def test_a_translation_of_another_book_is_an_error(book, sample_paragraphs):
    zh, _en, beads = book
    other = sample_paragraphs[("lighthouse", "zh")]
    rows = [{"chapter": p["chapter"], "paras": [p["para"]], "source": p["text"], "translation": "x"} for p in other[:5]]
    with pytest.raises(BooktransError, match="does not match the source edition"):
        evaluate_book(rows, zh, beads, "zh", "en", "reports/translations/r1/night-train.zh-en.jsonl", cfg=book_eval())
    with pytest.raises(BooktransError, match="no translated chunks"):
        evaluate_book([], zh, beads, "zh", "en", cfg=book_eval())


def chapter_chunks(zh, beads, cut=None):
    """Rows as translate@rN writes them, one chunk per chapter, with the reference's sentences as the
    translation; ``cut`` = (chapter, share): that chapter's translation loses its last ``share`` of
    sentences and is marked as stopped by the length limit."""
    ref_of = {b["zh"][0]: b["en"] for b in beads if b["zh"] and b["en"]}
    rows = []
    for ch in sorted({p["chapter"] for p in zh}):
        paras = [p for p in zh if p["chapter"] == ch]
        out = [e for p in paras for s in split_sentences(p["text"], "zh") for e in ref_of.get(s, [])]
        truncated = cut is not None and cut[0] == ch
        if truncated:
            out = out[: round(len(out) * (1 - cut[1]))]
        rows.append(
            {
                "chapter": ch,
                "paras": [p["para"] for p in paras],
                "source": "\n".join(p["text"] for p in paras),
                "translation": " ".join(out),
                "truncated": truncated,
                "stop_reason": "length" if truncated else "end",
            }
        )
    return rows


def test_a_truncated_chunk_shows_inside_it_and_apart_from_omissions(book):
    """The position curve comes from the sentence alignment: cutting the last 30% of one chapter-sized
    chunk's translation makes the curve fall where the text is missing, inside the chunk (spreading
    the chunk's length over its sentences would show 0.7 over all of it); the stop at the length limit
    is counted as truncation, not as omissions."""
    zh, _en, beads = book
    cfg = book_eval(position_bins=40)
    chapter = 5
    sents = [(p["chapter"], s) for p in zh for s in split_sentences(p["text"], "zh")]
    in_chunk = [k for k, (ch, _) in enumerate(sents) if ch == chapter]
    head, tail = in_chunk[: round(0.7 * len(in_chunk))], in_chunk[round(0.7 * len(in_chunk)) :]
    full = evaluate_book(chapter_chunks(zh, beads), zh, beads, "zh", "en", cfg=cfg)
    ev = evaluate_book(chapter_chunks(zh, beads, cut=(chapter, 0.3)), zh, beads, "zh", "en", cfg=cfg)
    n = len(sents)
    starts = {k: sum(len(t) for _, t in sents[:k]) / sum(len(t) for _, t in sents) for k in range(n)}

    def bins_of(ks):
        return {min(39, int(40 * starts[k])) for k in ks}

    tail_bins = bins_of(tail) - bins_of(head) - bins_of([k for k in range(n) if k not in in_chunk])
    head_bins = bins_of(head) - bins_of(tail)
    curve = {p["bin"]: p["length_ratio"] for p in ev["positions"]}
    assert tail_bins and head_bins
    assert all(curve[b] < 0.25 for b in tail_bins), [curve[b] for b in tail_bins]
    assert all(curve[b] > 0.6 for b in head_bins), [curve[b] for b in head_bins]
    after = bins_of([k for k in range(n) if k > in_chunk[-1]])
    assert sum(curve[b] for b in after) / len(after) > 0.8
    m, f = ev["metrics"], full["metrics"]
    assert m["truncated_chunks"] == 1 and m["truncated_rate"] == pytest.approx(len(tail) / n, abs=1.5 / n)
    assert m["omission_rate"] <= f["omission_rate"] + 1 / n
    assert ev["truncated"][0]["chapter"] == chapter and any("length limit" in x for x in ev["flags"])
    # the same text without the length-limit mark: the model dropped those sentences itself
    rows = [dict(r, truncated=False) for r in chapter_chunks(zh, beads, cut=(chapter, 0.3))]
    dropped = evaluate_book(rows, zh, beads, "zh", "en", cfg=cfg)["metrics"]
    assert dropped["truncated_rate"] == 0 and dropped["omission_rate"] >= f["omission_rate"] + 0.8 * len(tail) / n


def test_additions_enter_the_segment_scores(book, sample_paragraphs):
    """A translation sentence with no source sentence (here a sentence of another book) is an
    addition: it is counted, and it lands in a scored segment, so BLEU sees it."""
    zh, _en, beads = book
    extra = max(split_sentences(sample_paragraphs[("lighthouse", "en")][0]["text"], "en"), key=len)
    rows = reference_translation(zh, beads)
    rows[4] = dict(rows[4], translation=rows[4]["translation"] + " " + extra)
    ev = evaluate_book(rows, zh, beads, "zh", "en", cfg=book_eval())
    full = evaluate_book(reference_translation(zh, beads), zh, beads, "zh", "en", cfg=book_eval())
    assert ev["metrics"]["addition_rate"] > 0 and full["metrics"]["addition_rate"] == 0
    assert sum(extra in s["mt"] for s in ev["segments"]) == 1
    bleu = corpus_scores([s["mt"] for s in ev["segments"]], [s["ref"] for s in ev["segments"]], "en")["bleu"]
    assert bleu < corpus_scores([s["mt"] for s in full["segments"]], [s["ref"] for s in full["segments"]], "en")["bleu"]


def test_omission_detector_tells_a_dropped_sentence_from_a_missing_clause():
    src = [
        "今天下雨了，我们没有出门。",
        "他在图书馆读了三本关于历史的书，然后和朋友们一起去公园散步。",
        "老师说明天考试。",
    ]
    hyp = ["It rained today, so we did not go out.", "The teacher said there is an exam tomorrow."]
    cov = source_coverage(src, hyp, "zh", "en")
    assert [c.omitted for c in cov.lines] == [False, True, False] and cov.lines[1].score < 0.01
    assert cov.lines[0].score > 0.9 and cov.lines[2].score > 0.9 and cov.lines[2].counterpart == (1,)
    hyp = [
        "It rained today, so we did not go out.",
        "He read three books about history in the library.",
        "The teacher said there is an exam tomorrow.",
    ]
    cov = source_coverage(src, hyp, "zh", "en")
    assert [c.omitted for c in cov.lines] == [False, False, False]  # half translated is not dropped
    # English source, Chinese translation
    cov = source_coverage(hyp, ["今天下雨了，我们没有出门。老师说明天考试。"], "en", "zh")
    assert [c.omitted for c in cov.lines] == [False, True, False] and cov.added == []


def test_omissions_cli_prints_one_object_per_source_line(tmp_path):
    (tmp_path / "src.txt").write_text(
        "今天下雨了，我们没有出门。\n他在图书馆读了三本关于历史的书。\n老师说明天考试。\n", encoding="utf-8"
    )
    (tmp_path / "hyp.txt").write_text(
        "It rained today, so we did not go out. The teacher said there is an exam tomorrow.\n", encoding="utf-8"
    )
    (tmp_path / "ref.txt").write_text(
        "It rained today and we stayed at home.\nHe read three books on history in the library.\n"
        "The teacher said there would be a test tomorrow.\nThat was all.\n",
        encoding="utf-8",
    )
    cmd = [
        sys.executable,
        "-m",
        "booktrans.cli",
        "omissions",
        str(tmp_path / "src.txt"),
        str(tmp_path / "hyp.txt"),
        "--src-lang",
        "zh",
        "--tgt-lang",
        "en",
    ]
    from booktrans.align import LexicalTable

    LexicalTable({"考试": {"exam": 0.9}, "图书馆": {"library": 0.8}}).save(tmp_path / "lexicon.json")
    for extra in ([], ["--ref", str(tmp_path / "ref.txt")], ["--lexicon", str(tmp_path / "lexicon.json")]):
        out = subprocess.run(cmd + extra, capture_output=True, text=True, check=True)
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        assert [r["line"] for r in rows] == [0, 1, 2] and [r["omitted"] for r in rows] == [False, True, False]
        assert all(
            {"line", "omitted", "score", "partial", "text", "translation", "missing_clauses"} <= set(r)
            and 0 <= r["score"] <= 1
            for r in rows
        )
        assert rows[1]["text"] == "他在图书馆读了三本关于历史的书。" and rows[1]["translation"] == ""
        assert "teacher" in rows[2]["translation"]
        assert "1 of 3 source sentences dropped" in out.stderr
    # wrong language and empty input are errors that name the file
    bad = subprocess.run(cmd[:-4] + ["--src-lang", "en", "--tgt-lang", "zh"], capture_output=True, text=True)
    assert bad.returncode == 2 and "src.txt: the text is in zh, not en" in bad.stderr
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    bad = subprocess.run(
        cmd[:5] + [str(tmp_path / "empty.txt"), "--src-lang", "zh", "--tgt-lang", "en"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "empty.txt: the translation is empty" in bad.stderr
    bad = subprocess.run(cmd + ["--ref", str(tmp_path / "src.txt")], capture_output=True, text=True)
    assert bad.returncode == 2 and "src.txt: the text is in zh, not en" in bad.stderr
    bad = subprocess.run(cmd + ["--lexicon", str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and "nope.json: no such lexical table" in bad.stderr


def test_the_evaluate_stage_stops_without_the_lexical_table(tmp_path, root):
    """The stage depends on data/lexicon.json (the omission detector's table): without it, an error
    naming the file, not a silent fallback to the dictionary."""
    res = run_stage(
        "evaluate@r1",
        root,
        "--translations",
        str(tmp_path / "tr"),
        "--lexicon",
        str(tmp_path / "lexicon.json"),
        "--metrics",
        str(tmp_path / "m.json"),
        "--out",
        str(tmp_path / "out"),
    )
    assert res.returncode != 0 and "lexicon.json: no lexical table" in res.stderr and "dvc repro align" in res.stderr
    assert not (tmp_path / "m.json").exists()


def _bench():

    mod = load_tool("eval/omission.py")
    return mod


@pytest.mark.parametrize("name", ["pol", "mag"])
def test_dropped_sentences_found_in_real_machine_translation(shared, name):
    """make eval-omissions in small: the report half of a dev set (not used for tuning), its real MT
    with 10% of the sentences dropped and the rest merged into lines of 1-3; without and with the
    reference. pol is zh->en, mag en->zh."""
    mod = _bench()
    _tune, part = mod.load_set(shared, name)
    part = mod.Part(
        part.name,
        part.src_lang,
        part.tgt_lang,
        part.src[:300],
        part.mt[:300],
        part.ref[: 300 * len(part.ref) // len(part.src)],
    )
    translator = table_translator(None)
    hyp, dropped = mod.drop_case(part, 1)
    complete, _ = mod.drop_case(part, 0, rate=0.0)
    for refs in (None, align_references(part.src, part.ref, part.src_lang, part.tgt_lang, translator)):
        got = mod.Counts()
        got.add(
            [
                c.omitted
                for c in source_coverage(part.src, hyp, part.src_lang, part.tgt_lang, None, translator, refs).lines
            ],
            dropped,
        )
        flagged = mod.Counts()
        flagged.add(
            [
                c.omitted
                for c in source_coverage(part.src, complete, part.src_lang, part.tgt_lang, None, translator, refs).lines
            ],
            set(),
        )
        assert got.pos == 30 and got.recall >= 0.9 and got.fpr <= 0.03 and flagged.fpr <= 0.03, (
            refs is not None,
            got,
            flagged,
        )
    # a clause missing inside a translated sentence is partial, not dropped; the sentences whose MT itself
    # leaves a clause out (eval/mt_own_omissions.tsv: 7 of pol's 300, 5 of them flagged) are no false alarms
    cases = load_tool("eval/omission_cases.py")
    start = cases.read_nonlit(shared, name).cut_s
    own = {i - start for i in cases.own_omissions(name) if start <= i < start + len(part.src)}
    hyp, cut = mod.clause_case(part, 1)
    cov = source_coverage(part.src, hyp, part.src_lang, part.tgt_lang, None, translator)
    partial = mod.Counts()
    partial.add([c.partial for c in cov.lines], cut, own - cut)
    # measured: 13 (pol) and 16 (mag) of the 30 cuts found, 8 of 263 and 3 of 270 others flagged
    assert partial.recall >= 0.3 and partial.fpr <= 0.035, partial
    assert sum(cov.lines[i].omitted for i in cut) <= 0.1 * len(cut)


def test_tiny_comet_checkpoint_scores_segments(tmp_path):
    from booktrans.evaluate.comet import build_tiny_comet, load_comet, resolve_checkpoint, score_segments

    ckpt = build_tiny_comet(tmp_path / "comet", ["The cat sat on the mat.", "猫坐在垫子上。"])
    assert ckpt == resolve_checkpoint(tmp_path / "comet")
    model = load_comet(tmp_path / "comet")
    segs = [
        {"src": "猫坐在垫子上。", "mt": "The cat sat on the mat.", "ref": "The cat sat on the mat."},
        {"src": "猫坐在垫子上。", "mt": "A dog.", "ref": "The cat sat on the mat."},
    ]
    first = score_segments(model, segs, batch_size=2)
    assert len(first) == 2 and first[0] != first[1]
    assert [round(x, 4) for x in score_segments(model, segs[::-1], batch_size=1)] == [round(x, 4) for x in first[::-1]]
    with pytest.raises(BooktransError, match="no COMET checkpoint"):
        resolve_checkpoint(tmp_path / "nothing")
