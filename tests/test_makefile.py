"""The Makefile explains itself: `make help` lists every target with the comment written beside it,
and every target that names no file is declared phony, once."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _rules() -> dict[str, str]:
    """{target: the line that defines it} for every rule of the Makefile (variables and the
    $(STAMP) file rule left out)."""
    out = {}
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+(?: [A-Za-z0-9_.-]+)*)\s*:(?![=:])", line)
        if m and not m.group(1).startswith("."):
            for target in m.group(1).split():
                out[target] = line
    return out


def _phony() -> list[list[str]]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith(".PHONY")]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_help_lists_every_target_with_its_comment():
    res = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True)
    listed = {}
    for line in res.stdout.splitlines():
        m = re.match(r"^make (\S+)\s+(\S.*)$", line)
        assert m, f"not a help line: {line!r}"
        listed[m.group(1)] = m.group(2)
    rules = _rules()
    assert len(rules) > 20
    missing = sorted(set(rules) - set(listed))
    assert not missing, f"targets without a `## comment` (not in make help): {missing}"
    assert sorted(set(listed) - set(rules)) == []
    assert "$(" not in res.stdout, "a variable left unexpanded in the help"
    assert "configs/cluster-24xh100.yaml" in listed["cluster"]


def test_one_phony_declaration_names_every_target():
    phony = _phony()
    assert len(phony) == 1, f".PHONY is declared {len(phony)} times"
    assert sorted(phony[0]) == sorted(set(_rules())), "every target names no file: all of them are phony"
