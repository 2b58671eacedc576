"""Ingest: turn a book file (PDF, EPUB, TXT) into clean paragraphs with chapter ids.

``ingest_file`` is the one entry point. It picks the reader by file type, drops the Project
Gutenberg header and licence, decides which headings are chapters (parts above them, sections inside
them), splits paragraphs far longer than any real one at sentence ends, normalises the text, checks
the language, and returns paragraphs plus a report of what was kept and what was dropped, with
reasons.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ..errors import IngestError
from ..text import detect_lang, length, normalize, split_sentences
from ..text.headings import Heading, classify_heading
from ..text.lang import letter_shares
from ..text.normalize import to_simplified
from .boilerplate import cut_gutenberg
from .epub import read_epub
from .model import Block, IngestOptions, IngestResult, Paragraph, ReadResult
from .pdf import read_pdf
from .txt import read_txt

READERS = {".pdf": read_pdf, ".epub": read_epub, ".txt": read_txt}

__all__ = ["ingest_file", "structure", "IngestError", "IngestOptions", "Paragraph", "IngestResult"]

PAGE_CHARS = 1000  # "more than a page": a printed page holds ~800 Chinese characters or ~2,000 English letters
MIN_SCRIPT_SHARE = (
    0.5  # at least this share of the letters must be Han or Latin, else the text is in no language we read
)
WEAK_AFTER_SENTENCE = 0.6  # weak headings (bare numbers, numbered titles) must mostly follow the end of a sentence
_SENT_END = tuple("。！？.!?”」』\"'’…）)》")
_INDENT_BREAK = re.compile(r"\u3000{2,}|[ \t\u00a0]{3,}(?=\S)")


def _reader_for(path: Path):
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise IngestError(path, "unsupported format", f"expected one of {', '.join(sorted(READERS))}")
    return reader


def _nonspace(text: str) -> int:
    return len("".join(text.split()))


def _split_at_indents(blocks: list[Block], lang: str, limit: int) -> list[Block]:
    """A block far longer than any paragraph (a whole book on one line) is first cut where the
    typesetter's indents (two ideographic spaces, or three spaces or more) start paragraphs. A
    chapter heading glued to the end of a piece (its line break lost) is cut off and becomes one."""
    out: list[Block] = []
    for b in blocks:
        if len(b.text) <= limit or b.heading:
            out.append(b)
            continue
        for piece in _INDENT_BREAK.split(b.text):
            piece = piece.strip()
            if not piece:
                continue
            info = classify_heading(piece, lang) if len(piece) <= 60 else None
            if info is not None and info.weak is None:
                out.append(Block(text=piece, loc=b.loc, heading=True, info=info))
                continue
            cut = _heading_tail(piece, lang)
            if cut is not None:
                if piece[: cut[0]].strip():
                    out.append(Block(text=piece[: cut[0]].strip(), loc=b.loc))
                out.append(Block(text=piece[cut[0] :].strip(), loc=b.loc, heading=True, info=cut[1]))
            else:
                out.append(Block(text=piece, loc=b.loc))
    return out


def _heading_tail(piece: str, lang: str) -> tuple[int, Heading] | None:
    """(where it starts, the heading) when ``piece`` ends with a chapter heading that lost its line break
    ("……雨村忙回头看时 第三回　贾雨村夤缘复旧职　林黛玉抛父进京都"), else None."""
    start = max(0, len(piece) - 80)
    for k in range(start, len(piece) - 1):
        if piece[k].isspace() or (k > 0 and lang == "en" and not piece[k - 1].isspace()):
            continue
        info = classify_heading(piece[k:], lang)
        if info is not None and info.weak is None:
            return k, info
    return None


def _resolve_headings(blocks: list[Block], lang: str, pattern: re.Pattern | None) -> str:
    """Decide which marked blocks really are headings and at which level; returns the level the
    book's chapters sit at. Weak forms must run 1, 2, 3, ... (restarting after a part is fine) and
    mostly follow a sentence end; an unnumbered heading repeated three times or more is a subheading."""
    keep: list[bool] = [True] * len(blocks)
    for i, b in enumerate(blocks):
        text = b.text.strip()
        if pattern is not None:
            if pattern.fullmatch(text):
                h = classify_heading(text, lang)
                b.heading, b.info = True, Heading("chapter", h.number if h else None, text)
                continue
            info = b.info or (classify_heading(text, lang) if b.heading else None)
            if b.heading and info is not None and info.level == "part":
                b.info = Heading("part", info.number, text)
            elif b.synthetic:
                keep[i] = False
            else:
                b.heading, b.info = False, None
            continue
        if b.heading and b.info is None:
            b.info = classify_heading(text, lang) or Heading("chapter", None, text)
    blocks[:] = [b for b, k in zip(blocks, keep) if k]
    if pattern is None:
        _layout_parents(blocks)
        _demote_weak(blocks)
        _demote_repeated(blocks)
    numbered = {b.info.level for b in blocks if b.heading and b.info is not None and b.info.number is not None}
    levels = {b.info.level for b in blocks if b.heading and b.info is not None}
    for level in ("chapter", "section"):
        if level in numbered:
            return level
    return "chapter" if "chapter" in levels else "section" if "section" in levels else "part"


def _layout_parents(blocks: list[Block]) -> None:
    """A title found by layout alone (a story's name) whose next heading, within twenty paragraphs, is
    numbered 0 or 1 (一, I, Chapter 1) is the parent of the numbered headings after it: a part, when
    the book has two such titles or more. A collection of stories, some cut into numbered sections,
    nests them under each story."""
    heads = [i for i, b in enumerate(blocks) if b.heading and b.info is not None]
    parents = [
        a
        for a, nxt in zip(heads, heads[1:])
        if blocks[a].layout
        and blocks[a].info.number is None
        and blocks[a].info.level == "chapter"
        and blocks[nxt].info.level == "chapter"
        and blocks[nxt].info.number in (0, 1)
        and nxt - a - 1 <= 20
    ]
    # a collection; one title over chapter 1 further down the text is the book's own name, unless it
    # sits right on its section 一
    for a in parents:
        if len(parents) >= 2 or blocks[a + 1].heading:
            blocks[a].info = Heading("part", None, blocks[a].info.text)


def _demote_weak(blocks: list[Block]) -> None:
    parts = [i for i, b in enumerate(blocks) if b.heading and b.info is not None and b.info.level == "part"]
    kinds: dict[str, list[int]] = {}
    for i, b in enumerate(blocks):
        if b.heading and b.info is not None and b.info.weak:
            kinds.setdefault(b.info.weak, []).append(i)
    for kind, idx in kinds.items():
        ok, prev, last, after_sentence = True, None, -1, 0
        for i in idx:
            n = blocks[i].info.number  # type: ignore[union-attr]
            new_part = any(last < k < i for k in parts)
            if n is None or not (
                n == (prev + 1 if prev is not None else 1) or (prev is None and n == 0) or (new_part and n == 1)
            ):
                ok = False
                break
            prev, last = n, i
            before = blocks[i - 1] if i > 0 else None
            if before is None or before.heading or before.text.rstrip().endswith(_SENT_END):
                after_sentence += 1
        if not ok or after_sentence < WEAK_AFTER_SENTENCE * len(idx):
            for i in idx:
                blocks[i].heading, blocks[i].info = False, None


def _demote_repeated(blocks: list[Block]) -> None:
    def candidate(b: Block) -> bool:
        return (
            b.heading and b.info is not None and b.info.number is None and b.info.level == "chapter" and not b.from_toc
        )

    counts = Counter(b.text.strip().lower() for b in blocks if candidate(b))
    for b in blocks:
        if candidate(b) and counts[b.text.strip().lower()] >= 3:
            b.heading, b.info = False, None


def _split_long(text: str, lang: str, limit: int) -> tuple[list[str], int]:
    """Cut a normalised paragraph longer than ``limit`` at sentence ends into pieces of at most
    ``limit`` characters. A sentence longer than ``limit`` is cut at clause punctuation or spaces,
    as a last resort anywhere; returns (pieces, how many such forced cuts were made)."""
    forced = 0
    units: list[str] = []
    for sentence in split_sentences(text.replace("\n", " "), lang) if "\n" not in text else text.split("\n"):
        while len(sentence) > limit:
            window = sentence[:limit]
            cut = max(window.rfind(c) for c in "，；：、,;: ")
            cut = cut + 1 if cut > limit // 2 else limit
            units.append(sentence[:cut])
            sentence = sentence[cut:]
            forced += 1
        if sentence:
            units.append(sentence)
    sep = "\n" if "\n" in text else ("" if lang == "zh" else " ")
    pieces: list[str] = []
    cur = ""
    for u in units:
        if cur and len(cur) + len(sep) + len(u) > limit:
            pieces.append(cur)
            cur = u
        else:
            cur = cur + sep + u if cur else u
    if cur:
        pieces.append(cur)
    return [p.strip() for p in pieces if p.strip()], forced


def structure(blocks: list[Block], lang: str, result: ReadResult, opts: IngestOptions) -> list[Paragraph]:
    """Assign chapters (and parts) to the reader's blocks, normalise their text (optionally Traditional
    -> Simplified) and return the paragraphs. Everything left out is counted in ``result.dropped``."""
    cut_gutenberg(blocks, result)
    blocks = _split_at_indents(blocks, lang, opts.max_paragraph_chars)
    chapter_level = _resolve_headings(blocks, lang, opts.pattern())
    if opts.simplify and lang == "zh":
        for b in blocks:
            b.text = to_simplified(b.text)
    paragraphs: list[Paragraph] = []
    chapter, title, part, level = 0, "", "", 1
    layout_parts = any(b.heading and b.layout and b.info is not None and b.info.level == "part" for b in blocks)
    pending = False  # a heading was seen since the last paragraph: the next paragraph opens a chapter
    sections = split = forced_total = title_chars = 0
    first_split = ""
    for block in blocks:
        info = block.info if block.heading else None
        if info is not None and info.level == "chapter" and info.number is None and chapter_level == "section":
            info = Heading("section", None, info.text)  # 序 / 后记 in a book whose chapters are 第X节
        if info is not None and info.level != chapter_level and not (info.level == "part" and chapter_level != "part"):
            info = None  # a section inside a chapter: its heading stays in the text as a paragraph
            sections += 1
        if info is not None:
            text = normalize(block.text, lang, join_cjk_spaces=False)
            if not text:
                result.drop("empty")
                continue
            if info.level == "part" and chapter_level != "part":
                part = title = text
                level = 1
            else:
                if block.top or (layout_parts and (block.layout or info.number is None)):
                    part = ""  # a story without sections after stories with them: back at the top
                title = text
                level = 2 if part else 1
            title_chars += _nonspace(text)
            pending = True
            continue
        if "\n" not in block.text:
            text = normalize(block.text, lang, join_cjk_spaces=not block.heading)  # a subheading keeps its spaces
        else:
            text = "\n".join(normalize(line, lang) for line in block.text.split("\n") if line.strip())
        if not text:
            result.drop("empty")
            continue
        if pending:
            chapter += 1
            pending = False
        pieces = [text]
        if len(text) > opts.max_paragraph_chars:
            pieces, forced = _split_long(text, lang, opts.max_paragraph_chars)
            split += 1
            forced_total += forced
            first_split = first_split or f"the first at {block.loc}, {len(text):,} characters into {len(pieces)}"
        for piece in pieces:
            paragraphs.append(
                Paragraph(
                    chapter=chapter,
                    title=title,
                    para=len(paragraphs),
                    text=piece,
                    loc=block.loc,
                    part=part,
                    level=level,
                )
            )
    if split:
        result.warnings.append(
            f"{split} paragraph(s) longer than {opts.max_paragraph_chars:,} characters split at "
            f"sentence ends ({first_split})"
            + (f"; {forced_total} piece(s) with no sentence end cut at a comma or space" if forced_total else "")
        )
    result.stats.update(sections=sections, split_paragraphs=split, forced_cuts=forced_total, title_chars=title_chars)
    return paragraphs


def _language_sample(paragraphs: list[Paragraph], chars: int = 60_000) -> str:
    """Text spread over the whole book (every k-th paragraph), at most about ``chars`` characters."""
    total = sum(len(p.text) for p in paragraphs)
    step = max(1, total // chars)
    return "\n".join(p.text for p in paragraphs[::step])


def ingest_file(path: str | Path, lang: str, opts: IngestOptions) -> IngestResult:
    """Read one edition of a book. Raises IngestError with the file and the reason on bad input.

    ``opts`` carries the choices (language check, Traditional -> Simplified, a chapter pattern, the
    paragraph length limit; ``IngestOptions.from_params`` builds it from params ``ingest``)."""
    path = Path(path)
    if not path.exists():
        raise IngestError(path, "missing file", "the manifest names a file that does not exist")
    if not path.is_file():
        raise IngestError(path, "not a file")
    reader = _reader_for(path)
    result = reader(path, lang, opts)
    paragraphs = structure(result.blocks, lang, result, opts=opts)
    if not paragraphs:
        raise IngestError(path, "no text", "nothing readable was extracted")
    sample = _language_sample(paragraphs)
    kept = sum(len(p.text) for p in paragraphs)
    letters, han, latin = letter_shares(sample)
    if kept > PAGE_CHARS and (han + latin < MIN_SCRIPT_SHARE or letters < 10):
        raise IngestError(
            path,
            "no language",
            f"only {han + latin:.0%} of {letters:,} letters are Chinese or Latin: "
            f"a wrong encoding (mojibake) or a language other than {lang}",
        )
    found = detect_lang(sample)
    if opts.check_language and found is not None and found != lang:
        raise IngestError(
            path,
            "wrong language",
            f"the manifest says {lang}, the text is {found} "
            f"({han:.0%} of the letters Han, {latin:.0%} Latin; a code-heavy book can set "
            "language_check: false in the manifest)",
        )
    warnings = list(result.warnings)
    if not opts.check_language and found is not None and found != lang:
        warnings.append(
            f"the text reads as {found}, not {lang}; accepted because the manifest sets language_check: false"
        )
    chapters = sorted({p.chapter for p in paragraphs})
    sizes = Counter()
    for p in paragraphs:
        sizes[p.chapter] += _nonspace(p.text)
    titles = _titles(paragraphs)
    longest = max(titles, key=lambda t: (length(t, lang), t)) if titles else ""
    stats = result.stats
    accounted = (
        sum(_nonspace(p.text) for p in paragraphs)
        + stats.get("title_chars", 0)
        + sum(_nonspace(n) for n in result.notes)
    )
    book_chars = result.chars_extracted - stats.get("boilerplate_chars", 0)
    report = {
        "status": "ok",
        "format": result.format,
        "encoding": result.encoding,
        "bad_bytes": result.bad_bytes,
        **({"encoding_proposals": result.proposals} if result.proposals else {}),
        "chapters": len(chapters),
        "chapter_titles": titles,
        "chapter_levels": _levels(paragraphs),
        "largest_chapter_share": round(max(sizes.values()) / max(1, sum(sizes.values())), 4),
        "longest_title": longest,
        "longest_title_length": length(longest, lang),  # Chinese characters or English words
        "parts": list(dict.fromkeys(p.part for p in paragraphs if p.part)),
        "sections": stats.get("sections", 0),
        "paragraphs": len(paragraphs),
        "split_paragraphs": stats.get("split_paragraphs", 0),
        "chars_extracted": result.chars_extracted,
        "chars_kept": kept,
        "kept_share": round(min(1.0, accounted / book_chars), 4) if book_chars > 0 else 0.0,
        "scripts": {"han": round(han, 4), "latin": round(latin, 4)},
        "dropped": dict(sorted(result.dropped.items())),
        "notes": len(result.notes),
        "warnings": warnings,
    }
    return IngestResult(paragraphs=paragraphs, report=report, notes=list(result.notes))


def _levels(paragraphs: list[Paragraph]) -> list[int]:
    seen: dict[int, int] = {}
    for p in paragraphs:
        seen.setdefault(p.chapter, p.level)
    return [seen[c] for c in sorted(seen)]


def _titles(paragraphs: list[Paragraph]) -> list[str]:
    seen: dict[int, str] = {}
    for p in paragraphs:
        seen.setdefault(p.chapter, p.title)
    return [seen[c] for c in sorted(seen)]
