"""Pairing the chapters of two editions by what they say.

Each chapter becomes a bag of English terms: the Chinese through the sentence aligner's glosses
(``CedictGlosser`` bags: dictionary stems, numbers, pinyin names), the English through
``english_bag`` (content stems, numbers, capitalised names). The bags are compared by TF-IDF cosine
(IDF over the English chapters, so words every chapter uses count for little), and a monotone
dynamic programme chooses beads of chapters — 1-1, 1-0 / 0-1 (a chapter the other edition lacks),
2-1 / 1-2 and 3-1 / 1-3 (chapters merged or split) — maximising the total gain.

A bead's gain is its similarity *relative* to the best either side could get anywhere: a chapter's
true partner is, almost always, its most similar chapter, so ``relative = cos(bead) / max(best
partner of any chapter in it)`` is near 1 for a right pair and well below it for a wrong one,
whatever the book's vocabulary. The gain is ``relative - THRESHOLD`` minus a small shape cost,
minus a small length term (chapter lengths against the book's ratio), plus a small bonus when both
chapters carry the same heading number. A chapter with no bead worth more than leaving it out stays
unpaired and is reported.

The measure is injectable: ``pair_chapters(..., bags=...)`` takes any callable that turns the
sentences of the Chinese and the English chapters into term bags in one vocabulary
(``ChapterBags``), so a learned lexical table can replace the dictionary glosses.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Callable, Protocol

import numpy as np

from .lexicon import CedictGlosser, Translator, english_bag

THRESHOLD = 0.6  # relative similarity a bead needs before it is worth more than leaving its chapters out
SHAPES = {(1, 1): 0.0, (2, 1): 0.15, (1, 2): 0.15, (3, 1): 0.3, (1, 3): 0.3}
LENGTH_WEIGHT = 0.1  # per unit of |log(length ratio / the book's ratio)|, capped at 2 units (1-1 beads)
MERGE_LENGTH_WEIGHT = 0.5  # the same for merged and split beads: merges are credible only when lengths add up
NUMBER_BONUS = 0.2  # both chapters' headings carry the same number (front matter before any heading: 0)


class ChapterBags(Protocol):
    """Bags of terms in one vocabulary for the Chinese and the English chapters (lists of sentences)."""

    def __call__(self, zh: list[list[str]], en: list[list[str]]) -> tuple[list[Counter], list[Counter]]: ...


class GlossBags:
    """The default measure: the sentence aligner's bags, summed per chapter.

    Chinese pinyin name spellings are kept only where an English chapter has that capitalised name;
    other terms on the Chinese side are kept only where some English chapter uses them, so that
    glosses nobody could match do not dilute a chapter's bag."""

    def __init__(self, translator: Translator | None = None) -> None:
        self.translator = translator

    def __call__(self, zh: list[list[str]], en: list[list[str]]) -> tuple[list[Counter], list[Counter]]:
        en_bags: list[Counter] = []
        names: set[str] = set()
        for sentences in en:
            c: Counter = Counter()
            for s in sentences:
                stems, ns = english_bag(s)
                c.update(stems)
                c.update("@" + n for n in ns)
                names.update(ns)
            en_bags.append(c)
        vocab = set().union(*en_bags) if en_bags else set()
        translator = self.translator or CedictGlosser()
        zh_bags: list[Counter] = []
        for sentences in zh:
            c = Counter()
            for bag in translator.bags(sentences):
                c.update(w for w in bag.stems if w in vocab)
                c.update("@" + n for n in bag.names if n in names)
            zh_bags.append(c)
        return zh_bags, en_bags


def _matrix(bags: list[Counter], index: dict[str, int], idf: np.ndarray) -> np.ndarray:
    out = np.zeros((len(bags), len(index)), dtype=np.float64)
    for r, bag in enumerate(bags):
        for w, n in bag.items():
            k = index.get(w)
            if k is not None and n > 0:
                out[r, k] = 1.0 + math.log(n)
    return out * idf


def pair_by_content(
    zh_sents: list[list[str]],
    en_sents: list[list[str]],
    zh_len: list[int],
    en_len: list[int],
    zh_nums: list[int | None] | None = None,
    en_nums: list[int | None] | None = None,
    bags: ChapterBags | Callable | None = None,
) -> list[tuple[list[int], list[int], float]]:
    """Beads over chapter positions: [(zh positions, en positions, relative similarity)], monotone,
    every chapter in exactly one bead (one side empty = unpaired)."""
    n, m = len(zh_sents), len(en_sents)
    if n == 0 or m == 0:
        return [([i], [], 0.0) for i in range(n)] + [([], [j], 0.0) for j in range(m)]
    zb, eb = (bags or GlossBags())(zh_sents, en_sents)
    df: Counter = Counter()
    for b in eb:
        df.update(b.keys())
    vocab = sorted(df)
    index = {w: k for k, w in enumerate(vocab)}
    idf = np.array([math.log((m + 1) / (df[w] + 0.5)) + 0.1 for w in vocab]) if vocab else np.zeros(0)
    Z, E = _matrix(zb, index, idf), _matrix(eb, index, idf)
    zn2 = (Z * Z).sum(1)
    en2 = (E * E).sum(1)
    D = Z @ E.T  # dot products of single chapters
    with np.errstate(invalid="ignore", divide="ignore"):
        S = np.nan_to_num(D / np.sqrt(np.outer(zn2, en2)))
    row_best = S.max(1)
    col_best = S.max(0)
    ratio = (sum(en_len) or 1) / (sum(zh_len) or 1)

    def rel(i: int, j: int) -> float:
        """S[i, j] against the best either chapter reaches anywhere."""
        best = max(float(row_best[i]), float(col_best[j]))
        return float(S[i, j]) / best if best > 0 else 0.0

    def gain(i: int, di: int, j: int, dj: int) -> tuple[float, float]:
        lz, le = sum(zh_len[i : i + di]), sum(en_len[j : j + dj])
        dev = min(abs(math.log(max(le, 1) / max(lz * ratio, 1e-9))), 2.0) if lz and le else 2.0
        if di == dj == 1:
            r = rel(i, j)
            g = r - THRESHOLD - LENGTH_WEIGHT * dev
            if zh_nums and en_nums and zh_nums[i] is not None and zh_nums[i] == en_nums[j]:
                g += NUMBER_BONUS
            return g, r
        # a merged (n-1) or split (1-n) bead: every member must be close to the single chapter on the
        # other side, as close as that chapter's best partner, and the lengths must add up
        if dj == 1:
            rels = [rel(k, j) for k in range(i, i + di)]
        else:
            rels = [rel(i, k) for k in range(j, j + dj)]
        g = sum(r - THRESHOLD for r in rels) - SHAPES[(di, dj)] - MERGE_LENGTH_WEIGHT * dev
        return g, min(rels)

    NEG = -1e18
    best_total = np.full((n + 1, m + 1), NEG)
    back: dict[tuple[int, int], tuple[int, int, float]] = {}
    best_total[0, 0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            cur = best_total[i, j]
            if cur == NEG:
                continue
            for di, dj in ((1, 0), (0, 1), *SHAPES):
                a, b = i + di, j + dj
                if a > n or b > m:
                    continue
                g, r = gain(i, di, j, dj) if di and dj else (0.0, 0.0)
                if cur + g > best_total[a, b] + 1e-12:
                    best_total[a, b] = cur + g
                    back[(a, b)] = (di, dj, r)
    beads: list[tuple[list[int], list[int], float]] = []
    i, j = n, m
    while i > 0 or j > 0:
        di, dj, r = back[(i, j)]
        beads.append((list(range(i - di, i)), list(range(j - dj, j)), round(r, 4)))
        i, j = i - di, j - dj
    beads.reverse()
    return beads
