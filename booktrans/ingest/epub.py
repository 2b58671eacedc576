"""EPUB books with ebooklib: spine order, navigation/cover/copyright skipped, paragraphs from block
elements, chapter titles from headings or the table of contents, notes kept apart."""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path

import ebooklib
from ebooklib import epub
from lxml import html as lxml_html

from ..errors import IngestError
from .model import Block, ReadResult

MAX_UNCOMPRESSED = 512 * 1024 * 1024  # bytes; a larger archive is refused as a likely zip bomb
MAX_RATIO = 200  # uncompressed / compressed size of one member
_SKIP_NAMES = re.compile(r"(cover|copyright|colophon|titlepage|title-page|toc|nav|imprint|notice)", re.I)
_BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dt", "dd", "figcaption"}
_HEADINGS = {"h1", "h2", "h3"}
_NOTE = re.compile(r"(footnote|endnote|rearnote|note)", re.I)
_SKIP_TYPES = re.compile(r"\b(cover|toc|landmarks|copyright-page|titlepage|frontispiece|imprint|colophon)\b")
# what notice, licence and copyright pages say; a short spine item full of it is not the book's text
_NOTICE_WORDS = re.compile(r"(版权|版權|许可|許可|公版|授权|授權|免责|ISBN|copyright|all rights reserved|licen[cs]e|"
                           r"public domain|project gutenberg|distributed|permission)", re.I)


def check_archive(path: Path) -> None:
    """Refuse archives that are not EPUBs, are encrypted, or would unpack unreasonably."""
    if path.stat().st_size == 0:
        raise IngestError(path, "empty file", "zero bytes")
    if not zipfile.is_zipfile(path):
        raise IngestError(path, "not an EPUB", "the file is not a zip archive")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            total = 0
            for info in infos:
                name = info.filename
                if name.startswith("/") or ".." in posixpath.normpath(name).split("/") or "\\" in name:
                    raise IngestError(path, "unsafe archive", f"member path {name!r} escapes the archive")
                total += info.file_size
                if info.compress_size and info.file_size / max(info.compress_size, 1) > MAX_RATIO and info.file_size > 10_000_000:
                    raise IngestError(path, "zip bomb", f"member {name!r} expands {info.file_size // info.compress_size}x")
            if total > MAX_UNCOMPRESSED:
                raise IngestError(path, "zip bomb", f"{total} bytes uncompressed exceeds {MAX_UNCOMPRESSED}")
            if "META-INF/container.xml" not in names:
                raise IngestError(path, "not an EPUB", "no META-INF/container.xml in the archive")
            if "META-INF/encryption.xml" in names or "META-INF/rights.xml" in names:
                raise IngestError(path, "encrypted", "the EPUB is DRM-protected (META-INF/encryption.xml)")
    except zipfile.BadZipFile as exc:
        raise IngestError(path, "corrupted EPUB", str(exc)) from None


def _text_of(el) -> str:
    return " ".join("".join(el.itertext()).split())


def _is_note(el) -> bool:
    for attr in ("{http://www.idpf.org/2007/ops}type", "epub:type", "class", "role", "id"):
        v = el.get(attr)
        if v and _NOTE.search(v):
            return True
    return False


def read_epub(path: str | Path, lang: str) -> ReadResult:
    path = Path(path)
    check_archive(path)
    try:
        book = epub.read_epub(str(path), options={"ignore_ncx": False})
    except Exception as exc:
        raise IngestError(path, "corrupted EPUB", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__) from None
    result = ReadResult(blocks=[], format="epub", encoding="utf-8")
    toc_titles = _toc_titles(book)
    guide_skip = {g.get("href", "").split("#")[0] for g in (book.guide or []) if _SKIP_TYPES.search(g.get("type", ""))}
    for idref, _linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        name = item.get_name()
        if isinstance(item, epub.EpubNav) or "nav" in (getattr(item, "properties", None) or []) or _SKIP_NAMES.search(posixpath.basename(name)):
            result.drop("front_matter")
            continue
        content = item.get_content()
        if not content.strip():
            continue
        try:
            tree = lxml_html.fromstring(content)
        except Exception:
            result.warnings.append(f"{name}: unparsable XHTML, skipped")
            result.drop("unparsable_items")
            continue
        body = tree.find(".//body")
        root = body if body is not None else tree
        if _is_front_matter(root, name in guide_skip):
            result.drop("front_matter")
            continue
        saw_heading = False
        for el in root.iter():
            tag = el.tag.split("}")[-1] if isinstance(el.tag, str) else ""
            if tag not in _BLOCKS:
                continue
            # nested blocks (p inside li, li inside li) are taken by the outer element
            if any(isinstance(a.tag, str) and a.tag.split("}")[-1] in _BLOCKS for a in el.iterancestors()):
                continue
            text = _text_of(el)
            result.chars_extracted += len(text)
            if not text:
                continue
            if _is_note(el) or any(_is_note(a) for a in el.iterancestors()):
                result.notes.append(text)  # kept apart: written to <book>.<lang>.notes.jsonl
                result.drop("notes")
                continue
            if tag in _HEADINGS and not saw_heading:
                saw_heading = True
                result.blocks.append(Block(text=text, loc=f"item:{name}", heading=True))
                continue
            if saw_heading and text == result.blocks[-1].text and result.blocks[-1].heading:
                result.drop("repeated_titles")  # <p><strong>Title</strong></p> right under <h1>Title</h1>
                continue
            result.blocks.append(Block(text=text, loc=f"item:{name}"))
        if not saw_heading and name in toc_titles:
            # a spine item without a heading still starts a chapter when the TOC names it
            first = next((i for i, b in enumerate(result.blocks) if b.loc == f"item:{name}"), None)
            if first is not None:
                result.blocks.insert(first, Block(text=toc_titles[name], loc=f"item:{name}", heading=True))
    return result


def _is_front_matter(root, in_guide: bool) -> bool:
    """Cover, contents, copyright and notice pages: by the guide, by epub:type, or by what they say."""
    if in_guide:
        return True
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        t = el.get("{http://www.idpf.org/2007/ops}type") or el.get("epub:type") or ""
        if _SKIP_TYPES.search(t):
            return True
    text = " ".join("".join(root.itertext()).split())
    return len(text) < 3000 and len(_NOTICE_WORDS.findall(text)) >= 2


def _toc_titles(book) -> dict[str, str]:
    titles: dict[str, str] = {}

    def walk(entries) -> None:
        for e in entries:
            if isinstance(e, tuple):
                section, children = e
                href = getattr(section, "href", "") or ""
                if href:
                    titles.setdefault(href.split("#")[0], section.title)
                walk(children)
            elif hasattr(e, "href"):
                titles.setdefault(e.href.split("#")[0], e.title)

    walk(book.toc)
    return titles
