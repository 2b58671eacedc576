"""Evidence: the log-likelihood-ratio weight of every word, found or missing.

A word found in a stretch of units is evidence that the sentence is translated there, a word not
found evidence against it; each counts as a log-likelihood ratio of ``p`` (how often a word of its
kind is found in its own translation, learnt from the input itself: from the pairs the project's
sentence aligner is sure of, leaving the sentence being judged out, smoothed towards the average)
against ``q`` (how often it is found by chance, from its frequency among the units). Missing
dictionary words count together at most ``max_miss``: a sentence translated in part misses its
words together, not one by one.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from typing import Sequence

import numpy as np

from .config import OmissionConfig
from .words import REF, XL, Words

# Short inputs have little to learn from: a channel's hit rate p starts at 1/2 with the weight of
# PRIOR_WORDS words, and chance rates q are counted as if PRIOR_ITEMS more items showed nothing.
PRIOR_WORDS = 20
PRIOR_ITEMS = 20
MAX_HIT_RATE = 0.95  # no kind of word is found in its own translation more surely than this
MAX_CHANCE = 0.99  # nor by chance


class Evidence:
    """Log-likelihood-ratio weights of every word: ``gain`` when found (log p/q minus the miss weight)
    and ``miss`` when not (log (1-p)/(1-q)), for the source sentences and for the units."""

    def __init__(self, words: Words, guide: list[tuple[tuple[int, ...], tuple[int, ...]]], cfg: OmissionConfig) -> None:
        self.w = words
        self.max_miss = cfg.max_miss
        self._near: dict[tuple[int, tuple[int, int]], tuple] = {}
        n, m = len(words.src), len(words.units)
        self.found = [words.found_positions(i) for i in range(n)]
        src_hits, unit_hits = self._hits(guide)
        totals: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
        for hits in (*src_hits, *unit_hits.values()):
            for (side, chan, _kind), (h, t) in hits.items():
                for key in ((side, chan, _kind), (side, chan)):
                    totals[key][0] += h
                    totals[key][1] += t

        def weigh(side: str, chan: int, kind: object, own: dict, q: float) -> tuple[float, float]:
            """(gain, miss) of a word of this kind; its own item's counts are left out of p."""
            h, t = totals.get((side, chan), (0, 0))
            p0 = max(cfg.min_hit_rate, (h + PRIOR_WORDS * 0.5) / (t + PRIOR_WORDS))
            h, t = totals.get((side, chan, kind), (0, 0))
            oh, ot = own.get((side, chan, kind), (0, 0))
            p = min(MAX_HIT_RATE, (h - oh + cfg.smoothing * p0) / (t - ot + cfg.smoothing))
            if q >= p:
                return 0.0, 0.0  # found as often by chance as in its own translation: no evidence
            miss = math.log((1 - p) / (1 - q))
            return min(cfg.max_gain, math.log(p / q) - miss), miss

        # chance q: a source word's share of units showing it, over a sentence's worth of units;
        # a unit word's share of source sentences explaining it
        per_src = m / max(n, 1)
        self.src_gain: list[np.ndarray] = []
        self.src_miss: list[list[float]] = []
        self.src_base: list[list[float]] = []  # per channel: the evidence when nothing is found
        for i, it in enumerate(words.src):
            gains, misses, base = [], [], [0.0, 0.0]
            for b, pos in enumerate(self.found[i]):
                q = min(MAX_CHANCE, 1 - (1 - (len(pos) + 0.5) / (m + PRIOR_ITEMS)) ** per_src)
                g, miss = weigh("s", it.chan[b], it.kind[b], src_hits[i], q)
                gains.append(g)
                misses.append(miss)
                base[it.chan[b]] += miss
            self.src_gain.append(np.array(gains))
            self.src_miss.append(misses)
            self.src_base.append(base)
        self.unit_gain: list[list[float]] = []
        self.unit_base = np.zeros(m)
        for p, ut in enumerate(words.units):
            gains = []
            for b, df in enumerate(words.unit_df(p)):
                g, miss = weigh(
                    "u", ut.chan[b], ut.kind[b], unit_hits.get(p, {}), min(MAX_CHANCE, (df + 0.5) / (n + PRIOR_ITEMS))
                )
                gains.append(g)
                self.unit_base[p] += miss
            self.unit_gain.append(gains)

    def _hits(self, guide) -> tuple[list[dict], dict[int, dict]]:
        """Per source sentence and per unit: {(side, channel, kind): [found, seen]} over the aligner's
        one-sentence pairs (is each word found in / explained by the other side of its pair)."""
        words = self.w
        src_hits: list[dict] = [defaultdict(lambda: [0, 0]) for _ in words.src]
        unit_hits: dict[int, dict] = {}
        for s_ids, u_ids in guide:
            if len(s_ids) != 1 or not u_ids:
                continue
            i = s_ids[0]
            lo, hi = min(u_ids), max(u_ids) + 1
            it = words.src[i]
            for b, pos in enumerate(self.found[i]):
                a = bisect.bisect_left(pos, lo)
                d = src_hits[i][("s", it.chan[b], it.kind[b])]
                d[0] += int(a < len(pos) and pos[a] < hi)
                d[1] += 1
            explained = words.explained((i,), lo, hi)
            for p in range(lo, hi):
                ut, mask = words.units[p], explained.get(p, 0)
                mine = unit_hits.setdefault(p, defaultdict(lambda: [0, 0]))
                for b in range(len(ut.chan)):
                    d = mine[("u", ut.chan[b], ut.kind[b])]
                    d[0] += (mask >> b) & 1
                    d[1] += 1
        return src_hits, unit_hits

    def unit_evidence(self, sources: Sequence[int], lo: int, hi: int) -> np.ndarray:
        """Evidence of units lo..hi-1 for belonging to these source sentences."""
        out = self.unit_base[lo:hi].copy()
        for p, mask in self.w.explained(sources, lo, hi).items():
            g = self.unit_gain[p]
            k = 0
            while mask:
                if mask & 1:
                    out[p - lo] += g[k]
                mask >>= 1
                k += 1
        return out

    def source_evidence(self, i: int, us: np.ndarray, js: np.ndarray, window: tuple[int, int]) -> np.ndarray:
        """Evidence of source sentence i for the stretches [us[k], js[k]) inside ``window`` (first and
        last unit boundary the search may use for it): the found words' log p/q, plus the missing
        words' log (1-p)/(1-q); for dictionary words capped at -max_miss (the words of a sentence
        translated in part are missing together, not one by one; a reference's words are not
        capped: within one language a miss is strong evidence)."""
        lo, nxt, weights = self._next_found(i, window)
        if nxt is None:
            return np.full(len(us), self.total(i, 0.0, 0.0, 0.0))
        hit, miss_xl, miss_ref = weights @ (js[None, :] > nxt[:, us - lo]).astype(np.float64)
        return self.total(i, hit, miss_xl, miss_ref)

    def total(self, i: int, hit, miss_xl, miss_ref):
        """Sentence i's evidence from the log p/q of its words found (``hit``) and their miss
        weights per channel (``miss_xl``, ``miss_ref``): the words not found count their miss
        weight, the dictionary's together at most ``max_miss``, the reference's without a cap.
        Scalars or arrays alike (``source_evidence``, ``locate.own_words_evidence``)."""
        base_xl, base_ref = self.src_base[i]
        return hit + np.maximum(-self.max_miss, base_xl - miss_xl) + base_ref - miss_ref

    def _next_found(self, i: int, window: tuple[int, int]) -> tuple:
        """For the words of sentence i found inside the window: the first unit >= u that shows each
        (window end when none), and their weights. The search asks for the same sentence up to six
        times in a row: the last few are kept."""
        got = self._near.get((i, window))
        if got is not None:
            return got
        lo, hi = window
        rows, hit_w, misses, chans = [], [], [], []
        for g, miss, chan, pos in zip(self.src_gain[i], self.src_miss[i], self.w.src[i].chan, self.found[i]):
            if g <= 0.0 or not pos:
                continue
            a, b = bisect.bisect_left(pos, lo), bisect.bisect_left(pos, hi)
            if a < b:
                rows.append(pos[a:b])
                hit_w.append(g + miss)
                misses.append(miss)
                chans.append(chan)
        if rows:
            nxt = np.full((len(rows), hi - lo + 1), hi, dtype=np.int32)
            for w, pos in enumerate(rows):
                nxt[w, np.asarray(pos) - lo] = pos
            nxt = np.minimum.accumulate(nxt[:, ::-1], axis=1)[:, ::-1]
            misses_a, chans_a = np.array(misses), np.array(chans)
            got = (lo, nxt, np.stack([np.array(hit_w), misses_a * (chans_a == XL), misses_a * (chans_a == REF)]))
        else:
            got = (lo, None, None)
        if len(self._near) >= 8:
            self._near.pop(next(iter(self._near)))
        self._near[(i, window)] = got
        return got
