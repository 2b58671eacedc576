"""Paired bootstrap significance (booktrans.evaluate.significance, `booktrans compare`).

Real system outputs: WMT23 general zh->en (../shared/data/omission-dev), 377 segments translated by
10 systems and no human reference. A and B are two real systems (NLLB_Greedy and ONLINE-B, or
ONLINE-A and ONLINE-B for a close pair); the reference is a third system's output (GPT4-5shot, the
best of the zh->en systems in WMT23's human evaluation). What is measured is whether our scores and
p-values agree with sacrebleu's on the same real texts, not which system is better.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tools import load_tool

from booktrans.cli import main
from booktrans.evaluate.significance import compare_texts, paired_bootstrap, scorer


@pytest.fixture(scope="module")
def wmt23(shared):
    """(source segments, {system: segments}), read by eval/wmt23_lines.py (the docs' command)."""

    mod = load_tool("eval/wmt23_lines.py")
    if not (shared / "omission-dev" / mod.NAME).is_file():
        pytest.skip("the WMT23 MQM file is absent from ../shared/data/omission-dev")
    return mod.read_systems(shared / "omission-dev")


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def _sacrebleu_paired(ref, a, b, metric, seed=12345, n=1000):
    import os

    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    try:
        m = {"bleu": BLEU(tokenize="13a"), "chrf": CHRF()}[metric]
        test = PairedTest([("a", a), ("b", b)], {metric: m}, [ref], test_type="bs", n_samples=n)
        _, scores = test()
    finally:
        if old is None:
            os.environ.pop("SACREBLEU_SEED", None)
        else:
            os.environ["SACREBLEU_SEED"] = old
    name = next(k for k in scores if k != "System")
    return scores[name][0].score, scores[name][1].score, scores[name][1].p_value


@pytest.mark.parametrize("pair", [("NLLB_Greedy", "ONLINE-B"), ("ONLINE-A", "ONLINE-B")])
def test_cli_agrees_with_sacrebleu_paired_bs_on_wmt23(wmt23, pair, tmp_path, capsys):
    src, systems = wmt23
    ref, a, b = systems["GPT4-5shot"], systems[pair[0]], systems[pair[1]]
    files = [_write(tmp_path / n, x) for n, x in (("ref", ref), ("a", a), ("b", b), ("src", src))]
    assert (
        main(
            [
                "compare",
                *files[:3],
                "--src",
                files[3],
                "--src-lang",
                "zh",
                "--tgt-lang",
                "en",
                "--metric",
                "bleu",
                "--metric",
                "chrf",
                "--seed",
                "7",
            ]
        )
        == 0
    )
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["metric"] for o in out] == ["bleu", "chrf"]
    for o in out:
        assert list(o) == ["metric", "a", "b", "delta", "ci_low", "ci_high", "p"]
        sa, sb, p_sb = _sacrebleu_paired(ref, a, b, o["metric"], seed=12345)
        # the scores are sacrebleu's corpus scores exactly (rounded to 4 places)
        assert o["a"] == pytest.approx(sa, abs=1e-4) and o["b"] == pytest.approx(sb, abs=1e-4)
        assert o["delta"] == pytest.approx(sb - sa, abs=2e-4)
        assert o["ci_low"] <= o["delta"] <= o["ci_high"]
        # different seeds: the two p-values are two Monte-Carlo estimates of one p; standard error of
        # each sqrt(p(1-p)/1000), so their difference stays below 4 combined standard errors
        se = np.sqrt(2 * max(p_sb * (1 - p_sb), 1e-3 * (1 - 1e-3)) / 1000)
        assert abs(o["p"] - p_sb) <= 4 * se + 2e-3, (o, p_sb)


def test_identical_seed_gives_sacrebleus_p_exactly(wmt23):
    """With sacrebleu's seed, the resamples are the same draw: the p-values are equal, not just close."""
    _, systems = wmt23
    ref, a, b = systems["GPT4-5shot"], systems["ONLINE-A"], systems["ONLINE-M"]
    ours = compare_texts(ref, a, b, "en", "bleu", resamples=1000, seed=12345)
    _, _, p_sb = _sacrebleu_paired(ref, a, b, "bleu", seed=12345)
    assert ours.p == pytest.approx(p_sb, abs=1e-4)


def test_identical_systems_no_difference_p_one(wmt23, tmp_path, capsys):
    _, systems = wmt23
    ref, a = systems["GPT4-5shot"], systems["ONLINE-B"]
    files = [_write(tmp_path / n, x) for n, x in (("ref", ref), ("a", a), ("b", a))]
    assert (
        main(["compare", *files, "--src-lang", "zh", "--tgt-lang", "en", "--metric", "bleu", "--metric", "chrf"]) == 0
    )
    for o in map(json.loads, capsys.readouterr().out.splitlines()):
        assert o["delta"] == 0 and o["ci_low"] == 0 and o["ci_high"] == 0
        assert o["p"] == 1.0  # sacrebleu's own test gives 1/1001 here (it counts strictly greater values)


def test_deleted_sentences_significantly_worse_on_omission(wmt23, tmp_path, capsys):
    """System B = system A with the translation of every eighth segment deleted (an empty line)."""
    src, systems = wmt23
    n = 120
    src, ref, a = src[:n], systems["GPT4-5shot"][:n], systems["ONLINE-B"][:n]
    b = ["" if k % 8 == 0 else line for k, line in enumerate(a)]
    files = [_write(tmp_path / n, x) for n, x in (("ref", ref), ("a", a), ("b", b), ("src", src))]
    assert (
        main(
            [
                "compare",
                *files[:3],
                "--src",
                files[3],
                "--src-lang",
                "zh",
                "--tgt-lang",
                "en",
                "--metric",
                "omission",
                "--resamples",
                "500",
            ]
        )
        == 0
    )
    (o,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert o["metric"] == "omission"
    assert o["delta"] > 0 and o["ci_low"] > 0 and o["p"] < 0.05, o


def test_fixed_seed_is_byte_identical_and_seed_matters(wmt23, tmp_path, capsys):
    _, systems = wmt23
    files = [_write(tmp_path / n, systems[s]) for n, s in (("ref", "GPT4-5shot"), ("a", "ONLINE-A"), ("b", "ONLINE-W"))]
    runs = []
    for seed in ("3", "3", "4"):
        main(["compare", *files, "--src-lang", "zh", "--tgt-lang", "en", "--metric", "chrf", "--seed", seed])
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_blocks_widen_the_interval_of_clustered_errors():
    """Errors that come in runs (a chapter dropped wholesale) are not 40 independent events: resampling
    whole chapters gives a wider interval than resampling segments."""
    rng = np.random.default_rng(0)
    chapters = np.repeat(np.arange(20), 30)
    dropped_b = np.isin(chapters, [3, 11]) & (rng.random(600) < 0.7)  # B drops in two chapters only
    a = np.column_stack([np.zeros(600), np.ones(600)])
    b = np.column_stack([dropped_b.astype(float), np.ones(600)])
    from booktrans.evaluate.significance import block_sums

    seg = paired_bootstrap("omission_rate", a, b, scorer("omission_rate"), 1000, 1)
    ba, _ = block_sums(a, chapters)
    bb, _ = block_sums(b, chapters)
    blk = paired_bootstrap("omission_rate", ba, bb, scorer("omission_rate"), 1000, 1)
    assert seg.delta == blk.delta
    assert (blk.ci_high - blk.ci_low) > 2 * (seg.ci_high - seg.ci_low)


def test_mismatched_files_name_the_file(tmp_path, capsys):
    files = [
        _write(tmp_path / "ref", ["a b c", "d e f"]),
        _write(tmp_path / "a", ["a b c", "d e f"]),
        _write(tmp_path / "b", ["a b c"]),
    ]
    assert main(["compare", *files, "--src-lang", "zh", "--tgt-lang", "en"]) != 0
    err = capsys.readouterr().err
    assert "b: 1 lines" in err and "sentence-parallel" in err
    assert main(["compare", *files[:2], files[0], "--src-lang", "zh", "--tgt-lang", "en", "--metric", "omission"]) != 0
    assert "needs the source text (--src SRC)" in capsys.readouterr().err
    assert main(["compare", *files[:2], files[0], "--src-lang", "zh", "--tgt-lang", "en"]) == 0  # no --src: bleu, chrf
    assert [json.loads(x)["metric"] for x in capsys.readouterr().out.splitlines()] == ["bleu", "chrf"]
