"""The sentence aligner, the gold-format tools and the CLI."""

import subprocess
import sys

import pytest
from project import P, align_book, align_filters

from booktrans.align import filter_beads
from booktrans.align.evaluate import evaluate_dirs, score
from booktrans.align.gold import format_bead, parse_beads
from booktrans.align.sentalign import AlignConfig, align_sentences
from booktrans.text import split_sentences


@pytest.fixture(scope="module")
def lighthouse(sample_paragraphs):
    zh = [
        s
        for p in sample_paragraphs[("lighthouse", "zh")]
        if p["chapter"] == 1
        for s in split_sentences(p["text"], "zh")
    ]
    en = [
        s
        for p in sample_paragraphs[("lighthouse", "en")]
        if p["chapter"] == 1
        for s in split_sentences(p["text"], "en")
    ]
    return zh, en


def _covers(beads, n, m):
    return [i for b in beads for i in b.zh] == list(range(n)) and [j for b in beads for j in b.en] == list(range(m))


def test_parallel_chapter_aligns_sentence_by_sentence(lighthouse):
    zh, en = lighthouse
    beads = align_sentences(zh, en)
    assert _covers(beads, len(zh), len(en))
    pairs = {(b.zh, b.en) for b in beads}
    assert ((0,), (0,)) in pairs  # 岛上没有树 … / The island had no trees …
    assert sum(1 for b in beads if len(b.zh) == 1 and len(b.en) == 1) >= 0.8 * len(beads)
    assert all(0.0 <= b.score <= 1.0 for b in beads)


def test_a_sentence_missing_from_the_translation_becomes_a_null_bead(lighthouse):
    zh, en = lighthouse
    missing = next(j for j, s in enumerate(en) if s.startswith("The supply boat came once a month"))
    beads = align_sentences(zh, en[:missing] + en[missing + 1 :])
    zh_of_it = next(i for i, s in enumerate(zh) if s.startswith("补给船每个月来一次"))
    assert any(b.zh == (zh_of_it,) and b.en == () for b in beads)


def test_a_sentence_split_in_two_becomes_a_one_to_two_bead(lighthouse):
    zh, en = lighthouse
    k = next(j for j, s in enumerate(en) if s.startswith("Every evening at sunset"))
    split = en[:k] + ["Every evening at sunset", "she climbed the one hundred and twelve steps."] + en[k + 1 :]
    beads = align_sentences(zh, split)
    zh_of_it = next(i for i, s in enumerate(zh) if s.startswith("每天傍晚日落时"))
    assert any(b.zh == (zh_of_it,) and b.en == (k, k + 1) for b in beads)


def test_the_banded_search_finds_the_same_path_as_the_full_one(lighthouse):
    zh, en = lighthouse
    full = align_sentences(zh * 3, en * 3)
    banded = align_sentences(zh * 3, en * 3, cfg=AlignConfig(full_dp_cells=0, band=12))
    assert [(b.zh, b.en) for b in banded] == [(b.zh, b.en) for b in full]


def test_quotations_are_followed_across_sentences_in_both_languages():
    """Where dialogue is: the aligner holds a bead boundary inside a quotation on one side only, and
    a bead whose sides differ in dialogue share, against the bead."""
    from booktrans.align.sentalign import quotations

    zh = [
        "孩子跑过来说：“爷爷，妈妈叫你回家。",  # opens, stays open
        "她说‘菜凉了’，快走吧。",  # inner ‘’ closes nothing outside
        "“快走！”",  # a repeated opening: the speech starts again
        "渔夫笑了。",
        "“别急。",
    ]  # a stray opening, never closed ...
    states, shares = quotations(zh + ["他站起来。"] * 8, "zh")
    assert states[:6] == [False, True, True, False, False, True]
    assert shares[1] == 1.0 and shares[3] == 0.0 and 0.3 < shares[0] < 0.8
    assert states[-1] is False  # ... goes stale after 8 sentences without a mark
    en = [
        "'Grandpa, Mum says it's time.",  # opens; it's is an apostrophe
        "She said \"the food's cold\" and the boys' dog ate it.",  # inner "" and a plural possessive
        "Hurry!' he said.",  # closes
        "The old man's rod lay on the boys' boat.",
    ]  # apostrophes only
    states, shares = quotations(en, "en")
    assert states == [False, True, True, False, False]
    assert shares[1] == 1.0 and shares[3] == 0.0


def test_empty_sides_give_null_beads():
    beads = align_sentences(["一。", "二。"], [])
    assert [(b.zh, b.en) for b in beads] == [((0,), ()), ((1,), ())]


def test_filters_drop_with_reasons():
    beads = [
        {
            "zh": ["岛上没有树，只有灰色的岩石和一座白塔。"],
            "en": ["The island had no trees, only grey rock and a white tower."],
            "score": 0.6,
        },
        {
            "zh": ["岛上没有树，只有灰色的岩石和一座白塔。"],
            "en": ["The island had no trees, only grey rock and a white tower."],
            "score": 0.6,
        },
        {"zh": ["岛上没有树，只有灰色的岩石和一座白塔。"], "en": ["Yes."], "score": 0.6},
        {
            "zh": ["他在一个小本子上写下一串串数字然后离开了。"],
            "en": ["The weather was fine and everyone went home early today."],
            "score": 0.0,
        },
        {"zh": ["好。"], "en": [], "score": 0.0},
    ]
    filter_beads(beads, align_filters())
    assert [b.get("drop") for b in beads] == [None, "duplicate", "length_ratio", "low_score", "null"]
    assert [b["keep"] for b in beads] == [True, False, False, False, False]


def test_book_report_has_coverage_types_and_drops_per_chapter(sample_paragraphs):
    beads, report = align_book(sample_paragraphs[("night-train", "zh")], sample_paragraphs[("night-train", "en")])
    assert report["method"] == "cedict" and report["coverage_zh"] == 1.0 == report["coverage_en"]
    assert len(report["chapters"]) == 6
    for ch in report["chapters"]:
        assert {"coverage_zh", "coverage_en", "bead_types", "kept_beads", "dropped"} <= set(ch)
    assert all({"zh_chapter", "en_chapter", "zh_para", "en_para", "keep"} <= set(b) for b in beads)


def test_gold_format_round_trip_and_exact_match_scoring(tmp_path):
    gold = parse_beads("[0,1]:[0]\n[2]:[1, 2]\n[]:[3]\n[3]:[4]\n")
    assert gold == [((0, 1), (0,)), ((2,), (1, 2)), ((), (3,)), ((3,), (4,))]
    assert format_bead((2,), (1, 2)) == "[2]:[1,2]" and format_bead((), (3,)) == "[]:[3]"
    test = [((0,), (0,)), ((1,), ()), ((2,), (1, 2)), ((), (3,)), ((3,), (4,))]
    s = score(test, gold)
    assert (s.correct, s.test, s.gold) == (3, 5, 4)
    assert s.precision == pytest.approx(0.6) and s.recall == pytest.approx(0.75) and s.f1 == pytest.approx(2 / 3)
    (tmp_path / "g").mkdir(), (tmp_path / "t").mkdir()
    (tmp_path / "g" / "001.align").write_text("[0,1]:[0]\n[2]:[1,2]\n[]:[3]\n[3]:[4]\n")
    (tmp_path / "t" / "001.align").write_text("\n".join(format_bead(*b) for b in test) + "\n")
    per_file, total = evaluate_dirs(tmp_path / "g", tmp_path / "t")
    assert per_file["001.align"].f1 == pytest.approx(2 / 3) and total.correct == 3


def test_cli_align_prints_gold_format_beads_covering_every_line_once(lighthouse, tmp_path):
    zh, en = lighthouse
    (tmp_path / "zh.txt").write_text("\n".join(zh) + "\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("\n".join(en) + "\n", encoding="utf-8")
    for src, tgt, sl, tl, ns, nt in (
        ("zh.txt", "en.txt", "zh", "en", len(zh), len(en)),
        ("en.txt", "zh.txt", "en", "zh", len(en), len(zh)),
    ):
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "booktrans.cli",
                "align",
                str(tmp_path / src),
                str(tmp_path / tgt),
                "--src-lang",
                sl,
                "--tgt-lang",
                tl,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        beads = parse_beads(res.stdout)
        assert [i for a, _ in beads for i in a] == list(range(ns))
        assert [j for _, b in beads for j in b] == list(range(nt))
        assert res.stdout.splitlines()[0] == "[0]:[0]"
    (tmp_path / "g").mkdir(), (tmp_path / "t").mkdir()
    (tmp_path / "g" / "x.align").write_text(res.stdout)
    (tmp_path / "t" / "x.align").write_text(res.stdout)
    out = subprocess.run(
        [sys.executable, "-m", "booktrans.cli", "align-eval", str(tmp_path / "g"), str(tmp_path / "t")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines()[-1].split()[-3:] == ["1.000", "1.000", "1.000"]


def test_cli_align_missing_file_is_one_line_exit_2(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "booktrans.cli",
            "align",
            str(tmp_path / "nope.txt"),
            str(tmp_path / "x"),
            "--src-lang",
            "zh",
            "--tgt-lang",
            "en",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "nope.txt" in res.stderr and "Traceback" not in res.stderr


# the literary set and the non-literary zh->en set (`make eval-align` prints all four)
SETS = {"mac_dev": ("zh", 0.86), "nonlit/pol": ("zh", 0.93)}


@pytest.mark.parametrize("name", list(SETS))
def test_accuracy_on_the_real_gold_sets(shared, name):
    """Strict F1 (exact beads, null beads included) on gold sentence splits, the set aligned as one
    book with the bootstrapped table, as `make eval-align` does (docs/align.md has the table)."""
    from booktrans.align.gold import load_gold_set
    from booktrans.align.sentalign import align_texts

    src_lang, target = SETS[name]
    golds = load_gold_set(shared / "align-dev" / name, src_lang)
    results, table = align_texts([(g.zh, g.en) for g in golds], bootstrap=P.align.bootstrap)
    assert table is not None and len(table) > 50
    correct = test = gold_n = 0
    for g, beads in zip(golds, results):
        s = score([(b.zh, b.en) for b in beads], g.beads)
        correct, test, gold_n = correct + s.correct, test + s.test, gold_n + s.gold
    assert 2 * correct / (test + gold_n) >= target


def test_end_to_end_on_mac_dev_raw_paragraphs(shared):
    """The path a user's book takes: raw paragraphs -> the project's splitter -> align_book, projected
    back onto the gold sentences. The issue's failures are gone: the Chinese splitter finds the gold
    boundaries, and almost no English text ends in null beads."""
    from booktrans.align.evaluate import end_to_end
    from booktrans.align.gold import load_gold_set

    total, per_file = end_to_end(
        load_gold_set(shared / "align-dev" / "mac_dev", "zh"), lambda z, e: align_book(z, e)[0], split_sentences
    )
    assert total.boundaries["zh"].recall >= 0.97 and total.boundaries["zh"].precision >= 0.99
    assert total.boundaries["en"].recall >= 0.97 and total.boundaries["en"].precision >= 0.99
    assert total.null_chars["en"] < 0.02 and total.null_chars["zh"] < 0.02
    assert total.strict.f1 >= 0.80 and total.link.f1 >= 0.90
    assert set(per_file) == {"001", "002", "003", "004", "005", "006"}


def test_cli_align_raw_paragraphs_prints_json_beads(sample_paragraphs, tmp_path):
    import json

    zh = [p["text"] for p in sample_paragraphs[("lighthouse", "zh")] if p["chapter"] == 1]
    en = [p["text"] for p in sample_paragraphs[("lighthouse", "en")] if p["chapter"] == 1]
    (tmp_path / "zh.txt").write_text("\n".join(zh) + "\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("\n".join(en) + "\n", encoding="utf-8")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "booktrans.cli",
            "align",
            str(tmp_path / "zh.txt"),
            str(tmp_path / "en.txt"),
            "--src-lang",
            "zh",
            "--tgt-lang",
            "en",
            "--raw",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    beads = [json.loads(line) for line in res.stdout.splitlines()]
    assert all(set(b) == {"zh", "en", "score"} for b in beads)
    # every sentence of the pipeline's splitter appears once, in order
    assert [s for b in beads for s in b["zh"]] == [s for t in zh for s in split_sentences(t, "zh")]
    assert [s for b in beads for s in b["en"]] == [s for t in en for s in split_sentences(t, "en")]
    assert beads[0]["zh"][0].startswith("岛上没有树") and beads[0]["en"][0].startswith("The island had no trees")


def test_model_translator_runs_through_the_projects_translate_code(tiny_base, lighthouse):
    """`align.method: model` translates the Chinese side with a local model; with the tiny random model
    the translations are noise, so only the mechanics are checked: one translation per sentence, and
    a complete monotone alignment."""
    from booktrans.align.model_translator import ModelGlosser

    zh, en = lighthouse
    glosser = ModelGlosser(tiny_base, batch_size=4, max_new_tokens=8)
    assert len(glosser.translate(zh[:5])) == 5
    beads = align_sentences(zh[:6], en[:6], glosser)
    assert _covers(beads, 6, 6)
