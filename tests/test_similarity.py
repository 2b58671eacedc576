"""The shared same-meaning module: the learned lexical table and what it changes for its users."""

import pytest
from project import align_book
from tools import load_tool

from booktrans.align import LexicalTable, SameMeaning, learn_from_beads


@pytest.fixture(scope="module")
def lighthouse_beads(sample_paragraphs):
    beads, report = align_book(sample_paragraphs[("lighthouse", "zh")], sample_paragraphs[("lighthouse", "en")])
    return beads, report


@pytest.fixture(scope="module")
def corpus_table(sample_paragraphs, lighthouse_beads):
    """Learned like the align stage's data/lexicon.json: the confident beads of two sample books."""
    seasons, _ = align_book(sample_paragraphs[("four-seasons", "zh")], sample_paragraphs[("four-seasons", "en")])
    return learn_from_beads(lighthouse_beads[0] + seasons)


def test_the_table_learns_what_the_dictionary_lacks_from_the_corpus_beads(lighthouse_beads, corpus_table, tmp_path):
    _, report = lighthouse_beads
    assert report["lexicon"]["entries"] > 10 and report["lexicon"]["confident_beads"] > 20
    table = corpus_table
    meaning = SameMeaning()
    # CC-CEDICT glosses 一行 as "party, delegation"; the lighthouse keeper's log has "one line"
    assert "line" not in meaning.glosses("一行")
    assert table.translations("一行").get("line", 0) > 0.5
    assert "line" in SameMeaning(table).glosses("一行")
    table.save(tmp_path / "t.json")
    again = LexicalTable.load(tmp_path / "t.json")
    assert again.entries == table.entries and again.fingerprint == table.fingerprint
    assert (tmp_path / "t.json").read_bytes() == (again.save(tmp_path / "u.json") or (tmp_path / "u.json").read_bytes())


def test_the_omission_detector_finds_more_with_the_table(shared):
    """The evaluate stage hands the omission detector the corpus's lexical table. On the report half of
    the pol dev set (real zh->en machine translation; the table learned from the gold beads of the
    *tune* half, text the excerpt does not contain), the sentences whose translation shows a word
    only the table knows are found translated more surely, and with 10% of the sentences dropped the
    detector with the table still finds them all without false flags."""

    import numpy as np

    from booktrans.align.gold import read_gold
    from booktrans.align.lexicon import gloss_of
    from booktrans.evaluate.omission import _en_stems, canon, source_coverage, table_translator

    bench = load_tool("eval/omission.py")
    d = shared / "align-dev" / "nonlit" / "pol"
    src = (d / "src" / "002").read_text(encoding="utf-8").splitlines()
    ref = (d / "tgt" / "002").read_text(encoding="utf-8").splitlines()
    tune, report = bench.load_set(shared, "pol")
    beads = [
        {"zh": [src[i] for i in s], "en": [ref[j] for j in t], "score": 1.0}
        for s, t in read_gold(d, "002").beads
        if s and t and s[-1] < len(tune.src)
    ]
    table = learn_from_beads(beads)
    part = bench.Part("pol", "zh", "en", report.src[:120], report.mt[:120], [])
    plain, learned = table_translator(None), table_translator(table)
    # sentences whose MT shows a word through a table entry and through no CC-CEDICT gloss
    helped = []
    for i, s in enumerate(part.src):
        mt = {canon(x) for x in _en_stems(part.mt[i])[0]}
        for w in learned.zh_words(s):
            cedict = {canon(g) for g in gloss_of(w.form, plain.dictionary)}  # a joined idiom: its characters' glosses
            if ({canon(g) for g in learned.glosses(w.form)} - cedict) & mt and not cedict & mt:
                helped.append(i)
                break
    assert len(helped) >= 8
    complete, _ = bench.drop_case(part, 0, rate=0.0)
    without = source_coverage(part.src, complete, "zh", "en", None, plain).lines
    with_table = source_coverage(part.src, complete, "zh", "en", None, learned).lines
    assert not any(c.omitted for c in with_table)
    gains = np.array([with_table[i].margin - without[i].margin for i in helped])
    assert (gains > 0).mean() >= 0.8 and gains.mean() > 1.0, gains
    hyp, dropped = bench.drop_case(part, 1)
    cov = source_coverage(part.src, hyp, "zh", "en", None, learned)
    assert all(cov.lines[i].omitted for i in dropped)
    assert sum(c.omitted for c in cov.lines) == len(dropped)


def test_similarity_ranks_the_true_translation_first_and_matrix_pairs_chapters(sample_paragraphs):
    meaning = SameMeaning()
    zh = "风暴那一夜只有一行字：“六点点灯。"
    good = 'On the night of the storm there was only one line: "Light lit at six.'
    other = "The inspector read that line three times."
    assert meaning.similarity(zh, good) > meaning.similarity(zh, other)
    chapters = {}
    for lang in ("zh", "en"):
        for p in sample_paragraphs[("lighthouse", lang)]:
            chapters.setdefault((lang, p["chapter"]), []).append(p["text"])
    ids = sorted({c for _, c in chapters})
    m = meaning.matrix(["".join(chapters[("zh", c)]) for c in ids], [" ".join(chapters[("en", c)]) for c in ids])
    assert list(m.argmax(axis=1)) == list(range(len(ids)))  # each chapter is closest to its translation
    assert meaning.same_language("他走了。", "他走了。", "zh") == 1.0
    assert 0 < meaning.same_language("The island had no trees.", "No trees grew on the island.", "en") < 1


def test_a_table_file_that_is_not_one_is_a_clear_error(tmp_path):
    from booktrans.errors import BooktransError

    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(BooktransError, match="bad.json"):
        LexicalTable.load(tmp_path / "bad.json")


def test_the_omission_detector_keeps_an_idiom_the_dictionary_lacks_as_one_word():
    """CC-CEDICT lacks 历久弥新 (enduring): longest match cuts it into four characters whose glosses
    (calendar, duration, fill, new) a translation seldom uses, four 'missing' words that looked like a
    cut clause. The detector's glosser (with or without a learned table) keeps it one word, found when
    any of its characters' glosses is found, and 他们 (they: every sense a stop word) gives no evidence
    at all. The aligner keeps plain longest match."""
    from booktrans.align.lexicon import CedictGlosser
    from booktrans.evaluate.omission import table_translator
    from booktrans.evaluate.omission.words import zh_words

    sentence = "他们培育了历久弥新的民族精神"
    plain = zh_words(CedictGlosser().bags([sentence])[0])
    joined = zh_words(table_translator(None).bags([sentence])[0])
    assert len(plain) == 11 and len(joined) == 6
    idiom = [w for w in joined if "new" in w]
    assert len(idiom) == 1 and {"new", "fill", "brim"} <= idiom[0]  # the glosses of 新 and 弥 in one word
    assert not any("anothe" in w or "marker" in w for w in joined)  # 他 and 们 as glossed pieces
    with_table = table_translator(learn_from_beads([{"zh": ["他们培育了人才"], "en": ["They trained people"]}]))
    forms = [w.form for w in with_table.zh_words(sentence)]
    assert "历久弥新" in forms and "历" not in forms
    assert [w.form for w in with_table.zh_words(sentence) if not w.content] == ["他们"]
