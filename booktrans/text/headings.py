"""Chapter-heading detection shared by the TXT, PDF and EPUB readers."""

from __future__ import annotations

import re

_ZH_NUM = "零〇一二三四五六七八九十百千两0-9０-９"
_ZH_HEADING = re.compile(rf"^\s*(第[{_ZH_NUM}]+[章回节卷部篇首])(?:[\s:：、.．]*)(.{{0,40}})$")
_EN_HEADING = re.compile(r"^\s*((?:chapter|book|part)\s+(?:\d+|[ivxlcdm]+|[a-z]+))\b[\s:.\-—]*(.{0,60})$", re.I)
_ROMAN_HEADING = re.compile(r"^\s*([IVXLC]{1,6})\.\s+(\S.{0,60})$")
_NUMBERED_HEADING = re.compile(r"^\s*(\d{1,3})(?:\.|、|\s)\s*(\S.{0,40})$")

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def zh_number(s: str) -> int | None:
    """Parse 一百二十 / 十五 / 120 style numerals; None when not a number."""
    s = s.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if s.isdigit():
        return int(s)
    total, current = 0, 0
    for ch in s:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            total += (current or 1) * _ZH_UNITS[ch]
            current = 0
        else:
            return None
    return total + current


def roman_number(s: str) -> int | None:
    s = s.upper()
    if not s or any(c not in _ROMAN for c in s):
        return None
    total = 0
    for a, b in zip(s, s[1:] + " "):
        v = _ROMAN[a]
        total += -v if b != " " and _ROMAN.get(b, 0) > v else v
    return total


def is_numbered_heading(line: str) -> bool:
    """True when ``line`` is a heading only by the weak "12. Title" / "12、标题" pattern, which list
    items share; callers accept such headings only when their numbers run 1, 2, 3, ... in a book."""
    line = line.strip()
    return bool(_NUMBERED_HEADING.match(line)) and not _ZH_HEADING.match(line) and not _EN_HEADING.match(line) \
        and not _ROMAN_HEADING.match(line)


def parse_heading(line: str, lang: str) -> tuple[int | None, str] | None:
    """Return (chapter number or None, full heading text) when ``line`` is a chapter heading."""
    line = line.strip()
    if not line or len(line) > 80:
        return None
    if lang == "zh":
        m = _ZH_HEADING.match(line)
        if m and not re.search(r"[。！？；，]$", m.group(2)):
            return zh_number(m.group(1)[1:-1]), line
    m = _EN_HEADING.match(line)
    if m and not m.group(2).rstrip().endswith((".", ",", ";")):
        word = m.group(1).split()[-1]
        num = int(word) if word.isdigit() else roman_number(word)
        return num, line
    m = _ROMAN_HEADING.match(line)
    if m and not m.group(2).endswith((".", ",", ";", "。")):
        return roman_number(m.group(1)), line
    m = _NUMBERED_HEADING.match(line)
    if m and not re.search(r"[.,;。，；！？!?]$", m.group(2)) and len(m.group(2)) <= 30:
        return int(m.group(1)), line
    return None
