"""PDF books with pymupdf.

Text comes from ``page.get_text("dict")``: blocks, lines and spans with their boxes and font sizes,
put in reading order (top to bottom, then left to right). From the geometry:

- running headers and footers are margin lines whose shape (digits masked) repeats on at least a
  third of the pages, and page numbers are margin lines that are only a number — nothing is matched
  against hard-coded strings;
- contents pages are lines ending in a dotted leader and a page number (……12, ....... 12);
- footnotes are small-print blocks at the bottom of a page that start with a note mark;
- tables are blocks whose lines are mostly numbers;
- lines are rejoined into paragraphs (Chinese without spaces, English de-hyphenated): a paragraph
  ends at a blank line, a short line, or an indented next line, and continues across a page turn
  when the last line ran to the margin without ending a sentence;
- pages without a text layer but with images are reported as needing OCR, with their numbers.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from ..errors import IngestError
from ..text.headings import parse_heading
from .model import Block, IngestOptions, ReadResult

_PAGE_NUMBER = re.compile(
    r"^\s*(?:page\s*)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?\s*(?:/\s*\d+)?\s*$", re.I
)
_ZH_PAGE_NUMBER = re.compile(r"^\s*第?\s*[\d一二三四五六七八九十百]{1,6}\s*页\s*$|^\s*-\s*\d+\s*-\s*$")
_LEADER = re.compile(r"(?:[.．。·•⋯…_\-]\s*){4,}\s*[\divxlcdmIVXLCDM]{1,5}\s*$")
_NOTE_MARK = re.compile(r"^\s*(?:\[\d{1,3}\]|\d{1,3}[.)、]?\s|[①-⑳]|[*†‡§]|注[\d①-⑳：:]|\(\d{1,3}\))")
_NUMERIC = re.compile(r"^[\s\d.,%()\-+−—–/:：%％年月日元万亿]*$")
_SENT_END = "。！？.!?”」』\"'…:：;；"
_MARGIN = 0.12  # top/bottom share of the page where running headers and footers live
_NOTE_ZONE = 0.6  # footnotes start below this share of the page height
_OCR_SHARE = 0.1  # more image-only pages than this share of the book: the book needs OCR


@dataclass(slots=True)
class _Line:
    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    size: float
    space_after: bool = False  # the source had a space after the line's last character
    space_before: bool = False  # ... or before its first
    width: int = -1  # display width of ``text``, computed when first needed (_line_width)

    @property
    def raw(self) -> str:
        return (" " if self.space_before else "") + self.text + (" " if self.space_after else "")


@dataclass
class _Blk:
    page: int
    lines: list[_Line | None]  # None = a blank line inside the block (a paragraph break)
    x0: float
    y0: float
    x1: float
    y1: float
    height: float
    kind: str = "body"  # body | heading
    parts: list[list[_Line]] = field(default_factory=list)


_WIDE = re.compile(
    "[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
    "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd]"
)


def _width(text: str) -> int:
    """Display width: East Asian wide and full-width characters count 2."""
    if text.isascii():
        return len(text)  # the common case in English books: no pattern search
    return len(text) + len(_WIDE.findall(text))


def _narrow(char: str) -> bool:
    """One character of display width 1 (the single-character case of _width, without the search
    over a whole string)."""
    return char < "\u1100" or _WIDE.match(char) is None


def _line_width(line: _Line) -> int:
    w = line.width
    if w < 0:
        w = line.width = _width(line.text)
    return w


_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


def _shape(text: str) -> str:
    """What a running header looks like with its page number masked."""
    return _DIGITS.sub("#", _SPACES.sub("", text.strip().lower()))


def join_lines(lines: list[str], lang: str) -> str:
    """Rejoin wrapped lines: Chinese without spaces (but for a space the line itself ended with
    between two non-Chinese characters), English with spaces and de-hyphenated."""
    out = ""
    trailing = False
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if not out:
            out = line
        elif lang == "zh":
            latin = _narrow(out[-1]) and _narrow(line[0])
            # between Latin characters: the space the line ended with, or a word break between letters
            # (digits of one number are never split by a space)
            spaced = trailing or raw[:1].isspace()
            out += (" " if (latin or spaced) and (spaced or (out[-1].isalpha() and line[0].isalpha())) else "") + line
        elif out.endswith("-") and line[:1].islower() and len(out) > 1 and out[-2].isalpha():
            out = out[:-1] + line
        else:
            out += " " + line
        trailing = raw.endswith(" ")
    return out


def _join(lines: list[_Line], lang: str) -> str:
    """join_lines over the lines of a page, reading their text and end spaces directly (the same
    result as ``join_lines([l.raw for l in lines], lang)`` without building the raw strings)."""
    if len(lines) == 1:
        return lines[0].text
    out = ""
    trailing = False
    zh = lang == "zh"
    for text_line in lines:
        line = text_line.text
        if not out:
            out = line
        elif zh:
            if trailing or text_line.space_before:
                out += " " + line
            else:
                last, first = out[-1], line[0]
                if last.isalpha() and first.isalpha() and _narrow(last) and _narrow(first):
                    out += " " + line
                else:
                    out += line
        elif out.endswith("-") and line[:1].islower() and len(out) > 1 and out[-2].isalpha():
            out = out[:-1] + line
        else:
            out += " " + line
        trailing = text_line.space_after
    return out


def _open(path: Path) -> pymupdf.Document:
    if path.stat().st_size == 0:
        raise IngestError(path, "empty file", "zero bytes")
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF" not in head:
        raise IngestError(path, "corrupted PDF", "no %PDF header: not a PDF file")
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # pymupdf raises FileDataError / RuntimeError subclasses
        raise IngestError(path, "corrupted PDF", str(exc).splitlines()[0][:200]) from None
    if doc.needs_pass:
        raise IngestError(path, "encrypted", "the PDF needs a password; supply an unencrypted copy")
    if doc.page_count == 0:
        raise IngestError(path, "corrupted PDF", "no pages could be read")
    return doc


def _read_pages(doc: pymupdf.Document, result: ReadResult) -> tuple[list[list[_Blk]], list[int]]:
    pages: list[list[_Blk]] = []
    image_only: list[int] = []
    for pno in range(doc.page_count):
        try:
            page = doc.load_page(pno)
            rect = page.rect  # computed by pymupdf on each access: read once
            height = rect.height or 1.0  # of the page as displayed (rotation applied)
            rot = page.rotation_matrix if page.rotation else None
            # as get_text("dict"), without looking up the crop box for the page size it would add (not used)
            data = page.get_textpage(flags=pymupdf.TEXTFLAGS_TEXT).extractDICT()
        except Exception as exc:
            result.warnings.append(f"page {pno + 1}: unreadable ({str(exc).splitlines()[0][:120]})")
            result.drop("unreadable_pages")
            pages.append([])
            continue
        blocks: list[_Blk] = []
        mid = rect.width / 2
        texts: list[str] = []  # the page's stripped line texts, counted once at the end
        for b in data["blocks"]:
            lines: list[_Line | None] = []
            real: list[_Line] = []
            for text_line in b["lines"]:
                spans = text_line["spans"]
                if len(spans) == 1:
                    span = spans[0]
                    text = span["text"]
                    stripped = text.strip()
                    size = span["size"]
                else:
                    text = "".join([sp["text"] for sp in spans])
                    stripped = text.strip()
                    size = max((sp["size"] for sp in spans if sp["text"].strip()), default=0.0)
                if not stripped:
                    lines.append(None)
                    continue
                texts.append(stripped)
                x0, y0, x1, y1 = (
                    text_line["bbox"] if rot is None else pymupdf.util_transform_rect(text_line["bbox"], rot)
                )  # as Rect * rot
                # spaces at the ends of a line tell how to join it to the next (see join_lines)
                line = _Line(stripped, x0, y0, x1, y1, size, text[-1:] == " ", text[:1] == " ")
                lines.append(line)
                real.append(line)
            if not real:
                continue
            groups = [real]
            if len(real) > 1:
                bx0, bx1 = min([text_line.x0 for text_line in real]), max([text_line.x1 for text_line in real])
                if bx0 < mid - 5 and bx1 > mid + 5:
                    # one block holding two columns side by side: split it, left column first
                    left = [text_line for text_line in real if text_line.x1 <= mid + 5]
                    right = [text_line for text_line in real if text_line.x0 >= mid - 5]
                    if left and right and len(left) + len(right) == len(real):
                        groups = [left, right]
            if len(groups) == 1:
                if len(real) == 1:
                    text_line = real[0]
                    blocks.append(_Blk(pno + 1, lines, text_line.x0, text_line.y0, text_line.x1, text_line.y1, height))
                    continue
                groups = [lines]
            for group, got in zip(groups, [real] if groups[0] is lines else groups):
                blocks.append(
                    _Blk(
                        pno + 1,
                        group,
                        min([text_line.x0 for text_line in got]),
                        min([text_line.y0 for text_line in got]),
                        max([text_line.x1 for text_line in got]),
                        max([text_line.y1 for text_line in got]),
                        height,
                    )
                )
        result.chars_extracted += len("".join("".join(texts).split()))
        if not blocks:
            try:
                if page.get_images(full=False):
                    image_only.append(pno + 1)
                else:
                    result.drop("blank_pages")
            except Exception:
                result.drop("blank_pages")
        pages.append(reading_order(blocks, rect.width))
    return pages, image_only


def reading_order(blocks: list[_Blk], width: float) -> list[_Blk]:
    """Top to bottom; on two-column stretches of a page, the left column before the right one.

    Blocks that cross the middle of the page (titles, full-width paragraphs) cut the page into bands;
    inside a band that has text in both halves, left-half blocks come before right-half ones.
    """
    mid = width / 2
    ordered = sorted(blocks, key=lambda b: (round(b.y0), b.x0))
    out: list[_Blk] = []
    band: list[_Blk] = []

    def close_band() -> None:
        left = [b for b in band if b.x1 <= mid + 5]
        right = [b for b in band if b.x1 > mid + 5]
        two_columns = left and right and min(b.x0 for b in right) >= mid - 5
        out.extend(left + right if two_columns else band)
        band.clear()

    for b in ordered:
        if b.x0 < mid - 5 and b.x1 > mid + 5:  # crosses the middle: full width
            close_band()
            out.append(b)
        else:
            band.append(b)
    close_band()
    return out


def read_pdf(path: str | Path, lang: str, opts: IngestOptions | None = None) -> ReadResult:
    path = Path(path)
    pymupdf.TOOLS.mupdf_warnings()  # clear what earlier files left
    doc = _open(path)
    result = ReadResult(blocks=[], format="pdf")
    if doc.is_encrypted:
        result.warnings.append("encrypted with an owner password only; text extracted")
    pages, image_only = _read_pages(doc, result)
    if image_only and (len(image_only) == doc.page_count or len(image_only) > _OCR_SHARE * doc.page_count):
        raise IngestError(path, "needs OCR", f"no text layer on pages {_ranges(image_only)}")
    if image_only:
        result.warnings.append(f"pages with images and no text (figures or scans): {_ranges(image_only)}")
    mu = pymupdf.TOOLS.mupdf_warnings()
    if mu:
        result.warnings.append("pymupdf repaired the file: " + " / ".join(mu.splitlines()[:3])[:300])

    all_lines = [line for blocks in pages for b in blocks for line in b.lines if line is not None]
    if not all_lines:
        raise IngestError(path, "no text", "no page has a text layer")
    sizes: Counter[float] = Counter()
    for line in all_lines:
        sizes[round(line.size * 2) / 2] += len(line.text)
    body_size = sizes.most_common(1)[0][0]

    _drop_margins(pages, result)
    _drop_contents(pages, result)

    pattern = opts.pattern() if opts else None
    for blocks in pages:
        for b in blocks:
            _classify(b, body_size, lang, result, pattern)
    _assemble(pages, lang, result)
    return result


def _drop_margins(pages: list[list[_Blk]], result: ReadResult) -> None:
    """Remove page numbers and running headers/footers: margin lines that repeat across pages."""
    shapes: Counter[str] = Counter()
    margins: list[list[tuple[_Blk, _Line, str]]] = []  # per page: its margin lines and their shapes
    for blocks in pages:
        found = []
        for b in blocks:
            top, bottom = b.height * _MARGIN, b.height * (1 - _MARGIN)  # the margins, where headers live
            for line in b.lines:
                if line is not None and (line.y1 <= top or line.y0 >= bottom):
                    found.append((b, line, _shape(line.text)))
        shapes.update({s for _, _, s in found})
        margins.append(found)
    threshold = max(2, len(pages) // 3)
    repeated = {s for s, c in shapes.items() if c >= threshold and s}
    for blocks, found in zip(pages, margins):
        dropped: set[int] = set()
        for b, line, shape in found:
            flat = " ".join(line.text.split())
            if _PAGE_NUMBER.match(flat) or _ZH_PAGE_NUMBER.match(flat):
                result.drop("page_numbers")
            elif shape in repeated:
                result.drop("headers")
            else:
                continue
            dropped.add(id(line))
        if not dropped:
            continue
        for b in blocks:
            b.lines = [line for line in b.lines if line is None or id(line) not in dropped]
        blocks[:] = [b for b in blocks if any(line is not None for line in b.lines)]


def _drop_contents(pages: list[list[_Blk]], result: ReadResult) -> None:
    """Dotted-leader contents lines go; a page made mostly of them goes whole (its title included)."""
    for blocks in pages:
        lines = [line for b in blocks for line in b.lines if line is not None]
        leader = {id(line) for line in lines if _LEADER.search(line.text)}  # each line searched once
        if lines and len(leader) >= 3 and len(leader) >= 0.4 * len(lines):
            result.drop("contents", len(lines))
            blocks.clear()
            continue
        if not leader:
            continue
        for b in blocks:
            n = sum(1 for line in b.lines if line is not None and id(line) in leader)
            if n:
                result.drop("contents", n)
                b.lines = [line for line in b.lines if line is None or id(line) not in leader]
        blocks[:] = [b for b in blocks if any(line is not None for line in b.lines)]


def _classify(b: _Blk, body_size: float, lang: str, result: ReadResult, pattern: re.Pattern | None = None) -> None:
    lines = [line for line in b.lines if line is not None]
    short = len(lines) <= 2
    text = _join(lines, lang) if short else ""  # only short blocks are read whole
    size = lines[0].size if len(lines) == 1 else max([line.size for line in lines])
    if short and (parse_heading(text, lang) or (pattern is not None and pattern.fullmatch(text.strip()))):
        b.kind = "heading"
        return
    if b.y0 >= b.height * _NOTE_ZONE and size <= body_size * 0.9 and _NOTE_MARK.match(lines[0].text):
        b.kind = "note"
        return
    numeric = sum(1 for line in lines if _NUMERIC.match(line.text))
    if (numeric >= 2 and numeric >= 0.5 * len(lines)) or numeric == len(lines):
        # table rows, or cells of a table laid out as loose numbers: nothing here to translate
        b.kind = "table"
        return
    if len(lines) == 1 and size >= body_size * 1.3 and len(text) <= 40 and text[-1:] not in _SENT_END:
        b.kind = "title"  # a display line (book or section title) that is not a chapter heading


def _ended_short(prev: _Line, nxt: _Line, left: float, right: float) -> bool:
    """True when the break after ``prev`` was deliberate: the next line's first word would have
    fitted on it (with room to spare for proportional fonts), and either ``prev`` ends a sentence or
    it stops far short of the margin (a title, a list item)."""
    if not (prev.text[-1:] in _SENT_END or prev.x1 < right - 0.25 * (right - left)):
        return False  # neither a sentence end nor far from the margin: the line wrapped
    unit = (prev.x1 - prev.x0) / max(1, _line_width(prev))  # width of one narrow character
    head = nxt.text[:1]
    if not _narrow(head):
        first = 2  # Chinese breaks anywhere: one character is enough
    else:
        words = nxt.text.split(None, 1)
        first = _width(words[0] if words else nxt.text)
    return prev.x1 + (first + 1) * unit * 1.3 < right


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(q * (len(values) - 1))))]


def _line_spacing(pages: list[list[_Blk]]) -> float:
    """The usual distance between the tops of consecutive lines of running text."""
    gaps = []
    for blocks in pages:
        lines = [line for b in blocks if b.kind == "body" for line in b.lines if line is not None]
        for a, b in zip(lines, lines[1:]):
            d = b.y0 - a.y0
            if 0 < d < 4 * (a.y1 - a.y0 + 1):
                gaps.append(d)
    return statistics.median(gaps) if gaps else 0.0


def _assemble(pages: list[list[_Blk]], lang: str, result: ReadResult) -> None:
    """Rebuild paragraphs from the stream of body lines, page by page and across page turns.

    Between two consecutive lines a paragraph ends at a blank line, after a line that stops short of
    the right edge of the text column, at a vertical gap wider than the usual line spacing, or
    before a line indented from the column's left edge (a first-line indent).
    """
    spacing = _line_spacing(pages)
    # the last paragraph of the previous page while it may continue on this one:
    # (paragraph, its last line, that page's left and right text edges)
    carry: tuple[Block, _Line, float, float] | None = None
    for blocks in pages:
        body = [line for b in blocks if b.kind == "body" for line in b.lines if line is not None]
        if body:
            left = _percentile([line.x0 for line in body], 0.1)
            right = _percentile([line.x1 for line in body], 0.95)
        else:
            left = right = 0.0
        char = statistics.median([line.size for line in body]) * (1.0 if lang == "zh" else 0.5) if body else 1.0
        prev: _Line | None = None
        para: list[_Line] = []
        first_on_page = True

        def flush(end_of_page: bool) -> None:
            nonlocal para, carry, first_on_page
            if not para:
                return
            text = _join(para, lang)
            if _NUMERIC.match(text) and any(c.isdigit() for c in text):
                result.drop("tables")  # a loose table cell: only numbers, nothing to translate
                para = []
                return
            if (
                first_on_page
                and carry is not None
                and para[0].x0 <= left + 1.5 * char
                and not _ended_short(carry[1], para[0], carry[2], carry[3])
            ):
                carry[0].text = join_lines([carry[0].text, text], lang)
                block = carry[0]
            else:
                result.blocks.append(Block(text=text, loc=f"p{blocks[0].page}"))
                block = result.blocks[-1]
            first_on_page = False
            last = para[-1]
            carry = (block, last, left, right) if end_of_page and last.text[-1:] not in _SENT_END else None
            para = []

        for b in blocks:
            lines = [line for line in b.lines if line is not None]
            if b.kind != "body":
                flush(False)
                first_on_page = False
                carry = None
                prev = None
                text = _join(lines, lang)
                if b.kind == "note":
                    result.notes.append(text)
                    result.drop("notes")
                elif b.kind == "table":
                    result.drop("tables")
                else:
                    result.blocks.append(Block(text=text, loc=f"p{b.page}", heading=b.kind == "heading"))
                continue
            for line in b.lines:
                if line is None:
                    flush(False)
                    prev = None
                    continue
                if prev is not None:
                    gap = spacing > 0 and (line.y0 - prev.y0) > 1.45 * spacing
                    indented = line.x0 > left + 1.5 * char and line.x0 > prev.x0 + char
                    new_column = line.y0 < prev.y0 - spacing  # moved up: the next column
                    # the geometry of the line ends (the costliest test) only when the rest do not decide
                    if gap or indented or new_column or _ended_short(prev, line, left, right):
                        flush(False)
                para.append(line)
                prev = line
        flush(True)


def _ranges(nums: list[int]) -> str:
    out: list[str] = []
    start = prev = None
    for n in nums + [None]:  # type: ignore[list-item]
        if start is None:
            start = prev = n
        elif n is not None and n == prev + 1:
            prev = n
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = n
    return ", ".join(out)
