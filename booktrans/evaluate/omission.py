"""Which source sentences a translation leaves out: *dropped* sentences and *partial* ones.

Two measures, reported apart (docs/evaluate.md):

- **dropped** — a source sentence whose content is absent from the translation. This is the
  shrinkage the project fears and the headline omission rate (``LineCoverage.omitted``).
- **partial** — a sentence that is translated, but one of its clauses is missing from that
  translation (``LineCoverage.partial``).

How a source sentence is judged:

1. **Units.** Each translation line is split into sentences (the project's splitter), those again
   after any sentence-final mark left inside them, and each piece into clauses (at commas, semicolons
   and colons); these *units* are what source sentences are aligned to, so a source sentence dropped
   between two others whose translations were merged into one sentence leaves no unit of its own.
2. **Words and evidence.** Source sentences and units become words with match keys. Across the
   languages the keys come from the injected *translator* (any ``lexicon.Translator``: the bag of
   English stems of each Chinese word; CC-CEDICT's ``CedictGlosser`` by default; the evaluate stage
   hands in ``table_translator(table)``: CC-CEDICT plus the align stage's learned lexical table,
   whose entries count from ``TABLE_MIN_PROB``), from numbers ("2 million" = 200万, "December 26"
   = 12月26日) and from names (pinyin of Chinese characters against capitalised English words).
   English stems are compared by their first letters (``canon``). With a reference translation, each source sentence also gets
   the words of its reference (English content stems, or Chinese character pairs) and units are
   matched against them within one language, which is far stronger evidence than a dictionary.
   A word found in a stretch of units is evidence that the sentence is translated there, a word not
   found evidence against it; each counts as a log-likelihood ratio of ``p`` (how often a word of
   its kind is found in its own translation, learnt from the input itself: from the pairs the
   project's sentence aligner is sure of, leaving the sentence being judged out, smoothed towards
   the average) against ``q`` (how often it is found by chance, from its frequency among the units).
   Missing dictionary words count together at most ``max_miss``: a sentence translated in part
   misses its words together, not one by one.
3. **Alignment.** A monotone dynamic programme gives each source sentence a stretch of consecutive
   units: usually one or more units of its own, possibly none (dropped), or one unit shared by two or
   three short sentences; a unit belongs to at most one stretch (none: an addition). The cost of
   a stretch is minus the evidence of its source words and of its units' words, plus the
   Gale-Church length mismatch (ratio and variance measured on the input's one-to-one pairs), plus
   ``cut_cost`` when the stretch starts inside a translated
   sentence; a dropped sentence costs ``drop_cost``, an added unit ``add_cost``. The search runs in
   a band of ``band`` units around the path of the project's sentence aligner, so its cost grows
   linearly with the text.
4. **Decision.** A forward and a backward pass give, for every source sentence, the cost of the best
   alignment that keeps it and of the best that drops it. Their difference is its *margin*:
   ``dropped`` when the margin is below 0; ``score`` = 1 / (1 + e^-margin), so 0.5 is the boundary,
   0 certainly dropped, 1 certainly translated.
5. **Partial.** In a kept sentence's stretch, each clause of the source is checked alone: a clause
   of at least ``partial_min_words`` words whose evidence is below ``-partial_threshold`` while the
   sentence as a whole is found is a missing clause. With a reference, only words the dictionary
   finds in the reference are counted, so words it cannot read do not count against the translation.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.special import log_ndtr

from ..align.gale_church import VARIANCE
from ..align.lexicon import STOPWORDS, CedictGlosser, Translator, english_bag, stem
from ..align.sentalign import AlignConfig, align_sentences
from ..align.similarity import LexicalTable, SameMeaning
from ..text import split_sentences

_ZH_CLAUSE = re.compile(r"(?<=[，；：,;:])")
_EN_CLAUSE = re.compile(r"(?<=[,;:])\s+")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z]+|\d+(?:[.,]\d+)*")
_SPACE = re.compile(r"\s+")
_INF = float("inf")

# A learned table's entries count for the detector from this probability on (with a floor of 0.1,
# Chinese function words such as 的, 了, 我们 take glosses from the commonest English words of the
# corpus, "people", "develop", which a translation may lack; see docs/evaluate.md, tuned on the tune halves).
TABLE_MIN_PROB = 0.5

# Short inputs have little to learn from: a channel's hit rate p starts at 1/2 with the weight of
# PRIOR_WORDS words, and chance rates q are counted as if PRIOR_ITEMS more items showed nothing.
PRIOR_WORDS = 20
PRIOR_ITEMS = 20
XL, REF = 0, 1  # evidence channels: across the languages, within the target language (reference)


@dataclass(frozen=True)
class OmissionConfig:
    """Knobs of the detector; the defaults were tuned on the first half of each dev set (docs/evaluate.md)."""

    drop_cost: float = 4.0         # cost of leaving a source sentence untranslated (higher = fewer "dropped")
    add_cost: float = 2.0          # cost of a translation unit that belongs to no source sentence
    unit_weight: float = 0.5       # weight of the units' own words (explained by the source) against the source's
    length_weight: float = 1.0     # weight of the Gale-Church length mismatch of a stretch
    cut_cost: float = 1.0          # a stretch that starts inside a translated sentence
    merge_cost: float = 4.0        # per extra source sentence sharing one stretch
    band: int = 40                 # units either side of the sentence aligner's path that the search may use
    smoothing: float = 3.0         # pseudo-counts pulling a word kind's hit rate towards the average
    min_hit_rate: float = 0.2      # floor of the average hit rate (a poor dictionary still counts for something)
    max_gain: float = 6.0          # cap on the evidence of one found word (log-likelihood ratio)
    max_miss: float = 8.0          # cap on the evidence of a sentence's missing dictionary words together
    partial_threshold: float = 3.0 # a clause whose evidence is below minus this is missing (partial)
    partial_min_words: int = 3     # clauses with fewer informative words are not judged on their own


@dataclass
class LineCoverage:
    line: int
    omitted: bool                                         # dropped: its content is absent from the translation
    score: float                                          # 0..1, 1 / (1 + e^-margin); below 0.5 = dropped
    counterpart: tuple[int, ...]                          # translation lines aligned to it (most of each line's text)
    partial: bool = False                                 # translated, but a clause of it is missing
    missing_clauses: list[str] = field(default_factory=list)
    margin: float = 0.0                                   # cost of dropping it minus cost of keeping it

    def to_json(self) -> dict:
        return {"line": self.line, "omitted": self.omitted, "score": round(self.score, 4), "partial": self.partial}


@dataclass
class Coverage:
    lines: list[LineCoverage]
    added: list[int]          # translation lines no source sentence accounts for (additions)
    units: list[str] = field(default_factory=list)          # the translation's clause units
    unit_line: list[int] = field(default_factory=list)      # translation line of each unit
    spans: list[tuple[int, int]] = field(default_factory=list)  # per source line: its units [start, end)

    @property
    def omission_rate(self) -> float:
        return sum(1 for c in self.lines if c.omitted) / len(self.lines) if self.lines else 0.0

    @property
    def partial_rate(self) -> float:
        return sum(1 for c in self.lines if c.partial) / len(self.lines) if self.lines else 0.0


def table_translator(table: LexicalTable | None, min_prob: float = TABLE_MIN_PROB) -> Translator:
    """The detector's cross-lingual evidence with a learned lexical table (``align.similarity``):
    ``SameMeaning(table)``, CC-CEDICT with the table's entries of probability ``min_prob`` or more
    added; CC-CEDICT alone (``CedictGlosser``, the default) when ``table`` is None."""
    if table is None:
        return CedictGlosser()
    return SameMeaning(table, table_min_prob=min_prob)


def clauses(sentence: str, lang: str) -> list[str]:
    """A sentence cut after commas, semicolons and colons (the clause units of the alignment)."""
    parts = _ZH_CLAUSE.split(sentence) if lang == "zh" else _EN_CLAUSE.split(sentence)
    return [p for p in parts if p.strip()]


def char_length(text: str, lang: str) -> int:
    """Characters without spaces for Chinese, characters for English (the Gale-Church unit)."""
    return len(_SPACE.sub("", text)) if lang == "zh" else len(text)


def split_reference(text: str, weights: Sequence[float], lang: str) -> list[str]:
    """Cut the reference of a bead holding several source sentences into one piece per sentence, in
    proportion to ``weights`` (their lengths), at word boundaries for English."""
    if len(weights) <= 1:
        return [text]
    total = sum(weights) or 1.0
    toks = list(_SPACE.sub("", text)) if lang == "zh" else text.split()
    out, start, acc = [], 0, 0.0
    for k, w in enumerate(weights):
        acc += w
        end = len(toks) if k == len(weights) - 1 else round(len(toks) * acc / total)
        out.append(("" if lang == "zh" else " ").join(toks[start:end]))
        start = end
    return out


def align_references(src: list[str], ref: list[str], src_lang: str, tgt_lang: str,
                     translator: Translator | None = None) -> list[str]:
    """The reference text of each source line, from a reference given as its own list of sentences
    (any count): the two are aligned with the project's sentence aligner, a reference bead of several
    source lines is cut in proportion to their lengths; a source line without one gets ""."""
    keep_s = [i for i, s in enumerate(src) if s.strip()]
    keep_r = [j for j, r in enumerate(ref) if r.strip()]
    out = [""] * len(src)
    if not keep_s or not keep_r:
        return out
    s_txt, r_txt = [src[i] for i in keep_s], [ref[j] for j in keep_r]
    zh, en = (s_txt, r_txt) if src_lang == "zh" else (r_txt, s_txt)
    for b in align_sentences(zh, en, translator or CedictGlosser()):
        s_ids, r_ids = (b.zh, b.en) if src_lang == "zh" else (b.en, b.zh)
        if not s_ids or not r_ids:
            continue
        text = ("" if tgt_lang == "zh" else " ").join(r_txt[j] for j in r_ids)
        pieces = split_reference(text, [char_length(s_txt[i], src_lang) for i in s_ids], tgt_lang)
        for i, piece in zip(s_ids, pieces):
            out[keep_s[i]] = piece
    return out


# --------------------------------------------------------------------------------------------------
# words


@dataclass
class _Item:
    """The words of one source sentence or one unit: per word its channel, match keys and kind."""

    chan: list[int] = field(default_factory=list)
    keys: list[frozenset[str]] = field(default_factory=list)
    kind: list[object] = field(default_factory=list)
    seen: set = field(default_factory=set)

    def add(self, chan: int, keys: frozenset[str], kind: object) -> None:
        if keys and (chan, keys) not in self.seen:
            self.seen.add((chan, keys))
            self.chan.append(chan)
            self.keys.append(keys)
            self.kind.append(kind)

    def keyset(self, chan: int) -> set[str]:
        out: set[str] = set()
        for c, k in zip(self.chan, self.keys):
            if c == chan:
                out |= k
        return out


PREFIX = 6


def canon(word: str) -> str:
    """The match key of an English stem: without a final e, its first PREFIX letters, so that forms a
    light stemmer leaves apart still meet (improve/improvement, delegate/delegat, create/creat)."""
    if word[:1].isdigit():
        return word
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word[:PREFIX]


def _en_stems(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """english_bag without stems that are stop words once stemmed ("things" -> "thing"): the glosses
    of the Chinese side never hold them."""
    stems, names = english_bag(text)
    return frozenset(s for s in stems if s not in STOPWORDS), names


def _zh_words(bag) -> list[frozenset[str]]:
    """The gloss sets of the words of a ZhBag (bit k of each stem's mask = word k), as match keys."""
    words: list[set[str]] = [set() for _ in range(bag.words)]
    for st, mask in bag.stems.items():
        st = canon(st)
        k = 0
        while mask:
            if mask & 1 and k < len(words):
                words[k].add(st)
            mask >>= 1
            k += 1
    return [frozenset(w) for w in words if w]


_EN_SCALE = re.compile(r"(\d+(?:\.\d+)?)\s*(hundred|thousand|million|billion|trillion)\b", re.I)
_ZH_SCALE = re.compile(r"(\d+(?:\.\d+)?)\s*(万亿|亿|万|千|百)")
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12,
           "百": 100, "千": 1000, "万": 10**4, "亿": 10**8, "万亿": 10**12}


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_EN_DATE = re.compile(r"\b(" + "|".join(_MONTHS) + r")(?=\s+\d)|(?<=\d\s)(" + "|".join(_MONTHS) + r")\b", re.I)


def _numbers(text: str, lang: str) -> str:
    """Numbers with a scale word written out as digits, so that "2 million" and "200万" meet; English
    month names in dates as their numbers, as Chinese writes them (12月)."""
    def value(m: re.Match) -> str:
        v = float(m.group(1)) * _SCALES[m.group(2).lower()]
        return str(int(v)) if v == int(v) else str(v)

    if lang == "zh":
        return _ZH_SCALE.sub(lambda m: " " + value(m) + " ", text)
    text = _EN_SCALE.sub(lambda m: " " + value(m) + " ", text)
    return _EN_DATE.sub(lambda m: str(_MONTHS.index((m.group(1) or m.group(2)).lower()) + 1), text)


def _mono_words(text: str, lang: str) -> list[str]:
    """Words of a text for comparison within one language: English content stems; Chinese character
    pairs (and Latin words and numbers inside Chinese)."""
    if lang == "en":
        return sorted({canon(s) for s in _en_stems(text)[0]})
    out = []
    for run in _HAN_RUN.findall(text):
        if run[0].isascii():
            out.append(run.lower())
        elif len(run) == 1:
            out.append(run)
        else:
            out.extend(run[k:k + 2] for k in range(len(run) - 1))
    return out


class _Words:
    """Source sentences and units as words, with indexes of where each key occurs."""

    def __init__(self, src: list[str], units: list[str], refs: list[str] | None, src_lang: str, tgt_lang: str,
                 translator: Translator) -> None:
        zh_texts, en_texts = (src, units) if src_lang == "zh" else (units, src)
        zh_texts = [_numbers(t, "zh") for t in zh_texts]
        en_texts = [_numbers(t, "en") for t in en_texts]
        zh_bags = translator.bags(zh_texts)
        en_bags = [_en_stems(t) for t in en_texts]
        en_names = set().union(*(names for _, names in en_bags)) if en_bags else set()
        zh_items = []
        for bag in zh_bags:
            it = _Item()
            for gl in _zh_words(bag):
                it.add(XL, gl, gl)
            for nm in sorted(bag.names & en_names):
                it.add(XL, frozenset({"#" + nm}), "#name")
            zh_items.append(it)
        en_items = []
        for stems, names in en_bags:
            it = _Item()
            named = {stem(nm): nm for nm in names}
            for st in sorted(stems):
                keys = {canon(st)}
                if st in named:
                    keys.add("#" + named[st])
                it.add(XL, frozenset(keys), canon(st))
            en_items.append(it)
        self.src, self.units = (zh_items, en_items) if src_lang == "zh" else (en_items, zh_items)
        self.has_ref = refs is not None and any(r.strip() for r in refs)
        if self.has_ref:
            for it, text in zip(self.src, refs or []):
                for w in _mono_words(_numbers(text, tgt_lang), tgt_lang):
                    it.add(REF, frozenset({w}), ("ref", w))
            for it, text in zip(self.units, units):
                for w in _mono_words(_numbers(text, tgt_lang), tgt_lang):
                    it.add(REF, frozenset({w}), ("ref", w))
        # key -> sorted [(unit, mask of its words with that key)] and key -> sorted [source ids]
        self.unit_index: list[dict[str, list[tuple[int, int]]]] = [defaultdict(list), defaultdict(list)]
        for p, it in enumerate(self.units):
            acc: dict[tuple[int, str], int] = defaultdict(int)
            for b, (c, ks) in enumerate(zip(it.chan, it.keys)):
                for k in ks:
                    acc[(c, k)] |= 1 << b
            for (c, k), mask in acc.items():
                self.unit_index[c][k].append((p, mask))
        self.unit_pos = [{k: [p for p, _ in v] for k, v in idx.items()} for idx in self.unit_index]
        self.src_keys = [[it.keyset(XL), it.keyset(REF)] for it in self.src]
        self.src_index: list[dict[str, list[int]]] = [defaultdict(list), defaultdict(list)]
        for i, ks in enumerate(self.src_keys):
            for c in (XL, REF):
                for k in ks[c]:
                    self.src_index[c][k].append(i)

    @staticmethod
    def _occurrences(item: _Item, index: list[dict[str, list[int]]]) -> list[set[int]]:
        """For each word of an item, the ids under any of its keys in the index of its channel."""
        out = []
        for c, ks in zip(item.chan, item.keys):
            ids: set[int] = set()
            for k in ks:
                ids.update(index[c].get(k, ()))
            out.append(ids)
        return out

    def found_positions(self, i: int) -> list[list[int]]:
        """For each word of source sentence i, the sorted units where it is found."""
        return [sorted(ids) for ids in self._occurrences(self.src[i], self.unit_pos)]

    def explained(self, sources: Sequence[int], lo: int, hi: int) -> dict[int, int]:
        """Units in [lo, hi) -> mask of their words that the given source sentences explain."""
        acc: dict[int, int] = defaultdict(int)
        for c in (XL, REF):
            keys: set[str] = set()
            for i in sources:
                keys |= self.src_keys[i][c]
            idx = self.unit_index[c]
            for k in keys:
                rows = idx.get(k)
                if not rows:
                    continue
                a = bisect.bisect_left(rows, (lo, -1))
                for p, mask in rows[a:]:
                    if p >= hi:
                        break
                    acc[p] |= mask
        return acc

    def unit_df(self, p: int) -> list[int]:
        """For each word of unit p, how many source sentences explain it."""
        return [len(ids) for ids in self._occurrences(self.units[p], self.src_index)]


# --------------------------------------------------------------------------------------------------
# the detector


def _nll(src_len: np.ndarray | float, tgt_len: np.ndarray, variance: float = VARIANCE) -> np.ndarray:
    """-log P(|Z| >= z) of Gale-Church for these lengths (both in target characters), capped at
    -log 1e-12 like the aligner's: P(|Z| >= z) = 2 Phi(-z)."""
    mean = np.maximum((src_len + tgt_len) / 2.0, 1.0)
    z = np.abs(tgt_len - src_len) / np.sqrt(mean * variance)
    return np.minimum(-(math.log(2.0) + log_ndtr(-z)), -math.log(1e-12))


class _Evidence:
    """Log-likelihood-ratio weights of every word: ``gain`` when found (log p/q minus the miss weight)
    and ``miss`` when not (log (1-p)/(1-q)), for the source sentences and for the units."""

    def __init__(self, words: _Words, guide: list[tuple[tuple[int, ...], tuple[int, ...]]], cfg: OmissionConfig) -> None:
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
            p = min(0.95, (h - oh + cfg.smoothing * p0) / (t - ot + cfg.smoothing))
            if q >= p:
                return 0.0, 0.0  # found as often by chance as in its own translation: no evidence
            miss = math.log((1 - p) / (1 - q))
            return min(cfg.max_gain, math.log(p / q) - miss), miss

        # chance q: a source word's share of units showing it, over a sentence's worth of units;
        # a unit word's share of source sentences explaining it
        per_src = m / max(n, 1)
        self.src_gain: list[np.ndarray] = []
        self.src_miss: list[list[float]] = []
        self.src_base: list[list[float]] = []   # per channel: the evidence when nothing is found
        for i, it in enumerate(words.src):
            gains, misses, base = [], [], [0.0, 0.0]
            for b, pos in enumerate(self.found[i]):
                q = min(0.99, 1 - (1 - (len(pos) + 0.5) / (m + PRIOR_ITEMS)) ** per_src)
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
                g, miss = weigh("u", ut.chan[b], ut.kind[b], unit_hits.get(p, {}), min(0.99, (df + 0.5) / (n + PRIOR_ITEMS)))
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
        base_xl, base_ref = self.src_base[i]
        if nxt is None:
            return np.full(len(us), max(-self.max_miss, base_xl) + base_ref)
        hit, miss_xl, miss_ref = weights @ (js[None, :] > nxt[:, us - lo]).astype(np.float64)
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


_ZH_END = re.compile(r"[。！？!?]+[”’」』）)\"']*")
_EN_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+")


def _cut_ends(sentence: str, lang: str) -> list[str]:
    """A sentence cut after each sentence-final mark inside it."""
    out, start = [], 0
    for m in (_ZH_END if lang == "zh" else _EN_END).finditer(sentence):
        if m.end() < len(sentence.rstrip()):
            out.append(sentence[start:m.end()])
            start = m.end()
    out.append(sentence[start:])
    return [p for p in out if p.strip()]


def _units_of(hyp: list[str], tgt_lang: str) -> tuple[list[str], list[int], list[bool], list[int]]:
    """Clause units of the translation: text, line, starts a sentence, sentence id. Sentences come
    from the project's splitter; they are also cut after every sentence-final mark it left inside
    (unbalanced quotes, a dash or a lower-case word after a full stop): a unit too many costs the
    alignment nothing, a sentence too long hides a dropped one."""
    units, line, start, sent = [], [], [], []
    s_id = 0
    for k, h in enumerate(hyp):
        for s in split_sentences(h, tgt_lang):
            for piece in _cut_ends(s, tgt_lang):
                for c_i, c in enumerate(clauses(piece, tgt_lang)):
                    units.append(c)
                    line.append(k)
                    start.append(c_i == 0)
                    sent.append(s_id)
                s_id += 1
    return units, line, start, sent


# The guide only places the band: the aligner's corridor search (anchors of rare words) is enough, and
# far quicker than its whole-matrix search on chunks of hundreds of sentences.
_GUIDE = AlignConfig(full_dp_cells=20_000)


class _Memo:
    """A translator that remembers its bags: the aligner, the detector and the clause check ask for
    the same sentences."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator
        self.seen: dict[str, object] = {}

    def bags(self, sentences: list[str]) -> list:
        todo = [s for s in dict.fromkeys(sentences) if s not in self.seen]
        if todo:
            self.seen.update(zip(todo, self.translator.bags(todo)))
        return [self.seen[s] for s in sentences]


def _guide(src: list[str], units: list[str], sent: list[int], src_lang: str,
           translator: Translator) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The project's sentence aligner on whole translated sentences, mapped onto units."""
    sentences: dict[int, list[int]] = defaultdict(list)
    for p, s in enumerate(sent):
        sentences[s].append(p)
    texts = [" ".join(units[p] for p in sentences[s]) for s in sorted(sentences)]
    zh, en = (src, texts) if src_lang == "zh" else (texts, src)
    out = []
    for b in align_sentences(zh, en, translator, _GUIDE):
        s_ids, t_ids = (b.zh, b.en) if src_lang == "zh" else (b.en, b.zh)
        out.append((tuple(s_ids), tuple(p for t in t_ids for p in sentences[t])))
    return out


def _length_model(guide, slen: np.ndarray, ulen: np.ndarray) -> tuple[float, float]:
    """Translation characters per source character, and the Gale-Church variance of the translation's
    length, from the aligner's one-sentence pairs (Gale and Church's constants when there are few)."""
    pairs = [(float(slen[s[0]]), float(ulen[list(u)].sum())) for s, u in guide if len(s) == 1 and u]
    a, b = sum(x for x, _ in pairs), sum(y for _, y in pairs)
    ratio = b / a if a and b else float(ulen.sum() / max(slen.sum(), 1.0))
    if len(pairs) < 20:
        return ratio, VARIANCE
    # robust: the median of squared deviations per unit of length, scaled to a variance
    dev = np.array([(y - ratio * x) ** 2 / max((y + ratio * x) / 2.0, 1.0) for x, y in pairs])
    return ratio, float(np.clip(np.median(dev) / 0.455, 1.0, 4 * VARIANCE))


def _band(guide, n: int, m: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Allowed units consumed [lo, hi] after each number of source sentences."""
    lo = np.full(n + 1, m, dtype=np.int64)
    hi = np.zeros(n + 1, dtype=np.int64)
    i = j = 0
    points = [(0, 0)]
    for s_ids, u_ids in guide:
        i += len(s_ids)
        j += len(u_ids)
        points.append((i, j))
    for (i0, j0), (i1, j1) in zip(points, points[1:]):
        for r in range(i0, i1 + 1):
            f = (r - i0) / (i1 - i0) if i1 > i0 else 0.0
            c = j0 + f * (j1 - j0)
            lo[r] = min(lo[r], int(c) if i1 > i0 else j0)
            hi[r] = max(hi[r], int(math.ceil(c)) if i1 > i0 else j1)
    lo = np.maximum(lo - width, 0)
    hi = np.minimum(hi + width, m)
    lo[0], hi[n] = 0, m
    lo = np.maximum.accumulate(lo)
    hi = np.minimum.accumulate(hi[::-1])[::-1]
    hi = np.maximum(hi, lo)
    return lo, hi


class _Search:
    """Forward-backward dynamic programme over (source sentences done, units done) inside the band."""

    MERGE_SPAN = 1      # sentences sharing a stretch share one unit (the model ran them together)
    CACHE_ROWS = 1000   # keep the forward pass's stretch costs for the backward pass up to this many sentences

    def __init__(self, ev: _Evidence, slen: np.ndarray, ulen: np.ndarray, ustart: np.ndarray, ratio: float,
                 variance: float, lo: np.ndarray, hi: np.ndarray, cfg: OmissionConfig) -> None:
        self.ev, self.cfg = ev, cfg
        self.slen, self.ratio, self.variance = slen, ratio, variance
        self.ucum = np.concatenate([[0.0], np.cumsum(ulen)])
        self.cut = np.where(ustart, 0.0, cfg.cut_cost)
        self.lo, self.hi = lo, hi
        self.n, self.m = len(slen), len(ulen)

    def cols(self, r: int) -> np.ndarray:
        return np.arange(self.lo[r], self.hi[r] + 1)

    def window(self, i: int) -> tuple[int, int]:
        """The unit boundaries any stretch holding source sentence i may use (it can share one with
        the two sentences before it)."""
        return int(self.lo[max(0, i - 2)]), int(self.hi[i + 1])

    def cost(self, r: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Costs of the stretches of source sentences r..r+k-1: rows = units done before (u),
        columns = units done after (j); infinite where no such stretch is allowed."""
        cfg = self.cfg
        us, js = self.cols(r), self.cols(r + k)
        span = js[None, :] - us[:, None]
        ok = (span >= 1) if k == 1 else (span >= 1) & (span <= self.MERGE_SPAN)
        c = np.full(span.shape, _INF)
        if not ok.any():
            return us, js, c
        rows, cols = np.nonzero(ok)
        u, j = us[rows], js[cols]
        lo, hi = int(u.min()), int(j.max())
        sources = range(r, r + k)
        se = sum(self.ev.source_evidence(i, u, j, self.window(i)) for i in sources)
        he = np.concatenate([[0.0], np.cumsum(self.ev.unit_evidence(sources, lo, hi))])
        ls = self.ratio * float(sum(self.slen[i] for i in sources))
        c[rows, cols] = (-se - cfg.unit_weight * (he[j - lo] - he[u - lo])
                         + cfg.length_weight * _nll(ls, self.ucum[j] - self.ucum[u], self.variance)
                         + self.cut[np.minimum(u, self.m - 1)] + cfg.merge_cost * (k - 1))
        return us, js, c

    def run(self) -> tuple[list[tuple[int, int, int, int]], np.ndarray]:
        """The best path as beads (r0, r1, u, j) and the margin of every source sentence."""
        cfg, n = self.cfg, self.n
        F = [np.full(self.hi[r] - self.lo[r] + 1, _INF) for r in range(n + 1)]
        back: list[list[tuple[int, int] | None]] = [[None] * len(F[r]) for r in range(n + 1)]
        F[0][0] = 0.0
        cache: dict[int, tuple] = {}   # one-sentence stretch costs, for the backward pass
        for r in range(n + 1):
            self._additions(F[r], back[r], r)
            if r == n:
                break
            # drop source sentence r
            us = self.cols(r)
            js = self.cols(r + 1)
            both = (us >= js[0]) & (us <= js[-1])
            cand = F[r][both] + cfg.drop_cost
            tgt = us[both] - self.lo[r + 1]
            better = cand < F[r + 1][tgt]
            F[r + 1][tgt[better]] = cand[better]
            for t, u in zip(tgt[better], us[both][better]):
                back[r + 1][t] = (r, int(u))
            for k in (1, 2, 3):
                if r + k > n:
                    break
                us, js, c = self.cost(r, k)
                if k == 1 and n <= self.CACHE_ROWS:
                    cache[r] = (us, js, c)
                tot = F[r][:, None] + c
                arg = np.argmin(tot, axis=0)
                best = tot[arg, np.arange(len(js))]
                better = best < F[r + k]
                F[r + k][better] = best[better]
                for t in np.nonzero(better)[0]:
                    back[r + k][t] = (r, int(us[arg[t]]))
        # backward pass: B[r][j] = cost from (r, j) to the end; with it, the best keep / drop cost per sentence
        B = [np.full(self.hi[r] - self.lo[r] + 1, _INF) for r in range(n + 1)]
        B[n][-1] = 0.0
        keep = np.full(n, _INF)
        drop = np.full(n, _INF)
        for r in range(n, -1, -1):
            if r < n:
                us, js = self.cols(r), self.cols(r + 1)
                both = (us >= js[0]) & (us <= js[-1])
                via = B[r + 1][us[both] - self.lo[r + 1]] + cfg.drop_cost
                B[r][both] = np.minimum(B[r][both], via)
                drop[r] = float(np.min(F[r][both] + via)) if both.any() else _INF
                for k in (1, 2, 3):
                    if r + k > n:
                        break
                    got = cache.get(r) if k == 1 else None
                    us, js, c = got if got is not None else self.cost(r, k)
                    tot = c + B[r + k][None, :]
                    B[r] = np.minimum(B[r], tot.min(axis=1))
                    through = float((F[r][:, None] + tot).min())
                    keep[r:r + k] = np.minimum(keep[r:r + k], through)
            # additions inside the row, right to left
            row = B[r]
            for t in range(len(row) - 2, -1, -1):
                v = row[t + 1] + cfg.add_cost
                if v < row[t]:
                    row[t] = v
        beads = []
        r, j = n, self.m
        while r > 0 or j > 0:
            prev = back[r][j - self.lo[r]]
            if prev is None:
                raise RuntimeError("omission search found no path")
            pr, pu = prev
            beads.append((pr, r, pu, j))
            r, j = pr, pu
        beads.reverse()
        margin = np.where(np.isfinite(drop) & np.isfinite(keep), drop - keep, np.where(np.isfinite(keep), 50.0, -50.0))
        return beads, margin

    def _additions(self, row: np.ndarray, back: list, r: int) -> None:
        add = self.cfg.add_cost
        lo = self.lo[r]
        for t in range(1, len(row)):
            v = row[t - 1] + add
            if v < row[t]:
                row[t] = v
                back[t] = (r, int(lo + t - 1))


def source_coverage(src: list[str], hyp: list[str], src_lang: str, tgt_lang: str,
                    cfg: OmissionConfig | None = None, translator: Translator | None = None,
                    references: list[str] | None = None) -> Coverage:
    """Judge every source line: dropped (``omitted``), its ``score``, ``partial``; and find the
    translation lines that no source line accounts for (``added``).

    ``hyp`` holds the translation in any number of lines. ``references`` (optional) holds a human
    translation *of each source line* ("" where there is none; see ``align_references`` for a
    reference given as its own list of sentences). ``translator`` is the cross-lingual evidence (any
    ``lexicon.Translator``; CC-CEDICT glosses when None)."""
    if {src_lang, tgt_lang} != {"zh", "en"}:
        raise ValueError(f"source and target language must be zh and en, one each (got {src_lang}, {tgt_lang})")
    if references is not None and len(references) != len(src):
        raise ValueError(f"need one reference text per source line (got {len(references)} for {len(src)})")
    cfg = cfg or OmissionConfig()
    translator = _Memo(translator or CedictGlosser())
    keep = [i for i, s in enumerate(src) if s.strip()]
    units, unit_line, ustart, usent = _units_of(hyp, tgt_lang)
    lines = [LineCoverage(i, False, 1.0, ()) for i in range(len(src))]
    spans = [(0, 0)] * len(src)
    if not keep:
        return Coverage(lines, sorted(set(unit_line)), units, unit_line, spans)
    if not units:
        for i in keep:
            lines[i] = LineCoverage(i, True, 0.0, (), margin=-50.0)
        return Coverage(lines, [], units, unit_line, spans)
    s_txt = [src[i] for i in keep]
    refs = [references[i] for i in keep] if references is not None else None
    words = _Words(s_txt, units, refs, src_lang, tgt_lang, translator)
    guide = _guide(s_txt, units, usent, src_lang, translator)
    ev = _Evidence(words, guide, cfg)
    slen = np.array([char_length(s, src_lang) for s in s_txt], dtype=float)
    ulen = np.array([char_length(u, tgt_lang) for u in units], dtype=float)
    ratio, variance = _length_model(guide, slen, ulen)
    lo, hi = _band(guide, len(s_txt), len(units), cfg.band)
    search = _Search(ev, slen, ulen, np.array(ustart), ratio, variance, lo, hi, cfg)
    beads, margin = search.run()
    owner = [-1] * len(units)
    local_span = [(0, 0)] * len(s_txt)
    for r0, r1, u, j in beads:
        if r1 > r0 and j > u:
            for r in range(r0, r1):
                local_span[r] = (u, j)
            for p in range(u, j):
                owner[p] = r0 if r1 - r0 == 1 else -2 - r0  # shared stretches: resolved below
    # each translation line belongs to the source line(s) holding most of its characters
    line_chars: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for p, o in enumerate(owner):
        line_chars[unit_line[p]][o] += ulen[p] + 1e-3
    counterpart: dict[int, list[int]] = defaultdict(list)
    added = []
    for ln in sorted(line_chars):
        o = max(line_chars[ln].items(), key=lambda kv: (kv[1], -kv[0]))[0]
        if o == -1:
            added.append(ln)
            continue
        if o >= 0:
            counterpart[o].append(ln)
        else:
            r0 = -2 - o
            for r in range(r0, len(s_txt)):
                if local_span[r] != local_span[r0]:
                    break
                counterpart[r].append(ln)
    for r, i in enumerate(keep):
        mg = float(margin[r])
        dropped = mg < 0.0
        lines[i] = LineCoverage(i, dropped, 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, mg)))),
                                tuple(counterpart.get(r, ())), margin=round(mg, 4))
        spans[i] = local_span[r]
    _partials(lines, keep, s_txt, refs, units, local_span, src_lang, tgt_lang, translator, cfg, ev)
    return Coverage(lines, added, units, unit_line, spans)


def _partials(lines: list[LineCoverage], keep: list[int], s_txt: list[str], refs: list[str] | None, units: list[str],
              spans: list[tuple[int, int]], src_lang: str, tgt_lang: str, translator: Translator,
              cfg: OmissionConfig, ev: _Evidence) -> None:
    """Flag kept sentences with a clause whose words are missing from the sentence's stretch."""
    for r, i in enumerate(keep):
        line = lines[i]
        u, j = spans[r]
        if line.omitted or j <= u:
            continue
        parts = clauses(s_txt[r], src_lang)
        if len(parts) < 2:
            continue
        target = ("" if tgt_lang == "zh" else " ").join(units[u:j])
        ref = refs[r] if refs is not None else None
        for clause in parts:
            got = _clause_evidence(clause, target, ref, src_lang, translator, ev, r)
            if got is not None and got[1] >= cfg.partial_min_words and got[0] < -cfg.partial_threshold:
                line.partial = True
                line.missing_clauses.append(clause.strip())


def _clause_evidence(clause: str, target: str, ref: str | None, src_lang: str, translator: Translator,
                     ev: _Evidence, r: int) -> tuple[float, int] | None:
    """(evidence, informative words) of one source clause found in a target text, with the weights of
    its sentence's words; with a reference, words the reference does not show are left out."""
    words = ev.w
    it = words.src[r]
    gains = ev.src_gain[r]
    if src_lang == "zh":
        clause_keys = set(_zh_words(translator.bags([_numbers(clause, "zh")])[0]))
        tgt_keys = {canon(w) for w in _en_stems(_numbers(target, "en"))[0]}
        ref_keys = {canon(w) for w in _en_stems(_numbers(ref, "en"))[0]} if ref else None
        match = lambda ks, bag: bool(ks & bag)  # noqa: E731
    else:
        clause_keys = {frozenset({canon(w)}) for w in _en_stems(_numbers(clause, "en"))[0]}
        tgt_keys = {canon(w) for w in translator.bags([_numbers(target, "zh")])[0].stems}
        ref_keys = {canon(w) for w in translator.bags([_numbers(ref, "zh")])[0].stems} if ref else None
        match = lambda ks, bag: bool(ks & bag)  # noqa: E731
    total, n_words = 0.0, 0
    for b, (c, ks) in enumerate(zip(it.chan, it.keys)):
        if c != XL or ks not in clause_keys or gains[b] <= 0.0:
            continue
        if ref_keys is not None and not match(ks, ref_keys):
            continue
        n_words += 1
        p_miss = ev.src_miss[r][b]
        total += (gains[b] + p_miss) if match(ks, tgt_keys) else p_miss
    return (total, n_words) if n_words else None


