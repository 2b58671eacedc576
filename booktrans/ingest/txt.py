"""Plain-text books in any encoding: byte-order marks, UTF-8, then chardet with a plausibility check."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

import chardet

from ..errors import IngestError
from ..text.headings import parse_heading
from .model import Block, ReadResult

_BOMS = [
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
]
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz-gb-2312"}
_BIG5_FAMILY = {"big5", "big5hkscs", "cp950"}
_SENT_END = "。！？.!?”」』\"'…:："


@lru_cache(maxsize=65536)
def _common_han(ch: str) -> bool:
    """A frequent Chinese character: GB2312 level 1 (3,755 common simplified characters) or Big5
    level 1 (5,401 common traditional characters). Both sets come from the codecs themselves."""
    try:
        b = ch.encode("gb2312")
        if 0xB0 <= b[0] <= 0xD7:
            return True
    except UnicodeEncodeError:
        pass
    try:
        b = ch.encode("big5")
        return 0xA440 <= int.from_bytes(b, "big") <= 0xC67E
    except UnicodeEncodeError:
        return False


def _plausibility(text: str) -> float:
    """How much ``text`` looks like real writing, 0..1.

    A wrong legacy codec still decodes, but into rare ideographs, kana, private-use code points and
    replacement characters. Real Chinese text is made almost entirely of frequent characters.
    """
    if not text:
        return 0.0
    good = total = 0
    for ch in text:
        o = ord(ch)
        if ch.isspace():
            continue
        total += 1
        if o < 0x80 or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or 0x2000 <= o <= 0x206F:
            good += 1
        elif 0x4E00 <= o <= 0x9FFF:
            good += 1 if _common_han(ch) else 0
        elif unicodedata.category(ch) in ("Co", "Cn", "Cs") or ch == "\ufffd":
            good -= 1
        elif unicodedata.category(ch).startswith("L") and o < 0x3000:
            good += 1  # accented Latin, Greek, Cyrillic
    return good / total if total else 0.0


def decode_bytes(data: bytes, path: str | Path) -> tuple[str, str]:
    """Return (text, encoding name). Raises IngestError for empty or binary input."""
    if not data:
        raise IngestError(path, "empty file", "zero bytes")
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(enc.replace("-sig", "")), enc.replace("-sig", "")
            except UnicodeDecodeError as exc:
                raise IngestError(path, "undecodable", f"starts with a {enc} byte-order mark but is not {enc} ({exc.reason})") from None
    # UTF-16 without a BOM shows up as many NUL bytes; any other text has (almost) no control bytes.
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B))
    if controls > max(2, len(sample) // 100):
        if len(data) % 2 == 0:  # UTF-16 without a byte-order mark
            for enc in ("utf-16-le", "utf-16-be"):
                try:
                    text = data.decode(enc)
                except UnicodeDecodeError:
                    continue
                head = text[:4000]
                controls = sum(1 for c in head if ord(c) < 0x20 and c not in "\t\n\r\x0c")
                breaks = sum(1 for c in head if c in " \n\u3000")
                if controls == 0 and breaks * 200 >= len(head) and _plausibility(head) > 0.9:
                    return text, enc
        raise IngestError(path, "binary file", "holds control bytes that no text encoding produces")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guess = (chardet.detect(data[:200_000]).get("encoding") or "").lower()
    candidates: list[str] = []
    if guess in _GB_FAMILY:
        candidates = ["gb18030", "big5hkscs"]
    elif guess in _BIG5_FAMILY:
        candidates = ["big5hkscs", "gb18030"]
    elif guess:
        candidates = [guess, "gb18030", "big5hkscs"]
    else:
        candidates = ["gb18030", "big5hkscs"]
    best: tuple[float, str, str] | None = None
    for enc in candidates:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        score = _plausibility(text[:20000])
        if best is None or score > best[0]:
            best = (score, enc, text)
    if best is None or best[0] < 0.75:
        raise IngestError(path, "undecodable", f"no encoding gives plausible text (chardet guessed {guess or 'nothing'})")
    return best[2], best[1]


def _width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def _join(a: str, b: str, lang: str) -> str:
    if lang == "zh":
        return a + b
    if a.endswith("-") and b[:1].islower():
        return a[:-1] + b
    return a + " " + b


def read_txt(path: str | Path, lang: str) -> ReadResult:
    path = Path(path)
    data = path.read_bytes()
    text, encoding = decode_bytes(data, path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    result = ReadResult(blocks=[], format="txt", encoding=encoding, chars_extracted=len(text))

    widths = sorted(_width(l.rstrip()) for l in lines if l.strip())
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
        first = nxt[:1] if _width(nxt[:1]) == 2 else nxt.split()[0]
        return _width(line) + (0 if _width(first[:1]) == 2 else 1) + _width(first) <= full

    for i, raw in enumerate(lines):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if parse_heading(stripped, lang):
            flush()
            result.blocks.append(Block(text=stripped, loc=f"l{i + 1}", heading=True))
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
