"""Decoding a text file whose encoding nobody wrote down.

In order:

1. a byte-order mark decides (UTF-8, UTF-16 LE/BE);
2. UTF-16 without a mark shows as many NUL bytes and is tried both ways;
3. UTF-8 that decodes cleanly is UTF-8;
4. UTF-8 that is valid but for a few bytes stays UTF-8: at least ``UTF8_MIN_SEQUENCES`` valid
   multi-byte sequences (ten for each bad byte) and at most ``UTF8_BAD_SHARE`` of the non-ASCII bytes
   (or ``UTF8_MIN_BAD`` bytes) invalid (one stray byte in a novel, a cp1252 apostrophe
   pasted into a UTF-8 file). Each bad byte is replaced and counted, never used to re-read the whole
   book in a legacy code page; a stray cp1252 quote or dash (0x91-0x97) in English becomes the
   character it was typed as;
5. otherwise chardet and charset-normalizer each propose encodings; every proposal (widened to its
   family's superset: GB2312/GBK -> GB18030, Big5 -> Big5-HKSCS, Latin-1 -> cp1252) is decoded and
   scored by how much the result looks like writing: frequent Han characters (GB2312 level 1, Big5
   level 1), ASCII, common punctuation and Latin letters count for it; control characters,
   private-use and unassigned code points and replacement characters against it; other scripts are
   neutral. The best score wins if it is at least ``MIN_PLAUSIBILITY``; ties go to the proposal both
   libraries made, then to the more common encoding for the edition's language (GB18030 before Big5
   for Chinese, cp1252 before MacRoman for English).
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import chardet
import charset_normalizer

from ..errors import IngestError

_BOMS = [
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
]
UTF8_BAD_SHARE = 0.01  # at most this share of the non-ASCII bytes may be invalid for a file to stay UTF-8
UTF8_MIN_BAD = 2  # ... or this many bytes, whichever is more
UTF8_MIN_SEQUENCES = 20  # ... and it must hold at least this many valid multi-byte sequences, ten per bad byte
MIN_PLAUSIBILITY = 0.75  # a legacy decoding must score at least this (0..1) to be accepted
_SAMPLE = 200_000  # bytes given to the detectors
# widen a detector's name to the superset that decodes everything the subset does
_FAMILY = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
    "hz-gb-2312": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "big5hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "ascii": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso-8859-1": "cp1252",
    "windows-1252": "cp1252",
    "cp1252": "cp1252",
}
# how common each encoding is for books in the language: breaks ties between equally plausible readings
_PRIOR = {
    "zh": ["gb18030", "big5hkscs", "utf-16-le", "utf-16-be", "cp1252"],
    "en": ["cp1252", "iso8859-15", "cp1250", "mac-roman", "cp850", "cp437", "gb18030", "big5hkscs"],
}
_CP1252_PUNCT = {
    0x91: "\u2018",
    0x92: "\u2019",
    0x93: "\u201c",
    0x94: "\u201d",
    0x95: "\u2022",
    0x96: "\u2013",
    0x97: "\u2014",
    0x85: "\u2026",
}


@dataclass
class Decoded:
    text: str
    encoding: str
    bad_bytes: int = 0  # invalid bytes replaced (UTF-8 that was valid but for these)
    first_bad: int | None = None  # byte offset of the first one
    proposals: dict[str, str] = field(default_factory=dict)  # what each detector said, for the report


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


def plausibility(text: str) -> float:
    """How much ``text`` looks like Chinese or English writing, 0..1.

    A wrong legacy codec still decodes, but into rare ideographs, kana, Greek or box drawing,
    private-use code points and replacement characters; real text is made almost entirely of
    frequent characters, ASCII and punctuation.
    """
    good = total = 0.0
    for ch in text:
        if ch.isspace():
            continue
        o = ord(ch)
        total += 1
        if 0x20 <= o < 0x7F or 0x3000 <= o <= 0x303F or 0xFF01 <= o <= 0xFF5E or 0x2010 <= o <= 0x2027:
            good += 1
        elif 0x4E00 <= o <= 0x9FFF:
            good += 1 if _common_han(ch) else 0
        elif ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Co", "Cn", "Cs"):
            good -= 1
        elif 0xA0 <= o <= 0x17F and unicodedata.category(ch).startswith("L"):
            good += 0.5  # accented Latin: plausible, but less so than plain letters
        elif o in (0xA0, 0xA7, 0xA9, 0xAB, 0xB0, 0xB7, 0xBB, 0x00D7, 0x2030, 0x20AC, 0x00A3):
            good += 0.5  # no-break space, section sign, guillemets, degree, middle dot, times, per mille, euro, pound
    return max(good, 0.0) / total if total else 0.0


class _TooManyBadBytes(Exception):
    pass


def _utf8_with_repairs(data: bytes, lang: str | None, limit: int | None = None) -> tuple[str, int, int | None]:
    """Decode UTF-8, replacing invalid bytes; return (text, bad bytes, offset of the first). Raises
    _TooManyBadBytes as soon as more than ``limit`` bytes are bad (then it is not UTF-8 at all)."""
    bad = 0
    first: list[int] = []

    def handler(exc: UnicodeDecodeError):
        nonlocal bad
        span = exc.object[exc.start : exc.end]
        bad += len(span)
        if limit is not None and bad > limit:
            raise _TooManyBadBytes
        if not first:
            first.append(exc.start)
        if lang == "en" and len(span) == 1 and span[0] in _CP1252_PUNCT:
            return _CP1252_PUNCT[span[0]], exc.end
        return "\ufffd" * len(span), exc.end

    name = "booktrans-utf8-repair"
    codecs.register_error(name, handler)  # re-registered per call: the handler holds this call's counters
    text = data.decode("utf-8", errors=name)
    return text, bad, (first[0] if first else None)


def _mostly_utf8(data: bytes, lang: str | None) -> tuple[str, int, int | None] | None:
    """The text when ``data`` is UTF-8 but for a few bytes, else None."""
    high = len(data.translate(None, bytes(range(128))))  # bytes outside ASCII
    limit = max(UTF8_MIN_BAD, int(UTF8_BAD_SHARE * high))
    try:
        text, bad, first = _utf8_with_repairs(data, lang, limit=limit)
    except _TooManyBadBytes:
        return None
    # valid multi-byte sequences: characters outside ASCII that are neither replacements nor repairs
    sequences = len(text) - len(text.encode("ascii", "ignore")) - bad
    if sequences < UTF8_MIN_SEQUENCES or sequences < 10 * bad:
        return None
    return text, bad, first


def _proposals(data: bytes) -> dict[str, list[str]]:
    """Encodings proposed by each detector, best first, widened to their families."""
    sample = data[:_SAMPLE]
    out: dict[str, list[str]] = {"chardet": [], "charset-normalizer": []}
    for guess in chardet.detect_all(sample)[:3]:
        enc = (guess.get("encoding") or "").lower()
        if enc:
            out["chardet"].append(_canonical(enc))
    for match in list(charset_normalizer.from_bytes(sample))[:3]:
        out["charset-normalizer"].append(_canonical(match.encoding))
    for k in out:
        out[k] = list(dict.fromkeys(e for e in out[k] if e))
    return out


def _canonical(name: str) -> str:
    name = name.lower().replace("_", "-")
    if name in _FAMILY:
        return _FAMILY[name]
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return ""
    return _FAMILY.get(name, name)


def decode_text(data: bytes, path: str | Path, lang: str | None = None) -> Decoded:
    """Decode a text file's bytes. Raises IngestError for empty, binary or undecodable input."""
    if not data:
        raise IngestError(path, "empty file", "zero bytes")
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data[len(bom) :].decode(enc), enc)
            except UnicodeDecodeError as exc:
                if enc != "utf-8":
                    raise IngestError(
                        path, "undecodable", f"starts with a {enc} byte-order mark but is not {enc} ({exc.reason})"
                    ) from None
                text, bad, first = _utf8_with_repairs(data[len(bom) :], lang)
                return Decoded(text, "utf-8", bad, first)
    # UTF-16 without a BOM shows up as many NUL bytes; any other text has (almost) no control bytes.
    sample = data[:65536]
    controls = sum(1 for b in sample if b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B))
    if controls > max(2, len(sample) // 100):
        if len(data) % 2 == 0:
            for enc in ("utf-16-le", "utf-16-be"):
                try:
                    text = data.decode(enc)
                except UnicodeDecodeError:
                    continue
                head = text[:4000]
                ctl = sum(1 for c in head if ord(c) < 0x20 and c not in "\t\n\r\x0c")
                breaks = sum(1 for c in head if c in " \n\u3000")
                if ctl == 0 and breaks * 200 >= len(head) and plausibility(head) > 0.9:
                    return Decoded(text, enc)
        raise IngestError(path, "binary file", "holds control bytes that no text encoding produces")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(data, lang)
    if mostly is not None:
        return Decoded(mostly[0], "utf-8", mostly[1], mostly[2])
    proposals = _proposals(data)
    prior = _PRIOR.get(lang or "", _PRIOR["zh"])
    candidates = list(dict.fromkeys([e for v in proposals.values() for e in v] + prior[:2]))
    best: tuple[float, float, str, str] | None = None
    repaired: tuple[str, int, int | None] | None = None
    try:
        # too little UTF-8 to be sure of it (a few curly quotes and one stray byte): it competes as one reading
        repaired = _utf8_with_repairs(data, lang, limit=max(UTF8_MIN_BAD, int(UTF8_BAD_SHARE * len(data))))
        candidates.insert(0, "utf-8")
    except _TooManyBadBytes:
        pass
    for enc in candidates:
        try:
            text = repaired[0] if enc == "utf-8" and repaired else data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        score = round(plausibility(text[:50_000]), 3)
        votes = sum(enc in v for v in proposals.values()) + (1 if enc == "utf-8" else 0)
        tie = votes + (len(prior) - prior.index(enc)) / (len(prior) + 1) if enc in prior else votes
        if best is None or (score, tie) > (best[0], best[1]):
            best = (score, tie, enc, text)
    said = {k: ", ".join(v) or "nothing" for k, v in proposals.items()}
    if best is None or best[0] < MIN_PLAUSIBILITY:
        raise IngestError(
            path,
            "undecodable",
            "no encoding gives plausible text (chardet proposed "
            f"{said['chardet']}; charset-normalizer proposed {said['charset-normalizer']})",
        )
    if best[2] == "utf-8" and repaired:
        return Decoded(best[3], "utf-8", repaired[1], repaired[2], proposals=said)
    return Decoded(best[3], best[2], proposals=said)
