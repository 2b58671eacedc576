import json
import subprocess
import sys
import zipfile

import pytest
from project import ingest_file

from booktrans.errors import IngestError


def test_every_sample_edition_ingests_with_its_chapters(root, sample_paragraphs):
    expected_chapters = {"prob-textbook": 4, "lighthouse": 7, "sky-blue": 6, "four-seasons": 13, "night-train": 6}
    for (book, lang), paras in sample_paragraphs.items():
        real = {p["chapter"] for p in paras if p["title"]}
        assert len(real) == expected_chapters[book], (book, lang)
        assert all(p["text"] for p in paras)


def test_pdf_running_header_and_page_numbers_are_removed(root):
    res = ingest_file(root / "data/sample/prob-textbook.en.pdf", "en")
    texts = [p.text for p in res.paragraphs]
    assert not any(t == "A First Course in Probability" or t.strip().isdigit() for t in texts)
    assert res.report["dropped"]["headers"] >= 2 and res.report["dropped"]["page_numbers"] >= 2
    # a paragraph broken across the page turn is one paragraph again
    assert any(t.startswith("Exercise 2.1.") and t.endswith("the probability is 0.504.") for t in texts)
    assert res.paragraphs[0].loc == "p1"


def test_gbk_text_with_crlf_and_wrapped_english_text(root):
    zh = ingest_file(root / "data/sample/sky-blue.zh.txt", "zh")
    assert zh.report["encoding"] == "gb18030"
    assert zh.paragraphs[1].text.startswith("晴天抬头看，天空是蓝色的。")
    en = ingest_file(root / "data/sample/sky-blue.en.txt", "en")
    # hard-wrapped lines are joined back into one paragraph
    assert any(
        p.text.startswith("Sunlight looks white") and p.text.endswith("to violet at the other.") for p in en.paragraphs
    )


def test_epub_spine_order_skips_navigation_and_copyright(root):
    res = ingest_file(root / "data/sample/lighthouse.en.epub", "en")
    assert res.report["chapter_titles"][:3] == ["Chapter 1 The Island", "Chapter 2 The Storm", "Chapter 3 Morning"]
    assert len(res.report["chapter_titles"]) == 7
    assert res.report["dropped"]["front_matter"] == 2
    assert not any("public domain" in p.text for p in res.paragraphs)


def test_same_text_in_utf8_and_gbk_gives_identical_paragraphs(root, tmp_path):
    data = (root / "data/sample/sky-blue.zh.txt").read_bytes().decode("gb18030")
    (tmp_path / "a.txt").write_text(data, encoding="utf-8")
    a = ingest_file(tmp_path / "a.txt", "zh")
    b = ingest_file(root / "data/sample/sky-blue.zh.txt", "zh")
    assert [p.text for p in a.paragraphs] == [p.text for p in b.paragraphs]


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.txt", b"", "empty file"),
        ("binary.txt", bytes(range(256)) * 40, "binary file"),
        ("empty.pdf", b"", "empty file"),
        ("broken.pdf", b"%PDF-1.7\n garbage that is not a pdf", "corrupted PDF"),
        ("notzip.epub", b"this is not a zip", "not an EPUB"),
    ],
)
def test_bad_files_raise_a_clear_error_naming_the_file(tmp_path, name, content, reason):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(IngestError) as exc:
        ingest_file(p, "zh")
    assert exc.value.reason == reason
    assert str(p) in str(exc.value)


def test_zip_that_is_not_an_epub(tmp_path):
    p = tmp_path / "x.epub"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(IngestError, match="not an EPUB"):
        ingest_file(p, "en")


def test_wrong_language_is_an_error(root):
    with pytest.raises(IngestError, match="wrong language"):
        ingest_file(root / "data/sample/lighthouse.en.epub", "zh")


def test_cli_ingest_prints_jsonl_and_exits_2_on_bad_input(root, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "booktrans.cli",
            "ingest",
            str(root / "data/sample/night-train.zh.epub"),
            "--lang",
            "zh",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows[0]["chapter"] == 1 and rows[0]["title"] == "第一章 末班车" and rows[0]["text"].startswith("开往海边")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02" * 1000)
    res = subprocess.run(
        [sys.executable, "-m", "booktrans.cli", "ingest", str(bad), "--lang", "en"], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and str(bad) in res.stderr and "binary" in res.stderr
    assert "Traceback" not in res.stderr


def _source_paragraphs(root, book, lang):
    from tools import load_tool

    from booktrans.text import normalize

    mod = load_tool("scripts/make_sample.py")
    chapters = mod.parse_source(root / "data" / "sample" / "source" / f"{book}.{lang}.md")
    return [(title, [normalize(p, lang) for p in paras]) for title, paras in chapters]


@pytest.mark.parametrize("book", ["prob-textbook", "lighthouse", "sky-blue", "night-train"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_format_gives_back_exactly_the_paragraphs_the_book_was_made_from(root, sample_paragraphs, book, lang):
    """PDF (headers, page numbers, wrapped lines, page turns), EPUB and GBK/wrapped TXT all come out
    as the author's paragraphs, in order, under the right chapter titles."""
    source = _source_paragraphs(root, book, lang)
    got = [p for p in sample_paragraphs[(book, lang)] if p["chapter"] > 0]
    assert [p["text"] for p in got] == [p for _, paras in source for p in paras]
    titles = {p["chapter"]: p["title"] for p in got}
    assert [titles[c] for c in sorted(titles)] == [t for t, _ in source]


def test_verse_keeps_one_line_per_paragraph(root, sample_paragraphs):
    source = _source_paragraphs(root, "four-seasons", "zh")
    got = [p["text"] for p in sample_paragraphs[("four-seasons", "zh")] if p["chapter"] > 0]
    assert got == [line.strip() for _, paras in source for p in paras for line in p.split("\n")]
