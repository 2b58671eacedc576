"""EPUB layouts of real books (tests/bookfiles.py builds them): Project Gutenberg's anchors inside
one file, Chinese ``<div>`` + ``<br/>`` text, verse as ``<br/>`` lines, contents pointing at anchors,
parts in the table of contents. The same layouts are also made from the real Lu Xun EPUB in
../shared/data/ingest (skipped where that folder is absent)."""

import re
import zipfile

import bookfiles
import pytest
from lxml import etree
from project import ingest_file

from booktrans.text import normalize


@pytest.fixture(scope="module")
def source(root):
    from tools import load_tool

    mod = load_tool("scripts/make_sample.py")
    return lambda name: mod.parse_source(root / "data" / "sample" / "source" / f"{name}.md")


def _expected(chapters, lang):
    """[(title, [paragraph text as ingest gives it])] of the chapters a file was made from."""
    out = []
    for title, paras in chapters:
        out.append(
            (
                title,
                [
                    "\n".join(normalize(line, lang) for line in p.split("\n")) if "\n" in p else normalize(p, lang)
                    for p in paras
                ],
            )
        )
    return out


def _by_chapter(res):
    got: dict[int, tuple[str, list[str]]] = {}
    for p in res.paragraphs:
        got.setdefault(p.chapter, (p.title, []))[1].append(p.text)
    return [got[c] for c in sorted(got)]


@pytest.mark.parametrize("style", ["modern", "old"])
def test_gutenberg_epub_chapters_from_anchors_without_header_licence_or_contents(tmp_path, source, style):
    en = source("lighthouse.en")
    poems = source("four-seasons.en")
    numerals = ["I", "II", "III", "IV", "V", "VI", "VII"]
    chapters = (
        [("PREFACE", poems[0][1])]
        + [(f"CHAPTER {r}.", paras) for r, (_, paras) in zip(numerals, en)]
        + [("CHAPTER VIII.", poems[1][1] + poems[2][1])]
    )
    path = bookfiles.gutenberg_epub(
        tmp_path / f"pg-{style}.epub", "The Keeper's Daughter", "A. Writer", chapters, style=style
    )
    res = ingest_file(path, "en")
    got = _by_chapter(res)
    assert got[0] == ("", ["THE KEEPER'S DAUGHTER", "By A. Writer"])  # the title page: front matter, chapter 0
    assert got[1:] == _expected(chapters, "en")  # every chapter, every paragraph, in order
    text = "\n".join(p.text for p in res.paragraphs)
    assert "Gutenberg" not in text and "LICENSE" not in text and "CONTENTS" not in text
    d = res.report["dropped"]
    assert (
        d["gutenberg_header"] >= 3 and d["gutenberg_licence"] >= len(bookfiles.GUTENBERG_LICENCE) and d["contents"] >= 9
    )
    assert res.report["kept_share"] > 0.95  # boilerplate is not the book: it does not count against it
    # verse keeps its lines (<br/> inside <p>): no "hilland"
    verse = [p.text for p in res.paragraphs if "\n" in p.text]
    assert verse and verse[0].split("\n") == [normalize(line, "en") for line in poems[1][1][0].split("\n")]


def test_chinese_div_and_br_chapters_lose_nothing_even_when_only_some_are_laid_out_so(tmp_path, source):
    zh = source("lighthouse.zh")
    for style, p_chapters in (("indent", set()), ("nbsp", {1, 4})):
        path = bookfiles.div_br_epub(tmp_path / f"{style}.epub", "守塔人的女儿", zh, p_chapters=p_chapters, style=style)
        res = ingest_file(path, "zh")
        assert _by_chapter(res) == _expected(zh, "zh"), style
        assert res.report["warnings"] == []


def test_a_text_file_converted_to_epub_keeps_its_chapters(tmp_path, source):
    zh = source("lighthouse.zh")
    res = ingest_file(bookfiles.converted_txt_epub(tmp_path / "converted.epub", "守塔人的女儿", zh), "zh")
    assert _by_chapter(res) == _expected(zh, "zh")


def test_contents_pointing_at_anchors_in_one_file_with_parts(tmp_path, source):
    zh = [(t.split()[1], paras) for t, paras in source("lighthouse.zh")]  # titles that do not read as headings
    path = bookfiles.anchored_epub(tmp_path / "one-file.epub", "守塔人的女儿", zh, parts=[(0, "上部"), (4, "下部")])
    res = ingest_file(path, "zh")
    assert _by_chapter(res) == _expected(zh, "zh")
    assert res.report["parts"] == ["上部", "下部"]
    assert {p.part for p in res.paragraphs if p.title == "新灯"} == {"下部"}


def test_a_spine_item_yielding_far_less_than_it_holds_is_warned_about(tmp_path, source):
    zh = source("lighthouse.zh")
    path = bookfiles.div_br_epub(tmp_path / "ok.epub", "守塔人的女儿", zh)
    broken = tmp_path / "broken.epub"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("chapter3.html"):
                # a comment left open by a bad edit: parsers swallow the rest of the chapter into it
                data = data.replace("<br/>".encode(), "<br/><!-- ".encode(), 1)
            dst.writestr(info, data)
    res = ingest_file(broken, "zh")
    assert any("chapter3.html" in w and "characters of text" in w for w in res.report["warnings"])


# ------------------------------------------------------------------- the real Lu Xun EPUB, bent


@pytest.fixture(scope="module")
def fen(shared):
    """《坟》: (the ingest of the real file, its chapters as (title, [paragraphs]))."""
    path = shared / "ingest" / "fen-luxun.zh.epub"
    res = ingest_file(path, "zh")
    return res, [(t, ps) for t, ps in _by_chapter(res)]


def test_real_book_rebuilt_as_div_and_br_gives_the_same_paragraphs(tmp_path, fen):
    res, chapters = fen
    verse_free = [(t, [p.replace("\n", " ") for p in ps]) for t, ps in chapters]
    path = bookfiles.div_br_epub(tmp_path / "fen-div.epub", "坟", verse_free, p_chapters={0, 5, 9})
    again = ingest_file(path, "zh")
    assert _by_chapter(again) == [(t, [normalize(p, "zh") for p in ps]) for t, ps in verse_free]


def test_real_book_rebuilt_as_one_file_with_anchored_contents(tmp_path, fen):
    res, chapters = fen
    path = bookfiles.anchored_epub(tmp_path / "fen-one.epub", "坟", chapters)
    again = ingest_file(path, "zh")
    assert [t for t, _ in _by_chapter(again)] == res.report["chapter_titles"]
    assert [p.text for p in again.paragraphs] == [p.text for p in res.paragraphs]
    # the anchors are where the headings are: the file holds them all
    with zipfile.ZipFile(path) as zf:
        tree = etree.fromstring(zf.read("OEBPS/text.xhtml"))
    assert len(tree.findall(".//{http://www.w3.org/1999/xhtml}h2")) == len(chapters)


def test_real_book_chapters_with_br_verse_and_a_bare_text_chapter(tmp_path, fen):
    """Text straight in <body> (no element around it) and verse in <p> with <br/> are both read."""
    res, chapters = fen
    title, paras = chapters[1]
    verse = "进化之说，煔灼于希腊智者德黎，\n至达尔文而大定。"
    body = (
        f"<h1>{title}</h1>\n"
        + "\n".join(paras[:3])
        + "\n"  # bare text, one paragraph a line of markup
        + "<p>"
        + verse.replace("\n", "<br/>")
        + "</p>"
    )
    path = bookfiles.write_epub(
        tmp_path / "bare.epub", "坟", "zh", [("c1.xhtml", bookfiles._xhtml(title, body, "zh"))], [(title, "c1.xhtml")]
    )
    got = [p.text for p in ingest_file(path, "zh").paragraphs]
    assert verse in got
    joined = re.sub(r"\s", "", "".join(got))
    assert all(re.sub(r"\s", "", normalize(p, "zh")) in joined for p in paras[:3])
