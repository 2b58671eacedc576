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
