"""Chapter-heading detection shared by the TXT, PDF and EPUB readers.

``classify_heading`` tells whether one line is a heading and at which level:

- ``part``: a parent of chapters — 第一部, 卷一, 上卷, 第二编, PART ONE, Book I, Volume 2;
- ``chapter``: 第三章, 第十回, 第一首, Chapter 12, CHAPTER I., Chapter the First, Psalm 23, Canto IV,
  Letter 3, Stave One, and the unnumbered 序 / 楔子 / 前言 / 尾声 / 后记 / 附录 / Prologue / Preface /
  Epilogue / Afterword / Appendix A;
- ``section``: 第二节, Section 4 — inside a chapter.

Which level a book's chapters really sit at is decided per book by ``booktrans.ingest`` (a report
made only of 第X节 sections has them as its chapters).

Some forms are *weak*: a bare number ("1", "ONE", "IV", "一"), a numbered title ("3. Title",
"3、标题", "一、标题") and a Roman numeral with a title ("IV. Winter Fire"). Numbered list items,
page numbers and verse look the same, so the caller accepts weak headings only when they run 1, 2,
3, ... through the book (or through each part) and mostly follow the end of a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ZH_NUM = "零〇一二三四五六七八九十百千两0-9０-９"
_ZH_SEP = r"[\s:：、.．·　—-]*"
_ZH_END = r"[。！？；，,;!?][”’」』）)]*$|。"  # a title that ends (or holds a full stop) like a sentence
# 第X章 / 第X回 / ...: the unit word decides the level
_ZH_UNITS = {**{u: "part" for u in "部卷篇编册集"}, **{u: "chapter" for u in "章回首课讲话幕"}, "节": "section"}
# 第X章 with the decorations web-novel files add: "正文 第一章", "【第一章】"
_ZH_NUMBERED = re.compile(
    rf"^(?:正文\s*)?[【\[［]?第([{_ZH_NUM}]+)([{''.join(_ZH_UNITS)}])[】\]］]?{_ZH_SEP}(.{{0,40}})$"
)
_ZH_VOLUME = re.compile(rf"^卷(?:之)?([{_ZH_NUM}]+){_ZH_SEP}(.{{0,40}})$")  # 卷一, 卷之三
_ZH_UPPER_LOWER = re.compile(rf"^([上中下])([卷部编篇册]){_ZH_SEP}(.{{0,40}})$")  # 上卷, 下部
_ZH_UNNUMBERED = re.compile(
    r"^(序|序言|序章|序幕|自序|代序|前言|引言|引子|楔子|题记|題記|尾声|尾聲|后记|後記|"
    r"跋|结语|結語|附录|附錄|终章|終章|番外|卷首语|卷首語)(?:[\s:：、.．·　—-]+(.{1,40})|[一二三四五六七八九十]{1,3})?$"
)
_ZH_BARE = re.compile(r"^[（(]?([零〇一二三四五六七八九十百两]+)[）)]?$")  # 一 / （二）
_ZH_NUMERAL_TITLE = re.compile(r"^([一二三四五六七八九十百两]+)、\s*(\S.{0,30})$")  # 一、标题

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_ORD_ONES = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
]
_ORD_TENS = {
    "twentieth": 20,
    "thirtieth": 30,
    "fortieth": 40,
    "fiftieth": 50,
    "sixtieth": 60,
    "seventieth": 70,
    "eightieth": 80,
    "ninetieth": 90,
}
_EN_CHAPTER_WORDS = r"chapter|chap\.|psalm|canto|letter|stave|lesson|lecture"
_EN_PART_WORDS = r"part|book|volume|vol\."
_EN_KEYWORD = re.compile(rf"^({_EN_CHAPTER_WORDS}|{_EN_PART_WORDS}|section|§)\s*(\S.*)$", re.I)
_EN_SEP = re.compile(r"^[\s:.\-—–]*")
_EN_UNNUMBERED = re.compile(
    r"^(prologue|epilogue|preface|foreword|introduction|afterword|postscript|interlude|envoi|"
    r"appendix(?:\s+[A-Z0-9]{1,4})?)(?![A-Za-z])[\s:.\-—–]*(.{0,100})$",
    re.I,
)
_ROMAN_TITLE = re.compile(r"^([IVXLC]{1,6})\.\s+(\S.{0,60})$")
_BARE_ROMAN = re.compile(r"^([IVXLC]{1,7})\.?$")
_BARE_DIGITS = re.compile(r"^(\d{1,3})\.?$")
_BARE_WORD = re.compile(r"^([A-Za-z]+(?:[- ][A-Za-z]+)?)\.?$")
_NUMBERED_TITLE = re.compile(r"^(\d{1,3})(?:\.|、|\s)\s*(\S.{0,40})$")

_ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_ZH_MULT = {"十": 10, "百": 100, "千": 1000}
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


@dataclass(frozen=True)
class Heading:
    """A line recognised as a heading."""

    level: str  # part | chapter | section
    number: int | None  # 第三章 -> 3, Chapter the First -> 1, 楔子 -> None
    text: str  # the whole line
    weak: str | None = None  # the kind of a weak form (digits, roman, word, zh-numeral, numbered, ...), else None


def zh_number(s: str) -> int | None:
    """Parse 一百二十 / 十五 / 120 style numerals; None when not a number."""
    s = s.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if s.isdigit():
        return int(s)
    if not s:
        return None
    total, current = 0, 0
    for ch in s:
        if ch in _ZH_DIGITS:
            current = _ZH_DIGITS[ch]
        elif ch in _ZH_MULT:
            total += (current or 1) * _ZH_MULT[ch]
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
    # only canonical numerals (IV, not IIII or VX): words like "DID" or "MIX" are not numbers
    return total if _to_roman(total) == s else None


def _to_roman(n: int) -> str:
    out = ""
    for v, sym in (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ):
        while n >= v:
            out += sym
            n -= v
    return out


def word_number(s: str) -> int | None:
    """'one' .. 'ninety-nine', 'first' .. 'ninety-ninth' (hyphen or space between the parts)."""
    parts = re.split(r"[- ]", s.lower().strip())
    if len(parts) == 1:
        w = parts[0]
        if w in _ONES:
            return _ONES.index(w)
        if w in _ORD_ONES:
            return _ORD_ONES.index(w)
        return _TENS.get(w, _ORD_TENS.get(w))
    if len(parts) == 2 and parts[0] in _TENS:
        unit = parts[1]
        if unit in _ONES[1:10]:
            return _TENS[parts[0]] + _ONES.index(unit)
        if unit in _ORD_ONES[1:10]:
            return _TENS[parts[0]] + _ORD_ONES.index(unit)
    return None


def _split_en_number(rest: str) -> tuple[int, str] | None:
    """(number, title) from what follows a heading keyword: "12: The Storm", "I.", "the First",
    "Twenty-One", "Twenty One. Home", "IV In Which ..."; None when no number comes first."""
    m = re.match(r"(the\s+)?([A-Za-z0-9]+)(?:[- ]([A-Za-z]+))?", rest, re.I)
    if not m:
        return None
    first, second = m.group(2), m.group(3)
    end = m.end()
    num: int | None
    if second and word_number(f"{first}-{second}") is not None:
        num = word_number(f"{first}-{second}")
    else:
        end = m.end(2)
        if m.group(1):
            num = word_number(first)
        elif first.isdigit():
            num = int(first) if len(first) <= 4 else None
        else:
            num = roman_number(first) if roman_number(first) is not None else word_number(first)
    if num is None or (end < len(rest) and rest[end].isalnum()):
        return None
    return num, _EN_SEP.sub("", rest[end:])


def _title_like(s: str) -> bool:
    """A heading's title, not a sentence: no final comma or semicolon, and a final full stop only
    when the words are capitalised (Gutenberg's "CHAPTER II. In Which Passepartout Is Convinced.")."""
    s = s.strip()
    if not s:
        return True
    if s[-1] in ",;，；":
        return False
    if s[-1] in ".!?":
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’]*", s) if len(w) > 3]
        return bool(words) and sum(w[0].isupper() for w in words) >= 0.6 * len(words)
    return True


def classify_heading(line: str, lang: str) -> Heading | None:
    """The heading ``line`` is, or None. English forms are recognised in both languages (Chinese books
    quote them too); Chinese forms only in Chinese editions."""
    line = line.strip()
    if not line or len(line) > 160:
        return None
    if lang == "zh":
        h = _classify_zh(line)
        if h is not None:
            return h
    return _classify_en(line)


def _classify_zh(line: str) -> Heading | None:
    if len(line) > 60:
        return None
    m = _ZH_NUMBERED.match(line)
    if m and not re.search(_ZH_END, m.group(3)):
        return Heading(_ZH_UNITS[m.group(2)], zh_number(m.group(1)), line)
    m = _ZH_VOLUME.match(line)
    if m and not re.search(_ZH_END, m.group(2)):
        return Heading("part", zh_number(m.group(1)), line)
    m = _ZH_UPPER_LOWER.match(line)
    if m and not re.search(_ZH_END, m.group(3)):
        return Heading("part", "上中下".index(m.group(1)) + 1, line)
    m = _ZH_UNNUMBERED.match(line)
    if m and not re.search(_ZH_END, m.group(2) or ""):
        return Heading("chapter", None, line)
    m = _ZH_BARE.match(line)
    if m:
        return Heading("chapter", zh_number(m.group(1)), line, weak="zh-numeral")
    m = _ZH_NUMERAL_TITLE.match(line)
    if m and not re.search(_ZH_END, m.group(2)):
        return Heading("chapter", zh_number(m.group(1)), line, weak="zh-numbered")
    return None


def _classify_en(line: str) -> Heading | None:
    m = _EN_KEYWORD.match(line)
    if m:
        got = _split_en_number(m.group(2))
        if got is not None and _title_like(got[1]) and len(got[1]) <= 120:
            key = m.group(1).lower()
            level = (
                "chapter" if re.fullmatch(_EN_CHAPTER_WORDS, key) else "section" if key in ("section", "§") else "part"
            )
            return Heading(level, got[0], line)
    m = _EN_UNNUMBERED.match(line)
    if m and m.group(1)[0].isupper() and _title_like(m.group(2)) and len(line) <= 100:
        return Heading("chapter", None, line)
    if len(line) > 80:
        return None
    m = _ROMAN_TITLE.match(line)
    if m and roman_number(m.group(1)) is not None and not m.group(2).endswith((".", ",", ";", "。")):
        return Heading("chapter", roman_number(m.group(1)), line, weak="roman-title")
    m = _BARE_ROMAN.match(line)
    if m and roman_number(m.group(1)) is not None:
        return Heading("chapter", roman_number(m.group(1)), line, weak="roman")
    m = _BARE_DIGITS.match(line)
    if m:
        return Heading("chapter", int(m.group(1)), line, weak="digits")
    m = _BARE_WORD.match(line)
    if m and (line.isupper() or line.istitle()):
        num = word_number(m.group(1))
        if num is not None and num > 0:
            return Heading("chapter", num, line, weak="word")
    m = _NUMBERED_TITLE.match(line)
    if (
        m
        and not re.search(r"[.,;:。，；！？!?]$", m.group(2))
        and len(m.group(2)) <= 30
        and (m.group(2)[0].isupper() or not m.group(2)[0].isascii())
    ):
        return Heading("chapter", int(m.group(1)), line, weak="numbered")
    return None


def is_numbered_heading(line: str) -> bool:
    """True when ``line`` is a heading only by a weak form (kept for callers of the old interface)."""
    h = classify_heading(line, "zh")
    return h is not None and h.weak is not None


def parse_heading(line: str, lang: str) -> tuple[int | None, str] | None:
    """(number or None, the whole line) when ``line`` is a heading of any level, else None."""
    h = classify_heading(line, lang)
    return None if h is None else (h.number, h.text)
