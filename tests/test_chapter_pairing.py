"""Chapters are paired by what they say: an edition shifted by one front chapter, merged, split and
missing chapters; the measure can be swapped."""

from collections import Counter

import pytest
from project import align_book

from booktrans.align import pair_chapters, sentences_of


def _retitle(paragraphs, titles):
    """Paragraphs with chapter c renamed titles[c] (titles that carry no number)."""
    return [{**p, "title": titles.get(p["chapter"], p["title"])} for p in paragraphs]


def _renumber(paragraphs, mapping):
    out = []
    for p in paragraphs:
        if p["chapter"] in mapping:
            out.append({**p, "chapter": mapping[p["chapter"]]})
    return out


@pytest.fixture(scope="module")
def lighthouse(sample_paragraphs):
    zh_titles = {1: "小岛", 2: "风暴", 3: "清晨", 4: "视察员", 5: "新灯", 6: "来信", 7: "两盏灯"}
    en_titles = {
        1: "The Island",
        2: "The Storm",
        3: "Morning",
        4: "The Inspector",
        5: "The New Lamp",
        6: "The Letter",
        7: "Two Lights",
    }
    return (
        _retitle(sample_paragraphs[("lighthouse", "zh")], zh_titles),
        _retitle(sample_paragraphs[("lighthouse", "en")], en_titles),
    )


def test_an_edition_shifted_by_one_front_chapter(sample_paragraphs, lighthouse):
    """The Chinese edition opens with a translator's preface and lacks the last chapter, so both have
    seven chapters; paired by order, every chapter would meet the wrong one."""
    zh, en = lighthouse
    preface = [
        {**p, "chapter": 1, "title": "译序"} for p in sample_paragraphs[("four-seasons", "zh")] if p["chapter"] == 1
    ]
    zh = preface + _renumber(zh, {c: c + 1 for c in range(1, 7)})
    assert len({p["chapter"] for p in zh}) == len({p["chapter"] for p in en}) == 7
    beads, report = align_book(zh, en)
    pairs = [(c["zh_chapters"], c["en_chapters"]) for c in report["chapters"]]
    assert pairs == [([c + 1], [c]) for c in range(1, 7)]
    assert [(u["zh_chapters"], u["en_chapters"]) for u in report["unmatched_chapters"]] == [([1], []), ([], [7])]
    assert min(c["mean_score"] for c in report["chapters"]) > 0.3
    assert report["kept_zh"] > 0.8 and report["kept_en"] > 0.8


def _split(paragraphs, chapter, new):
    """Chapter ``chapter`` cut in two: its second half becomes chapter ``new``."""
    paras = [p["para"] for p in paragraphs if p["chapter"] == chapter]
    return [
        {**p, "chapter": new} if p["chapter"] == chapter and p["para"] >= paras[len(paras) // 2] else p
        for p in paragraphs
    ]


@pytest.mark.parametrize(
    "case,bend,expected",
    [
        (
            "chapters 3 and 4 merged",
            lambda en: _renumber(en, {1: 1, 2: 2, 3: 3, 4: 3, 5: 5, 6: 6, 7: 7}),
            [([1], [1]), ([2], [2]), ([3, 4], [3]), ([5], [5]), ([6], [6]), ([7], [7])],
        ),
        (
            "chapter 6 split",
            lambda en: _split(_renumber(en, {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8}), 6, 7),
            [([1], [1]), ([2], [2]), ([3], [3]), ([4], [4]), ([5], [5]), ([6], [6, 7]), ([7], [8])],
        ),
        (
            "chapter 5 missing",
            lambda en: _renumber(en, {1: 1, 2: 2, 3: 3, 4: 4, 6: 6, 7: 7}),
            [([1], [1]), ([2], [2]), ([3], [3]), ([4], [4]), ([5], []), ([6], [6]), ([7], [7])],
        ),
    ],
)
def test_merged_split_and_missing_chapters(lighthouse, case, bend, expected):
    zh, en = lighthouse
    assert pair_chapters(sentences_of(zh, "zh"), sentences_of(bend(en), "en")) == expected, case


def test_the_measure_is_injectable(lighthouse):
    """A measure (here one that knows only chapter labels) replaces the dictionary glosses."""
    zh, en = lighthouse
    zs, es = sentences_of(zh, "zh"), sentences_of(en, "en")
    calls = []

    def labels(zh_chapters, en_chapters):
        calls.append((len(zh_chapters), len(en_chapters)))
        # claims Chinese chapter k is English chapter k + 1: the pairing must follow it
        return (
            [Counter({f"c{k + 1}": 1}) for k in range(len(zh_chapters))],
            [Counter({f"c{k}": 1}) for k in range(len(en_chapters))],
        )

    pairs = pair_chapters(zs, es, bags=labels)
    assert calls == [(7, 7)]
    assert pairs[0] == ([], [1]) and ([1], [2]) in pairs and pairs[-1] == ([7], [])


def test_real_editions_bent_are_paired_exactly(shared):
    """Chapters cut from real novels and their published translations (mac_dev), bent the ways
    editions differ; the cases of eval/chapter_pairing.py."""
    from tools import load_tool

    from booktrans.align.chapters import pair_by_content

    ev = load_tool("eval/chapter_pairing.py")
    pieces = [
        p
        for name in ("001", "003", "005")
        for p in ev.chapters(ev.load(shared / "align-dev" / "mac_dev", name, True), 4)
    ]
    for case, zh, en, truth in ev.cases(pieces):
        got = [
            (a, b)
            for a, b, _ in pair_by_content(zh, en, [sum(map(len, c)) for c in zh], [sum(map(len, c)) for c in en])
        ]
        assert got == truth, case
