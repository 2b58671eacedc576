"""Scoring sentence alignments against gold beads, in the format of the align-dev sets:
one bead per line, ``[src ids]:[tgt ids]``, 0-based, ``[]`` on one side for a null bead.

The convention of the published numbers: a bead counts only when it matches a gold bead exactly
(null beads included); P = |test ∩ gold| / |test|, R = |test ∩ gold| / |gold|, F1 their harmonic
mean. The total is over all beads of all files.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from ..errors import BooktransError

BeadKey = tuple[tuple[int, ...], tuple[int, ...]]


def parse_beads(text: str, source: str = "<beads>") -> list[BeadKey]:
    beads = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            left, right = line.split(":", 1)
            src, tgt = ast.literal_eval(left.strip()), ast.literal_eval(right.strip())
            beads.append((tuple(int(x) for x in src), tuple(int(x) for x in tgt)))
        except (ValueError, SyntaxError, TypeError):
            raise BooktransError(f"{source}:{n}: not a bead ([ids]:[ids]): {line[:80]!r}") from None
    return beads


def format_bead(src: tuple[int, ...], tgt: tuple[int, ...]) -> str:
    return f"[{','.join(map(str, src))}]:[{','.join(map(str, tgt))}]"


@dataclass(frozen=True)
class Score:
    correct: int
    test: int
    gold: int

    @property
    def precision(self) -> float:
        return self.correct / self.test if self.test else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(test: list[BeadKey], gold: list[BeadKey]) -> Score:
    g = set(gold)
    return Score(correct=sum(1 for b in set(test) if b in g), test=len(set(test)), gold=len(g))


def evaluate_dirs(gold_dir: Path, test_dir: Path) -> tuple[dict[str, Score], Score]:
    """Score every gold file (NNN.align) against the file of the same name in ``test_dir``."""
    gold_files = sorted(Path(gold_dir).glob("*.align"))
    if not gold_files:
        raise BooktransError(f"{gold_dir}: no *.align gold files")
    per_file: dict[str, Score] = {}
    for g in gold_files:
        t = Path(test_dir) / g.name
        if not t.exists():
            raise BooktransError(f"{t}: missing (every gold file needs a test file of the same name)")
        per_file[g.name] = score(parse_beads(t.read_text(encoding="utf-8"), str(t)),
                                 parse_beads(g.read_text(encoding="utf-8"), str(g)))
    total = Score(sum(s.correct for s in per_file.values()), sum(s.test for s in per_file.values()),
                  sum(s.gold for s in per_file.values()))
    return per_file, total
