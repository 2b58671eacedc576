"""Sentence segmentation for Chinese and English.

Chinese: a sentence ends after 。！？!? (and runs of them), with the closing quotes and brackets that
follow it (”」』）…). Sentences end inside quotations too (``他说：“我来了。你呢？”`` is two
sentences), so one stray quotation mark can never swallow a paragraph; quotes only decide which
closing marks stay with their sentence. An ellipsis (…… or ...) ends a sentence only where the
paragraph or a quotation ends with it (``我叫……叫小玄子。`` is one sentence). A semicolon does not
end a sentence (the gold sentence splits of MAC-Dev and the non-literary sets never cut at ；).

English: a candidate boundary is . ! ? (or an ellipsis, or a dash closing a quotation) followed by
space and a capital, digit or opening quote. Where the word before the full stop could be an
abbreviation or an initial (Mr., No., p.m., a single letter), the decision is pysbd's (a well-kept
rule-based segmenter): "She said no. Nobody argued." splits, "No. 5 is next." does not. Everywhere
else the rule decides, because pysbd alone merges dialogue: in literary text it treats everything
between single quotes as one quotation and misses about one English boundary in six on MAC-Dev
(docs/align.md, "Sentence splitting", has the measurement).

Verse lines (newlines inside a paragraph) are always sentences. Every sentence is a stripped
substring of its paragraph, in order: nothing is lost or rewritten.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ZH_END = "。！？!?"
_ZH_ELLIPSIS = "…"
_ZH_CLOSE = "”’」』）)》〉】\"'"

_EN_ABBREV = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "cf",
    "fig",
    "no",
    "vol",
    "ch",
    "p",
    "pp",
    "ed",
    "eds",
    "inc",
    "ltd",
    "co",
    "corp",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "approx",
    "dept",
    "est",
    "gen",
    "gov",
    "lt",
    "col",
    "capt",
    "sgt",
    "rev",
    "hon",
    "u.s",
    "u.k",
    "a.m",
    "p.m",
    "ph.d",
    "al",
}
_EN_BOUNDARY = re.compile(
    r"""(?:([.!?]+|\.\.\.|…)|([—–]))(?(2)(["'”’)\]]+)|(["'”’)\]]*))(\s+)(?(2)(?=["'“‘])|(?=["'“‘(\[]?[A-Z0-9]))"""
)


def _split_zh(text: str) -> list[str]:
    sentences: list[str] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _ZH_END or ch == _ZH_ELLIPSIS or text.startswith("...", i):
            j = i
            while j < n and (text[j] in _ZH_END or text[j] in _ZH_ELLIPSIS or text[j] == "."):
                j += 1
            k = j
            while k < n and (text[k] in _ZH_CLOSE or text[k] == " "):
                k += 1
            closed = any(c in _ZH_CLOSE for c in text[j:k])
            only_ellipsis = all(c in _ZH_ELLIPSIS or c == "." for c in text[i:j])
            # an ellipsis is a pause inside the sentence unless a quotation or the paragraph ends with it
            if not only_ellipsis or closed or k >= n:
                s = text[start:k].strip()
                if s:
                    sentences.append(s)
                start = k
            i = k
        else:
            i += 1
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


@lru_cache(maxsize=1)
def _pysbd():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _pysbd_starts(text: str) -> set[int]:
    """Offsets where pysbd starts a sentence (its first non-space character)."""
    starts = set()
    for span in _pysbd().segment(text):
        k = span.start
        while k < len(text) and text[k].isspace():
            k += 1
        starts.add(k)
    return starts


def _split_en(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    library: set[int] | None = None
    for m in _EN_BOUNDARY.finditer(text):
        end = m.end(3) if m.group(2) else m.end(4)
        nxt = m.end(5)
        if m.group(1) == ".":
            before = text[start : m.start(1)]
            last_word = re.search(r"([A-Za-z][A-Za-z.]*)$", before)
            if last_word:
                w = last_word.group(1).lower().rstrip(".")
                if w in _EN_ABBREV or len(w) == 1:
                    # an abbreviation or an initial, or a word that only looks like one: pysbd decides
                    if library is None:
                        library = _pysbd_starts(text)
                    if nxt not in library:
                        continue
        sentences.append(text[start:end].strip())
        start = nxt
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def split_sentences(text: str, lang: str) -> list[str]:
    """Split one paragraph into sentences. Verse lines (newlines inside a paragraph) always split."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        out.extend(_split_zh(line) if lang == "zh" else _split_en(line))
    return out
