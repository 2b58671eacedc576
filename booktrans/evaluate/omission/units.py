"""Units: the translation cut into sentences and clauses, the pieces source sentences align to.

Each translation line is split into sentences (the project's splitter), those again after any
sentence-final mark left inside them, and each piece into clauses (at commas, semicolons and
colons, and before an opening bracket that follows text). A source sentence dropped between two
others whose translations were merged into one sentence then leaves no unit of its own.
"""

from __future__ import annotations

import re
from typing import Sequence

from ...text import split_sentences

_ZH_CLAUSE = re.compile(r"(?<=[，；：,;:])")
_EN_CLAUSE = re.compile(r"(?<=[,;:])\s+")
_SPACE = re.compile(r"\s+")
# an opening bracket after text starts a unit: "Improve the level of open economy (April 8, 2013)" is a
# heading and the date after it, two source sentences (提高开放型经济水平 / （2013年4月8日）) that a
# translation without a final mark runs into one sentence
_EN_BRACKET = re.compile(r"(?<=\S)\s+(?=[(\[])")
_ZH_BRACKET = re.compile(r"(?<=[^\s（(\[【])(?=[（【])")


def clauses(sentence: str, lang: str) -> list[str]:
    """A sentence cut after commas, semicolons and colons (the clause units of the alignment)."""
    parts = _ZH_CLAUSE.split(sentence) if lang == "zh" else _EN_CLAUSE.split(sentence)
    return [p for p in parts if p.strip()]


def brackets(piece: str, lang: str) -> list[str]:
    """A clause cut before each opening bracket that follows text (a unit of its own: a unit too many
    costs the alignment nothing)."""
    parts = (_ZH_BRACKET if lang == "zh" else _EN_BRACKET).split(piece)
    return [p for p in parts if p.strip()]


def char_length(text: str, lang: str) -> int:
    """Characters without spaces for Chinese, characters for English (the Gale-Church unit)."""
    return len(_SPACE.sub("", text)) if lang == "zh" else len(text)


def split_reference(text: str, weights: Sequence[float], lang: str) -> list[str]:
    """Cut the reference of a bead holding several source sentences into one piece per sentence, in
    proportion to ``weights`` (their lengths), at word boundaries for English. Each cut moves to the
    nearest sentence end within the length of the shorter of the two pieces it separates, else to the
    nearest clause end there, leaving each piece a token at least: a reference sentence cut mid-way
    gives each source sentence part of the other's words, which then look missing from its
    translation."""
    if len(weights) <= 1:
        return [text]
    total = sum(weights) or 1.0
    toks = list(_SPACE.sub("", text)) if lang == "zh" else text.split()
    n = len(toks)
    if lang == "zh":  # a token is a character: the marks and the quotes after them are tokens of their own
        ends = [m.end() for m in _ZH_END.finditer("".join(toks)) if m.end() < n]
    else:
        ends = [k + 1 for k in range(n - 1) if _TOK_END.search(toks[k])]
    clause_ends = [k + 1 for k in range(n - 1) if _TOK_CLAUSE.search(toks[k])]
    cuts, acc, prev = [], 0.0, 0
    for k, w in enumerate(weights[:-1]):
        acc += w
        want = n * acc / total
        reach = n * min(w, weights[k + 1]) / total
        cut = round(want)
        for marks in (ends, clause_ends):
            near = [e for e in marks if abs(e - want) <= reach and prev < e < n]
            if near:
                cut = min(near, key=lambda e: (abs(e - want), e))
                break
        cut = min(max(cut, prev), n)
        cuts.append(cut)
        prev = cut
    bounds = [0, *cuts, n]
    sep = "" if lang == "zh" else " "
    return [sep.join(toks[a:b]) for a, b in zip(bounds, bounds[1:])]


# an English token that ends a sentence (closing quotes and brackets after the mark), or a clause
_TOK_END = re.compile(r"[!?.…]+[”’)\]\"']*$")
_TOK_CLAUSE = re.compile(r"[，；：,;:、]$")


_ZH_END = re.compile(r"[。！？!?]+[”’」』）)\"']*")
_EN_END = re.compile(r"[.!?]+[\"'”’)\]]*\s+")


def cut_ends(sentence: str, lang: str) -> list[str]:
    """A sentence cut after each sentence-final mark inside it."""
    out, start = [], 0
    for m in (_ZH_END if lang == "zh" else _EN_END).finditer(sentence):
        if m.end() < len(sentence.rstrip()):
            out.append(sentence[start : m.end()])
            start = m.end()
    out.append(sentence[start:])
    return [p for p in out if p.strip()]


def units_of(hyp: list[str], tgt_lang: str) -> tuple[list[str], list[int], list[bool], list[int]]:
    """Clause units of the translation: text, line, starts a sentence, sentence id. Sentences come
    from the project's splitter; they are also cut after every sentence-final mark it left inside
    (unbalanced quotes, a dash or a lower-case word after a full stop): a unit too many costs the
    alignment nothing, a sentence too long hides a dropped one."""
    units, line, start, sent = [], [], [], []
    s_id = 0
    for k, h in enumerate(hyp):
        for s in split_sentences(h, tgt_lang):
            for piece in cut_ends(s, tgt_lang):
                for c_i, c in enumerate(c for cl in clauses(piece, tgt_lang) for c in brackets(cl, tgt_lang)):
                    units.append(c)
                    line.append(k)
                    start.append(c_i == 0)
                    sent.append(s_id)
                s_id += 1
    return units, line, start, sent
