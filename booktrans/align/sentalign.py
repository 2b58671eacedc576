"""Sentence alignment of a Chinese and an English text (one chapter, or a whole book).

The method follows Bleualign's idea — compare the target with a translation of the source, and let
a dynamic programme choose beads — with its own similarity and search:

1. Each Chinese sentence becomes a bag of English stems through a translator (CC-CEDICT glosses
   offline, or the project's LLM), each English sentence a bag of content stems; numbers and names
   (pinyin against capitalised English words) are part of the bags.
2. For sentence pairs (i, j) near the alignment path the overlap is measured both ways: the
   IDF-weighted share of the English words the Chinese explains, and the share of the Chinese words
   the English contains.
3. A bead of m Chinese and n English sentences (up to 1-6, 6-1, 2-3 and 3-2) scores by the
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

import numpy as np

from .gale_church import length_cost
from .lexicon import Translator, ZhBag, english_bag
from .similarity import LexicalTable, SameMeaning, learn_from_beads

# Bead shapes (Chinese sentences, English sentences) the search considers, with their extra cost.
SHAPES: dict[tuple[int, int], float] = {
    (1, 1): 0.0,
    (1, 2): 0.30,
    (2, 1): 0.30,
    (2, 2): 0.75,
    (1, 3): 0.55,
    (3, 1): 0.55,
    (1, 4): 0.85,
    (4, 1): 0.85,
    (1, 5): 1.10,
    (5, 1): 1.10,
    (1, 6): 1.35,
    (6, 1): 1.35,
    (2, 3): 1.10,
    (3, 2): 1.10,
}


@dataclass(frozen=True)
class AlignConfig:
    skip: float = 1.4  # cost of leaving one sentence unaligned (a 1-0 or 0-1 bead)
    length_weight: float = 0.05  # weight of -log P(length) against the lexical cost
    full_dp_cells: int = 400_000  # search the whole matrix below this many cells, else a band around anchors
    band: int = 30  # half-width of the corridor around the anchor path (sentences)
    many_to_many: float = 1.0  # scales the extra cost of beads with several sentences on both sides
    one_to_many: float = 1.0  # scales the extra cost of 1-n and n-1 beads
    length_sigma: float = (
        0.0  # > 0: the length term is log(en/zh length ratio) ~ Normal(0, sigma) instead of Gale-Church
    )
    zh_idf: bool = True  # weigh Chinese words by rarity in the text (frequent words gloss noisily)
    quote: float = 0.4  # cost of a bead boundary inside a quotation on one side only ...
    detach_words: int = (
        15  # an English sentence at a merged bead's edge with this many content words, none found, is split off
    )
    detach_zh_words: int = 6  # ... a Chinese one with this many
    dialogue: float = 0.6  # weight of the difference of the two sides' dialogue shares in a bead
    question: float = 0.1  # cost of a bead boundary after a question on one side only
    quote_window: int = 3  # ... when the other side has a quotation open within this many sentences


@dataclass(frozen=True)
class Bead:
    zh: tuple[int, ...]
    en: tuple[int, ...]
    score: float  # 0..1: how well the two sides explain each other (null beads: 0)


class _Scorer:
    """Pair statistics between the Chinese and English sentences of one alignment task."""

    def __init__(
        self,
        zh_bags: list[ZhBag],
        en_sents: list[str],
        zh_lens: list[int],
        en_lens: list[int],
        zh_idf: bool = True,
        zh_sents: list[str] | None = None,
    ) -> None:
        self.zh = zh_bags
        # inside a quotation after each prefix of sentences (index 0: before the first sentence)
        self.zh_inside, zh_quoted = (
            quotations(zh_sents, "zh") if zh_sents else ([False] * (len(zh_bags) + 1), [0.0] * len(zh_bags))
        )
        self.en_inside, en_quoted = quotations(en_sents, "en")
        # characters inside quotations, per sentence (the dialogue share of a bead, side by side)
        self.zh_quoted = [q * n for q, n in zip(zh_quoted, zh_lens)]
        self.en_quoted = [q * n for q, n in zip(en_quoted, en_lens)]
        # a question ends here (after each prefix of sentences, index 0: before the first)
        self.zh_question = [False] + [is_question(t) for t in (zh_sents or [""] * len(zh_bags))]
        self.en_question = [False] + [is_question(t) for t in en_sents]
        self.en = [english_bag(s) for s in en_sents]
        df: dict[str, int] = defaultdict(int)
        for stems, _names in self.en:
            for w in stems:
                df[w] += 1
        n = len(self.en) + 1
        self.idf = {w: math.log(n / (c + 0.5)) + 1.0 for w, c in df.items()}
        self.en_weight = [sum(self.idf[w] for w in stems) + 1.5 * len(names) for stems, names in self.en]
        self.zh_count = [max(b.words, 0) for b in zh_bags]
        self.bit_weights: list[list[float]] | None = None
        if zh_idf and all(len(b.forms) == b.words for b in zh_bags):
            zdf: dict[str, int] = defaultdict(int)
            for b in zh_bags:
                for w in set(b.forms):
                    zdf[w] += 1
            nz = len(zh_bags) + 1
            zidf = {w: math.log(nz / (c + 0.5)) + 1.0 for w, c in zdf.items()}
            mean = sum(zidf[w] for b in zh_bags for w in b.forms) / max(1, sum(len(b.forms) for b in zh_bags))
            self.bit_weights = [[zidf[w] / mean for w in b.forms] for b in zh_bags]
            self.zh_words = [sum(ws) for ws in self.bit_weights]
        else:
            self.zh_words = [float(c) for c in self.zh_count]
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
        if self.bit_weights is None:
            found = float(bin(mask).count("1"))
        else:
            ws = self.bit_weights[i]
            found = 0.0
            while mask:
                low = mask & -mask
                found += ws[low.bit_length() - 1]
                mask ^= low
        got = (weight, found)
        self.pairs[key] = got
        return got


_ZH_QUOTES = {
    "“": ("open", '"'),
    "”": ("close", '"'),
    "‘": ("open", "'"),
    "’": ("close", "'"),
    "「": ("open", "「"),
    "」": ("close", "「"),
    "『": ("open", "『"),
    "』": ("close", "『"),
}
_EN_SPACE_BEFORE = " \t\n([{—–-"


def quote_states(sentences: list[str], lang: str) -> list[bool]:
    """Whether the text is inside a quotation after each prefix of ``sentences`` (entry k: after the
    first k sentences; entry 0 is False). See ``quotations``."""
    return quotations(sentences, lang)[0]


def quotations(sentences: list[str], lang: str, stale: int = 8) -> tuple[list[bool], list[float]]:
    """Where the quotations (dialogue) of a text are: whether the text is inside a quotation after
    each prefix of ``sentences`` (entry k: after the first k sentences; entry 0 is False), and the
    share of each sentence's characters (spaces aside) inside a quotation, marks included.

    Quotations nest (‘…’ inside “…”, "…" inside '…'): a closing mark closes the outermost open
    quotation of its kind and those opened inside it (so a stray repeated opening cannot keep a
    quotation open), and one of a kind that is not open changes nothing. Chinese marks say which
    way they face. English: ‘ “ open, ” closes; a straight or curly quote opens at the start of a
    word and closes after a word or punctuation; an apostrophe inside a word (don't) or after a
    plural before a lower-case word (the boys' dog) is no quote, and one after another word
    (walkin') closes only when a single-quoted quotation is open.
    An opening mark of a kind already open starts that quotation again (a new paragraph of a long
    speech opens without closing the last one), and a quotation left open through ``stale``
    sentences without any quotation mark is taken as a stray mark and closed."""
    states = [False]
    quiet = 0
    shares: list[float] = []
    stack: list[str] = []

    def close(kind: str) -> None:
        if kind in stack:
            del stack[stack.index(kind) :]

    def open_(kind: str) -> None:
        close(kind)
        stack.append(kind)

    for s in sentences:
        n = len(s)
        inside = chars = marks = 0
        for k, ch in enumerate(s):
            was = bool(stack)
            if lang == "zh":
                got = _ZH_QUOTES.get(ch)
                if got:
                    marks += 1
                    open_(got[1]) if got[0] == "open" else close(got[1])
            elif ch in "‘“":
                marks += 1
                open_("'" if ch == "‘" else '"')
            elif ch == "”":
                marks += 1
                close('"')
            elif ch in "'\"’":
                kind = '"' if ch == '"' else "'"
                before = s[k - 1] if k else " "
                after = s[k + 1] if k + 1 < n else " "
                if before in _EN_SPACE_BEFORE and not after.isspace():
                    marks += 1
                    open_(kind)
                elif before.isalnum() and after.isalnum():
                    continue  # an apostrophe inside a word (don't)
                elif before == "s" and kind == "'" and s[k + 1 : k + 3].strip()[:1].islower():
                    continue  # a plural possessive (the boys' dog)
                else:
                    marks += 1
                    close(kind)
            if not ch.isspace():
                chars += 1
                inside += was or bool(stack)
        quiet = 0 if marks else quiet + 1
        if quiet >= stale:
            stack.clear()
        states.append(bool(stack))
        shares.append(inside / chars if chars else 0.0)
    return states, shares


_TRAILING = "”’」』\"' \t\u3000)）"


def is_question(sentence: str) -> bool:
    """Does the sentence end with a question mark (closing quotes and brackets aside)?"""
    return sentence.rstrip(_TRAILING).endswith(("?", "？"))


def _nearby(inside: np.ndarray, w: int) -> np.ndarray:
    """Whether any state within ``w`` positions of each one is inside a quotation."""
    if w < 0:
        return np.ones(len(inside), dtype=bool)
    c = np.concatenate([[0], np.cumsum(inside)])
    k = np.arange(len(inside))
    return (c[np.minimum(k + w + 1, len(inside))] - c[np.maximum(k - w, 0)]) > 0


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
    corridor = max(4 * band, int(0.15 * m))  # anchors stay this close to the straight diagonal
    for i, bag in enumerate(scorer.zh):
        expected = i * m / n
        score: dict[int, float] = defaultdict(float)
        for w in bag.stems:
            js = index.get(w)
            if js and len(js) <= 64:
                a = bisect.bisect_left(js, expected - corridor)
                b = bisect.bisect_right(js, expected + corridor)
                if b - a <= 8:
                    for j in js[a:b]:
                        score[j] += scorer.idf[w]
        # equal scores (repeated passages) are broken by closeness to the expected position
        ranked = sorted(score.items(), key=lambda x: (-x[1], abs(x[0] - expected)))
        for j, s in ranked[:3]:
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
        end = k
        while end < len(cands) and cands[end][0] == cands[k][0]:
            end += 1
        # all candidates of one Chinese sentence query before any of them updates: one anchor per sentence
        results = []
        for g in range(k, end):
            best, arg = query(cands[g][1])  # chains ending at English index < j
            results.append((g, best + cands[g][2], arg))
        for g, t, arg in results:
            total[g], prev[g] = t, arg
            update(cands[g][1] + 1, (t, g))
        k = end
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


def align_sentences(
    zh_sents: list[str], en_sents: list[str], translator: Translator | None = None, cfg: AlignConfig | None = None
) -> list[Bead]:
    """Align Chinese sentences with English ones. Every sentence of both sides is in exactly one bead,
    in order."""
    cfg = cfg or AlignConfig()
    n, m = len(zh_sents), len(en_sents)
    if n == 0 or m == 0:
        return [Bead((i,), (), 0.0) for i in range(n)] + [Bead((), (j,), 0.0) for j in range(m)]
    translator = translator or SameMeaning()
    bags = translator.bags(zh_sents)
    zh_lens = [len(s.replace(" ", "")) for s in zh_sents]
    en_lens = [len(s) for s in en_sents]
    scorer = _Scorer(bags, en_sents, zh_lens, en_lens, cfg.zh_idf, zh_sents)
    if n * m <= cfg.full_dp_cells:
        ranges = [(0, m)] * n
    else:
        ranges = _anchor_band(scorer, n, m, cfg.band)
    return _detach_uncovered(_search(scorer, ranges, n, m, cfg), scorer, cfg.detach_words, cfg.detach_zh_words)


def _detach_uncovered(beads: list[Bead], scorer: _Scorer, min_words: int = 15, min_zh_words: int = 6) -> list[Bead]:
    """A sentence at the edge of a merged bead that has nothing in common with the other side (none
    of its content words found) is an omission or an addition, not part of the bead: it becomes a
    null bead of its own. This keeps untranslated sentences out of training pairs."""
    out: list[Bead] = []
    for b in beads:
        zh, en = list(b.zh), list(b.en)
        head: list[Bead] = []
        tail: list[Bead] = []
        changed = True
        while changed and len(zh) + len(en) > 2 and zh and en:
            changed = False
            for side, pos in (("zh", 0), ("zh", -1), ("en", 0), ("en", -1)):
                seq = zh if side == "zh" else en
                if len(seq) < 2:
                    continue
                k = seq[pos]
                if side == "zh":
                    found = sum(scorer.pair(k, j)[1] for j in en)
                    size = scorer.zh_count[k]
                else:
                    found = sum(scorer.pair(i, k)[0] for i in zh)
                    size = len(scorer.en[k][0])
                if size >= (min_zh_words if side == "zh" else min_words) and found == 0:
                    seq.pop(pos)
                    null = Bead((k,), (), 0.0) if side == "zh" else Bead((), (k,), 0.0)
                    (head.append(null) if pos == 0 else tail.insert(0, null))
                    changed = True
                    break
        merged = Bead(tuple(zh), tuple(en), b.score) if (tuple(zh), tuple(en)) != (b.zh, b.en) else b
        out += head + [merged] + tail
    return out


class _Rows:
    """Per Chinese sentence r, the pair statistics with English sentences [off[r], off[r] + width),
    stored with zero padding on both sides so that nearby columns are read as slices."""

    PAD = 8

    def __init__(self, scorer: _Scorer, ranges: list[tuple[int, int]], m: int) -> None:
        self.off = [lo for lo, _ in ranges]
        self.width = max(hi - lo for lo, hi in ranges) if ranges else 0
        n = len(ranges)
        full = self.width + 2 * self.PAD + 1
        self.pw = np.zeros((n, full))
        self.pz = np.zeros((n, full))
        for r, (lo, hi) in enumerate(ranges):
            pw, pz = self.pw[r], self.pz[r]
            for c in range(lo, hi):
                w, z = scorer.pair(r, c)
                if w or z:
                    pw[c - lo + self.PAD] = w
                    pz[c - lo + self.PAD] = z

    def take(self, arr: np.ndarray, r: int, start: int, length: int) -> np.ndarray:
        """arr[r] at global English indices start .. start + length - 1 (0 outside the row's band)."""
        a = start - self.off[r] + self.PAD
        if 0 <= a and a + length <= arr.shape[1]:
            return arr[r, a : a + length]
        out = np.zeros(length)
        lo, hi = max(a, 0), min(a + length, arr.shape[1])
        if lo < hi:
            out[lo - a : hi - a] = arr[r, lo:hi]
        return out


def _search(scorer: _Scorer, ranges: list[tuple[int, int]], n: int, m: int, cfg: AlignConfig) -> list[Bead]:
    """The cheapest monotone path of beads, row by row over the band, vectorised over English positions."""
    rows = _Rows(scorer, ranges, m)
    en_w = np.array(scorer.en_weight + [0.0])
    zh_words = np.array(scorer.zh_words, dtype=float)
    en_cum = np.concatenate([[0.0], np.cumsum(scorer.en_len)])
    zh_cum = np.concatenate([[0.0], np.cumsum(scorer.zh_len)]) * scorer.ratio
    # allowed English prefix lengths for each Chinese prefix length (DP state rows 0..n)
    lo = np.zeros(n + 1, dtype=np.int64)
    hi = np.full(n + 1, m, dtype=np.int64)
    for i in range(n + 1):
        a, b = ranges[min(i, n - 1)], ranges[max(i - 1, 0)]
        lo[i], hi[i] = min(a[0], b[0]), max(a[1], b[1])
    lo[0], hi[n] = 0, m
    shapes = [
        ((di, dj), p * (cfg.many_to_many if di > 1 and dj > 1 else cfg.one_to_many if di + dj > 2 else 1.0))
        for (di, dj), p in SHAPES.items()
    ]
    INF = float("inf")
    costs: list[np.ndarray] = []
    moves: list[np.ndarray] = []  # per state: index into shapes, -1 = skip a Chinese sentence, -2 = skip an English one
    sims: list[np.ndarray] = []
    zh_in = np.array(scorer.zh_inside, dtype=bool)
    en_in = np.array(scorer.en_inside, dtype=bool)
    # a side that renders quotations nearby: a translation that drops the marks (indirect speech) is
    # not held to the other side's
    en_qcum = np.concatenate([[0.0], np.cumsum(scorer.en_quoted)])
    zh_qcum = np.concatenate([[0.0], np.cumsum(scorer.zh_quoted)]) * scorer.ratio
    zh_any = _nearby(np.concatenate([[False], np.array(scorer.zh_quoted) > 0]), cfg.quote_window)
    en_any = _nearby(np.concatenate([[False], np.array(scorer.en_quoted) > 0]), cfg.quote_window)
    zh_q, en_q = np.array(scorer.zh_question, dtype=bool), np.array(scorer.en_question, dtype=bool)
    zh_near, en_near = _nearby(zh_in, cfg.quote_window), _nearby(en_in, cfg.quote_window)
    for i in range(n + 1):
        js = np.arange(lo[i], hi[i] + 1)
        # the cost of a bead boundary at (i, j): inside a quotation on one side only
        if cfg.quote:
            node = cfg.quote * np.where(zh_in[i], ~en_in[js] & en_near[js], en_in[js] & zh_near[i])
        else:
            node = np.zeros(len(js))
        if cfg.question:
            node = node + cfg.question * (en_q[js] != zh_q[i])
        best = np.full(len(js), INF)
        move = np.full(len(js), -3, dtype=np.int64)
        sim_row = np.zeros(len(js))
        if i == 0:
            best[js == 0] = 0.0
        else:
            prev = costs[i - 1]
            pj = js - lo[i - 1]
            ok = (pj >= 0) & (pj < len(prev))
            cand = np.full(len(js), INF)
            cand[ok] = prev[pj[ok]] + cfg.skip
            better = cand < best
            best[better], move[better] = cand[better], -1
            for k, ((di, dj), penalty) in enumerate(shapes):
                if di > i:
                    continue
                prev = costs[i - di]
                pj = js - dj - lo[i - di]
                ok = (js - dj >= 0) & (pj >= 0) & (pj < len(prev))
                if not ok.any():
                    continue
                base = np.full(len(js), INF)
                base[ok] = prev[pj[ok]]
                # English side: how much of each English sentence the Chinese rows explain
                en_hit = np.zeros(len(js))
                en_tot = np.zeros(len(js))
                zh_hit = np.zeros(len(js))
                row_hits = [np.zeros(len(js)) for _ in range(di)]
                for t in range(dj):
                    start = int(js[0]) - dj + t  # English sentence of this bead column, for the first j
                    colsum = np.zeros(len(js))
                    for q, r in enumerate(range(i - di, i)):
                        colsum += rows.take(rows.pw, r, start, len(js))
                        row_hits[q] += rows.take(rows.pz, r, start, len(js))
                    w = en_w[np.clip(js - dj + t, 0, m)]
                    en_hit += np.minimum(w, colsum)
                    en_tot += w
                zh_tot = zh_words[i - di : i].sum()
                for q, r in enumerate(range(i - di, i)):
                    zh_hit += np.minimum(zh_words[r], row_hits[q])
                en_cov = np.divide(en_hit, en_tot, out=np.zeros(len(js)), where=en_tot > 0)
                zh_cov = zh_hit / zh_tot if zh_tot else np.zeros(len(js))
                both = en_cov + zh_cov
                sim = np.divide(2 * en_cov * zh_cov, both, out=np.zeros(len(js)), where=both > 0)
                if zh_tot == 0:
                    sim = np.where(en_tot == 0, 0.5, 0.5 * en_cov)
                else:
                    sim = np.where(en_tot == 0, 0.5 * zh_cov, sim)
                le = en_cum[np.clip(js, 0, m)] - en_cum[np.clip(js - dj, 0, m)]
                lz = zh_cum[i] - zh_cum[i - di]
                if cfg.length_sigma > 0:
                    lnll = np.log((le + 10.0) / (lz + 10.0)) ** 2 / (2 * cfg.length_sigma**2)
                else:
                    lnll = length_cost(lz, le)
                total = base + penalty + (1.0 - sim) * (di + dj) / 2.0 + cfg.length_weight * lnll
                if cfg.dialogue:
                    qe = en_qcum[np.clip(js, 0, m)] - en_qcum[np.clip(js - dj, 0, m)]
                    qz = zh_qcum[i] - zh_qcum[i - di]
                    diff = np.abs(np.divide(qe, le, out=np.zeros(len(js)), where=le > 0) - (qz / lz if lz else 0.0))
                    # only where both sides render dialogue near this bead
                    total = total + cfg.dialogue * diff * (di + dj) / 2.0 * (zh_any[i] & en_any[np.clip(js, 0, m)])
                better = total < best
                best[better], move[better], sim_row[better] = total[better], k, sim[better]
        best = best + node
        # skipping English sentences: best[j] = min(best[j], best[j-1] + skip + node[j]), as a running minimum
        steps = np.cumsum(cfg.skip + node) - (cfg.skip + node[0])
        run = np.minimum.accumulate(best - steps) + steps
        from_left = run < best - 1e-12
        best = np.where(from_left, run, best)
        move = np.where(from_left, -2, move)
        costs.append(best)
        moves.append(move)
        sims.append(sim_row)
    beads: list[Bead] = []
    i, j = n, m
    if not np.isfinite(costs[n][j - lo[n]]):
        raise RuntimeError("alignment search found no path (band too narrow)")
    while i > 0 or j > 0:
        k = int(moves[i][j - lo[i]])
        if k == -1:
            beads.append(Bead((i - 1,), (), 0.0))
            i -= 1
        elif k == -2:
            beads.append(Bead((), (j - 1,), 0.0))
            j -= 1
        else:
            (di, dj), _ = shapes[k]
            beads.append(Bead(tuple(range(i - di, i)), tuple(range(j - dj, j)), round(float(sims[i][j - lo[i]]), 4)))
            i, j = i - di, j - dj
    beads.reverse()
    return beads


def align_texts(
    tasks: list[tuple[list[str], list[str]]],
    translator: Translator | None = None,
    cfg: AlignConfig | None = None,
    *,
    bootstrap: int,
    base_table: LexicalTable | None = None,
    min_score: float = 0.3,
) -> tuple[list[list[Bead]], LexicalTable | None]:
    """Align several (Chinese sentences, English sentences) tasks that belong together (the chapter
    pairs of one book) and bootstrap, the way hunalign re-aligns with a dictionary it learned:
    align with CC-CEDICT (plus ``base_table`` when given), learn a lexical table IBM-Model-1 style
    from the confident beads of all tasks, align again with it; ``bootstrap`` rounds of that (params
    ``align.bootstrap``).
    A ``translator`` other than the dictionary (the LLM) is used as is, without bootstrapping.
    Returns (beads per task, the table learned last or None)."""
    if translator is not None and not isinstance(translator, SameMeaning):
        return [align_sentences(z, e, translator, cfg) for z, e in tasks], None
    meaning = translator or SameMeaning(table=base_table)
    results = [align_sentences(z, e, meaning, cfg) for z, e in tasks]
    table = None
    for _ in range(bootstrap):
        confident = (
            {"zh": [z[i] for i in b.zh], "en": [e[j] for j in b.en], "score": b.score}
            for (z, e), beads in zip(tasks, results)
            for b in beads
        )
        learned = learn_from_beads(confident, meaning, min_score=min_score)
        table = _merge(base_table, learned)
        meaning = SameMeaning(table=table)
        results = [align_sentences(z, e, meaning, cfg) for z, e in tasks]
    return results, table


def _merge(base: LexicalTable | None, learned: LexicalTable) -> LexicalTable:
    if base is None:
        return learned
    entries = {w: dict(es) for w, es in base.entries.items()}
    for w, es in learned.entries.items():
        for g, p in es.items():
            entries.setdefault(w, {})[g] = max(p, entries.get(w, {}).get(g, 0.0))
    return LexicalTable(entries, {"base": base.meta, "learned": learned.meta})
