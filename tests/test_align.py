from project import align_book

from booktrans.align import align_lengths


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
    assert report["unmatched_chapters"] == [
        {"zh_chapters": [2], "en_chapters": [], "sentences": report["unmatched_chapters"][0]["sentences"]}
    ]
    assert {b["zh_chapter"] for b in beads} == {1, 3, 4, 5, 6, 7}


def test_align_stage_realigns_only_new_books_and_cached_output_is_identical(sample_paragraphs, tmp_path, caplog):
    """The per-book cache: a new book is the only one aligned, unchanged output files are put back
    as they were (same inode: not rewritten), and the whole output of runs using the cache is
    byte-identical to that of a run from an empty cache; an output edited in place is restored."""
    import dataclasses
    import logging

    import yaml
    from conftest import ROOT

    from booktrans.align.corpus import AlignOptions, align_corpus
    from booktrans.io import write_jsonl
    from booktrans.manifest import load_manifest
    from booktrans.params import load
    from booktrans.proofread.corrections import Proofreading

    text = tmp_path / "text"
    for (book, lang), paras in sample_paragraphs.items():
        write_jsonl(text / f"{book}.{lang}.jsonl", paras)
    P = load(ROOT / "params.yaml")
    manifest = yaml.safe_load((ROOT / "data" / "books.yaml").read_text())
    books = [b for b in manifest["books"] if b["id"] in ("lighthouse", "night-train", "four-seasons")]
    three = {"lighthouse", "night-train", "four-seasons"}

    def run(ids, out, cache="cache"):
        (tmp_path / "books.yaml").write_text(yaml.safe_dump({"books": [b for b in books if b["id"] in ids]}))
        opts = dataclasses.replace(AlignOptions.from_params(P.align), cache_dir=tmp_path / cache)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="align"):
            align_corpus(
                load_manifest(tmp_path / "books.yaml"),
                text,
                tmp_path / out,
                tmp_path / f"{out}.json",
                opts,
                Proofreading.load(None, P.proofread.sample, P.seed),
                lexicon=tmp_path / f"{out}.lex",
            )
        return next(r.getMessage() for r in caplog.records if "unchanged from cache" in r.getMessage())

    def same(a, b):
        files = sorted(p.name for p in (tmp_path / a).iterdir())
        assert files == sorted(p.name for p in (tmp_path / b).iterdir())
        for f in files:
            assert (tmp_path / a / f).read_bytes() == (tmp_path / b / f).read_bytes(), f
        for f in (".json", ".lex"):
            assert (tmp_path / f"{a}{f}").read_bytes() == (tmp_path / f"{b}{f}").read_bytes(), f

    assert "2 aligned, 0 unchanged" in run({"lighthouse", "night-train"}, "out")
    inode = (tmp_path / "out" / "lighthouse.jsonl").stat().st_ino
    assert "1 aligned, 2 unchanged" in run(three, "out")
    assert (tmp_path / "out" / "lighthouse.jsonl").stat().st_ino == inode  # put back, not rewritten
    assert "3 aligned, 0 unchanged" in run(three, "fresh", cache="empty")
    same("out", "fresh")
    assert "0 aligned, 3 unchanged" in run(three, "out")
    same("out", "fresh")
    with open(tmp_path / "out" / "night-train.jsonl", "a", encoding="utf-8") as fh:  # an edit in place
        fh.write("{}\n")
    assert "0 aligned, 3 unchanged" in run(three, "out")
    same("out", "fresh")
    # a changed edition is aligned again
    paras = [dict(p) for p in sample_paragraphs[("lighthouse", "en")]]
    paras[0]["text"] = paras[0]["text"].replace("island", "isle")
    write_jsonl(text / "lighthouse.en.jsonl", paras)
    assert "1 aligned, 2 unchanged" in run(three, "out")


def test_corpus_table_of_one_book_is_its_own_table_and_pools_in_any_cache_state(sample_paragraphs):
    """The corpus table pooled from per-book counts: for one book it is exactly the table EM learns
    on that book; counts kept in the cache (bytes) pool to the same table as fresh ones."""
    from booktrans.align import LexicalTable, SameMeaning
    from booktrans.align.corpus import book_counts, from_bytes, pool, to_bytes

    meaning = SameMeaning()
    books = []
    for book in ("lighthouse", "prob-textbook"):
        zh, en = sample_paragraphs[(book, "zh")], sample_paragraphs[(book, "en")]
        books.append([meaning.training_pair(z["text"], e["text"]) for z, e in zip(zh, en)])
    own = LexicalTable.learn(books[0])
    assert len(own) >= 5
    assert pool([book_counts(books[0])]).entries == own.entries
    fresh = [book_counts(p) for p in books]
    both = pool(fresh)
    assert both.entries == pool([from_bytes(to_bytes(c)) for c in fresh]).entries
    assert len(both) > len(own)  # the second book teaches words of its own
