"""Real public-domain books from outside the dev set (tests/books, sources and licences in its
README): the chapters each one gives, checked against the list written by hand from the book.

Each expected list is (part, title, level) per chapter in reading order: level 1 is the top of the
book's contents, level 2 a section inside a part (a story's 一, 二 or I, II); "" before the first
heading is the untitled opening (a Gutenberg title page).
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from project import ingest_file

from booktrans.gates import check_ingest
from booktrans.params import defaults

GATES = defaults().ingest.gates  # params.yaml's ingest.gates

BOOKS = Path(__file__).parent / "books"


def chapters(res) -> list[tuple[str, str, int]]:
    seen: dict[int, tuple[str, str, int]] = {}
    for p in res.paragraphs:
        seen.setdefault(p.chapter, (p.part, p.title, p.level))
    return [seen[c] for c in sorted(seen)]


ZH_SECTIONS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三"]

EXPECTED = {
    # 呐喊: hard-wrapped at 38 characters, paragraphs indented with 　　 (the preface with four spaces),
    # each story's title centred on its own line between blank lines
    ("nahan-excerpt.zh.txt", "zh"): [
        ("", "鸭的喜剧", 1),
        ("", "《呐喊》自序", 1),
        ("", "头发的故事⑴", 1),
        ("", "白光", 1),
    ],
    # 呐喊 again: 社戏 has body lines starting 第一回…/第二回… that run on as sentences; 狂人日记 (titled
    # with the paragraph indent only) nests its thirteen entries, 阿Q正传 its 第一章, 第二章
    ("nahan-shexi-excerpt.zh.txt", "zh"): [("", "社戏", 1), ("狂人日记⑴", "狂人日记⑴", 1)]
    + [("狂人日记⑴", n, 2) for n in ZH_SECTIONS]
    + [("阿Q正传", "第一章 序", 2), ("阿Q正传", "第二章 优胜记略", 2)],
    # 彷徨: four-space paragraph indents, no blank lines between paragraphs; the story's title centred,
    # its sections 一 … 五 centred further in
    ("panghuang-excerpt.zh.txt", "zh"): [("孤 独 者〔1〕", n, 2) for n in ZH_SECTIONS[:5]],
    # 故事新编: two stories in sections, then the collection's 序言 back at the top
    ("gushixinbian-excerpt.zh.txt", "zh"): [("奔 月〔1〕", n, 2) for n in ZH_SECTIONS[:3]]
    + [("非 攻〔1〕", n, 2) for n in ZH_SECTIONS[:5]]
    + [("", "序 言", 1)],
    # 野草: titles unindented among four-space-indented paragraphs (one with a stray space)
    ("yecao-excerpt.zh.txt", "zh"): [
        ("", t, 1) for t in ["狗的驳诘", "复仇〔其二〕", "影的告别", "复仇", "腊叶", "这样的战士", "墓碣文"]
    ],
    # 朝花夕拾: an introduction and a 目录 listing every essay (dropped), then centred essay titles
    ("zhaohuaxishi-excerpt.zh.txt", "zh"): [
        ("", t, 1) for t in ["《朝花夕拾》", "二十四孝图", "从百草园到三味书屋", "五猖会"]
    ],
    # News from Nowhere: Project Gutenberg, CRLF, US-ASCII, "CHAPTER I: ..." headings; header and licence out
    ("news-from-nowhere-excerpt.en.txt", "en"): [("", "", 1)]
    + [
        ("", t, 1)
        for t in [
            "CHAPTER I: DISCUSSION AND BED",
            "CHAPTER II: A MORNING BATH",
            "CHAPTER III: THE GUEST HOUSE AND BREAKFAST THEREIN",
        ]
    ],
    # Legend Land: ISO-8859-1, titles in capitals between blank lines, VOLUME ONE over the book
    ("legend-land-excerpt.en.txt", "en"): [("", "", 1), ("", "LEGEND LAND", 1), ("VOLUME ONE", "VOLUME ONE", 1)]
    + [
        ("VOLUME ONE", t, 2)
        for t in ["CONTENTS AND ILLUSTRATIONS", "FOREWORD", "THE MERMAID OF ZENNOR", "THE STONE MEN OF ST. CLEER"]
    ],
    # Morning Bells: ISO-8859-1, a contents list of texts under "Contents." and the book's name (front
    # matter), then the preface and "1. First Day." titles, each with a subtitle
    ("morning-bells-excerpt.en.txt", "en"): [("", "", 1)]
    + [("", t, 1) for t in ["Morning Bells.", "1. First Day.", "2. Second Day.", "3. Third Day."]],
    # Standard Ebooks: the navigation nests A Scandal in Bohemia's parts I, II, III
    ("sherlock-holmes-excerpt.en.epub", "en"): [("A Scandal in Bohemia", n, 2) for n in ["I", "II", "III"]]
    + [("", "A Case of Identity", 1)],
    # 世說新語 (Traditional characters, Calibre's EPUB 2): every chapter file opens with the book's name
    # as its only heading (<h5>世說新語</h5>) and gives the chapter's name beside it in plain text; the
    # NCX names the chapters, which the running book title must not replace
    ("shishuoxinyu-excerpt.zh.epub", "zh"): [
        ("", t, 1)
        for t in [
            "德行第一",
            "識鑒第七",
            "規箴第十",
            "捷悟第十一",
            "夙惠第十二",
            "豪爽第十三",
            "自新第十五",
            "企羨第十六",
        ]
    ],
    # Project Gutenberg HTML as an EPUB whose navigation names the title page only: the book's own
    # contents table (page-number links to anchors, two levels) decides
    ("taylor-tales-excerpt.en.epub", "en"): [
        ("", "", 1),
        ("", "PREFACE.", 1),
        ('"THE FIDDLE AND THE BOW."', '"THE FIDDLE AND THE BOW."', 1),
    ]
    + [
        ('"THE FIDDLE AND THE BOW."', t, 2)
        for t in [
            "CHERISH THE LITTLE ONES.",
            "FAT MEN AND BALD-HEADED MEN.",
            "THE VIOLIN, THE POET LAUREATE OF MUSIC.",
            "THE CONVICT AND HIS FIDDLE.",
            "A VISION OF THE OLD FIELD SCHOOL.",
        ]
    ],
}


@pytest.mark.parametrize("name,lang", list(EXPECTED))
def test_real_book_gives_its_chapters_nested_as_the_book_nests_them(name, lang):
    res = ingest_file(BOOKS / name, lang)
    assert chapters(res) == EXPECTED[(name, lang)]
    assert res.report["kept_share"] >= 0.95
    rows = [p.to_json() for p in res.paragraphs]
    assert all(r["level"] in (1, 2) for r in rows) and all(
        set(r) >= {"chapter", "title", "para", "text", "loc"} for r in rows
    )
    # every book here passes the chapter gates: no chapter holds most of it, no title is a sentence
    assert res.report["largest_chapter_share"] <= 0.5 and res.report["longest_title_length"] <= 20
    assert not [
        f for f in check_ingest({lang: res.report}, None, GATES) if "chapter" in f.figure or "title" in f.figure
    ]


def test_a_body_line_starting_like_a_heading_stays_in_its_paragraph():
    res = ingest_file(BOOKS / "nahan-shexi-excerpt.zh.txt", "zh")
    first = [p for p in res.paragraphs if p.text.startswith("第一回是民国元年")]
    assert len(first) == 1 and first[0].title == "社戏"
    assert "北京戏最好，你不去见见世面么？" in first[0].text  # the wrapped line is joined to the next
    assert not any(t.startswith(("第一回", "第二回")) for t in res.report["chapter_titles"])


def test_contents_lists_repeating_later_titles_are_dropped_not_chapters():
    res = ingest_file(BOOKS / "zhaohuaxishi-excerpt.zh.txt", "zh")
    assert res.report["dropped"]["contents"] == 12  # 目录 and its eleven entries
    assert not any(p.text in ("狗·猫·鼠", "范爱农", "后记") for p in res.paragraphs)
    taylor = ingest_file(BOOKS / "taylor-tales-excerpt.en.epub", "en")
    assert taylor.report["dropped"]["contents"] >= 48  # the table of 48 rows (and its title)
    assert not any(p.text.startswith("Cherish the Little Ones") for p in taylor.paragraphs)
    assert any("contents table in the book" in w for w in taylor.report["warnings"])


def test_the_gate_flags_a_book_left_in_one_chapter_and_a_sentence_as_title(tmp_path):
    # the 呐喊 excerpt with its titles set like body paragraphs: nothing marks them any more
    text = (BOOKS / "nahan-excerpt.zh.txt").read_text(encoding="utf-8")
    flat = "\n".join(("\u3000\u3000" + line.strip()) if line.strip() else line for line in text.split("\n"))
    (tmp_path / "flat.txt").write_text(
        "第一章\n\n"
        + flat.replace("\u3000\u3000白光", "第二章\n\n\u3000\u3000白光")
        + "\n\n第三章\n\n\u3000\u3000完。\n",
        encoding="utf-8",
    )
    res = ingest_file(tmp_path / "flat.txt", "zh")
    assert res.report["chapters"] >= 3 and res.report["largest_chapter_share"] > 0.5
    flags = check_ingest({"zh": res.report}, None, GATES)
    assert [f.figure for f in flags] == ["zh.largest_chapter_share"] and flags[
        0
    ].param == "ingest.gates.max_chapter_share"


def test_the_gate_flags_a_sentence_read_as_a_title_as_the_code_before_this_did(tmp_path):
    """社戏's body line, hard-wrapped at 34 characters, made a chapter title before: its length is flagged."""
    line = "第一回是民国元年我初到北京的时候，当时一个朋友对我说，北京戏最好，你"
    from booktrans.text import length

    report = {
        "chapters": 17,
        "largest_chapter_share": 0.41,
        "longest_title": line,
        "longest_title_length": length(line, "zh"),
    }
    flags = check_ingest({"zh": report}, None, GATES)
    assert [(f.figure, f.value, f.param) for f in flags] == [
        ("zh.longest_title_length", 34, "ingest.gates.max_title_zh_chars")
    ]
    real = ingest_file(BOOKS / "nahan-shexi-excerpt.zh.txt", "zh").report
    assert real["longest_title_length"] <= 10 and check_ingest({"zh": real}, None, GATES) == []


def test_translate_writes_a_navigation_nested_as_the_book(tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent))
    from chat_server import ChatServer

    from booktrans.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    book = BOOKS / "gushixinbian-excerpt.zh.txt"
    out = tmp_path / "out"
    with ChatServer("sk-test-0123456789abcdef") as srv:
        assert (
            main(
                [
                    "translate",
                    str(book),
                    "--src-lang",
                    "zh",
                    "--tgt-lang",
                    "en",
                    "--model",
                    "stub-chat",
                    "--out",
                    str(out),
                    "--backoff",
                    "0.05",
                    "--base-url",
                    srv.url,
                ]
            )
            == 0
        )
    from lxml import etree

    with zipfile.ZipFile(out / "gushixinbian-excerpt.zh.en.epub") as z:
        nav = etree.fromstring(z.read("EPUB/nav.xhtml"))
    top = nav.find(".//{*}nav/{*}ol")
    entries = [
        (
            li.find("{*}a").text if li.find("{*}a") is not None else li.find("{*}span").text,
            [a.text for a in li.findall("{*}ol/{*}li/{*}a")],
        )
        for li in top.findall("{*}li")
    ]
    # the stub answers "Paragraph of N characters, rendered in full." for a source of N characters
    said = lambda s: f"Paragraph of {len(s)} characters, rendered in full."  # noqa: E731
    assert entries == [
        (said("奔 月〔1〕"), [said(n) for n in ZH_SECTIONS[:3]]),
        (said("非 攻〔1〕"), [said(n) for n in ZH_SECTIONS[:5]]),
        (said("序 言"), []),
    ]
    summary = json.loads((out / "gushixinbian-excerpt.zh.en.json").read_text())
    assert summary["chapters"]["in_book"] == 9


def _unwrap(text: str) -> str:
    """The same book with each paragraph on one line (continuation lines joined to their first)."""
    out: list[str] = []
    for line in text.split("\n"):
        if out and line.strip() and out[-1].strip() and not line[:1].isspace() and len(out[-1].strip()) > 30:
            out[-1] += line.strip()
        else:
            out.append(line)
    return "\n".join(out)


VARIANTS = {
    "tab indents, CRLF": lambda t: t.replace("    ", "\t").replace("\u3000\u3000", "\t").replace("\n", "\r\n"),
    "ASCII-space indents": lambda t: t.replace("\u3000\u3000", "    "),
    "full-width indents": lambda t: t.replace("    ", "\u3000\u3000"),
    "one paragraph per line": _unwrap,
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", ["yecao-excerpt.zh.txt", "nahan-excerpt.zh.txt", "panghuang-excerpt.zh.txt"])
def test_the_same_real_book_set_with_other_indents_and_line_ends_keeps_its_chapters(tmp_path, name, variant):
    text = (BOOKS / name).read_text(encoding="utf-8")
    path = tmp_path / name
    path.write_bytes(VARIANTS[variant](text).encode("utf-8"))
    assert chapters(ingest_file(path, "zh")) == EXPECTED[(name, "zh")]


def test_an_epub_whose_navigation_names_only_its_title_page_takes_its_own_contents_page(tmp_path):
    """The Standard Ebooks excerpt with its contents page (toc.xhtml, nested lists of links to files
    and anchors) demoted to an ordinary page of the book, and a navigation naming the title page only."""
    import re

    src = BOOKS / "sherlock-holmes-excerpt.en.epub"
    out = tmp_path / "own-contents.epub"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "epub/content.opf":
                opf = data.decode()
                opf = opf.replace(
                    'href="toc.xhtml" id="toc.xhtml" media-type="application/xhtml+xml" properties="nav"',
                    'href="toc.xhtml" id="toc.xhtml" media-type="application/xhtml+xml"',
                )
                opf = opf.replace(
                    "</manifest>",
                    '<item href="nav.xhtml" id="nav.xhtml" media-type="application/xhtml+xml" '
                    'properties="nav"/></manifest>',
                )
                opf = re.sub(r"(<spine[^>]*>)", r'\1<itemref idref="toc.xhtml"/>', opf)
                data = opf.encode()
            zout.writestr(info, data)
        zout.writestr(
            "epub/nav.xhtml",
            '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
            'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Nav</title></head><body><nav epub:type="toc">'
            '<ol><li><a href="text/titlepage.xhtml">Titlepage</a></li></ol></nav></body></html>',
        )
    res = ingest_file(out, "en")
    assert chapters(res) == EXPECTED[("sherlock-holmes-excerpt.en.epub", "en")]
    assert any("contents table in the book" in w for w in res.report["warnings"])


def test_stories_named_in_a_contents_table_with_centred_part_headings(tmp_path):
    """The layout of the issue's Gutenberg story collection: the navigation names the title page only,
    a contents table links the stories' anchors, and each story's parts are centred paragraphs (a
    class the page's CSS centres, an inline style, <center>), not <h*>. The prose is Legend Land's."""
    from bookfiles import write_epub

    text = (BOOKS / "legend-land-excerpt.en.txt").read_bytes().decode("latin-1").replace("\r\n", "\n")
    prose = [" ".join(p.split()) for p in text.split("\n\n") if len(p) > 300 and "_Page_" not in p][:6]
    body = (
        '<style>.c { text-align: center; }</style><p class="c">LEGEND LAND</p>'
        '<table><tr><td><a href="#s1">The Mermaid of Zennor</a></td></tr>'
        '<tr><td><a href="#s2">The Stone Men of St. Cleer</a></td></tr>'
        '<tr><td><a href="#s3">How St. Piran Came to Cornwall</a></td></tr></table>'
        f'<h2 id="s1">The Mermaid of Zennor</h2><p class="c">I</p><p>{prose[0]}</p><p class="c">II</p><p>{prose[1]}</p>'
        f'<p id="s2" class="c">THE STONE MEN OF ST. CLEER</p><p>{prose[2]}</p><center>PART II</center><p>{prose[3]}</p>'
        '<div id="s3"><p style="text-align: center">HOW ST. PIRAN CAME TO '
        f"CORNWALL</p><p>{prose[4]}</p><p>{prose[5]}</p></div>"
    )
    page = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title>'
        f"</head><body>{body}</body></html>"
    )
    path = write_epub(
        tmp_path / "legends.epub",
        "Legend Land",
        "en",
        [("title.xhtml", page.replace(body, "<p>Legend Land</p>")), ("book.xhtml", page)],
        [("Legend Land", "title.xhtml")],
    )
    res = ingest_file(path, "en")
    stone = "The Stone Men of St. Cleer"
    assert chapters(res) == [
        ("", "", 1),
        ("The Mermaid of Zennor", "I", 2),
        ("The Mermaid of Zennor", "II", 2),
        (stone, stone, 1),
        (stone, "PART II", 2),
        ("", "How St. Piran Came to Cornwall", 1),
    ]
    assert res.report["dropped"]["contents"] == 3 and res.report["dropped"]["repeated_titles"] == 2
