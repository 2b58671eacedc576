"""Sentence alignment of a Chinese and an English text (one chapter, or a whole book).

The method follows Bleualign's idea — compare the target with a translation of the source, and let
a dynamic programme choose beads — with its own similarity and search:

1. Each Chinese sentence becomes a bag of English stems through a translator (CC-CEDICT glosses
   offline, or the project's LLM), each English sentence a bag of content stems; numbers and names
   (pinyin against capitalised English words) are part of the bags.
2. For sentence pairs (i, j) near the alignment path the overlap is measured both ways: the
   IDF-weighted share of the English words the Chinese explains, and the share of the Chinese words
   the English contains.
3. A bead of m Chinese and n English sentences (0..4 each, up to 1-4 and 4-1) scores by the
   coverage of both sides taken together, the Gale-Church length probability and a prior on its
   shape; a 1-0 / 0-1 bead costs a fixed skip penalty. The DP finds the cheapest monotone path.
4. The path is searched inside a band: the whole matrix for a chapter-sized input, otherwise a
   corridor around anchors (confident one-to-one pairs of rare words chained monotonically), so the
   cost grows linearly with the text, not quadratically.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass

from .gale_church import match_probability
from .lexicon import CedictGlosser, Translator, ZhBag, english_bag

# Bead shapes (Chinese sentences, English sentences) the search considers, with their extra cost.
SHAPES: dict[tuple[int, int], float] = {
    (1, 1): 0.0,
    (1, 2): 0.30, (2, 1): 0.30,
    (2, 2): 0.75,
    (1, 3): 0.55, (3, 1): 0.55,
    (1, 4): 0.85, (4, 1): 0.85,
    (2, 3): 1.10, (3, 2): 1.10,
}


@dataclass(frozen=True)
class AlignConfig:
    skip: float = 1.4            # cost of leaving one sentence unaligned (a 1-0 or 0-1 bead)
    length_weight: float = 0.05  # weight of -log P(length) against the lexical cost
    full_dp_cells: int = 400_000 # search the whole matrix below this many cells, else a band around anchors
    band: int = 30               # half-width of the corridor around the anchor path (sentences)
    many_to_many: float = 2.0    # scales the extra cost of beads with several sentences on both sides
    one_to_many: float = 1.0     # scales the extra cost of 1-n and n-1 beads


@dataclass(frozen=True)
class Bead:
    zh: tuple[int, ...]
    en: tuple[int, ...]
    score: float  # 0..1: how well the two sides explain each other (null beads: 0)


class _Scorer:
    """Pair statistics between the Chinese and English sentences of one alignment task."""

    def __init__(self, zh_bags: list[ZhBag], en_sents: list[str], zh_lens: list[int], en_lens: list[int]) -> None:
        self.zh = zh_bags
        self.en = [english_bag(s) for s in en_sents]
        df: dict[str, int] = defaultdict(int)
        for stems, _names in self.en:
            for w in stems:
                df[w] += 1
        n = len(self.en) + 1
        self.idf = {w: math.log(n / (c + 0.5)) + 1.0 for w, c in df.items()}
        self.en_weight = [sum(self.idf[w] for w in stems) + 1.5 * len(names) for stems, names in self.en]
        self.zh_words = [max(b.words, 0) for b in zh_bags]
        self.zh_len = zh_lens
        self.en_len = en_lens
        total_zh, total_en = sum(zh_lens) or 1, sum(en_lens) or 1
        self.ratio = total_en / total_zh
        self.pairs: dict[tuple[int, int], tuple[float, int]] = {}

    def pair(self, i: int, j: int) -> tuple[float, int]:
        """(IDF weight of English words of j explained by i, number of Chinese words of i found in j)."""
        key = (i, j)
        got = self.pairs.get(key)
        if got is not None:
            return got
        bag = self.zh[i]
        stems, names = self.en[j]
        weight = 0.0
        mask = 0
        zs = bag.stems
        if len(stems) < len(zs):
            for w in stems:
                m = zs.get(w)
                if m is not None:
                    weight += self.idf[w]
                    mask |= m
        else:
            for w, m in zs.items():
                if w in stems:
                    weight += self.idf[w]
                    mask |= m
        if names and bag.names:
            hit = len(names & bag.names)
            weight += 1.5 * hit
        got = (weight, bin(mask).count("1"))
        self.pairs[key] = got
        return got

    def bead(self, zi: range, ej: range) -> tuple[float, float]:
        """(lexical similarity 0..1, -log length probability) of a bead."""
        en_total = 0.0
        en_hit = 0.0
        zh_hit = [0] * len(zi)
        for j in ej:
            w = self.en_weight[j]
            got = 0.0
            for k, i in enumerate(zi):
                pw, pz = self.pair(i, j)
                got += pw
                zh_hit[k] += pz
            en_total += w
            en_hit += min(w, got)
        zh_total = sum(self.zh_words[i] for i in zi)
        zh_cov = sum(min(self.zh_words[i], h) for i, h in zip(zi, zh_hit)) / zh_total if zh_total else 0.0
        en_cov = en_hit / en_total if en_total else 0.0
        if zh_total == 0 and en_total == 0:
            sim = 0.5
        elif zh_total == 0 or en_total == 0:
            sim = 0.5 * (zh_cov + en_cov)
        else:
            sim = 2 * zh_cov * en_cov / (zh_cov + en_cov) if zh_cov + en_cov else 0.0
        lz = sum(self.zh_len[i] for i in zi) * self.ratio
        le = sum(self.en_len[j] for j in ej)
        return sim, -math.log(match_probability(lz, le))


def _anchor_band(scorer: _Scorer, n: int, m: int, band: int) -> list[tuple[int, int]]:
    """For each Chinese sentence i, the English range [lo, hi) the search may use.

    Anchors are pairs sharing rare words; the heaviest monotone chain of them (a weighted longest
    increasing subsequence) gives the path, interpolated between anchors and widened by ``band``.
    """
    index: dict[str, list[int]] = defaultdict(list)
    for j, (stems, names) in enumerate(scorer.en):
        for w in stems:
            if scorer.idf[w] > 3.0:  # rare words only: they point at few sentences
                index[w].append(j)
    cands: list[tuple[int, int, float]] = []
    for i, bag in enumerate(scorer.zh):
        score: dict[int, float] = defaultdict(float)
        for w in bag.stems:
            js = index.get(w)
            if js and len(js) <= 8:
                for j in js:
                    score[j] += scorer.idf[w]
        for j, s in sorted(score.items(), key=lambda x: -x[1])[:3]:
            if s > 6.0:
                cands.append((i, j, s))
    # heaviest chain increasing in both i and j: sort by i, then a max-Fenwick tree over j
    cands.sort(key=lambda c: (c[0], -c[1]))
    size = m + 1
    tree = [(0.0, -1)] * (size + 1)

    def query(pos: int) -> tuple[float, int]:
        best = (0.0, -1)
        while pos > 0:
            if tree[pos][0] > best[0]:
                best = tree[pos]
            pos -= pos & -pos
        return best

    def update(pos: int, val: tuple[float, int]) -> None:
        while pos <= size:
            if val[0] > tree[pos][0]:
                tree[pos] = val
            pos += pos & -pos

    prev = [-1] * len(cands)
    total = [0.0] * len(cands)
    k = 0
    while k < len(cands):
        group = [g for g in range(k, len(cands)) if cands[g][0] == cands[k][0]]
        results = []
        for g in group:
            i, j, s = cands[g]
            best, arg = query(j)  # chains ending at English index < j
            results.append((g, best + s, arg))
        for g, t, arg in results:
            total[g], prev[g] = t, arg
            update(cands[g][1] + 1, (t, g))
        k = group[-1] + 1
    chain: list[tuple[int, int]] = []
    if cands:
        g = max(range(len(cands)), key=lambda x: total[x])
        while g != -1:
            chain.append((cands[g][0], cands[g][1]))
            g = prev[g]
    chain.reverse()
    points = [(-1, -1)] + chain + [(n, m)]
    centers = []
    for (i0, j0), (i1, j1) in zip(points, points[1:]):
        for i in range(max(i0, 0), i1):
            frac = (i - i0) / (i1 - i0) if i1 != i0 else 0.0
            centers.append((i, j0 + frac * (j1 - j0)))
    ranges = []
    for i in range(n):
        c = centers[i][1] if i < len(centers) else m * i / max(n, 1)
        ranges.append((max(0, int(c) - band), min(m, int(c) + band + 1)))
    # make the band monotone and connected so a path through it always exists
    for i in range(1, n):
        lo, hi = ranges[i]
        plo, phi = ranges[i - 1]
        ranges[i] = (max(lo, plo) if max(lo, plo) <= phi else plo, max(hi, phi))
    ranges[0] = (0, ranges[0][1])
    ranges[-1] = (ranges[-1][0], m)
    return ranges


def align_sentences(zh_sents: list[str], en_sents: list[str], translator: Translator | None = None,
                    cfg: AlignConfig | None = None) -> list[Bead]:
    """Align Chinese sentences with English ones. Every sentence of both sides is in exactly one bead,
    in order."""
    cfg = cfg or AlignConfig()
    n, m = len(zh_sents), len(en_sents)
    if n == 0 or m == 0:
        return [Bead((i,), (), 0.0) for i in range(n)] + [Bead((), (j,), 0.0) for j in range(m)]
    translator = translator or CedictGlosser()
    bags = translator.bags(zh_sents)
    zh_lens = [len(s.replace(" ", "")) for s in zh_sents]
    en_lens = [len(s) for s in en_sents]
    scorer = _Scorer(bags, en_sents, zh_lens, en_lens)
    if n * m <= cfg.full_dp_cells:
        ranges = [(0, m)] * n
    else:
        ranges = _anchor_band(scorer, n, m, cfg.band)
    # lo/hi of allowed English prefix lengths j for each Chinese prefix length i (state (i, j))
    lo = [0] * (n + 1)
    hi = [m] * (n + 1)
    for i in range(n + 1):
        a = ranges[min(i, n - 1)]
        b = ranges[max(i - 1, 0)]
        lo[i] = min(a[0], b[0])
        hi[i] = max(a[1], b[1])
    lo[0], hi[n] = 0, m
    INF = float("inf")
    cost: list[dict[int, float]] = [dict() for _ in range(n + 1)]
    back: list[dict[int, tuple[int, int, float]]] = [dict() for _ in range(n + 1)]
    cost[0][0] = 0.0
    shapes = [((di, dj), p * (cfg.many_to_many if di > 1 and dj > 1 else cfg.one_to_many if di + dj > 2 else 1.0))
              for (di, dj), p in SHAPES.items()]
    for i in range(n + 1):
        row = cost[i]
        brow = back[i]
        for j in range(lo[i], hi[i] + 1):
            if i == 0 and j == 0:
                continue
            best, arg = INF, None
            # skips
            if i > 0:
                c = cost[i - 1].get(j)
                if c is not None and c + cfg.skip < best:
                    best, arg = c + cfg.skip, (1, 0, 0.0)
            if j > 0:
                c = row.get(j - 1)
                if c is not None and c + cfg.skip < best:
                    best, arg = c + cfg.skip, (0, 1, 0.0)
            for (di, dj), penalty in shapes:
                if di > i or dj > j:
                    continue
                c = cost[i - di].get(j - dj)
                if c is None or c + penalty >= best:
                    continue
                sim, nll = scorer.bead(range(i - di, i), range(j - dj, j))
                total = c + penalty + (1.0 - sim) * (di + dj) / 2.0 + cfg.length_weight * nll
                if total < best:
                    best, arg = total, (di, dj, sim)
            if arg is not None:
                row[j] = best
                brow[j] = arg
    beads: list[Bead] = []
    i, j = n, m
    if j not in cost[n]:
        raise RuntimeError("alignment search found no path (band too narrow)")
    while i > 0 or j > 0:
        di, dj, sim = back[i][j]
        beads.append(Bead(tuple(range(i - di, i)), tuple(range(j - dj, j)), round(sim, 4)))
        i, j = i - di, j - dj
    beads.reverse()
    return beads
