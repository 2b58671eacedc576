"""Language identification by script and per-language length units."""

from __future__ import annotations

import re

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def script_shares(text: str) -> tuple[float, float]:
    """(share of Han characters, share of Latin letters) among letters of the text."""
    han = len(_HAN.findall(text))
    latin = sum(len(w) for w in _LATIN_WORD.findall(text))
    total = han + latin
    if total == 0:
        return 0.0, 0.0
    return han / total, latin / total


def detect_lang(text: str) -> str | None:
    """'zh', 'en' or None when the text has too few letters to tell."""
    han = len(_HAN.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if han + latin_words < 10:
        return None
    # Compare Han characters with Latin *words*: one Chinese character carries about as much as a word.
    return "zh" if han >= latin_words else "en"


def length(text: str, lang: str) -> int:
    """Length in the language's unit: characters (no spaces) for Chinese, words for English."""
    if lang == "zh":
        return len(re.sub(r"\s+", "", text))
    return len(_WORD.findall(text))
