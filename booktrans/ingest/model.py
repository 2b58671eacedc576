"""Data types shared by the ingest readers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text.headings import Heading


@dataclass
class Block:
    """A piece of text as a reader found it, before chapters are assigned."""

    text: str
    loc: str  # "p3" (PDF page), "item:chapter1.xhtml" (EPUB spine item), "l120" (TXT line)
    heading: bool = False
    info: Heading | None = None  # level and number when the reader knows them (else classified from the text)
    synthetic: bool = False  # a title the reader supplied (from the table of contents), not text of the book
    from_toc: bool = False  # a chapter or part the book's table of contents names (never second-guessed)
    link_share: float = 0.0  # EPUB: share of the text inside links to places in the book (contents lists)
    layout: bool = False  # a title found by the page's layout alone (set apart by indent, centring, blank lines)
    top: bool = False  # an entry at the top of the book's contents: it closes the part open before it


@dataclass
class Paragraph:
    chapter: int
    title: str
    para: int
    text: str
    loc: str
    part: str = ""  # title of the part (第一部, PART ONE, a story) the chapter belongs to, when the book has parts
    level: int = 1  # depth of the chapter's heading in the book: 1 = top, 2 = inside a part

    def to_json(self) -> dict:
        out = {
            "chapter": self.chapter,
            "title": self.title,
            "para": self.para,
            "text": self.text,
            "loc": self.loc,
            "level": self.level,
        }
        if self.part:
            out["part"] = self.part
        return out


@dataclass
class ReadResult:
    """What a reader returns: blocks in reading order, how the file was decoded, and what it dropped."""

    blocks: list[Block]
    format: str
    encoding: str | None = None
    chars_extracted: int = 0  # characters other than white space the reader found in the file
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # footnotes/endnotes, kept apart from the text
    bad_bytes: int = 0  # invalid bytes replaced while decoding
    proposals: dict[str, str] = field(default_factory=dict)  # what each encoding detector proposed, when they ran
    stats: dict[str, int] = field(default_factory=dict)  # sections, split paragraphs, boilerplate and title characters

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


@dataclass(frozen=True)
class IngestOptions:
    """Per-run choices, params ``ingest`` (the values live in params.yaml), and per-book ones from the
    manifest. Lengths are characters."""

    simplify: bool  # Traditional -> Simplified Chinese (OpenCC t2s)
    max_paragraph_chars: int  # a longer paragraph is split at sentence ends (counted, warned)
    check_language: bool = True  # the edition must be in the manifest's language
    chapter_pattern: str | None = None  # regex: lines matching it (whole) are the chapter headings, nothing else

    @classmethod
    def from_params(cls, ingest, **book) -> "IngestOptions":
        """From the typed ``ingest`` record (booktrans.params), with a book's ``check_language`` and
        ``chapter_pattern``."""
        return cls(simplify=ingest.simplify, max_paragraph_chars=ingest.max_paragraph_chars, **book)

    def pattern(self) -> re.Pattern | None:
        return re.compile(self.chapter_pattern) if self.chapter_pattern else None

    def key(self) -> dict:
        """What the cache key needs to know."""
        return {
            "check_language": self.check_language,
            "simplify": self.simplify,
            "chapter_pattern": self.chapter_pattern,
            "max_paragraph_chars": self.max_paragraph_chars,
        }


@dataclass
class IngestResult:
    paragraphs: list[Paragraph]
    report: dict
    notes: list[str] = field(default_factory=list)
