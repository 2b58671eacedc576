from booktrans.align import align_book, align_lengths


def _covers_each_once(beads, n, m):
    src = [i for b in beads for i in b.src]
    tgt = [j for b in beads for j in b.tgt]
    return src == list(range(n)) and tgt == list(range(m))


def test_gale_church_covers_every_sentence_once_and_is_monotone():
    src = [10, 25, 7, 30, 12, 40]
    tgt = [31, 70, 22, 45, 44, 35, 120]  # en roughly 3x zh; sentence 3 was split in two
    beads = align_lengths(src, tgt)
    assert _covers_each_once(beads, len(src), len(tgt))
    assert any(len(b.src) == 1 and len(b.tgt) == 2 for b in beads)
    assert all(0.0 <= b.score <= 1.0 for b in beads)


def test_gale_church_finds_a_dropped_sentence_as_a_null_bead():
    src = [40, 120, 60, 100, 48, 160, 72]
    tgt = [120, 360, 180, 144, 480, 216]  # 3x the source, but source sentence 3 has no translation
    beads = align_lengths(src, tgt)
    assert _covers_each_once(beads, 7, 6)
    assert any(b.src == (3,) and b.tgt == () for b in beads)


def test_empty_side_gives_null_beads():
    beads = align_lengths([5, 6], [])
    assert [(b.src, b.tgt) for b in beads] == [((0,), ()), ((1,), ())]


def test_sample_book_aligns_mostly_one_to_one_with_full_coverage(sample_paragraphs):
    beads, report = align_book(sample_paragraphs[("lighthouse", "zh")], sample_paragraphs[("lighthouse", "en")])
    assert report["coverage_zh"] == 1.0 and report["coverage_en"] == 1.0
    assert report["bead_types"]["1-1"] >= 0.8 * report["beads"]
    first = beads[0]
    assert first["zh"][0].startswith("岛上没有树") and first["en"][0].startswith("The island had no trees")
    # chapter and paragraph ids from ingest are kept
    assert first["zh_chapter"] == 1 and first["zh_para"] == [0] and first["en_para"] == [0]
    # every sentence of both editions appears exactly once, in order
    zh_text = "".join(s for b in beads for s in b["zh"])
    assert zh_text == "".join(p["text"] for p in sample_paragraphs[("lighthouse", "zh")]).replace("\n", "")


def test_chapters_are_paired_and_an_extra_chapter_is_reported_unmatched(sample_paragraphs):
    zh = sample_paragraphs[("lighthouse", "zh")]
    en = [p for p in sample_paragraphs[("lighthouse", "en")] if p["chapter"] != 2]  # the English lacks chapter 2
    beads, report = align_book(zh, en)
    assert report["unmatched_chapters"] == [{"zh_chapters": [2], "en_chapters": [], "sentences": report["unmatched_chapters"][0]["sentences"]}]
    assert {b["zh_chapter"] for b in beads} == {1, 3, 4, 5, 6, 7}
