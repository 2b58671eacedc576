"""The one reader of the gold alignment files (booktrans.align.gold): the real align-dev sets read as
their README describes them, a damaged copy reported by file and line, and no other code parsing
those files on its own."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from booktrans.align.gold import gold_names, load_gold_set, parse_beads, read_beads, read_gold
from booktrans.errors import BooktransError

ROOT = Path(__file__).resolve().parents[1]
SETS = {"mac_dev": "zh", "nonlit/aca": "en", "nonlit/mag": "en", "nonlit/pol": "zh"}


def test_the_real_sets_read_as_their_readme_counts_them(shared):
    """MAC-Dev: 1,444 zh / 1,947 en sentences in 1,329 beads, every line in exactly one bead; pol's
    target lines 692-693 in no bead (../shared/data/README.md)."""
    dev = shared / "align-dev"
    mac = load_gold_set(dev / "mac_dev", "zh")
    assert [g.name for g in mac] == ["001", "002", "003", "004", "005", "006"]
    assert sum(len(g.zh) for g in mac) == 1444 and sum(len(g.en) for g in mac) == 1947
    assert sum(len(g.beads) for g in mac) == 1329
    for g in mac:
        assert sorted(i for z, _ in g.beads for i in z) == list(range(len(g.zh)))
        assert sorted(j for _, e in g.beads for j in e) == list(range(len(g.en)))
    one_one = sum(1 for g in mac for z, e in g.beads if len(z) == len(e) == 1)
    assert round(100 * one_one / 1329, 1) == 61.5
    pol = read_gold(dev / "nonlit" / "pol", "002")
    assert sorted(set(range(len(pol.tgt))) - {j for _, t in pol.beads for j in t}) == [692, 693]
    # an en-source set turned zh / en: the English side is the set's source
    aca_doc, (aca,) = read_gold(dev / "nonlit" / "aca", "001"), load_gold_set(dev / "nonlit" / "aca", "en")
    assert aca.en == aca_doc.src and aca.zh == aca_doc.tgt and aca.beads[5] == aca_doc.beads[5][::-1]


def test_spacing_inside_the_brackets_does_not_matter():
    assert parse_beads("[0, 1] : [ 2 ]\n\n[]:[3]\n[2]:[]") == [((0, 1), (2,)), ((), (3,)), ((2,), ())]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("[5]-[7]", "not a bead"),
        ("[5]:[x]", "not a bead"),
        ("[-1]:[7]", "not a bead"),
        ("[]:[]", "no line on either side"),
        ("[9990]:[3]", "target line 3 is already in the bead of line 3"),
        ("[]:[314]", "target line 314 is past the end of"),  # 001's English has 314 lines: 0..313
    ],
)
def test_a_damaged_copy_of_a_real_file_names_the_file_the_line_and_the_reason(shared, tmp_path, line, reason):
    """A line inserted as the fifth line of a copy of MAC-Dev 001 (``[3]:[3]`` is its third)."""
    src = shared / "align-dev" / "mac_dev"
    for side in ("src", "tgt"):
        (tmp_path / side).mkdir()
        shutil.copy(src / side / "001", tmp_path / side / "001")
    (tmp_path / "gold").mkdir()
    lines = (src / "gold" / "001.align").read_text(encoding="utf-8").splitlines()
    assert lines[2] == "[3]:[3]"
    lines.insert(4, line)
    gold = tmp_path / "gold" / "001.align"
    gold.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BooktransError, match=re.escape(f"{gold}:5: ") + ".*" + re.escape(reason)):
        read_gold(tmp_path, "001")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(BooktransError, match="no \\*.align gold files"):
        gold_names(tmp_path)
    (tmp_path / "gold").mkdir()
    (tmp_path / "gold" / "007.align").write_text("[0]:[0]\n")
    with pytest.raises(BooktransError, match=re.escape(str(tmp_path / "src" / "007")) + ": missing"):
        read_gold(tmp_path, "007")
    with pytest.raises(BooktransError, match="no such gold file"):
        read_beads(tmp_path / "gold" / "008.align")


def test_no_other_code_parses_gold_bead_files_itself():
    """``literal_eval`` of bead sides, the tell of a hand-written bead parser, appears only in the reader."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "eval/chapter_pairing.py" in files
    own = [f for f in files if (ROOT / f).is_file() and "literal_eval" in (ROOT / f).read_text(encoding="utf-8")]
    assert sorted(set(own)) == ["booktrans/align/gold.py", "tests/test_gold.py"]
