"""Rebuild the embedded sample corpus in data/sample/ from the Markdown sources in data/sample/source/.

    python scripts/make_sample.py            # writes data/sample/*.{pdf,epub,txt}

The sources are short book pairs written for this project (public domain dedication, see
data/books.yaml). Each edition is rendered in the form real books arrive in, so the ingest stage is
exercised on every format: PDF with a running header and page numbers, EPUB 3 with navigation and a
copyright page, GBK text with CRLF line ends and full-width indents, and hard-wrapped UTF-8 text.
Output is deterministic: fixed PDF metadata and IDs, fixed zip timestamps.
"""

from __future__ import annotations

import datetime
import io
import re
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pymupdf as fitz
from ebooklib import epub

from booktrans.io import deterministic_zip

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "data" / "sample" / "source"
OUT = ROOT / "data" / "sample"

# book id -> {lang: format}
FORMATS = {
    "prob-textbook": {"zh": "pdf", "en": "pdf"},
    "lighthouse": {"zh": "epub", "en": "epub"},
    "sky-blue": {"zh": "txt-gbk", "en": "txt-wrapped"},
    "four-seasons": {"zh": "txt", "en": "txt"},
    "night-train": {"zh": "epub", "en": "pdf"},
}
TITLES = {
    "prob-textbook": {"zh": "概率初步", "en": "A First Course in Probability"},
    "lighthouse": {"zh": "守塔人的女儿", "en": "The Lighthouse Keeper's Daughter"},
    "sky-blue": {"zh": "天空为什么是蓝色的", "en": "Why Is the Sky Blue?"},
    "four-seasons": {"zh": "四季诗抄", "en": "Poems of the Four Seasons"},
    "night-train": {"zh": "夜车", "en": "The Night Train"},
}


def parse_source(path: Path) -> list[tuple[str, list[str]]]:
    """[(chapter title, [paragraph, ...]), ...]; verse lines inside a paragraph keep their newlines."""
    chapters: list[tuple[str, list[str]]] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip()):
        block = block.strip()
        if block.startswith("# "):
            head, _, rest = block.partition("\n")
            chapters.append((head[2:].strip(), []))
            block = rest.strip()
            if not block:
                continue
        chapters[-1][1].append(block)
    return chapters


# ----------------------------------------------------------------------------------------- PDF
def _wrap(text: str, fontname: str, size: float, width: float, lang: str) -> list[str]:
    # measure as the page renders it (the built-in CJK font sets every character, ASCII too, on a full em)
    def length(s: str) -> float:
        return fitz.get_text_length(s, fontname=fontname, fontsize=size)

    lines: list[str] = []
    if lang == "zh":
        cur = ""
        for ch in text:
            if length(cur + ch) > width:
                lines.append(cur)
                cur = ch
            else:
                cur += ch
        if cur:
            lines.append(cur)
        return lines
    cur = ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if length(trial) > width and cur:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def write_pdf(chapters, title: str, lang: str, dest: Path) -> None:
    doc = fitz.open()
    fontname = "china-s" if lang == "zh" else "helv"
    W, H, M = 420.0, 595.0, 50.0  # A5 points, margin
    size, lead = 11.0, 16.0
    page = None
    y = 0.0
    pages: list = []

    def new_page():
        nonlocal page, y
        page = doc.new_page(width=W, height=H)
        pages.append(page)
        y = M + 20

    for ctitle, paras in chapters:
        new_page()
        page.insert_text((M, y + 10), ctitle, fontname=fontname, fontsize=16)
        y += 44
        for para in paras:
            lines = []
            for verse in para.split("\n"):
                lines.extend(_wrap(verse.strip(), fontname, size, W - 2 * M, lang))
            if y + lead * len(lines) > H - M - 10:
                # split the paragraph across pages, as real books do
                room = max(0, int((H - M - 10 - y) // lead))
                for line in lines[:room]:
                    page.insert_text((M, y), line, fontname=fontname, fontsize=size)
                    y += lead
                lines = lines[room:]
                new_page()
            for line in lines:
                page.insert_text((M, y), line, fontname=fontname, fontsize=size)
                y += lead
            y += lead * 0.9
    for no, page in enumerate(doc, start=1):
        page.insert_text((M, 30), title, fontname=fontname, fontsize=8)  # running header
        page.insert_text((W / 2 - 5, H - 25), str(no), fontname="helv", fontsize=8)  # page number
    doc.set_metadata(
        {
            "title": title,
            "author": "booktrans sample",
            "producer": "booktrans",
            "creator": "booktrans",
            "creationDate": "D:20260101000000Z",
            "modDate": "D:20260101000000Z",
        }
    )
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    # self-check: every character of the source is on a page (nothing clipped or unencodable)
    got = re.sub(r"\s+", "", "".join(page.get_text() for page in fitz.open(stream=data, filetype="pdf")))
    want = re.sub(r"\s+", "", "".join(t + "".join(ps) for t, ps in chapters))
    missing = [c for c, n in Counter(want).items() if got.count(c) < n]
    if missing:
        raise SystemExit(f"{dest.name}: characters lost in the PDF: {''.join(missing)!r}")
    dest.write_bytes(data)


# ---------------------------------------------------------------------------------------- EPUB
def write_epub(chapters, title: str, lang: str, book_id: str, dest: Path) -> None:
    book = epub.EpubBook()
    book.set_identifier(f"booktrans-sample-{book_id}-{lang}")
    book.set_title(title)
    book.set_language("zh-CN" if lang == "zh" else "en")
    book.add_author("booktrans sample")
    notice = (
        "本书为示例文本，作者放弃全部版权。" if lang == "zh" else "This sample text is dedicated to the public domain."
    )
    copyright_page = epub.EpubHtml(title="Copyright", file_name="copyright.xhtml", lang=lang)
    copyright_page.content = f"<html><body><p>{notice}</p></body></html>"
    book.add_item(copyright_page)
    items = []
    for i, (ctitle, paras) in enumerate(chapters, start=1):
        ch = epub.EpubHtml(title=ctitle, file_name=f"chapter{i:02d}.xhtml", lang=lang)
        body = "".join(f"<p>{p}</p>" for p in paras)
        ch.content = f"<html><body><h1>{ctitle}</h1>{body}</body></html>"
        book.add_item(ch)
        items.append(ch)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", copyright_page] + items
    buf = io.BytesIO()
    epub.write_epub(buf, book, {"mtime": datetime.datetime(2026, 1, 1)})
    dest.write_bytes(deterministic_zip(buf.getvalue()))


# ----------------------------------------------------------------------------------------- TXT
def write_txt(chapters, title: str, lang: str, style: str, dest: Path) -> None:
    lines = [title, ""]
    for ctitle, paras in chapters:
        lines += ["", ctitle, ""]
        for para in paras:
            if "\n" in para:  # verse: one line per verse line, blank line between stanzas
                lines += [line.strip() for line in para.split("\n")] + [""]
            elif style == "txt-gbk":
                lines.append("\u3000\u3000" + para)  # Chinese convention: full-width indent, no blank line
            elif style == "txt-wrapped":
                lines += textwrap.wrap(para, width=72) + [""]
            else:
                lines += [para, ""]
    text = "\n".join(lines).rstrip() + "\n"
    if style == "txt-gbk":
        dest.write_bytes(text.replace("\n", "\r\n").encode("gbk"))
    else:
        dest.write_text(text, encoding="utf-8")


def main() -> int:
    for book_id, langs in FORMATS.items():
        for lang, fmt in langs.items():
            chapters = parse_source(SRC / f"{book_id}.{lang}.md")
            title = TITLES[book_id][lang]
            ext = "pdf" if fmt == "pdf" else "epub" if fmt == "epub" else "txt"
            dest = OUT / f"{book_id}.{lang}.{ext}"
            if fmt == "pdf":
                write_pdf(chapters, title, lang, dest)
            elif fmt == "epub":
                write_epub(chapters, title, lang, book_id, dest)
            else:
                write_txt(chapters, title, lang, fmt, dest)
            print(f"wrote {dest} ({dest.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
