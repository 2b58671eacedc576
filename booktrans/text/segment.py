"""Sentence segmentation for Chinese and English.

Chinese: split after 。！？；… (and runs of them); closing quotes and brackets stay with their
sentence. A quotation that continues after its own full stop is not split inside the quotation.
English: split after . ! ? followed by whitespace and an upper-case letter, digit or opening quote,
except after common abbreviations, single initials and inside decimals.
"""

from __future__ import annotations

import re

_ZH_END = "。！？；!?"
_ZH_CLOSE = "”’」』）)》〉】\"'"
_ZH_OPEN_QUOTES = {"“": "”", "「": "」", "『": "』", "‘": "’"}

_EN_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf", "fig",
    "no", "vol", "ch", "p", "pp", "ed", "eds", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx", "dept", "est", "gen", "gov",
    "lt", "col", "capt", "sgt", "rev", "hon", "u.s", "u.k", "a.m", "p.m", "ph.d", "al",
}
_EN_BOUNDARY = re.compile(r"""([.!?]+|\.\.\.|…)(["'”’)\]]*)(\s+)(?=["'“‘(\[]?[A-Z0-9])""")


def _split_zh(text: str) -> list[str]:
    sentences: list[str] = []
    buf: list[str] = []
    depth: list[str] = []  # stack of expected closing quotes
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        buf.append(ch)
        if ch in _ZH_OPEN_QUOTES:
            depth.append(_ZH_OPEN_QUOTES[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        if ch in _ZH_END or ch == "…":
            # absorb runs of terminal punctuation and ellipses
            while i + 1 < n and (text[i + 1] in _ZH_END or text[i + 1] == "…"):
                i += 1
                buf.append(text[i])
            # absorb closing quotes / brackets
            while i + 1 < n and text[i + 1] in _ZH_CLOSE:
                i += 1
                buf.append(text[i])
                if depth and text[i] == depth[-1]:
                    depth.pop()
            if not depth:
                # an ellipsis followed by more of the same clause is not an end
                if ch == "…" and i + 1 < n and text[i + 1] not in " \n":
                    pass
                s = "".join(buf).strip()
                if s:
                    sentences.append(s)
                buf = []
        i += 1
    tail = "".join(buf).strip()
    if tail:
        sentences.append(tail)
    return sentences


def _split_en(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for m in _EN_BOUNDARY.finditer(text):
        end = m.end(2)
        before = text[start:m.start(1)]
        last_word = re.search(r"([A-Za-z][A-Za-z.]*)$", before)
        if m.group(1) == ".":
            if last_word:
                w = last_word.group(1).lower().rstrip(".")
                if w in _EN_ABBREV or (len(w) == 1 and w.isalpha()):
                    continue  # abbreviation or initial: "Dr. Li", "J. R. Smith"
        sentences.append(text[start:end].strip())
        start = m.end(3)
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
