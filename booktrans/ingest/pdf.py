"""PDF books with pymupdf: text blocks in reading order, running headers, footers and page numbers
removed by what repeats across pages, lines rejoined into paragraphs, pages without a text layer
reported as needing OCR."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pymupdf as fitz

from ..errors import IngestError
from ..text.headings import parse_heading
from .model import Block, ReadResult

_PAGE_NUMBER = re.compile(r"^\s*(?:page\s*)?[-–—(\[]?\s*(?:\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?\s*(?:/\s*\d+)?\s*$", re.I)
_ZH_PAGE_NUMBER = re.compile(r"^\s*第?\s*\d{1,4}\s*页?\s*$")
_SENT_END = "。！？.!?”」』\"'…:："
_MARGIN = 0.1  # top and bottom share of the page where running headers and footers live


def _shape(text: str) -> str:
    """What a running header looks like with its page number masked."""
    return re.sub(r"\d+", "#", re.sub(r"\s+", " ", text.strip().lower()))


def _join_lines(lines: list[str], lang: str) -> str:
    out = ""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not out:
            out = line
        elif lang == "zh":
            out += line
        elif out.endswith("-") and line[:1].islower():
            out = out[:-1] + line
        else:
            out += " " + line
    return out


def read_pdf(path: str | Path, lang: str) -> ReadResult:
    path = Path(path)
    if path.stat().st_size == 0:
        raise IngestError(path, "empty file", "zero bytes")
    try:
        doc = fitz.open(path)
    except Exception as exc:  # pymupdf raises its own FileDataError and RuntimeError subclasses
        raise IngestError(path, "corrupted PDF", str(exc).splitlines()[0][:200]) from None
    if doc.needs_pass or doc.is_encrypted:
        raise IngestError(path, "encrypted", "the PDF is password-protected; supply an unencrypted copy")
    result = ReadResult(blocks=[], format="pdf")
    pages: list[list[tuple[str, bool]]] = []  # per page: (text, in_margin)
    no_text: list[int] = []
    for pno in range(doc.page_count):
        try:
            page = doc.load_page(pno)
            height = page.rect.height or 1.0
            raw = page.get_text("blocks", sort=True)
        except Exception as exc:
            result.warnings.append(f"page {pno + 1}: unreadable ({str(exc).splitlines()[0][:120]})")
            result.drop("unreadable_pages")
            pages.append([])
            continue
        blocks = []
        for x0, y0, x1, y1, text, _bno, btype in raw:
            if btype != 0 or not text.strip():
                continue
            result.chars_extracted += len(text)
            in_margin = y1 <= height * _MARGIN or y0 >= height * (1 - _MARGIN)
            blocks.append((text, in_margin))
        if not blocks and (page.get_images() or page.get_drawings()):
            no_text.append(pno + 1)
        elif not blocks:
            no_text.append(pno + 1)
        pages.append(blocks)
    if doc.page_count and len(no_text) == doc.page_count:
        raise IngestError(path, "needs OCR", f"no text layer on pages {_ranges(no_text)}")
    if no_text:
        result.warnings.append(f"needs OCR: no text layer on pages {_ranges(no_text)}")

    # Running headers/footers: margin blocks whose shape repeats on at least half of the pages (min 2).
    shapes = Counter(_shape(t) for blocks in pages for t, m in blocks if m)
    threshold = max(2, len(pages) // 2)
    repeated = {s for s, c in shapes.items() if c >= threshold}

    for pno, blocks in enumerate(pages, start=1):
        for text, in_margin in blocks:
            flat = " ".join(text.split())
            if in_margin and (_PAGE_NUMBER.match(flat) or _ZH_PAGE_NUMBER.match(flat)):
                result.drop("page_numbers")
                continue
            if in_margin and _shape(text) in repeated:
                result.drop("headers")
                continue
            lines = [l for l in text.split("\n") if l.strip()]
            para = _join_lines(lines, lang)
            if len(lines) == 1 and parse_heading(para, lang):
                result.blocks.append(Block(text=para, loc=f"p{pno}", heading=True))
                continue
            prev = result.blocks[-1] if result.blocks else None
            # A paragraph broken by a page turn: the previous block did not end a sentence.
            if prev and not prev.heading and prev.loc != f"p{pno}" and prev.text[-1:] not in _SENT_END:
                prev.text = _join_lines([prev.text, para], lang)
                continue
            result.blocks.append(Block(text=para, loc=f"p{pno}"))
    return result


def _ranges(nums: list[int]) -> str:
    out, start, prev = [], None, None
    for n in nums + [None]:
        if start is None:
            start = prev = n
        elif n is not None and n == prev + 1:
            prev = n
        else:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = n
    return ", ".join(out)
