"""Words: source sentences and units as words with match keys, and indexes of where each key occurs.

Across the languages the keys come from the injected *translator* (any ``lexicon.Translator``: the
bag of English stems of each Chinese word), from numbers ("2 million" = 200万, "December 26" =
12月26日) and from names (pinyin of Chinese characters against capitalised English words; a name
written by its sound, one word of the glosser, by its sound skeleton, ``name_keys``). English
stems are compared by their first letters (``canon``). With a reference translation, each source
sentence also gets the words of its reference (English content stems, or Chinese character pairs),
matched against the units within one language.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

from ...align.lexicon import STOPWORDS, Translator, english_bag, english_keys, stem
from ...align.names import NAME_KEY, english_skeleton, skeleton_keys

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z]+|\d+(?:[.,]\d+)*")
XL, REF = 0, 1  # evidence channels: across the languages, within the target language (reference)


@dataclass
class Item:
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
    if word[:1].isdigit() or word[:1] == NAME_KEY:
        return word
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word[:PREFIX]


def en_stems(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """english_bag without stems that are stop words once stemmed ("things" -> "thing"): the glosses
    of the Chinese side never hold them."""
    stems, names = english_bag(text)
    return frozenset(s for s in stems if s not in STOPWORDS), names


def name_keys(text: str) -> dict[str, frozenset[str]]:
    """The stems of an English text's capitalised words (names, anywhere in the sentence) -> the keys by
    which a Chinese transliteration of them is matched (``align.names``)."""
    out: dict[str, frozenset[str]] = {}
    for _, t, key in english_keys(text):
        if t[0].isupper() and len(t) > 2:
            out[key] = out.get(key, frozenset()) | skeleton_keys(english_skeleton(t))
    return out


def zh_words(bag) -> list[frozenset[str]]:
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
_SCALES = {
    "hundred": 100,
    "thousand": 1000,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
    "百": 100,
    "千": 1000,
    "万": 10**4,
    "亿": 10**8,
    "万亿": 10**12,
}


_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_EN_DATE = re.compile(r"\b(" + "|".join(_MONTHS) + r")(?=\s+\d)|(?<=\d\s)(" + "|".join(_MONTHS) + r")\b", re.I)


def numbers(text: str, lang: str) -> str:
    """Numbers with a scale word written out as digits, so that "2 million" and "200万" meet; English
    month names in dates as their numbers, as Chinese writes them (12月)."""

    def value(m: re.Match) -> str:
        v = float(m.group(1)) * _SCALES[m.group(2).lower()]
        return str(int(v)) if v == int(v) else str(v)

    if lang == "zh":
        return _ZH_SCALE.sub(lambda m: " " + value(m) + " ", text)
    text = _EN_SCALE.sub(lambda m: " " + value(m) + " ", text)
    return _EN_DATE.sub(lambda m: str(_MONTHS.index((m.group(1) or m.group(2)).lower()) + 1), text)


def mono_sequence(text: str, lang: str) -> list[str]:
    """``mono_words`` in text order, each once (where it first occurs): English content stems (stop
    words left out once stemmed, as ``en_stems``), Chinese character pairs."""
    if lang == "en":
        keys = [key if t[0].isdigit() else canon(key) for _, t, key in english_keys(text) if key not in STOPWORDS]
    else:
        keys = mono_words(text, lang)
    return list(dict.fromkeys(keys))


def mono_words(text: str, lang: str) -> list[str]:
    """Words of a text for comparison within one language: English content stems; Chinese character
    pairs (and Latin words and numbers inside Chinese)."""
    if lang == "en":
        return sorted({canon(s) for s in en_stems(text)[0]})
    out = []
    for run in _HAN_RUN.findall(text):
        if run[0].isascii():
            out.append(run.lower())
        elif len(run) == 1:
            out.append(run)
        else:
            out.extend(run[k : k + 2] for k in range(len(run) - 1))
    return out


class Words:
    """Source sentences and units as words, with indexes of where each key occurs."""

    def __init__(
        self,
        src: list[str],
        units: list[str],
        refs: list[str] | None,
        src_lang: str,
        tgt_lang: str,
        translator: Translator,
    ) -> None:
        zh_texts, en_texts = (src, units) if src_lang == "zh" else (units, src)
        zh_texts = [numbers(t, "zh") for t in zh_texts]
        en_texts = [numbers(t, "en") for t in en_texts]
        zh_bags = translator.bags(zh_texts)
        en_bags = [en_stems(t) for t in en_texts]
        en_sounds = [name_keys(t) for t in en_texts]
        en_names = set().union(*(names for _, names in en_bags)) if en_bags else set()
        zh_items = []
        for bag in zh_bags:
            it = Item()
            for gl in zh_words(bag):
                it.add(XL, gl, gl)
            for nm in sorted(bag.names & en_names):
                it.add(XL, frozenset({"#" + nm}), "#name")
            zh_items.append(it)
        en_items = []
        for (stems, names), sounds in zip(en_bags, en_sounds):
            it = Item()
            named = {stem(nm): nm for nm in names}
            for st in sorted(stems):
                keys = {canon(st)} | sounds.get(st, frozenset())
                if st in named:
                    keys.add("#" + named[st])
                it.add(XL, frozenset(keys), canon(st))
            en_items.append(it)
        self.src, self.units = (zh_items, en_items) if src_lang == "zh" else (en_items, zh_items)
        self.has_ref = refs is not None and any(r.strip() for r in refs)
        if self.has_ref:
            for it, text in zip(self.src, refs or []):
                for w in mono_words(numbers(text, tgt_lang), tgt_lang):
                    it.add(REF, frozenset({w}), ("ref", w))
            for it, text in zip(self.units, units):
                for w in mono_words(numbers(text, tgt_lang), tgt_lang):
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
        self._found: dict[tuple[int, frozenset[str]], list[int]] = {}
        self._df: dict[tuple[int, frozenset[str]], int] = {}
        self.src_index: list[dict[str, list[int]]] = [defaultdict(list), defaultdict(list)]
        for i, ks in enumerate(self.src_keys):
            for c in (XL, REF):
                for k in ks[c]:
                    self.src_index[c][k].append(i)

    def found_positions(self, i: int) -> list[list[int]]:
        """For each word of source sentence i, the sorted units where it is found (one shared list
        per distinct word: a book's common words are found in thousands of units)."""
        out = []
        for c, ks in zip(self.src[i].chan, self.src[i].keys):
            got = self._found.get((c, ks))
            if got is None:
                if len(ks) == 1:
                    got = self.unit_pos[c].get(next(iter(ks)), [])
                else:
                    got = sorted({p for k in ks for p in self.unit_pos[c].get(k, ())})
                self._found[(c, ks)] = got
            out.append(got)
        return out

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
        """For each word of unit p, how many source sentences explain it (counted once per distinct word)."""
        out = []
        for c, ks in zip(self.units[p].chan, self.units[p].keys):
            got = self._df.get((c, ks))
            if got is None:
                got = (
                    len(self.src_index[c].get(next(iter(ks)), ()))
                    if len(ks) == 1
                    else len({i for k in ks for i in self.src_index[c].get(k, ())})
                )
                self._df[(c, ks)] = got
            out.append(got)
        return out


class Memo:
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
