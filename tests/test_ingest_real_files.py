"""The real files in ../shared/data/ingest (skipped where that folder is absent)."""

import re

import pytest
from project import ingest_file

from booktrans.errors import IngestError
from booktrans.text.headings import parse_heading


@pytest.fixture(scope="module")
def ingest_dir(shared):
    return shared / "ingest"


def test_hongloumeng_gbk_gives_its_120_chapters_in_order(ingest_dir):
    res = ingest_file(ingest_dir / "hongloumeng.gbk.txt", "zh")
    assert res.report["encoding"] == "gb18030"
    titles = [t for t in res.report["chapter_titles"] if t]
    assert len(titles) == 120
    assert [parse_heading(t, "zh")[0] for t in titles] == list(range(1, 121))
    assert titles[0].startswith("第一回") and titles[-1].startswith("第一百二十回")
    first = next(p for p in res.paragraphs if p.chapter == 1)
    assert first.text.startswith("此开卷第一回也")  # full-width indent gone, paragraph whole


def test_fen_epub_chapters_in_order_with_notice_pages_skipped(ingest_dir):
    res = ingest_file(ingest_dir / "fen-luxun.zh.epub", "zh")
    titles = res.report["chapter_titles"]
    assert len(titles) == 25
    assert titles[:3] == ["题记", "人之历史", "科学史教篇"] and titles[-1] == "写在“坟”后面"
    assert res.report["dropped"]["front_matter"] >= 2
    text = "".join(p.text for p in res.paragraphs)
    assert "传硕公版书" not in text and "7sbook" not in text  # the publisher's notice page is not book text
    locs = [p.loc for p in res.paragraphs]
    assert locs == sorted(locs, key=lambda place: int(re.search(r"\d+", place).group()))  # spine order


def test_chinese_report_pdf_has_no_running_header_or_page_number_lines(ingest_dir):
    res = ingest_file(ingest_dir / "cjk-report.zh.pdf", "zh")
    texts = [p.text for p in res.paragraphs]
    header = "中航动力控制股份有限公司2010 年半年度报告"
    assert not any(t.replace(" ", "") == header.replace(" ", "") for t in texts)
    assert not any(re.fullmatch(r"\s*\d{1,3}\s*", t) for t in texts)
    assert res.report["dropped"]["headers"] >= 80 and res.report["dropped"]["page_numbers"] >= 80
    assert res.report["dropped"]["contents"] >= 7  # the dotted-leader table of contents
    assert not any("⋯⋯" in t for t in texts)
    # lines wrapped mid-sentence are one paragraph again
    assert any(
        t.startswith("本公司董事会、监事会及董事、监事、高级管理人员保证本报告所载资料不存在任何虚假记载")
        and t.endswith("承担个别及连带责任。")
        for t in texts
    )
    assert [t for t in res.report["chapter_titles"] if t][:2] == [
        "第一节 公司基本情况",
        "第二节 股本变动和主要股东持股情况",
    ]


def test_image_only_pdf_is_reported_as_needing_ocr(ingest_dir):
    with pytest.raises(IngestError) as exc:
        ingest_file(ingest_dir / "image-only.pdf", "zh")
    assert exc.value.reason == "needs OCR" and "1" in exc.value.detail


def test_corrupted_pdf_does_not_crash(ingest_dir):
    res = ingest_file(ingest_dir / "corrupted.pdf", "en")
    assert any("Beautiful is better than ugly." in p.text for p in res.paragraphs)
    assert any("repaired" in w for w in res.report["warnings"])


def test_report_pdf_lines_join_the_same_by_the_fast_path_and_the_plain_one(ingest_dir):
    """The PDF reader joins a page's lines straight from their text and end spaces (``_join``, for
    speed); on the real report — rotated pages, tables, lines of several spans, Latin inside Chinese —
    every block reads exactly as the plain ``join_lines`` over the lines as extracted."""
    import pymupdf

    from booktrans.ingest import pdf
    from booktrans.ingest.model import ReadResult

    with pymupdf.open(ingest_dir / "cjk-report.zh.pdf") as doc:
        pages, _ = pdf._read_pages(doc, ReadResult(blocks=[], format="pdf"))
    blocks = [[line for line in b.lines if line is not None] for blocks in pages for b in blocks]
    assert sum(len(b) > 1 for b in blocks) > 500
    spaced = [b for b in blocks if any(line.space_after or line.space_before for line in b[:-1])]
    assert spaced  # lines whose end spaces decide the join are among them
    for lines in blocks:
        assert pdf._join(lines, "zh") == pdf.join_lines([line.raw for line in lines], "zh")
        assert pdf._join(lines, "en") == pdf.join_lines([line.raw for line in lines], "en")
