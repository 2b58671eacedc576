"""One measure of "these two texts say the same thing", for every part of booktrans that asks it.

The sentence aligner, the chapter pairer and the omission detector all compare a Chinese text with
an English one. They do it through this module and nothing else:

- ``SameMeaning`` — the measure. A Chinese text becomes a list of ``ZhWord`` (a dictionary word,
  the English stems that would show it was translated, its pinyin for names); an English text a
  ``EnBag`` of content stems and name candidates. Evidence comes from four sources:
  CC-CEDICT glosses, a ``LexicalTable`` learned from the corpus (optional), numbers (Arabic and
  Chinese numerals meet as digits) and names (pinyin against capitalised English words).
  Public questions:
    - ``zh_words(text)`` / ``en_bag(text)``: the units, for callers that count word by word
      (the omission detector counts, clause by clause, how many source words the target shows);
    - ``shows(word, bag)``: does this English bag show this Chinese word?
    - ``coverage(zh, en)``: (share of Chinese words shown in the English, share of English
      content stems explained by the Chinese), each 0..1;
    - ``similarity(zh, en)``: their harmonic mean, 0..1 (one number for one pair);
    - ``matrix(zh_texts, en_texts)``: TF-IDF cosine of every Chinese text against every English
      one in the shared stem space, for long texts such as chapters (0..1, numpy array);
    - ``same_language(a, b, lang)``: similarity of two texts of one language (a translation against
      a reference): character-bigram F1 for Chinese, content-stem F1 for English;
    - ``bags(sentences)``: the aligner's view of Chinese sentences (``lexicon.Translator``).
- ``LexicalTable`` — t(English stem | Chinese word), learned with IBM Model 1 from beads the
  aligner is confident about, seeded with the CC-CEDICT glosses (``LexicalTable.learn``). Saved and
  loaded as JSON (``save`` / ``load``); ``fingerprint`` names its content for cache keys.
- ``learn_from_beads(beads, meaning)`` — the bootstrap step: pick the confident beads of an
  alignment and learn a table from them.

Where a table comes from (the choice between a corpus-wide table and incremental alignment is
explained in docs/align.md, "The learned lexical table"): the align stage learns one table per book
from that book's own confident beads and re-aligns the book with it, and writes the table learned
from the confident beads of all training books to ``data/lexicon.json`` for the stages after it
(the omission detector loads it with ``LexicalTable.load``; without the file, it can call
``learn_from_beads`` on the alignment it is given).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..io import atomic_write_text
from .lexicon import STOPWORDS, ZhBag, char_pinyin, english_bag, gloss_of, load_cedict, name_spellings, segment, stem

__all__ = ["EnBag", "LexicalTable", "SameMeaning", "ZhWord", "confident_pairs", "learn_from_beads"]

_ZH_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z]+|\d+(?:[.,]\d+)*")
_ZH_NUMERAL = re.compile(r"[零〇一二三四五六七八九十百千万两]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class ZhWord:
    """One unit of a Chinese text: a dictionary word, a number or a Latin word."""

    form: str  # the characters as written (digits for numbers)
    stems: frozenset[str]  # English stems that would show this word was translated
    pinyin: str = ""  # toneless pinyin (names), or the lower-case Latin word itself
    content: bool = True  # False for words with no evidence at all (no gloss, no table entry)


@dataclass(frozen=True)
class EnBag:
    """The English side: content stems (numbers included) and name candidates (lower case)."""

    stems: frozenset[str]
    names: frozenset[str]


def _number(tok: str) -> str:
    return tok.replace(",", "")


class LexicalTable:
    """t(English stem | Chinese word), learned from bilingual beads.

    Only entries at or above ``min_prob`` are kept; the table is a plain mapping
    {Chinese word: {English stem: probability}} with sorted keys, so saving it twice gives the same
    bytes."""

    def __init__(self, entries: dict[str, dict[str, float]] | None = None, meta: dict | None = None) -> None:
        self.entries: dict[str, dict[str, float]] = {
            z: dict(sorted(es.items())) for z, es in sorted((entries or {}).items()) if es
        }
        self.meta = dict(meta or {})

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, word: str) -> bool:
        return word in self.entries

    def translations(self, word: str) -> dict[str, float]:
        """English stems of a Chinese word with their probabilities ({} when unknown)."""
        return self.entries.get(word, {})

    @property
    def fingerprint(self) -> str:
        """Hash of the table's content (for cache keys)."""
        return hashlib.sha256(json.dumps(self.entries, sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return {"meta": self.meta, "entries": self.entries}

    def save(self, path: str | Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "LexicalTable":
        from ..errors import BooktransError

        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(data["entries"], data.get("meta"))
        except FileNotFoundError:
            raise BooktransError(f"{path}: no such lexical table") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BooktransError(f"{path}: not a lexical table ({exc})") from None

    @classmethod
    def learn(
        cls,
        pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
        prior: dict[str, Iterable[str]] | None = None,
        iterations: int = 5,
        min_prob: float = 0.1,
        min_count: float = 2.0,
        prior_weight: float = 4.0,
        counts: dict | None = None,
    ) -> "LexicalTable":
        """IBM Model 1 by EM over ``pairs`` of (Chinese words, English stems), with a NULL word on the
        Chinese side. ``prior`` (a dictionary: Chinese word -> English stems) starts the glosses it
        names ``prior_weight`` times more likely than the rest. An entry is kept when its probability
        is at least ``min_prob`` and its expected count at least ``min_count`` (a pair seen once is
        not evidence). Vectorised with numpy over all co-occurrences. ``counts``, when given, receives
        the last E-step's expected counts (``count`` per cell ``cz``, ``ce`` of the names ``zh``, ``en``;
        Chinese id 0 is NULL), from which the tables of several books are pooled (``booktrans.align.corpus``)."""
        zh_ids: dict[str, int] = {"": 0}  # 0 = NULL
        en_ids: dict[str, int] = {}
        z_all: list[int] = []
        e_all: list[int] = []
        a_k: list[int] = []
        b_k: list[int] = []
        for zs, es in pairs:
            zset = sorted({zh_ids.setdefault(w, len(zh_ids)) for w in zs})
            eset = sorted({en_ids.setdefault(w, len(en_ids)) for w in es})
            if not zset or not eset:
                continue
            z_all += [0] + zset
            e_all += eset
            a_k.append(len(zset) + 1)
            b_k.append(len(eset))
        meta = {"pairs": len(pairs), "iterations": iterations, "min_prob": min_prob, "min_count": min_count}
        if not a_k:
            return cls({}, meta)
        # every (Chinese word, English word) of every pair, built without a Python loop over events
        a, b = np.array(a_k), np.array(b_k)
        n_ev = a * b
        grp = np.repeat(np.arange(len(a)), n_ev)
        z = np.repeat(np.array(z_all), np.repeat(b, a))
        within = np.arange(n_ev.sum()) - np.repeat(np.cumsum(n_ev) - n_ev, n_ev)
        e_start = np.cumsum(b) - b
        e = np.array(e_all)[np.repeat(e_start, n_ev) + within % np.repeat(b, n_ev)]
        nz, ne = len(zh_ids), len(en_ids)
        # unique (z, e) cells; t is stored per cell
        cell_key = z.astype(np.int64) * ne + e
        cells, inv = np.unique(cell_key, return_inverse=True)
        cz, ce = cells // ne, cells % ne
        t = np.ones(len(cells))
        if prior:
            keys = [zi * ne + en_ids[g] for w, zi in zh_ids.items() if w in prior for g in prior[w] if g in en_ids]
            if keys:
                t[np.isin(cells, np.array(keys, dtype=np.int64))] *= prior_weight
        t /= np.bincount(cz, weights=t, minlength=nz)[cz]
        count = np.zeros(len(cells))
        _, pe_inv = np.unique(grp.astype(np.int64) * ne + e, return_inverse=True)  # (pair, English word)
        for _ in range(iterations):
            te = t[inv]
            # normaliser per (pair, English word): sum over the pair's Chinese words (NULL included)
            denom = np.bincount(pe_inv, weights=te)
            post = te / denom[pe_inv]
            count = np.bincount(inv, weights=post, minlength=len(cells))
            tot = np.bincount(cz, weights=count, minlength=nz)
            t = np.divide(count, tot[cz], out=np.zeros_like(count), where=tot[cz] > 0)
        zh_names = {i: w for w, i in zh_ids.items()}
        en_names = {i: w for w, i in en_ids.items()}
        if counts is not None:
            counts.update(zh=zh_names, en=en_names, cz=cz, ce=ce, count=count)
        entries: dict[str, dict[str, float]] = {}
        keep = (t >= min_prob) & (count >= min_count) & (cz != 0)
        for a, b, p in zip(cz[keep], ce[keep], t[keep]):
            entries.setdefault(zh_names[int(a)], {})[en_names[int(b)]] = round(float(p), 4)
        return cls(entries, meta)


class SameMeaning:
    """The one measure of "a Chinese and an English text say the same thing".

    ``table``: a learned ``LexicalTable`` whose entries at or above ``table_min_prob`` count as
    glosses beside CC-CEDICT's; None = dictionary, numbers and names only. ``join_unknown``: idioms
    and names the dictionary lacks stay one word (``lexicon.segment``; the omission detector's choice)."""

    def __init__(
        self,
        table: LexicalTable | None = None,
        table_min_prob: float = 0.1,
        max_senses: int = 6,
        join_unknown: bool = False,
    ) -> None:
        cedict, self.longest = load_cedict(max_senses)
        self.join_unknown = join_unknown
        self.table = table
        self.table_min_prob = table_min_prob
        # ``dictionary``: CC-CEDICT with the learned entries added, so code that reads glosses from a
        # dictionary mapping (Chinese word -> English stems) sees the table too
        self.dictionary: dict[str, tuple[str, ...]] = cedict
        if table is not None and len(table):
            self.dictionary = dict(cedict)
            for w, es in table.entries.items():
                extra = tuple(g for g, p in es.items() if p >= table_min_prob)
                if extra:
                    self.dictionary[w] = tuple(dict.fromkeys(cedict.get(w, ()) + extra))
            self.longest = max(self.longest, min(8, max(len(w) for w in table.entries)))
        self._words: dict[str, tuple[ZhWord, ...]] = {}

    # --- units -------------------------------------------------------------------------------
    def segment(self, text: str) -> list[str]:
        """Chinese words of a text by longest match against CC-CEDICT; digits and Latin words as tokens."""
        out: list[str] = []
        for tok in _ZH_TOKEN.findall(text):
            if tok[0].isdigit():
                out.append(_number(tok))
            elif tok[0].isascii():
                out.append(tok.lower())
            else:
                out.extend(segment(tok, self.dictionary, self.longest, self.join_unknown))
        return out

    def glosses(self, word: str) -> frozenset[str]:
        """English stems of one Chinese word: CC-CEDICT senses and learned table entries."""
        return frozenset(gloss_of(word, self.dictionary))

    def zh_words(self, text: str) -> list[ZhWord]:
        """The units of a Chinese text, in order; words with no evidence have ``content`` False."""
        got = self._words.get(text)
        if got is not None:
            return list(got)
        words: list[ZhWord] = []
        for tok in _ZH_TOKEN.findall(text):
            if tok[0].isdigit():
                words.append(ZhWord(_number(tok), frozenset({_number(tok)})))
                continue
            if tok[0].isascii():
                low = tok.lower()
                if low not in STOPWORDS:
                    words.append(ZhWord(low, frozenset({stem(low)}), low))
                continue
            numerals = {}
            from ..text.headings import zh_number

            for num in _ZH_NUMERAL.findall(tok):
                if len(num) > 1 or num in "十百千万":
                    v = zh_number(num)
                    if v is not None:
                        numerals[num] = str(v)
            for w in segment(tok, self.dictionary, self.longest, self.join_unknown):
                g = set(self.glosses(w))
                if w in numerals:
                    g.add(numerals[w])
                words.append(ZhWord(w, frozenset(g), "".join(char_pinyin(c) for c in w), bool(g)))
        if len(self._words) > 50_000:
            self._words.clear()
        self._words[text] = tuple(words)
        return words

    @staticmethod
    def en_bag(text: str) -> EnBag:
        stems, names = english_bag(text)
        return EnBag(stems, names)

    @staticmethod
    def en_words(text: str) -> list[str]:
        """Content stems of an English text, in order, repeats kept."""
        from .lexicon import _EN_TOKEN

        out = []
        for t in _EN_TOKEN.findall(text):
            if t[0].isdigit():
                out.append(_number(t))
            elif t.lower() not in STOPWORDS and len(t) > 1:
                out.append(stem(t.lower()))
        return out

    @staticmethod
    def shows(word: ZhWord, bag: EnBag) -> bool:
        """Does the English bag show this Chinese word (a gloss among its stems, or its name)?"""
        return bool(word.stems & bag.stems) or bool(word.pinyin and word.pinyin in bag.names)

    # --- measures ----------------------------------------------------------------------------
    def coverage(self, zh: str, en: str) -> tuple[float, float]:
        """(share of the Chinese content words the English shows, share of the English content stems
        some Chinese word explains). A side with no content gives 0.0."""
        words = [w for w in self.zh_words(zh) if w.content]
        bag = self.en_bag(en)
        zh_cov = sum(1 for w in words if self.shows(w, bag)) / len(words) if words else 0.0
        explained: set[str] = set()
        pin = {w.pinyin for w in words if w.pinyin}
        for w in words:
            explained |= w.stems
        en_cov = (sum(1 for s in bag.stems if s in explained or s in pin) / len(bag.stems)) if bag.stems else 0.0
        return zh_cov, en_cov

    def similarity(self, zh: str, en: str) -> float:
        a, b = self.coverage(zh, en)
        return 2 * a * b / (a + b) if a + b else 0.0

    def matrix(self, zh_texts: Sequence[str], en_texts: Sequence[str]) -> np.ndarray:
        """Cosine of TF-IDF vectors in the English stem space: a Chinese text contributes each gloss
        of each word (weight 1 / number of glosses), an English text its stems. Rows: Chinese texts;
        columns: English texts."""
        zh_vecs: list[Counter] = []
        for t in zh_texts:
            c: Counter = Counter()
            for w in self.zh_words(t):
                if w.stems:
                    for s in w.stems:
                        c[s] += 1.0 / len(w.stems)
                if w.pinyin and not w.content:
                    c[w.pinyin] += 1.0
            zh_vecs.append(c)
        en_vecs = [Counter(self.en_words(t)) for t in en_texts]
        df: Counter = Counter()
        for v in zh_vecs + en_vecs:
            df.update(v.keys())
        n = len(zh_vecs) + len(en_vecs)
        vocab = {w: k for k, w in enumerate(sorted(df))}
        idf = np.array([math.log((n + 1) / (df[w] + 0.5)) for w in sorted(df)])

        def dense(vs: list[Counter]) -> np.ndarray:
            m = np.zeros((len(vs), len(vocab)))
            for r, v in enumerate(vs):
                for w, x in v.items():
                    m[r, vocab[w]] = (1 + math.log(x)) if x >= 1 else x
            m *= idf
            norm = np.linalg.norm(m, axis=1, keepdims=True)
            return np.divide(m, norm, out=np.zeros_like(m), where=norm > 0)

        if not zh_vecs or not en_vecs:
            return np.zeros((len(zh_vecs), len(en_vecs)))
        return dense(zh_vecs) @ dense(en_vecs).T

    @staticmethod
    def same_language(a: str, b: str, lang: str) -> float:
        """F1 of character bigrams (Chinese) or content stems (English) between two texts of one
        language, 0..1 (a translation against a reference)."""
        if lang == "zh":
            ha, hb = "".join(_HAN.findall(a)), "".join(_HAN.findall(b))
            ca, cb = (
                Counter(ha[k : k + 2] for k in range(len(ha) - 1)),
                Counter(hb[k : k + 2] for k in range(len(hb) - 1)),
            )
        else:
            ca, cb = Counter(SameMeaning.en_words(a)), Counter(SameMeaning.en_words(b))
        both = sum((ca & cb).values())
        if not both:
            return 0.0
        p, r = both / sum(cb.values()), both / sum(ca.values())
        return 2 * p * r / (p + r)

    # --- the aligner's view ------------------------------------------------------------------
    def bags(self, sentences: list[str]) -> list[ZhBag]:
        """``lexicon.Translator``: per Chinese sentence, English stem -> bitmask of the words that
        gloss to it, the pinyin of runs of 1-3 characters (names), and the number of content words."""
        out = []
        for s in sentences:
            bag = ZhBag()
            k = 0
            for w in self.zh_words(s):
                if not w.content:
                    continue
                for g in w.stems:
                    bag.stems[g] = bag.stems.get(g, 0) | (1 << k)
                if w.pinyin and w.form.isascii():
                    bag.names.add(w.pinyin)
                bag.forms.append(w.form)
                k += 1
            for tok in _ZH_TOKEN.findall(s):
                if tok[0].isascii():
                    continue
                bag.names |= name_spellings(tok)
            bag.words = k
            out.append(bag)
        return out

    def training_pair(self, zh: str, en: str) -> tuple[list[str], list[str]]:
        """(Chinese words, English stems) of a bead, as ``LexicalTable.learn`` takes them: Chinese
        content words and unknown words alike (the table may learn what the dictionary lacks),
        numbers and Latin words left out (they match themselves already)."""
        zs = [w for w in self.segment(zh) if _HAN.match(w)]
        return zs, sorted(self.en_bag(en).stems - {s for s in self.en_bag(en).stems if s[0].isdigit()})


def confident_pairs(
    beads: Iterable[dict],
    meaning: SameMeaning,
    min_score: float = 0.3,
    max_side: int = 2,
) -> tuple[list[tuple[list[str], list[str]]], dict[str, list[str]]]:
    """The training material of the bootstrap: (Chinese words, English stems) of every confident bead
    (both sides non-empty, at most ``max_side`` sentences a side, score at least ``min_score``), and
    the dictionary glosses of those words that occur in those beads' English (the prior of
    ``LexicalTable.learn``). Small enough to keep per book, so a corpus table can be learned again
    without the dictionary or the books' text."""
    pairs = []
    for b in beads:
        if (
            b["zh"]
            and b["en"]
            and len(b["zh"]) <= max_side
            and len(b["en"]) <= max_side
            and b.get("score", 0.0) >= min_score
        ):
            pairs.append(meaning.training_pair("".join(b["zh"]), " ".join(b["en"])))
    vocab = {e for _, es in pairs for e in es}
    prior: dict[str, list[str]] = {}
    for zs, _ in pairs:
        for w in zs:
            if w not in prior:
                prior[w] = [g for g in meaning.dictionary.get(w, ()) if g in vocab]
    return pairs, {w: g for w, g in sorted(prior.items()) if g}


def learn_from_beads(
    beads: Iterable[dict], meaning: SameMeaning | None = None, min_score: float = 0.3, max_side: int = 2, **learn_args
) -> LexicalTable:
    """The bootstrap step: a table learned from the confident beads of an alignment.

    ``beads`` are dicts with ``zh`` and ``en`` lists of sentences and a ``score`` (the aligner's
    output, or data/aligned/<book>.jsonl rows). A bead is confident when both sides are non-empty,
    each has at most ``max_side`` sentences, and its score is at least ``min_score``."""
    meaning = meaning or SameMeaning()
    pairs, prior = confident_pairs(beads, meaning, min_score, max_side)
    table = LexicalTable.learn(pairs, prior=prior, **learn_args)
    table.meta["confident_beads"] = len(pairs)
    table.meta["min_score"] = min_score
    return table
