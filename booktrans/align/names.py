"""Transliterated names: how a foreign name written in Chinese characters by their sound (卡赫拉曼马拉什)
meets the name in Latin letters (Kahramanmaras).

Both are reduced to a consonant skeleton: the onsets of the pinyin syllables, and the consonants of the
English word, each mapped to a coarse class (b/p, d/t, g/k, l/r, m/n, f/v, the sibilants and affricates
together), vowels, h, w and y left out. Chinese writes an r or l before a consonant or at a word's end
with 尔 (er), or not at all; English writes it or not; so both the r-less and the r-full skeleton are
kept. Two names match when a skeleton of one equals one of the other's, or the two meet after one
letter is left out of each (the "deletion neighbourhood", for skeletons of four or more letters): enough
for 布林肯 -> Blinken, 拉夫罗夫 -> Lavrov, 亚当斯 -> Adams, 霍格沃茨 -> Hogwarts.

Measured on CC-CEDICT's own names (proper-noun entries of 3+ characters whose gloss is one capitalised
word, 2,788 of them, many of them translations rather than transliterations, such as 三叠纪 Triassic):
54% of entries meet their gloss, and 1.4% of random entry-gloss pairs meet (``python
eval/name_keys.py``).

Which characters are written for sound is read from the dictionary too: a transliteration is an entry
that CC-CEDICT marks as a proper noun (capitalised pinyin) whose English gloss meets its pinyin in the
sense above; a character is a sound character when at least ``SOUND_SHARE`` of the dictionary entries
holding it are transliterations.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

NAME_KEY = "~"  # match keys of names start with this (never a stem)
SOUND_SHARE = 0.1  # a character is written for its sound when this share of its entries are transliterations
MIN_SKELETON = 3  # a shorter skeleton (Li, Ma) matches too much to count

_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "r", "z", "c", "s")
_CLASS = {
    "b": "p",
    "p": "p",
    "m": "n",
    "n": "n",
    "f": "f",
    "v": "f",
    "d": "t",
    "t": "t",
    "l": "l",
    "r": "l",
    "g": "k",
    "k": "k",
    "q": "s",
    "j": "s",
    "x": "s",
    "z": "s",
    "c": "s",
    "s": "s",
    "zh": "s",
    "ch": "s",
    "sh": "s",
    "h": "",
    "?": "?",
}
# English spelling to sounds, in this order: digraphs, soft c and g, the r before a consonant or at the end
# (optional: "?"), doubled letters once
_EN_RULES = (
    (re.compile(r"ph"), "f"),
    (re.compile(r"th"), "t"),
    (re.compile(r"tch|sh|ch"), "s"),
    (re.compile(r"ck|kh|gh|q|x"), "k"),
    (re.compile(r"[cg](?=[eiy])"), "s"),
    (re.compile(r"c"), "k"),
    (re.compile(r"r(?![aeiouy])"), "?"),
    (re.compile(r"([bdfgklmnpst])\1"), r"\1"),
)


def pinyin_skeleton(syllables: Iterable[str]) -> str:
    """The skeleton of toneless pinyin syllables: each onset's class, "n" for a nasal final, "?" for 尔."""
    out = []
    for s in syllables:
        s = s.lower()
        if s in ("er", "r"):
            out.append("?")
            continue
        ini = next((i for i in _INITIALS if s.startswith(i)), "")
        if ini:
            out.append(_CLASS[ini])
        if s.endswith(("n", "ng")) and len(s) > len(ini) + 1:
            out.append("n")
    return "".join(out)


def english_skeleton(word: str) -> str:
    """The skeleton of an English (or any Latin-letter) name."""
    w = re.sub(r"[^a-z]", "", word.lower())
    for pat, rep in _EN_RULES:
        w = pat.sub(rep, w)
    return "".join(_CLASS.get(ch, "") for ch in w)


def skeleton_keys(skeleton: str) -> frozenset[str]:
    """The match keys of a skeleton: each reading of its optional r ("?": l or nothing) of at least
    MIN_SKELETON letters, and those of four or more with any one letter left out."""
    readings = {""}
    for ch in skeleton:
        readings = {r + c for r in readings for c in (("l", "") if ch == "?" else (ch,))}
    out: set[str] = set()
    for r in readings:
        if len(r) < MIN_SKELETON:
            continue
        out.add(NAME_KEY + r)
        if len(r) >= 4:
            out.update(NAME_KEY + r[:k] + r[k + 1 :] for k in range(len(r)))
    return frozenset(out)


def sound_characters(entries: Iterable[tuple[str, list[str], str]]) -> frozenset[str]:
    """The characters written for their sound, from dictionary entries (headword, pinyin syllables as
    written, first gloss): see the module's docstring."""
    held: Counter = Counter()
    sound: Counter = Counter()
    for head, syllables, gloss in entries:
        for ch in set(head):
            held[ch] += 1
        if is_transliteration(syllables, gloss):
            for ch in set(head):
                sound[ch] += 1
    return frozenset(ch for ch, n in held.items() if sound[ch] >= SOUND_SHARE * n and sound[ch] >= 2)


def is_transliteration(syllables: list[str], gloss: str) -> bool:
    """Whether a dictionary entry (its pinyin syllables as written, its first gloss) is a name written for
    its sound: a proper noun (capitalised pinyin, one capitalised word of gloss) not spelled as its pinyin,
    whose gloss meets its pinyin's skeleton."""
    if len(syllables) < 2 or not syllables[0][:1].isupper() or not re.fullmatch(r"[A-Z][a-z]+", gloss):
        return False
    plain = [re.sub(r"\d", "", s).lower().replace("u:", "v") for s in syllables]
    if "".join(plain) == gloss.lower():
        return False
    return bool(skeleton_keys(pinyin_skeleton(plain)) & skeleton_keys(english_skeleton(gloss)))
