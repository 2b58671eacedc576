"""Plain-text books in any encoding (see ``encoding.py`` for how the encoding is found): hard-wrapped
lines rejoined into paragraphs, heading lines marked.

Headings are found two ways. A line that reads as one (第三章, CHAPTER III., 楔子) is a heading when it
stands on its own — never when, in a hard-wrapped file, it fills the line and the next line carries
on its sentence ("第一回到北京的时候……" is body text). A line that reads as nothing in particular is a
*layout title* when the page sets it apart the way books set titles: short, not a sentence (no final
full stop or comma; English in capitals or title case), with nothing continuing it, and marked by the
layout — less indented than the book's paragraphs (unindented among indented body lines), indented
far more than they are (centred), or, in capitals or behind two blank lines, alone between blank
lines. Three or more such lines in a row are a title page, verse or a contents list, not titles; a
contents list whose entries repeat later titles is dropped (``contents``).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ..text.headings import Heading, classify_heading
from ..text.lang import display_width
from .boilerplate import GUTENBERG_END, GUTENBERG_START
from .encoding import decode_text
from .model import Block, IngestOptions, ReadResult

_SENTENCE_END_ZH = tuple("。，、；：！？…—～”’」』,;:!?")
_SENTENCE_END_EN = tuple(",;:!?…—-")
_OPEN_QUOTES = tuple("“‘「『\"'*_□■◆●★☆※#=-")
_BRACKETED = re.compile(
    r"^(?:\[.*\]|〔.*〕|[(（].*[)）]|【.*】|<.*>|［.*］)$"
)  # [Illustration], 〔《呐喊》〕: a note, not a title
_DATE_ZH = re.compile(
    r"^[〔(（]?[一二三四五六七八九〇○零十0-9０-９]{2,4}年|^[一二三四五六七八九十0-9]{1,3}月[一二三四五六七八九十0-9]{0,3}日"
)
_PAGE_REF = re.compile(
    r"(?:\s{2,}|\s*[.…·]{2,}\s*|\s+_?Page_?\s*)[\s.…·]*(?:\d{1,4}|[ivxlc]{1,6})\s*$|[.…·]{4,}\S{0,40}\s*$", re.I
)
_CONTENTS = re.compile(
    r"^\s*(contents\.?|table of contents\.?|目\s*录[:：]?|目\s*錄[:：]?|.{0,12}目录[:：]?)\s*$", re.I
)
_INDENT_CHARS = " \t\u3000\u00a0"


def decode_bytes(data: bytes, path: str | Path, lang: str | None = None) -> tuple[str, str]:
    """(text, encoding name) of a text file's bytes; see ``encoding.decode_text``."""
    d = decode_text(data, path, lang)
    return d.text, d.encoding


def _nonspace(text: str) -> int:
    return len(text) - sum(text.count(c) for c in " \t\n\r\u3000\u00a0\x0c\v")


def _join(a: str, b: str, lang: str) -> str:
    if lang == "zh":
        return a + b
    if a.endswith("-") and b[:1].islower():
        return a[:-1] + b
    return a + " " + b


def _indent(line: str) -> int:
    """Columns of leading white space: an ideographic space is two, a tab four."""
    n = 0
    for ch in line:
        if ch == "\u3000":
            n += 2
        elif ch == "\t":
            n += 4
        elif ch in " \u00a0":
            n += 1
        else:
            break
    return n


_NOTE_MARK = re.compile(r"[〔\[（(][0-9０-９]{1,3}[〕\]）)]|[\u2460-\u24ff\u2776-\u2793]")  # 〔１〕, [1], ⑴, ①
_PRIVATE = re.compile(r"[\ue000-\uf8ff]")


def _key(title: str) -> str:
    """A title reduced for comparison (contents entries against the titles in the text): no page
    number or dot leaders (nor what follows them), no note marks, no spaces or punctuation."""
    title = re.split(r"[.…·]{4,}", title)[0]
    return re.sub(r"[\W_]+", "", _NOTE_MARK.sub("", _PAGE_REF.sub("", title))).lower()


def title_text(s: str, lang: str) -> bool:
    """``s`` (stripped) reads as a title, not a sentence or a fragment of one."""
    s = _PRIVATE.sub("", s).strip()
    if (
        not s
        or _BRACKETED.match(s)
        or s.startswith(_OPEN_QUOTES)
        and not (s.upper() == s and any(c.isalpha() for c in s))
    ):
        return False
    if lang == "zh" and re.search(r"[\u4e00-\u9fff]", s):
        if s.endswith(_SENTENCE_END_ZH) or "。" in s or "，" in s or _DATE_ZH.search(s):
            return False
        return display_width(s) <= 40
    words = re.findall(r"[A-Za-z][A-Za-z'’\-]*", s)
    if not words or len(words) > 12 or display_width(s) > 70 or s.endswith(_SENTENCE_END_EN):
        return False
    if re.fullmatch(r"(?:[A-Z]\.\s?){1,4}", s):
        return False  # initials signing a preface
    if s.upper() == s:
        return True  # THE MERMAID OF ZENNOR, "THE FIDDLE AND THE BOW."
    if "," in s or ";" in s:
        return False  # "Published March, 1909."
    long = [w for w in words if len(w) > 3]
    if s.endswith(".") and len(words) > 6:
        return False  # "1. First Day." and "Christ's Childhood." are titles, a short sentence is not
    return bool(long) and all(w[0].isupper() for w in long) and words[0][0].isupper()


def read_txt(path: str | Path, lang: str, opts: IngestOptions | None = None) -> ReadResult:
    path = Path(path)
    pattern = opts.pattern() if opts else None
    data = path.read_bytes()
    decoded = decode_text(data, path, lang)
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2029", "\n").replace("\u2028", "\n")
    lines = [raw_line.rstrip() for raw_line in text.split("\n")]
    result = ReadResult(
        blocks=[],
        format="txt",
        encoding=decoded.encoding,
        chars_extracted=_nonspace(text),
        bad_bytes=decoded.bad_bytes,
        proposals=decoded.proposals,
    )
    if decoded.bad_bytes:
        result.warnings.append(
            f"{decoded.bad_bytes} invalid UTF-8 byte(s) replaced (the first at byte "
            f"{decoded.first_bad}); the rest of the file is valid UTF-8"
        )
    n = len(lines)
    indents = [_indent(raw_line) for raw_line in lines]
    widths = [display_width(raw_line.strip()) for raw_line in lines]
    ends = [i + w for i, w in zip(indents, widths)]
    filled = sorted(e for e, raw_line in zip(ends, lines) if raw_line.strip())
    wrapped = False
    full = 0
    if filled:
        full = filled[int(0.98 * (len(filled) - 1))]
        near_full = sum(1 for w in filled if w >= 0.85 * full)
        wrapped = full >= 40 and near_full >= 0.4 * len(filled)
    # the book's paragraph indent: the usual indent of a line that starts a paragraph
    starts = [
        indents[i]
        for i in range(n)
        if lines[i].strip() and widths[i] >= 20 and (i == 0 or not lines[i - 1].strip() or indents[i] > 0)
    ]
    para_indent = Counter(starts).most_common(1)[0][0] if starts else 0
    # paragraphs separated by blank lines: most lines that end a paragraph (short in a wrapped file,
    # every line otherwise) have a blank line after them
    ends_par = [i for i in range(n - 1) if lines[i].strip() and (not wrapped or ends[i] < 0.8 * full)]
    blank_separated = sum(1 for i in ends_par if not lines[i + 1].strip()) >= 0.5 * max(1, len(ends_par))

    def blank(i: int) -> bool:
        return i < 0 or i >= n or not lines[i].strip()

    def continues(i: int) -> bool:
        """Line i (non-blank) is carried on by line i + 1: a wrapped line filling the width, the next
        line neither blank nor indented as a new paragraph."""
        if not wrapped or blank(i + 1) or ends[i] < 0.8 * full:
            return False
        return not (indents[i + 1] > 0 and indents[i + 1] >= para_indent > 0)

    def apart(i: int) -> bool:
        """Nothing runs into line i or out of it: a blank line (or, in a file of one paragraph per line,
        a finished sentence) before it; a blank line or the start of a paragraph after it."""
        before = blank(i - 1) or (not wrapped and lines[i - 1].rstrip().endswith(_SENTENCE_END_ZH + tuple(".")))
        after = (
            blank(i + 1)
            or not wrapped
            or (para_indent > 0 and indents[i + 1] == para_indent)
            or (blank(i + 2) and title_text(lines[i + 1].strip(), lang))
        )  # a subtitle under it
        return before and after

    def layout_title(i: int) -> bool:
        if widths[i] > 70 or not apart(i):  # cheap tests first: most lines are long or run on
            return False
        s = lines[i].strip()
        if not title_text(s, lang) or GUTENBERG_START.search(s) or GUTENBERG_END.search(s):
            return False
        ind = indents[i]
        if wrapped and ind >= 0.4 * full and ends[i] >= 0.85 * full:
            return False  # set to the right margin: a signature or a date
        if para_indent >= 2 and ind < para_indent and (ind == 0 or ind <= para_indent - 2):
            return True  # unindented among indented paragraphs
        if ind >= max(para_indent + 4, 6):
            centred.append(i)
            return True  # centred, or set well in from the paragraphs
        if blank(i - 1) and blank(i + 1):
            gap = 0  # blank lines before it (the start of the file is none)
            while gap < 3 and i - gap - 1 >= 0 and blank(i - gap - 1):
                gap += 1
            if gap >= (2 if blank_separated else 1) + (1 if lang == "zh" and blank_separated else 0):
                return True  # more blank lines before it than between paragraphs
            k = i + 1
            while k < n and blank(k):
                k += 1
            nxt = classify_heading(lines[k].strip(), lang) if k < n and gap >= 2 else None
            return nxt is not None and nxt.number in (0, 1)  # a story's name over its section 一
        return False

    # lines inside a bracketed block ("[Illustration: ... ]" over several lines) are never titles
    in_brackets: set[int] = set()
    open_at = None
    for i, line in enumerate(lines):
        s = line.strip()
        if open_at is None and s.startswith("[") and "]" not in s:
            open_at = i
        if open_at is not None:
            in_brackets.add(i)
            if "]" in s:
                open_at = None
    # 1. mark headings and layout titles
    centred: list[int] = []
    kinds: list[str | None] = [None] * n  # "strong" | "weak" | "title" | None
    infos: dict[int, object] = {}
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or len(s) > 160 or i in in_brackets:
            continue
        if pattern is not None and pattern.fullmatch(s):
            kinds[i] = "strong"
            infos[i] = classify_heading(s, lang)
            continue
        info = classify_heading(s, lang)
        if info is not None and not continues(i) and not (wrapped and not blank(i - 1) and continues(i - 1)):
            kinds[i] = "strong" if info.weak is None else "weak"
            infos[i] = info
            continue
        if pattern is None and i not in in_brackets and layout_title(i):
            kinds[i] = "title"
    # the file's first line over a chapter heading is the book's name: it stays text, as before
    first = next((i for i in range(n) if not blank(i)), None)
    if first is not None and kinds[first] == "title":
        k = first + 1
        while k < n and blank(k):
            k += 1
        if k < n and kinds[k] == "strong":
            kinds[first] = None
    # a chapter's number on one line and its name on the next ("I", then "UNDER THE SOUTHERN PINES"):
    # one heading, whatever marks the name
    merged: dict[int, int] = {}  # the number's line -> the name's line
    for i in range(n):
        if (
            kinds[i] in ("weak", "strong")
            and infos.get(i) is not None
            and infos[i].number is not None
            and len(_key(lines[i])) <= 12
        ):
            j = i + 1
            while j < n and j <= i + 3 and blank(j):
                j += 1
            if (
                j < n
                and j > i
                and kinds[j] in (None, "title")
                and title_text(lines[j].strip(), lang)
                and classify_heading(lines[j].strip(), lang) is None
                and (blank(j + 1) or not wrapped)
            ):
                merged[i] = j
                kinds[j] = "merged"
    # the file's first lines name the book: the same name further on, right over chapter I, is no title
    start = next((i + 1 for i in range(min(n, 400)) if GUTENBERG_START.search(lines[i])), 0)
    head = [i for i in range(start, n) if not blank(i)][:8]
    names = {_key(lines[i]) for i in head}
    for i in range(head[-1] + 1 if head else n, n):
        if kinds[i] == "title" and _key(lines[i]) in names:
            j = i + 1
            while j < n and blank(j):
                j += 1
            if j < n and kinds[j] in ("weak", "strong") and infos.get(j) is not None and infos[j].number in (0, 1):
                kinds[i] = None
    # a book centres its titles on one column: a line set in far off it is a quoted notice or card
    if len(centred) >= 3:
        mids = sorted(indents[i] + widths[i] / 2 for i in centred)
        mid = mids[len(mids) // 2]
        for i in centred:
            if abs(indents[i] + widths[i] / 2 - mid) > max(8, 0.15 * full):
                kinds[i] = None
    # 2. runs of titles with no text between them: a title page, verse or a contents list
    i = 0
    contents_runs: list[tuple[int, int]] = []
    while i < n:
        if kinds[i] is None or kinds[i] == "merged":
            i += 1
            continue
        k = i
        run = []
        while k < n and (blank(k) or kinds[k] is not None):
            if not blank(k) and kinds[k] != "merged":
                run.append(k)
            elif k >= 3 and blank(k - 1) and blank(k - 2):
                break  # three blank lines: the next title is another one
            k += 1
        if len(run) >= 3:
            contents_runs.append((run[0], run[-1]))
            for r in run:
                if kinds[r] == "title":
                    kinds[r] = None
        elif len(run) == 2 and kinds[run[1]] == "title":
            kinds[run[1]] = None  # a subtitle or a byline under the title stays text
        i = k
    # a title heads text. In the front matter (before the first numbered heading and the first title
    # with prose under it) a title must have a full line of prose under it, unless its section 1 follows: a title page's
    # "TENTH IMPRESSION" or a publisher's line is none. Further on, a line inside verse (short lines set in deeper than
    # the paragraphs on both sides of it, like a song's refrain) is none.
    first_numbered = next((i for i in range(n) if kinds[i] in ("weak", "strong")), n)

    def verse(k: int) -> bool:
        return (
            0 <= k < n
            and not blank(k)
            and kinds[k] is None
            and indents[k] > para_indent
            and widths[k] < 0.6 * max(full, 1)
        )

    front = True  # until the first numbered heading, or the first title with prose under it
    for i in range(n):
        if kinds[i] != "title":
            continue
        if i < start:
            kinds[i] = None  # Project Gutenberg's header ("Title: ...") is cut with it
            continue
        if not front or i > first_numbered:
            p, q = i - 1, i + 1
            while p >= 0 and blank(p):
                p -= 1
            while q < n and blank(q):
                q += 1
            if verse(p) and verse(p - 1) and verse(q) and verse(q + 1):
                kinds[i] = None
            continue
        k, prose, seen = i + 1, False, 0
        while k < n and kinds[k] is None:
            if not blank(k) and seen < 3:  # the first lines under it: a full line, not verse
                seen += 1
                prose = (
                    prose
                    or widths[k] >= min(80, max(40, 0.6 * full))
                    or (not wrapped and widths[k] >= 40 and lines[k].rstrip().endswith(_SENTENCE_END_ZH + tuple(".")))
                )
            k += 1
        nxt = infos.get(k) if k < n else None
        if not prose and not (nxt is not None and getattr(nxt, "number", None) in (0, 1)) and k < n:
            kinds[i] = None
        else:
            front = False

    def heading_text(i: int) -> str:
        s = lines[i].strip()
        if i in merged:
            title = lines[merged[i]].strip()
            s = f"{s} {title}" if lang == "zh" or not s[-1:].isalnum() else f"{s}. {title}"
        return s

    last_at: dict[str, int] = {}  # where each heading's title last stands
    for i in range(n):
        if kinds[i] is not None and kinds[i] != "merged":
            last_at[_key(heading_text(i))] = i
    later_titles = set(last_at)
    dropped_lines: set[int] = set()
    for a, b in contents_runs:
        entries = [r for r in range(a, b + 1) if lines[r].strip()]
        hits = sum(1 for r in entries if last_at.get(_key(lines[r]), -1) > b)  # named again further on
        if hits >= 3 and hits >= 0.5 * len(entries):
            for r in entries:
                kinds[r] = None
            dropped_lines.update(entries)
            k = a - 1
            while k >= 0 and blank(k):
                k -= 1
            if k >= 0 and _CONTENTS.match(lines[k]):
                dropped_lines.add(k)
    # a contents list of consecutive lines naming later titles ("目录" then 狗·猫·鼠, 二十四孝图, ...)
    i = 0
    while i < n:
        j = i
        while j < n and lines[j].strip() and kinds[j] is None and widths[j] <= 80:
            j += 1
        if j - i >= 3:
            hits = sum(1 for r in range(i, j) if _key(lines[r]) in later_titles)
            if hits >= 3 and hits >= 0.25 * (j - i):
                dropped_lines.update(range(i, j))
        i = j + 1
    # contents lines with page numbers ("The Mermaid of Zennor ...... 4") that name later titles
    for i in range(n):
        s = lines[i].strip()
        if (
            s
            and kinds[i] is None
            and widths[i] <= 100
            and _PAGE_REF.search(s)
            and len(_key(s)) >= 2
            and _key(s) in later_titles
        ):
            dropped_lines.add(i)
    for i in range(n):
        if i in dropped_lines:
            continue
        s = lines[i].strip()
        if s and widths[i] <= 40 and _CONTENTS.match(s) and any(d > i and d - i <= 4 for d in dropped_lines):
            dropped_lines.add(i)
    if dropped_lines:
        result.drop("contents", len(dropped_lines))

    # 3. paragraphs
    buf: list[str] = []
    buf_start = 0

    def flush() -> None:
        nonlocal buf
        if buf:
            joined = buf[0]
            for nxt in buf[1:]:
                joined = _join(joined, nxt, lang)
            result.blocks.append(Block(text=joined, loc=f"l{buf_start + 1}"))
        buf = []

    def deliberate_break(i: int) -> bool:
        """The wrap width would have held the next line's first word: the line ended a paragraph."""
        nxt = lines[i + 1].strip() if i + 1 < n else ""
        if not nxt:
            return True
        first = nxt[:1] if display_width(nxt[:1]) == 2 else nxt.split()[0]
        return ends[i] + (0 if display_width(first[:1]) == 2 else 1) + display_width(first) <= full

    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if i in dropped_lines:
            flush()
            continue
        if kinds[i] == "merged":
            flush()
            continue  # the name's line is part of the number's heading above it
        if kinds[i] is not None:
            flush()
            info = infos.get(i)
            text = heading_text(i)
            if i in merged and info is not None:
                info = Heading(info.level, info.number, text, info.weak)
            result.blocks.append(Block(text=text, loc=f"l{i + 1}", heading=True, info=info, layout=kinds[i] == "title"))
            continue
        if not wrapped:
            flush()
            buf, buf_start = [stripped], i
            flush()
            continue
        if line[:1] in _INDENT_CHARS:
            flush()
        if not buf:
            buf_start = i
        buf.append(stripped)
        if deliberate_break(i) or (i + 1 < n and lines[i + 1][:1] in _INDENT_CHARS):
            flush()
    flush()
    return result
