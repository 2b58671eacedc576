"""Ingest: turn a book file (PDF, EPUB, TXT) into clean paragraphs with chapter ids.

``ingest_file`` is the one entry point. It picks the reader by file type, normalises the text,
assigns chapters from the headings the reader marked, checks the language, and returns paragraphs
plus a report of what was kept and what was dropped, with reasons.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import IngestError
from ..text import detect_lang, normalize
from ..text.normalize import to_simplified
from ..text.headings import is_numbered_heading, parse_heading
from .epub import read_epub
from .model import Block, IngestResult, Paragraph, ReadResult
from .pdf import read_pdf
from .txt import read_txt

READERS = {".pdf": read_pdf, ".epub": read_epub, ".txt": read_txt}

__all__ = ["ingest_file", "structure", "IngestError", "Paragraph", "IngestResult"]


def _reader_for(path: Path):
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise IngestError(path, "unsupported format", f"expected one of {', '.join(sorted(READERS))}")
    return reader


def _demote_list_items(blocks: list[Block]) -> None:
    """Weak numbered headings ("3. Title", "3、标题") count only when they run 1, 2, 3, ... through the
    book; otherwise they are numbered list items and become ordinary paragraphs."""
    numbered = [b for b in blocks if b.heading and is_numbered_heading(b.text)]
    if not numbered:
        return
    numbers = [parse_heading(b.text, "en")[0] for b in numbered]  # type: ignore[index]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))) or numbers[0] > 1:
        for b in numbered:
            b.heading = False


def structure(blocks: list[Block], lang: str, result: ReadResult, simplify: bool = False) -> list[Paragraph]:
    """Assign chapter indices and titles; normalise text (optionally Traditional -> Simplified);
    drop empty paragraphs (counted)."""
    _demote_list_items(blocks)
    if simplify and lang == "zh":
        for b in blocks:
            b.text = to_simplified(b.text)
    paragraphs: list[Paragraph] = []
    chapter, title = 0, ""
    for block in blocks:
        if block.heading:
            text = normalize(block.text, lang, join_cjk_spaces=False)
        elif "\n" not in block.text:
            text = normalize(block.text, lang)
        else:
            text = "\n".join(
            normalize(line, lang) for line in block.text.split("\n") if line.strip()
        )
        if not text:
            result.drop("empty")
            continue
        if block.heading:
            chapter += 1
            title = text
            continue
        paragraphs.append(Paragraph(chapter=chapter, title=title, para=len(paragraphs), text=text, loc=block.loc))
    return paragraphs


def ingest_file(path: str | Path, lang: str, check_language: bool = True, simplify: bool = False) -> IngestResult:
    """Read one edition of a book. Raises IngestError with the file and the reason on bad input.

    ``simplify`` converts Traditional Chinese to Simplified (Chinese editions only)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(path, "missing file", "the manifest names a file that does not exist")
    if not path.is_file():
        raise IngestError(path, "not a file")
    reader = _reader_for(path)
    result = reader(path, lang)
    paragraphs = structure(result.blocks, lang, result, simplify=simplify)
    if not paragraphs:
        raise IngestError(path, "no text", "nothing readable was extracted")
    sample = "".join(p.text for p in paragraphs[:200])
    found = detect_lang(sample)
    if check_language and found is not None and found != lang:
        raise IngestError(path, "wrong language", f"the manifest says {lang}, the text is {found}")
    chapters = sorted({p.chapter for p in paragraphs})
    report = {
        "status": "ok",
        "format": result.format,
        "encoding": result.encoding,
        "chapters": len(chapters),
        "chapter_titles": _titles(paragraphs),
        "paragraphs": len(paragraphs),
        "chars_extracted": result.chars_extracted,
        "chars_kept": sum(len(p.text) for p in paragraphs),
        "dropped": dict(sorted(result.dropped.items())),
        "notes": len(result.notes),
        "warnings": list(result.warnings),
    }
    return IngestResult(paragraphs=paragraphs, report=report, notes=list(result.notes))


def _titles(paragraphs: list[Paragraph]) -> list[str]:
    seen: dict[int, str] = {}
    for p in paragraphs:
        seen.setdefault(p.chapter, p.title)
    return [seen[c] for c in sorted(seen)]
