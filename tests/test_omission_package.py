"""The omission detector's layout (issue 23, point 7): a package split along its steps, its public names
where callers import them, and one Gale-Church length cost shared with the aligner."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "booktrans" / "evaluate" / "omission"


def test_the_public_names_keep_their_import_paths_and_parameters():
    from booktrans.evaluate.omission import align_references, source_coverage
    from booktrans.text import split_sentences

    params = lambda f: list(inspect.signature(f).parameters)  # noqa: E731
    assert params(source_coverage) == ["src", "hyp", "src_lang", "tgt_lang", "cfg", "translator", "references"]
    assert params(align_references) == ["src", "ref", "src_lang", "tgt_lang", "translator"]
    assert params(split_sentences) == ["text", "lang"]


def test_the_package_follows_the_detectors_steps():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert {"units", "words", "evidence", "search", "locate", "partial", "calibrate", "api", "config"} <= modules
    # no module of it is the old single file's size again
    assert max(len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")) < 500


def test_the_gale_church_length_cost_is_defined_once_and_the_detector_uses_it():
    defined = []
    for path in (ROOT / "booktrans").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defined += [path for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "length_cost"]
    assert defined == [ROOT / "booktrans" / "align" / "gale_church.py"]
    from booktrans.align import gale_church
    from booktrans.evaluate.omission import locate, partial, search

    assert search.length_cost is gale_church.length_cost
    assert locate.length_cost is gale_church.length_cost
    assert partial.length_cost is gale_church.length_cost


def test_a_reference_bead_is_cut_between_sentences_or_clauses_not_mid_phrase(shared):
    """A reference bead of several source sentences is shared out at a sentence end (else a clause
    end) near the proportional cut: cut mid-phrase ("They are the real | heroes"), each source sentence
    got words of the other's translation, which then looked missing from its own (pol's reference
    false alarms, docs/evaluate.md). On every such bead of the dev sets no piece is empty and the
    pieces give back the reference."""
    import re

    from booktrans.align.gold import gold_names, read_gold
    from booktrans.evaluate.omission import split_reference
    from booktrans.evaluate.omission.units import char_length

    def beads(name):
        folder = shared / "align-dev" / name
        for doc in (read_gold(folder, n) for n in gold_names(folder)):
            for s_ids, t_ids in doc.beads:
                if len(s_ids) >= 2 and t_ids:
                    yield [doc.src[i] for i in s_ids], [doc.tgt[j] for j in t_ids]

    pol = {tuple(s): t for s, t in beads("nonlit/pol")}
    two = pol[("人民是历史的创造者，群众是真正的英雄。", "人民群众是我们力量的源泉。")]
    assert split_reference(" ".join(two), [19, 13], "en") == [two[0], two[1]]
    one = pol[("中国发展是惠及世界的。", "中国的发展首先惠及邻国。")]
    pieces = split_reference(one[0], [11, 12], "en")
    assert pieces[0].endswith("world,") and pieces[1].startswith("and first")

    total = 0
    for name, src_lang, tgt_lang in [("nonlit/pol", "zh", "en"), ("nonlit/aca", "en", "zh"), ("mac_dev", "zh", "en")]:
        sep = "" if tgt_lang == "zh" else " "
        for src, tgt in beads(name):
            text = sep.join(tgt)
            pieces = split_reference(text, [char_length(s, src_lang) for s in src], tgt_lang)
            assert len(pieces) == len(src) and all(p.strip() for p in pieces), (src, pieces)
            assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)
            total += 1
    assert total >= 60
