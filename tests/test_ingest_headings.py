"""Chapter headings: the forms real books use, parts above chapters, sections inside them, and the
per-book override in the manifest."""

import pytest
from project import ingest_file

from booktrans.text.headings import classify_heading

# (line, language, level or None, number)
TABLE = [
    ("Psalm 1", "en", "chapter", 1),
    ("PSALM 119", "en", "chapter", 119),
    ("Chapter the First", "en", "chapter", 1),
    ("CHAPTER THE TWENTY-SECOND. In Which the Keeper Returns", "en", "chapter", 22),
    ("CHAPTER I.", "en", "chapter", 1),
    ("CHAPTER XIV. THE STORM", "en", "chapter", 14),
    ("Chapter 12: The Storm", "en", "chapter", 12),
    ("Chapter Twenty-One", "en", "chapter", 21),
    ("CHAPTER II. In Which Passepartout Is Convinced That He Has At Last Found His Ideal.", "en", "chapter", 2),
    ("Stave One: Marley's Ghost", "en", "chapter", 1),
    ("Letter 4", "en", "chapter", 4),
    ("ONE", "en", "chapter", 1),
    ("Twenty-Two", "en", "chapter", 22),
    ("I", "en", "chapter", 1),
    ("XIV.", "en", "chapter", 14),
    ("1", "en", "chapter", 1),
    ("12.", "en", "chapter", 12),
    ("IV. Winter Fire", "en", "chapter", 4),
    ("PART ONE", "en", "part", 1),
    ("Part Two: The Sea", "en", "part", 2),
    ("BOOK I. THE COUNTRY", "en", "part", 1),
    ("Volume III", "en", "part", 3),
    ("Section 2", "en", "section", 2),
    ("Prologue", "en", "chapter", None),
    ("EPILOGUE", "en", "chapter", None),
    ("Epilogue: Ten Years Later", "en", "chapter", None),
    ("Preface", "en", "chapter", None),
    ("Afterword", "en", "chapter", None),
    ("第一章 末班车", "zh", "chapter", 1),
    ("第一百二十回 甄士隐详说太虚情", "zh", "chapter", 120),
    ("第十二首 一年又一年", "zh", "chapter", 12),
    ("第３章 乘法原理", "zh", "chapter", 3),
    ("正文 第十二章 风起", "zh", "chapter", 12),
    ("【第一章】回家", "zh", "chapter", 1),
    ("一", "zh", "chapter", 1),
    ("十一", "zh", "chapter", 11),
    ("（二）", "zh", "chapter", 2),
    ("三、物理学的诞生", "zh", "chapter", 3),
    ("第一部", "zh", "part", 1),
    ("第二部 海", "zh", "part", 2),
    ("卷一", "zh", "part", 1),
    ("卷之三 秋", "zh", "part", 3),
    ("上卷", "zh", "part", 1),
    ("第二编 力学", "zh", "part", 2),
    ("第二节 随机变量", "zh", "section", 2),
    ("楔子", "zh", "chapter", None),
    ("序", "zh", "chapter", None),
    ("序言 关于本书", "zh", "chapter", None),
    ("尾声", "zh", "chapter", None),
    ("后记：写在最后", "zh", "chapter", None),
    ("附录一", "zh", "chapter", None),
    # not headings
    ("Chapter 3 describes the method in detail.", "en", None, None),
    ("Book of Genesis", "en", None, None),
    ("Part of the problem is that nobody asked.", "en", None, None),
    ("I went home.", "en", None, None),
    ("Did", "en", None, None),
    ("他走进第三章的世界，看见了很多东西。", "zh", None, None),
    ("序号 有限售条件股东", "zh", None, None),
    ("第三章说的是什么？", "zh", None, None),
]


@pytest.mark.parametrize("line,lang,level,number", TABLE)
def test_heading_forms(line, lang, level, number):
    h = classify_heading(line, lang)
    if level is None:
        assert h is None, line
    else:
        assert h is not None and (h.level, h.number) == (level, number), (line, h)


def _txt(tmp_path, name, lines):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


PROSE_ZH = [
    "他们走了很久，才看见远处的灯火。",
    "天快亮的时候，雨停了，河面上起了一层薄雾。",
    "没有人说话，大家都在等船。",
]
PROSE_EN = [
    "They walked for a long time before they saw the lights.",
    "Towards morning the rain stopped and a thin mist rose on the river.",
    "Nobody spoke; they were all waiting for the boat.",
]


def test_parts_are_parents_and_sections_stay_inside_their_chapter(tmp_path):
    lines = ["长河", ""]
    for part, chapters in (("第一部 春", ["第一章 出发", "第二章 渡口"]), ("第二部 秋", ["第三章 归来"])):
        lines += ["", part, ""]
        for ch in chapters:
            lines += [
                "",
                ch,
                "",
                PROSE_ZH[0],
                "",
                "第一节 夜路",
                "",
                PROSE_ZH[1],
                "",
                "第二节 天明",
                "",
                PROSE_ZH[2],
                "",
            ]
    res = ingest_file(_txt(tmp_path, "book.txt", lines), "zh")
    assert res.report["chapter_titles"] == ["", "第一章 出发", "第二章 渡口", "第三章 归来"]
    assert res.report["parts"] == ["第一部 春", "第二部 秋"]
    assert res.report["sections"] == 6
    ch1 = [p.text for p in res.paragraphs if p.chapter == 1]
    assert ch1 == [
        PROSE_ZH[0],
        "第一节 夜路",
        PROSE_ZH[1],
        "第二节 天明",
        PROSE_ZH[2],
    ]  # the sections' headings stay as text
    assert {p.part for p in res.paragraphs if p.chapter == 3} == {"第二部 秋"}


def test_a_report_made_of_sections_has_them_as_chapters(tmp_path):
    lines = ["年度报告", ""] + [x for n in ("一", "二", "三") for x in ("", f"第{n}节 概况", "", PROSE_ZH[0], "")]
    res = ingest_file(_txt(tmp_path, "report.txt", lines), "zh")
    assert res.report["chapter_titles"] == ["", "第一节 概况", "第二节 概况", "第三节 概况"]


def test_bare_numbers_restarting_in_each_part_are_chapters(tmp_path):
    lines = ["The River", ""]
    for part in ("PART ONE", "PART TWO"):
        lines += ["", part, ""]
        for n in ("1", "2", "3"):
            lines += ["", n, ""] + [x for s in PROSE_EN for x in (s, "")]
    res = ingest_file(_txt(tmp_path, "river.txt", lines), "en")
    assert res.report["chapters"] == 7 and res.report["parts"] == ["PART ONE", "PART TWO"]
    assert [p.title for p in res.paragraphs if p.text == PROSE_EN[0]] == ["1", "2", "3", "1", "2", "3"]


def test_numbered_list_items_and_page_numbers_are_not_chapters(tmp_path):
    lines = [
        "CHAPTER I.",
        "",
        "You will need:",
        "",
        "1. Flour",
        "",
        "3. Water",
        "",
        "2. Salt",
        "",
        "CHAPTER II.",
        "",
        "The dough rose slowly through the",
        "",
        "12",
        "",
        "afternoon while we waited for the",
        "",
        "13",
        "",
        "oven to warm and the light to fail.",
    ]
    res = ingest_file(_txt(tmp_path, "recipes.txt", lines), "en")
    assert res.report["chapter_titles"] == ["CHAPTER I.", "CHAPTER II."]
    texts = [p.text for p in res.paragraphs]
    assert "1. Flour" in texts and "12" in texts  # kept as text, never lost


def test_a_subheading_repeated_in_every_chapter_is_not_a_chapter(tmp_path):
    lines = []
    for n in (1, 2, 3):
        lines += ["", f"Chapter {n}", "", "Introduction", "", PROSE_EN[0], "", PROSE_EN[1], ""]
    res = ingest_file(_txt(tmp_path, "textbook.txt", lines), "en")
    assert res.report["chapter_titles"] == ["Chapter 1", "Chapter 2", "Chapter 3"]


def test_chapter_pattern_override_for_an_odd_book(tmp_path, capsys):
    lines = ["怪书", ""] + [
        x for n in ("壹", "贰", "叁") for x in ("", f"◆ {n} ◆", "", PROSE_ZH[0], "", PROSE_ZH[1], "")
    ]
    p = _txt(tmp_path, "odd.txt", lines)
    assert ingest_file(p, "zh").report["chapters"] == 1  # nothing reads as a heading
    res = ingest_file(p, "zh", chapter_pattern=r"◆ \S+ ◆")
    assert res.report["chapter_titles"] == ["", "◆ 壹 ◆", "◆ 贰 ◆", "◆ 叁 ◆"]
    # the same on the command line
    import json

    from booktrans.cli import main

    assert main(["ingest", str(p), "--lang", "zh", "--chapter-pattern", r"◆ \S+ ◆"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted({r["title"] for r in rows}) == ["", "◆ 叁 ◆", "◆ 壹 ◆", "◆ 贰 ◆"]
