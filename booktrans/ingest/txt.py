"""Plain-text books in any encoding (see ``encoding.py`` for how the encoding is found): hard-wrapped
lines rejoined into paragraphs, heading lines marked."""

from __future__ import annotations

from pathlib import Path

from ..text.headings import classify_heading
from ..text.lang import display_width
from .encoding import decode_text
from .model import Block, IngestOptions, ReadResult


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


def read_txt(path: str | Path, lang: str, opts: IngestOptions | None = None) -> ReadResult:
    path = Path(path)
    opts = opts or IngestOptions()
    pattern = opts.pattern()
    data = path.read_bytes()
    decoded = decode_text(data, path, lang)
    text = decoded.text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2029", "\n").replace("\u2028", "\n")
    lines = text.split("\n")
    result = ReadResult(blocks=[], format="txt", encoding=decoded.encoding, chars_extracted=_nonspace(text),
                        bad_bytes=decoded.bad_bytes, proposals=decoded.proposals)
    if decoded.bad_bytes:
        result.warnings.append(f"{decoded.bad_bytes} invalid UTF-8 byte(s) replaced (the first at byte "
                               f"{decoded.first_bad}); the rest of the file is valid UTF-8")

    widths = sorted(display_width(l.rstrip()) for l in lines if l.strip())
    wrapped = False
    full = 0
    if widths:
        full = widths[int(0.98 * (len(widths) - 1))]
        near_full = sum(1 for w in widths if w >= 0.85 * full)
        wrapped = full >= 40 and near_full >= 0.4 * len(widths)

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

    def deliberate_break(line: str, nxt: str) -> bool:
        """The wrap width would have held the next line's first word: the line ended a paragraph."""
        nxt = nxt.strip()
        if not nxt:
            return True
        first = nxt[:1] if display_width(nxt[:1]) == 2 else nxt.split()[0]
        return display_width(line) + (0 if display_width(first[:1]) == 2 else 1) + display_width(first) <= full

    for i, raw in enumerate(lines):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        info = classify_heading(stripped, lang) if len(stripped) <= 160 else None
        if info is not None or (pattern is not None and len(stripped) <= 160 and pattern.fullmatch(stripped)):
            flush()
            result.blocks.append(Block(text=stripped, loc=f"l{i + 1}", heading=True, info=info))
            continue
        indented = line[:1] in (" ", "\t", "\u3000")
        if not wrapped:
            flush()
            buf, buf_start = [stripped], i
            flush()
            continue
        if indented:
            flush()
        if not buf:
            buf_start = i
        buf.append(stripped)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if deliberate_break(line, nxt) or nxt[:1] in (" ", "\t", "\u3000"):
            flush()
    flush()
    return result
