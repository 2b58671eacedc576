"""Data types shared by the ingest readers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Block:
    """A piece of text as a reader found it, before chapters are assigned."""

    text: str
    loc: str  # "p3" (PDF page), "item:chapter1.xhtml" (EPUB spine item), "l120" (TXT line)
    heading: bool = False


@dataclass
class Paragraph:
    chapter: int
    title: str
    para: int
    text: str
    loc: str

    def to_json(self) -> dict:
        return {"chapter": self.chapter, "title": self.title, "para": self.para, "text": self.text, "loc": self.loc}


@dataclass
class ReadResult:
    """What a reader returns: blocks in reading order, how the file was decoded, and what it dropped."""

    blocks: list[Block]
    format: str
    encoding: str | None = None
    chars_extracted: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # footnotes/endnotes, kept apart from the text

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


@dataclass
class IngestResult:
    paragraphs: list[Paragraph]
    report: dict
    notes: list[str] = field(default_factory=list)
