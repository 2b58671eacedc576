"""Omissions and additions: how much of each source sentence a translation covers.

The translation is first aligned to the source with the project's sentence aligner, so every source
line gets its counterpart lines (none = the line was dropped, a 1-0 bead). Then each source line is
cut into clauses (at commas, semicolons, colons and the like) and every clause is checked word by
word against its counterpart through the CC-CEDICT glosses:

- zh source: a Chinese word is found when one of its glosses (or of its characters' glosses, or its
  pinyin for names, or its digits) is among the English stems of the counterpart;
- en source: an English content stem is found when it is among the glosses of the Chinese counterpart.

A dictionary never finds every word of a good translation, so a clause's share of found words is
compared with the share found over the whole input (clamped to ``expected_min..expected_max``):
a clause scoring as well as the text on average counts as fully covered. A line's ``score`` is the
word-weighted mean of its clause scores (0 = nothing of it translated, 1 = covered as well as a
typical line). A line is ``omitted`` when it has no counterpart, when its score is below
``line_threshold``, or when one of its clauses with at least ``min_words`` words scores below
``clause_threshold`` — a dropped clause inside an otherwise translated line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..align.lexicon import CedictGlosser, _ZH_TOKEN, _number, char_pinyin, english_bag, segment, stem, STOPWORDS
from ..align.sentalign import align_sentences

_CLAUSE = re.compile(r"[，,；;：:。！？!?、（）()“”\"《》〈〉「」『』—…\-]+")
_LATIN = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class OmissionConfig:
    clause_threshold: float = 0.5   # a clause of >= min_words words below this score = dropped clause
    line_threshold: float = 0.35    # a line whose score is below this = omitted
    min_words: int = 2              # clauses with fewer dictionary words are not judged on their own
    expected_min: float = 0.3       # bounds of the "typical coverage" the clause shares are compared with
    expected_max: float = 0.8


@dataclass
class LineCoverage:
    line: int
    omitted: bool
    score: float
    counterpart: tuple[int, ...]                          # hypothesis lines aligned to it
    dropped_clauses: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"line": self.line, "omitted": self.omitted, "score": round(self.score, 4)}


@dataclass
class Coverage:
    lines: list[LineCoverage]
    added: list[int]          # hypothesis lines with no source counterpart (additions)
    expected: float           # the typical share of words found, used as "fully covered"

    @property
    def omission_rate(self) -> float:
        return sum(1 for c in self.lines if c.omitted) / len(self.lines) if self.lines else 0.0


class _Words:
    """Clauses of one source line as lists of dictionary words, each a matcher against a target bag."""

    def __init__(self, glosser: CedictGlosser) -> None:
        self.g = glosser

    def zh_clauses(self, text: str) -> list[tuple[str, list[tuple[frozenset[str], str]]]]:
        """(clause, [(stems that would show the word, pinyin or lowercase latin form)])"""
        out = []
        for clause in _CLAUSE.split(text):
            words: list[tuple[frozenset[str], str]] = []
            for tok in _ZH_TOKEN.findall(clause):
                if tok[0].isdigit():
                    words.append((frozenset({_number(tok)}), ""))
                    continue
                if tok[0].isascii():
                    low = tok.lower()
                    if low not in STOPWORDS:
                        words.append((frozenset({stem(low)}), low))
                    continue
                for w in segment(tok, self.g.dictionary, self.g.longest):
                    gloss = set(self.g.dictionary.get(w, ()))
                    if len(w) > 1:
                        for ch in w:
                            gloss.update(self.g.dictionary.get(ch, ()))
                    if gloss:
                        words.append((frozenset(gloss), "".join(char_pinyin(c) for c in w)))
            if words:
                out.append((clause, words))
        return out

    @staticmethod
    def en_clauses(text: str) -> list[tuple[str, list[str]]]:
        out = []
        for clause in _CLAUSE.split(text):
            stems, _names = english_bag(clause)
            if stems:
                out.append((clause, sorted(stems)))
        return out


def source_coverage(src: list[str], hyp: list[str], src_lang: str, tgt_lang: str,
                    cfg: OmissionConfig | None = None, glosser: CedictGlosser | None = None,
                    counterparts: list[tuple[int, ...]] | None = None,
                    references: list[str] | None = None) -> Coverage:
    """Align ``hyp`` to ``src`` and score how much of each source line the translation covers.

    ``counterparts`` (one tuple of hypothesis line ids per source line) skips the alignment when the
    caller already knows it. ``references`` (a human translation of each source line, "" when there
    is none) calibrates the score line by line: a clause counts as fully covered when the translation
    shows as many of its words as the reference does, and a clause whose words the dictionary finds
    in neither cannot be judged (it no longer counts against the translation)."""
    if {src_lang, tgt_lang} != {"zh", "en"}:
        raise ValueError(f"source and target language must be zh and en, one each (got {src_lang}, {tgt_lang})")
    cfg = cfg or OmissionConfig()
    glosser = glosser or CedictGlosser()
    if counterparts is None:
        counterparts, added = _align(src, hyp, src_lang, glosser)
    else:
        used = {j for c in counterparts for j in c}
        added = [j for j in range(len(hyp)) if j not in used and hyp[j].strip()]
    count = _Counter(glosser, src_lang)
    judged: list[list[tuple[str, int, int, int | None]]] = []   # per line: (clause, words, found, found in reference)
    for i, text in enumerate(src):
        target = " ".join(hyp[j] for j in counterparts[i])
        ref = references[i] if references is not None else None
        rows = []
        for clause, ws in count.clauses(text):
            rows.append((clause, len(ws), count.found(ws, target), None if ref is None else count.found(ws, ref)))
        judged.append(rows)
    total_words = sum(w for rows in judged for _, w, _, _ in rows)
    total_found = sum(f for rows in judged for _, _, f, _ in rows)
    typical = total_found / total_words if total_words else 1.0
    expected = min(cfg.expected_max, max(cfg.expected_min, typical))
    lines = []
    for i, rows in enumerate(judged):
        scores = []
        for clause, w, f, fr in rows:
            if fr is None:
                scores.append((clause, w, min(1.0, (f / w) / expected)))
            elif fr > 0:
                scores.append((clause, w, min(1.0, f / fr)))
        if not scores:  # nothing a dictionary can check: covered when it has a counterpart
            score = 1.0 if counterparts[i] or not src[i].strip() else 0.0
            lines.append(LineCoverage(i, score == 0.0, score, tuple(counterparts[i])))
            continue
        score = sum(w * s for _, w, s in scores) / sum(w for _, w, _ in scores)
        dropped = [c for c, w, s in scores if w >= cfg.min_words and s < cfg.clause_threshold]
        omitted = not counterparts[i] or score < cfg.line_threshold or bool(dropped)
        lines.append(LineCoverage(i, omitted, score if counterparts[i] else 0.0, tuple(counterparts[i]), dropped))
    return Coverage(lines=lines, added=added, expected=expected)


class _Counter:
    """Counts how many words of a source clause a target text shows, through the dictionary."""

    def __init__(self, glosser: CedictGlosser, src_lang: str) -> None:
        self.g = glosser
        self.src_lang = src_lang
        self.words = _Words(glosser)
        self._targets: dict[str, tuple] = {}

    def clauses(self, text: str) -> list:
        return self.words.zh_clauses(text) if self.src_lang == "zh" else self.words.en_clauses(text)

    def _target(self, target: str) -> tuple:
        got = self._targets.get(target)
        if got is None:
            if self.src_lang == "zh":
                stems, _names = english_bag(target)
                got = (stems, {w.lower() for w in _LATIN.findall(target)})
            else:
                bag = self.g.bags([target])[0]
                stems = set(bag.stems)
                for tok in _ZH_TOKEN.findall(target):  # characters' own glosses too, as for zh sources
                    for ch in tok:
                        stems.update(self.g.dictionary.get(ch, ()))
                got = (stems, set(bag.names))
            if len(self._targets) > 4096:
                self._targets.clear()
            self._targets[target] = got
        return got

    def found(self, words: list, target: str) -> int:
        if not target.strip():
            return 0
        stems, names = self._target(target)
        if self.src_lang == "zh":
            return sum(1 for gloss, form in words if (gloss & stems) or (form and form in names))
        return sum(1 for w in words if w in stems or w in names)


def _align(src: list[str], hyp: list[str], src_lang: str, glosser) -> tuple[list[tuple[int, ...]], list[int]]:
    """Counterparts of each source line among the hypothesis lines, and the hypothesis lines that
    are additions. Empty hypothesis lines take part in nothing."""
    keep = [j for j, h in enumerate(hyp) if h.strip()]
    kept = [hyp[j] for j in keep]
    zh, en = (src, kept) if src_lang == "zh" else (kept, src)
    counterparts: list[tuple[int, ...]] = [()] * len(src)
    added: list[int] = []
    for b in align_sentences(zh, en, glosser):
        s_ids, h_ids = (b.zh, b.en) if src_lang == "zh" else (b.en, b.zh)
        h_ids = tuple(keep[j] for j in h_ids)
        if not s_ids:
            added.extend(h_ids)
        for i in s_ids:
            counterparts[i] = h_ids
    return counterparts, sorted(added)
