"""Unicode normalisation with per-language punctuation width."""

from __future__ import annotations

import re
import unicodedata

# Zero-width and other invisible characters that break matching and tokenisation.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u180e\u202a-\u202e]")
_SPACES = re.compile("[ \t\u00a0\u2000-\u200a\u202f\u205f]+")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# ASCII punctuation touching a CJK character becomes its full-width form in Chinese text.
_ZH_PUNCT = {",": "，", "?": "？", "!": "！", ":": "：", ";": "；"}
_ZH_ASCII_PUNCT = re.compile(rf"(?<=[{_CJK}])([,?!:;])|([,?!:;])(?=[{_CJK}])")
_ZH_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}，。！？；：、“”‘’（）《》]) +(?=[{_CJK}，。！？；：、“”‘’（）《》])")


_ZH_WIDTH = {
    c: c - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)) for c in range(r[0], r[1] + 1)
}
_ZH_WIDTH[0x3000] = 0x20
_EN_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_EN_WIDTH[0x3000] = 0x20


# Quick searches that tell when a step below would leave the text as it is (most paragraphs): a search
# that finds nothing is far cheaper than str.translate or a substitution rebuilding the string.
_ZH_WIDE_FORMS = re.compile("[\u3000\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_EN_WIDE_FORMS = re.compile("[\u3000\uff01-\uff5e]")
_ODD_SPACES = re.compile("[\t\u00a0\u2000-\u200a\u202f\u205f]|  ")  # anything _SPACES would change
_ASCII_PUNCT = re.compile("[,?!:;]")


def _fullwidth_to_ascii(text: str) -> str:
    return text.translate(_EN_WIDTH)


def normalize(text: str, lang: str, join_cjk_spaces: bool = True) -> str:
    """NFC, invisible characters removed, whitespace collapsed, punctuation width for ``lang``.

    Chinese keeps full-width punctuation (ASCII , ? ! : ; next to Han characters become full-width);
    full-width Latin letters and digits become ASCII in both languages. English gets ASCII
    punctuation throughout.
    """
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    if lang == "en":
        if _EN_WIDE_FORMS.search(text):
            text = _fullwidth_to_ascii(text)
    else:
        # Full-width letters/digits (Ａ１) to ASCII, ideographic space to a plain space; keep CJK punctuation.
        if _ZH_WIDE_FORMS.search(text):
            text = text.translate(_ZH_WIDTH)
        if _ASCII_PUNCT.search(text):
            text = _ZH_ASCII_PUNCT.sub(lambda m: _ZH_PUNCT[m.group(1) or m.group(2)], text)
    if _ODD_SPACES.search(text):
        text = _SPACES.sub(" ", text)
    text = text.strip()
    if lang == "zh" and join_cjk_spaces and " " in text:
        text = _ZH_SPACE_BETWEEN_CJK.sub("", text)
    return text


_CONVERTERS: dict[str, object] = {}


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese with OpenCC's t2s phrase tables (handles one-to-many
    characters by context: 乾隆 stays, 乾燥 becomes 干燥)."""
    conv = _CONVERTERS.get("t2s")
    if conv is None:
        import opencc

        conv = _CONVERTERS["t2s"] = opencc.OpenCC("t2s")
    return conv.convert(text)  # type: ignore[attr-defined]
