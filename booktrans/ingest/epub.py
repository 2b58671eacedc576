"""EPUB books with ebooklib and lxml.

- The archive is checked first (not an EPUB, DRM, unsafe paths, zip bombs).
- Spine order; navigation, cover, contents, copyright and notice pages skipped (by the guide,
  ``epub:type``, file name, or a short page about copyright and licences).
- Text comes from every element, not only ``<p>``: bare text in ``<body>`` or ``<div>``, table rows,
  list items. ``<br/>`` is a line break: lines that read as prose (long, or indented, or ending
  sentences) become paragraphs of their own (the ``<div>`` + ``<br/>`` layout of many Chinese
  EPUBs); short lines stay lines of one paragraph (verse).
- Chapters come from the table of contents (nav or NCX), including entries that point at anchors
  inside one XHTML file (Project Gutenberg's layout and many commercial EPUBs); nested entries whose
  children are chapters are parts. Without a usable table of contents, the first heading of a spine
  item and every heading that reads as a chapter heading start chapters.
- Notes (``epub:type``/class ``footnote``, ``endnote``, ``note``) are kept apart; Project
  Gutenberg's header and licence sections and in-text contents lists are dropped and counted.
- A spine item that yields far less text than its markup holds (measured independently of the
  parser) is warned about.
"""

from __future__ import annotations

import html
import posixpath
import re
import statistics
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import ebooklib
from ebooklib import epub
from lxml import etree
from lxml import html as lxml_html

from ..errors import IngestError
from ..text.headings import Heading, classify_heading
from ..text.lang import display_width
from .boilerplate import GUTENBERG_END, GUTENBERG_START
from .model import Block, IngestOptions, ReadResult
from .txt import title_text

MAX_UNCOMPRESSED = 512 * 1024 * 1024  # bytes; a larger archive is refused as a likely zip bomb
MAX_RATIO = 200  # uncompressed / compressed size of one member
# a spine item yielding less than this share of the text its markup holds (100 characters or more) is warned about
SHORTFALL = 0.9
_SKIP_NAMES = re.compile(r"(cover|copyright|colophon|titlepage|title-page|toc|nav|imprint|notice)", re.I)
_BLOCK_TAGS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "aside",
    "header",
    "footer",
    "nav",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "caption",
    "center",
    "address",
    "hr",
    "body",
    "html",
    "details",
    "summary",
    "fieldset",
    "legend",
    "hgroup",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
}
_HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_SKIP_TAGS = {"script", "style", "head", "title", "rt", "rp", "template", "noscript"}
_CELL_TAGS = {"td", "th"}
_NOTE = re.compile(r"(footnote|endnote|rearnote|\bnote)", re.I)
_SKIP_TYPES = re.compile(r"\b(cover|toc|landmarks|copyright-page|titlepage|frontispiece|imprint|colophon)\b")
_CONTENTS_TITLE = re.compile(r"^\s*(contents|table of contents|目\s*录|目\s*錄|目\s*次)\s*$", re.I)
_BR = "\x00"
# what notice, licence and copyright pages say; a short spine item full of it is not the book's text
_NOTICE_WORDS = re.compile(
    r"(版权|版權|许可|許可|公版|授权|授權|免责|ISBN|copyright|all rights reserved|licen[cs]e|"
    r"public domain|project gutenberg|distributed|permission)",
    re.I,
)
_EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"


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
                if (
                    info.compress_size
                    and info.file_size / max(info.compress_size, 1) > MAX_RATIO
                    and info.file_size > 10_000_000
                ):
                    raise IngestError(
                        path, "zip bomb", f"member {name!r} expands {info.file_size // info.compress_size}x"
                    )
            if total > MAX_UNCOMPRESSED:
                raise IngestError(path, "zip bomb", f"{total} bytes uncompressed exceeds {MAX_UNCOMPRESSED}")
            if "META-INF/container.xml" not in names:
                raise IngestError(path, "not an EPUB", "no META-INF/container.xml in the archive")
            if "META-INF/encryption.xml" in names or "META-INF/rights.xml" in names:
                raise IngestError(path, "encrypted", "the EPUB is DRM-protected (META-INF/encryption.xml)")
    except zipfile.BadZipFile as exc:
        raise IngestError(path, "corrupted EPUB", str(exc)) from None


# ---------------------------------------------------------------------------------------------------
# the table of contents


@dataclass
class _TocEntry:
    title: str
    file: str
    anchor: str | None
    depth: int
    children: list["_TocEntry"] = field(default_factory=list)
    level: str = "chapter"


def _toc_entries(book) -> list[_TocEntry]:
    """The table of contents as a tree of entries (file, anchor, title)."""

    def walk(entries, depth) -> list[_TocEntry]:
        out = []
        for e in entries:
            children: list = []
            if isinstance(e, tuple):
                e, children = e
            href = unquote(getattr(e, "href", "") or "")
            title = " ".join((getattr(e, "title", "") or "").split())
            file, _, anchor = href.partition("#")
            node = _TocEntry(title, posixpath.normpath(file) if file else "", anchor or None, depth)
            node.children = walk(children, depth + 1)
            out.append(node)
        return out

    return walk(book.toc or [], 0)


def _assign_levels(entries: list[_TocEntry], lang: str) -> list[_TocEntry]:
    """Flatten the tree to the entries that start parts or chapters, in reading order. An entry is a
    part when its title reads as one (PART ONE, 第一部, 卷一) or when its children read as chapters;
    the children of a chapter are sections and stay inside it."""
    flat: list[_TocEntry] = []

    def kind(e: _TocEntry) -> str | None:
        h = classify_heading(e.title, lang)
        return h.level if h is not None and h.weak is None else None

    def walk(nodes: list[_TocEntry]) -> None:
        for e in nodes:
            k = kind(e)
            child_kinds = [kind(c) for c in e.children]
            # children that read as chapters make a part; so do children of an entry that is no numbered
            # chapter itself, unless they read as sections (a story and its parts I, II, III)
            if k == "part" or (
                e.children
                and (
                    child_kinds.count("chapter") * 2 >= len(e.children)
                    or (k is None and child_kinds.count("section") * 2 < len(e.children))
                )
            ):
                e.level = "part"
                flat.append(e)
                walk(e.children)
            else:
                e.level = "section" if k == "section" else "chapter"
                flat.append(e)

    walk(entries)
    return flat


# ---------------------------------------------------------------------------------------------------
# walking one XHTML document


@dataclass
class _Ev:
    kind: str  # anchor | heading | block | note | skip
    text: str = ""
    ids: tuple[str, ...] = ()  # anchor ids (anchor, heading)
    tag: str = ""
    link_share: float = 0.0  # block: share of its text inside links to places in the book (contents lists)
    centred: bool = False  # block: set centred (text-align: center, <center>, a class the page's CSS centres)
    reason: str = ""  # skip: why
    count: int = 0  # skip: paragraphs inside


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _attr(el, name: str) -> str:
    for k, v in el.attrib.items():
        if k.rsplit("}", 1)[-1].rsplit(":", 1)[-1] == name:
            return v
    return ""


def _is_note(el) -> bool:
    for name in ("type", "class", "role", "id"):
        v = _attr(el, name)
        if v and _NOTE.search(v) and not re.search(r"noteref|note-?ref|footnote-?link", v, re.I):
            return True
    return False


def _boilerplate(el) -> str | None:
    """'gutenberg_header' / 'gutenberg_licence' for Project Gutenberg's own sections, 'contents' for a
    contents list inside the text, None otherwise."""
    ident, cls = el.get("id") or "", el.get("class") or ""
    if ident in ("pg-header", "pg-machine-header") or (
        ("pg-boilerplate" in cls or "pgheader" in cls) and "footer" not in ident
    ):
        return "gutenberg_header"
    if ident in ("pg-footer", "pg-end-separator") or "pgfooter" in cls or ident == "project-gutenberg-license":
        return "gutenberg_licence"
    t = _attr(el, "type")
    if _local(el.tag) == "nav" or re.search(r"\b(toc|landmarks|page-list)\b", t):
        return "contents"
    return None


class _Walker:
    """Turns a document into events: blocks of text (``<br/>`` kept as a mark), headings, notes,
    skipped boilerplate, and the anchors in ``wanted`` (those the table of contents points at)."""

    def __init__(self, wanted: set[str] | None = None, centred_classes: set[str] | None = None) -> None:
        self.wanted = wanted or set()
        self.centred_classes = centred_classes or set()
        self.centring: list[bool] = [False]
        self.events: list[_Ev] = []
        self.buf: list[str] = []
        self.link_chars = 0

    def flush(self) -> None:
        raw = "".join(self.buf)
        self.buf = []
        link, self.link_chars = self.link_chars, 0
        if raw.replace(_BR, "").strip():
            text_len = len("".join(raw.split()))
            self.events.append(
                _Ev("block", raw, link_share=min(1.0, link / max(text_len, 1)), centred=self.centring[-1])
            )

    def text_of(self, el, br: str = " ") -> str:
        parts: list[str] = []

        def rec(e) -> None:
            for child in e:
                tag = _local(child.tag)
                if tag in _SKIP_TAGS or not isinstance(child.tag, str):
                    pass
                elif tag == "br":
                    parts.append(br)
                else:
                    if child.text:
                        parts.append(child.text)
                    rec(child)
                if child.tail:
                    parts.append(child.tail)

        if el.text:
            parts.append(el.text)
        rec(el)
        return "".join(parts)

    def walk(self, el, in_link: bool = False, classify: bool = True) -> None:
        tag = _local(el.tag)
        if tag in _SKIP_TAGS or not isinstance(el.tag, str):
            return
        ident = el.get("id") or (el.get("name") if tag == "a" else None)
        block = tag in _BLOCK_TAGS
        if block and classify:
            reason = _boilerplate(el)
            if reason is not None:
                self.flush()
                inner = _Walker()
                inner.walk(el, classify=False)
                inner.flush()
                count = sum(e.count if e.kind == "skip" else 1 for e in inner.events if e.kind != "anchor")
                ids = tuple(
                    x for x in [ident] + [d.get("id") for d in el.iterdescendants() if isinstance(d.tag, str)] if x
                )
                self.events.append(_Ev("skip", self.text_of(el), ids=ids, reason=reason, count=count))
                return
            if tag not in ("body", "html") and _is_note(el):
                self.flush()
                self.events.append(_Ev("note", self.text_of(el)))
                return
        if block:
            if tag in _HEADING_TAGS:
                self.flush()
                ids = tuple(
                    x
                    for x in [ident]
                    + [d.get("id") or d.get("name") for d in el.iterdescendants() if isinstance(d.tag, str)]
                    if x and x in self.wanted
                )
                self.events.append(_Ev("heading", self.text_of(el), ids=ids, tag=tag))
                return
            self.flush()
            self.centring.append(self.centring[-1] or self._centred(el, tag))
        if ident and ident in self.wanted:
            # the place a contents entry points at: text before it stays before it
            self.flush()
            self.events.append(_Ev("anchor", ids=(ident,)))
        if tag == "br":
            self.buf.append(_BR)
            return
        if tag in _CELL_TAGS:
            self.buf.append(" ")
        link = in_link or (
            tag == "a" and bool(el.get("href")) and not el.get("href", "").startswith(("http:", "https:", "mailto:"))
        )
        if tag == "pre":
            text = self.text_of(el, br="\n").replace("\n", _BR)
            self.buf.append(text)
            self.flush()
            self.centring.pop()
            return
        if el.text:
            self.buf.append(el.text)
            if link:
                self.link_chars += len("".join(el.text.split()))
        for child in el:
            self.walk(child, link)
            if child.tail:
                self.buf.append(child.tail)
                if link:
                    self.link_chars += len("".join(child.tail.split()))
        if block:
            self.flush()
            self.centring.pop()

    def _centred(self, el, tag: str) -> bool:
        if tag == "center" or (el.get("align") or "").lower() == "center":
            return True
        if re.search(r"text-align\s*:\s*center", el.get("style") or "", re.I):
            return True
        return any(c in self.centred_classes for c in (el.get("class") or "").split())


_PROSE_END = tuple("。！？.!?”」』\"'’…）)")


def _paragraphs(raw: str) -> list[str]:
    """Paragraphs of one block: ``<br/>`` lines that read as prose are paragraphs of their own; short
    lines (verse) stay together, one per line; blank lines (``<br/><br/>``) always separate."""
    lines = raw.split(_BR)
    indented = [line.lstrip(" \t\r\n")[:1] in ("\u3000", "\u00a0", "\u2003", "\u2002") for line in lines]
    clean = [" ".join(line.split()) for line in lines]
    if len(clean) == 1:
        return [clean[0]] if clean[0] else []
    groups: list[list[tuple[str, bool]]] = [[]]
    for text, ind in zip(clean, indented):
        if text:
            groups[-1].append((text, ind))
        elif groups[-1]:
            groups.append([])
    out: list[str] = []
    for g in groups:
        if not g:
            continue
        if len(g) == 1:
            out.append(g[0][0])
            continue
        widths = [display_width(t) for t, _ in g]
        ended = sum(t.endswith(_PROSE_END) for t, _ in g) / len(g)
        prose = (
            statistics.median(widths) >= 80
            or sum(i for _, i in g) * 2 >= len(g)
            or (ended >= 0.6 and statistics.median(widths) >= 40)
        )
        if prose:
            out.extend(t for t, _ in g)
        else:
            out.append("\n".join(t for t, _ in g))
    return out


def _held_chars(content: bytes) -> int:
    """Characters of text the markup holds, counted without the parser (tags stripped, entities
    resolved, scripts, styles and ruby annotations left out), so a parser that loses text is seen."""
    declared = re.search(
        rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9_.:-]+)|<meta[^>]*charset=["']?([A-Za-z0-9_.:-]+)""",
        content[:2048],
        re.I,
    )
    enc = (declared.group(1) or declared.group(2)).decode() if declared else "utf-8"
    try:
        raw = content.decode(enc, "replace")
    except LookupError:
        raw = content.decode("utf-8", "replace")
    raw = re.sub(r"(?is)<(script|style|head|rt|rp)\b.*?</\1\s*>", " ", raw)
    raw = re.sub(r"(?s)<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!DOCTYPE[^>]*>", " ", raw)
    raw = re.sub(r"<[^<>]+>", " ", raw)  # a tag holds no "<": markup broken open leaves its text counted
    return len("".join(html.unescape(raw).split()))


def _nchars(s: str) -> int:
    return len("".join(s.replace(_BR, " ").split()))


def _parse(content: bytes):
    """XHTML as XML (self-closing anchors stay empty), falling back to the forgiving HTML parser."""
    try:
        return etree.fromstring(content, etree.XMLParser(resolve_entities=False, huge_tree=True, no_network=True))
    except etree.XMLSyntaxError:
        return lxml_html.fromstring(content)


def read_epub(path: str | Path, lang: str, opts: IngestOptions | None = None) -> ReadResult:
    path = Path(path)
    check_archive(path)
    try:
        book = epub.read_epub(str(path), options={"ignore_ncx": False})
    except Exception as exc:
        raise IngestError(
            path, "corrupted EPUB", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        ) from None
    opf_dir = _opf_dir(path)
    result = _read_book(book, path, opf_dir, _toc_entries(book), lang, in_book=False)
    if _largest_share(result.blocks) > 0.5:
        # the navigation does not cover the text (it names the front matter only, or leaves most of the
        # book under one entry): the book's own contents table and its centred headings decide
        contents, rows = _book_contents(book, path, opf_dir)
        if contents:
            again = _read_book(book, path, opf_dir, contents, lang, in_book=True, rows=rows)
            if _largest_share(again.blocks) < _largest_share(result.blocks):
                again.warnings.append(
                    f"the navigation does not cover the text; chapters from the contents table "
                    f"in the book ({sum(1 + len(e.children) for e in contents)} entries)"
                )
                result = again
    return result


def _read_book(
    book, path: Path, opf_dir: str, entries: list[_TocEntry], lang: str, in_book: bool, rows: set[str] | None = None
) -> ReadResult:
    result = ReadResult(blocks=[], format="epub", encoding="utf-8")
    toc = _assign_levels(entries, lang)
    by_file: dict[str, list[_TocEntry]] = {}
    for e in toc:
        if e.file and e.level != "section":
            by_file.setdefault(e.file, []).append(e)
    # a table of contents that names the chapters (by file or by anchor) decides them; then only headings
    # that read as chapter headings (第三章, CHAPTER III) are added, never a numbered subheading
    toc_driven = sum(1 for e in toc if e.file and e.level == "chapter") >= 2
    guide_skip = {
        posixpath.normpath(unquote(g.get("href", "").split("#")[0]))
        for g in (book.guide or [])
        if _SKIP_TYPES.search(g.get("type", ""))
    }
    # the book's own name (dc:title): a heading that only repeats it on every item is a running title
    book_title = " ".join(str((book.get_metadata("DC", "title") or [("",)])[0][0]).split()).casefold()
    with zipfile.ZipFile(path) as zf:
        for idref, _linear in book.spine:
            _read_item(book, idref, zf, opf_dir, guide_skip, by_file, toc_driven, lang, result, in_book, book_title)
    _drop_contents_lists(result)
    if in_book:
        _drop_contents_rows(result, (rows or set()) | {_title_key(e.title) for e in toc})
        _nest_centred(result.blocks)
    return result


def _title_key(title: str) -> str:
    return re.sub(r"[\W_]+", "", _PAGE_NUMBER.sub("", title)).lower()


def _drop_contents_rows(result: ReadResult, keys: set[str]) -> None:
    """The rows of the contents table the chapters came from (titles with page numbers), three or more
    in a row, with the "Contents" title before them: dropped and counted as ``contents``."""
    blocks = result.blocks
    keep = [True] * len(blocks)
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and (not blocks[j].heading or blocks[j].layout) and _title_key(blocks[j].text) in keys:
            j += 1
        if j - i >= 3:
            start = i - 1 if i > 0 and _CONTENTS_TITLE.match(blocks[i - 1].text.strip(". ")) else i
            keep[start:j] = [False] * (j - start)
            result.drop("contents", j - start)
            i = j
        else:
            i += 1
    result.blocks[:] = [b for b, k in zip(blocks, keep) if k]


def _largest_share(blocks: list[Block]) -> float:
    """The share of the text under the heading that holds most of it."""
    sizes = [0]
    for b in blocks:
        if b.heading:
            sizes.append(0)
        else:
            sizes[-1] += len("".join(b.text.split()))
    return max(sizes) / max(1, sum(sizes))


def _nest_centred(blocks: list[Block]) -> None:
    """Centred headings found inside a contents entry that names no sections of its own (a story's
    PART I, II, III) are its sections: the entry becomes their part. Inside an entry whose sections
    the contents name, centred lines (a poem's title) stay text."""
    groups: list[list[Block]] = [[]]
    for b in blocks:
        if b.heading and b.from_toc and b.top:
            groups.append([])
        groups[-1].append(b)
    for g in groups:
        top = g[0] if g and g[0].heading and g[0].top else None
        centred = [b for b in g if b.heading and b.layout]
        if not centred:
            continue
        if top is None or any(b.heading and b.from_toc and not b.top for b in g):
            for b in centred:
                b.heading, b.info, b.layout = False, None, False
        elif top.info is not None and top.info.level == "chapter":
            top.info = Heading("part", top.info.number, top.info.text)


_PAGE_NUMBER = re.compile(r"\s*\b(?:\d{1,4}|[ivxlc]{1,7})\s*$", re.I)


def _book_contents(book, path: Path, opf_dir: str) -> tuple[list[_TocEntry], set[str]]:
    """The contents table inside the book: the largest group (a table, a list, a run of paragraphs)
    of three or more links to anchors in the book's documents, as a tree. An entry's level comes from
    the list it sits in (nested lists), else from its indent (leading spaces, a margin) or its class
    (Gutenberg marks the top rows of a two-level table with a class of their own). Also returns the
    rows' titles reduced for comparison, to drop the table from the text."""
    docs = []
    with zipfile.ZipFile(path) as zf:
        for idref, _linear in book.spine:
            item = book.get_item_with_id(idref)
            if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
                continue
            content = _member(zf, opf_dir, item.get_name()) or item.get_content()
            try:
                tree = _parse(content)
            except Exception:
                continue
            docs.append((posixpath.normpath(item.get_name()), tree))
    doc_names = {name for name, _ in docs}
    ids = {
        (name, i)
        for name, tree in docs
        for el in tree.iter()
        if isinstance(el.tag, str)
        for i in (el.get("id"), el.get("name") if _local(el.tag) == "a" else None)
        if i
    }
    best: list[tuple] = []
    for name, tree in docs:
        groups: dict[int, list[tuple]] = {}
        for a in tree.iter():
            if not isinstance(a.tag, str) or _local(a.tag) != "a" or not a.get("href"):
                continue
            href = unquote(a.get("href"))
            if href.startswith(("http:", "https:", "mailto:")):
                continue
            file, _, anchor = href.partition("#")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), file)) if file else name
            if not anchor and target == name:
                continue
            # a link to an anchor the book holds, or to the start of another of its documents
            found = (target, anchor) in ids if anchor else target in doc_names
            entry = next((x for x in a.iterancestors() if _local(x.tag) in ("li", "tr", "p", "dt", "dd", "div")), a)
            # the group: the outermost list or table around the entry (nested lists are one contents)
            lists = [x for x in entry.iterancestors() if _local(x.tag) in ("table", "ul", "ol", "nav")]
            box = (
                lists[-1]
                if lists
                else next((x for x in entry.iterancestors() if _local(x.tag) in ("div", "body")), entry)
            )
            link_text = " ".join("".join(a.itertext()).split())
            raw = "".join(entry.itertext())
            title = " ".join(raw.split())
            if link_text and (not _PAGE_NUMBER.fullmatch(link_text) or link_text == title):
                title = _PAGE_NUMBER.sub("", link_text).strip() or link_text  # "I" alone is a title
            else:
                title = _PAGE_NUMBER.sub("", title).strip()
            if not title:
                continue
            depth = sum(1 for x in entry.iterancestors() if _local(x.tag) in ("ul", "ol"))
            lead = len(raw) - len(raw.lstrip(" \u00a0\t"))
            cell = next((c for c in entry.iter() if isinstance(c.tag, str) and _local(c.tag) in ("td", "th")), None)
            cls = (cell.get("class") if cell is not None else entry.get("class")) or ""
            margin = re.search(r"(?:margin|padding)-left\s*:\s*([\d.]+)", entry.get("style") or "")
            groups.setdefault(id(box), []).append(
                (title, target, anchor, depth, lead, cls, float(margin.group(1)) if margin else 0.0, found)
            )
        for g in groups.values():
            if sum(e[7] for e in g) >= 3 and len(g) > len(best):
                best = g
    if not best:
        return [], set()
    rows = {_title_key(e[0]) for e in best}
    # levels: nested lists first, then indents, then classes (the rarer class is the upper level)
    for key in (3, 4, 6):
        values = sorted({e[key] for e in best})
        if len(values) > 1:
            rank = {v: min(i, 1) for i, v in enumerate(values)}
            levels = [rank[e[key]] for e in best]
            break
    else:
        classes = Counter(e[5] for e in best)
        levels = [0] * len(best)
        if len(classes) == 2:
            top = min(classes, key=lambda c: (classes[c], c))
            levels = [0 if e[5] == top else 1 for e in best]
    tree: list[_TocEntry] = []
    for (title, target, anchor, *rest), lvl in zip(best, levels):
        if not rest[-1]:
            continue  # an entry whose anchor the book does not hold
        node = _TocEntry(title, target, anchor or None, lvl)
        if lvl == 1 and tree:
            tree[-1].children.append(node)
        else:
            node.depth = 0
            tree.append(node)
    return tree, rows


def _read_item(
    book,
    idref: str,
    zf: zipfile.ZipFile,
    opf_dir: str,
    guide_skip: set[str],
    by_file: dict[str, list[_TocEntry]],
    toc_driven: bool,
    lang: str,
    result: ReadResult,
    in_book: bool = False,
    book_title: str = "",
) -> None:
    """Read one spine item into ``result``."""
    item = book.get_item_with_id(idref)
    if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
        return
    name = item.get_name()
    if (
        isinstance(item, epub.EpubNav)
        or "nav" in (getattr(item, "properties", None) or [])
        or _SKIP_NAMES.search(posixpath.basename(name))
    ):
        result.drop("front_matter")
        return
    # the file's own bytes: ebooklib hands documents back re-serialised by an HTML parser
    # (self-closing anchors reopened, broken markup silently repaired), which is not what the file holds
    content = _member(zf, opf_dir, name) or item.get_content()
    if not content.strip():
        return
    try:
        tree = _parse(content)
    except Exception:
        result.warnings.append(f"{name}: unparsable XHTML, skipped")
        result.drop("unparsable_items")
        return
    body = next((e for e in tree.iter() if _local(e.tag) == "body"), None)
    root = body if body is not None else tree
    if _is_front_matter(root, posixpath.normpath(name) in guide_skip):
        result.drop("front_matter")
        return
    marks = by_file.get(posixpath.normpath(name))
    if marks is None:  # contents hrefs relative to a nav file in another folder: match by file name
        same = [v for k, v in by_file.items() if posixpath.basename(k) == posixpath.basename(name)]
        marks = same[0] if len(same) == 1 else []
    css = " ".join("".join(e.itertext()) for e in tree.iter() if isinstance(e.tag, str) and _local(e.tag) == "style")
    centred = set(re.findall(r"\.([\w-]+)\s*(?:,[^{]*)?\{[^}]*text-align\s*:\s*center", css, re.I))
    walker = _Walker({e.anchor for e in marks if e.anchor}, centred)
    walker.walk(root)
    walker.flush()
    used = _emit(walker.events, name, marks, toc_driven, lang, result, in_book, book_title)
    held = _held_chars(content)
    result.chars_extracted += held
    if held - used >= 100 and used < SHORTFALL * held:
        result.warnings.append(f"{name}: only {used:,} of the {held:,} characters of text in its markup were extracted")


def _opf_dir(path: Path) -> str:
    """The folder of the package document (content.opf), from META-INF/container.xml."""
    with zipfile.ZipFile(path) as zf:
        try:
            root = etree.fromstring(zf.read("META-INF/container.xml"))
        except (KeyError, etree.XMLSyntaxError):
            return ""
    for el in root.iter():
        if _local(el.tag) == "rootfile" and el.get("full-path"):
            return posixpath.dirname(el.get("full-path"))
    return ""


def _member(zf: zipfile.ZipFile, opf_dir: str, name: str) -> bytes | None:
    try:
        return zf.read(posixpath.normpath(posixpath.join(opf_dir, unquote(name))))
    except KeyError:
        return None


def _emit(
    events: list[_Ev],
    name: str,
    marks: list[_TocEntry],
    toc_driven: bool,
    lang: str,
    result: ReadResult,
    in_book: bool = False,
    book_title: str = "",
) -> int:
    """Turn one spine item's events into blocks; returns the characters accounted for.

    A contents entry at the top of the item takes its title from the heading found there, unless that
    heading only repeats the book's name (世說新語 atop every chapter file, the chapter's own name
    beside it in plain text): then the entry's label is the title and the heading is a running title,
    dropped and counted like a PDF's running header."""
    loc = f"item:{name}"
    used = 0
    at_anchor: dict[str, list[_TocEntry]] = {}
    for e in marks:
        if e.anchor:
            at_anchor.setdefault(e.anchor, []).append(e)
    start_marks = [e for e in marks if not e.anchor]
    found_ids = {i for ev in events for i in ev.ids}
    for a in at_anchor:
        if a not in found_ids:
            result.warnings.append(f"{name}: the table of contents points at #{a}, which is not in the file")
    pending: list[_TocEntry] = list(start_marks)
    seen_text = False  # this item has given a paragraph already
    had_heading = False  # ... or a heading
    first_tag: str | None = None  # the tag of the item's first heading (h1, h2, ...)

    def open_marks(i: int) -> int:
        """Emit headings for the marks waiting at position i; a heading element right there (after
        empty anchors) gives the last of them its title. Returns the next event index to read."""
        nonlocal used, had_heading, first_tag
        if not pending:
            return i
        j = i
        while j < len(events) and events[j].kind == "anchor":
            j += 1
        heading = events[j] if j < len(events) and events[j].kind == "heading" else None
        had_heading = True
        for k, e in enumerate(pending):
            title = e.title
            synthetic = True
            if heading is not None and k == len(pending) - 1:
                text = " ".join(heading.text.split())
                used += _nchars(heading.text)
                if (
                    book_title
                    and e.title
                    and text.casefold() == book_title
                    and " ".join(e.title.split()).casefold() != book_title
                ):
                    result.drop("headers")
                    result.stats["boilerplate_chars"] = result.stats.get("boilerplate_chars", 0) + _nchars(heading.text)
                else:
                    title, synthetic = text or e.title, False
                    first_tag = first_tag or heading.tag
            if title:
                result.blocks.append(
                    Block(
                        text=title,
                        loc=loc,
                        heading=True,
                        synthetic=synthetic,
                        from_toc=True,
                        info=Heading(e.level, _number(title, lang), title),
                        top=e.depth == 0,
                    )
                )
        pending.clear()
        return j + 1 if heading is not None else i

    i = open_marks(0)
    while i < len(events):
        ev = events[i]
        if ev.kind == "anchor":
            for a in ev.ids:
                pending.extend(at_anchor.pop(a, []))
            if pending:
                i = open_marks(i + 1)
                continue
            i += 1
            continue
        if ev.kind == "heading":
            for a in ev.ids:
                pending.extend(at_anchor.pop(a, []))
            if pending:
                i = open_marks(i)  # the heading itself gives the title
                continue
            text = " ".join(ev.text.split())
            used += _nchars(ev.text)
            if _repeats_title(text, loc, result, seen_text):
                i += 1
                continue
            info = classify_heading(text, lang) if text else None
            strong = info is not None and info.weak is None
            first = not seen_text and not had_heading and (not toc_driven or not marks)
            deeper = first_tag is not None and ev.tag > first_tag  # h3 under an item's h2: a subheading
            if text and (strong or first or (info is not None and not toc_driven and not deeper)):
                if first:
                    first_tag = ev.tag
                result.blocks.append(Block(text=text, loc=loc, heading=True, info=info))
                had_heading = True
            elif text:
                result.blocks.append(Block(text=text, loc=loc))
                seen_text = True
            i += 1
            continue
        if ev.kind == "note":
            text = " ".join(ev.text.split())
            if text:
                result.notes.append(text)  # kept apart: written to <book>.<lang>.notes.jsonl
                result.drop("notes")
            used += _nchars(ev.text)
        elif ev.kind == "skip":
            used += _nchars(ev.text)
            if ev.count:
                result.drop(ev.reason, ev.count)
            if ev.reason.startswith("gutenberg"):
                result.stats["boilerplate_chars"] = result.stats.get("boilerplate_chars", 0) + _nchars(ev.text)
        else:
            used += _nchars(ev.text)
            for p in _paragraphs(ev.text):
                if _repeats_title(p, loc, result, seen_text):
                    continue
                # a line that reads as a chapter heading (第三章 风雪, CHAPTER III.) in a <p> or a <br/>
                # line, when the contents do not name the chapters: books converted from text files mark
                # their chapters no other way
                info = classify_heading(p, lang) if len(p) <= 60 and "\n" not in p and not toc_driven else None
                if info is not None and info.weak is None and ev.link_share < 0.8:
                    result.blocks.append(Block(text=p, loc=loc, heading=True, info=info))
                    continue
                # when the book's own contents decide: a centred paragraph on its own that reads as a
                # heading (PART I, II, THE RETURN) is a section of the entry it sits in
                if in_book and ev.centred and ev.link_share < 0.5 and "\n" not in p and len(p) <= 60:
                    h = classify_heading(p, lang)
                    if h is not None or title_text(p, lang):
                        result.blocks.append(
                            Block(
                                text=p,
                                loc=loc,
                                heading=True,
                                layout=True,
                                info=Heading("chapter", h.number if h else None, p),
                            )
                        )
                        continue
                result.blocks.append(Block(text=p, loc=loc, link_share=ev.link_share))
                seen_text = True
        i += 1
    return used


def _repeats_title(text: str, loc: str, result: ReadResult, seen_text: bool) -> bool:
    """<p><strong>Title</strong></p> or <h4>Title</h4> right under <h1>Title</h1> (or under the contents
    entry's title at an anchor), in any case: dropped, counted."""
    last = result.blocks[-1] if result.blocks else None
    if (
        last is not None
        and last.heading
        and last.loc == loc
        and " ".join(text.split()).casefold() == " ".join(last.text.split()).casefold()
    ):
        result.drop("repeated_titles")
        return True
    return False


def _number(title: str, lang: str) -> int | None:
    h = classify_heading(title, lang)
    return h.number if h is not None else None


def _drop_contents_lists(result: ReadResult) -> None:
    """A contents list inside the text: three or more paragraphs in a row made of links to places in
    the book (with the "Contents" title before them) is dropped and counted as ``contents``."""
    blocks = result.blocks
    keep = [True] * len(blocks)
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and not blocks[j].heading and blocks[j].link_share >= 0.8:
            j += 1
        if j - i >= 3:
            start = i - 1 if i > 0 and _CONTENTS_TITLE.match(blocks[i - 1].text) else i
            for k in range(start, j):
                keep[k] = False
            result.drop("contents", j - start)
            i = j
        else:
            i += 1
    result.blocks[:] = [b for b, k in zip(blocks, keep) if k]


def _is_front_matter(root, in_guide: bool) -> bool:
    """Cover, contents, copyright and notice pages: by the guide, by epub:type on the page itself,
    or by what they say (a short page, Project Gutenberg's own sections left out, whose words are
    about copyright and licences)."""
    if in_guide:
        return True
    total = _nchars("".join(root.itertext()))
    for el in [root] + [c for c in root if isinstance(c.tag, str)]:
        t = _attr(el, "type")
        if t and _SKIP_TYPES.search(t):
            # the whole page is of that type (a section holding a contents list inside the text is not)
            if el is root or total == 0 or _nchars("".join(el.itertext())) >= 0.8 * total:
                return True
    own = " ".join(_own_text(root).split())
    if GUTENBERG_START.search(own) or GUTENBERG_END.search(own):
        return False  # the header or licence is cut at its marker line; the rest of the page is the book's
    return 0 < len(own) < 3000 and len(_NOTICE_WORDS.findall(own)) >= 2


def _own_text(el) -> str:
    """The text of ``el`` without Project Gutenberg's own sections."""
    parts = [el.text or ""]
    for child in el:
        if (
            isinstance(child.tag, str)
            and _local(child.tag) not in _SKIP_TAGS
            and (_boilerplate(child) is None or _local(child.tag) == "nav")
        ):
            parts.append(_own_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
