"""The shared same-meaning module: the learned lexical table and what it changes for its users."""

import pytest

from booktrans.align import LexicalTable, SameMeaning, align_book, learn_from_beads


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


def test_the_omission_detector_finds_more_with_the_table(lighthouse_beads, corpus_table):
    """The omission detector takes its glosses from the module's dictionary mapping, so handing it a
    SameMeaning built on the learned table is all it takes to use the table: more of a faithful
    translation's words are found."""
    from booktrans.evaluate.omission import source_coverage

    ones = [b for b in lighthouse_beads[0] if b["type"] == "1-1"][:40]
    src, hyp = [b["zh"][0] for b in ones], [b["en"][0] for b in ones]
    counterparts = [(k,) for k in range(len(src))]
    plain = source_coverage(src, hyp, "zh", "en", glosser=SameMeaning(), counterparts=counterparts)
    learned = source_coverage(src, hyp, "zh", "en", glosser=SameMeaning(corpus_table), counterparts=counterparts)
    assert learned.expected > plain.expected


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
