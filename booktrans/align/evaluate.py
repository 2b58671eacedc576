"""Scoring sentence alignments against gold beads, in the format of the align-dev sets
(``booktrans.align.gold`` reads them): one bead per line, ``[src ids]:[tgt ids]``, 0-based, ``[]`` on
one side for a null bead.

The convention of the published numbers: a bead counts only when it matches a gold bead exactly
(null beads included); P = |test ∩ gold| / |test|, R = |test ∩ gold| / |gold|, F1 their harmonic
mean. The total is over all beads of all files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BooktransError
from .gold import Bead, GoldText, parse_beads, read_beads
from .gold import format_bead as format_bead  # re-exported: `booktrans align` prints beads with it


@dataclass(frozen=True)
class Score:
    correct: int
    test: int
    gold: int

    @property
    def precision(self) -> float:
        return self.correct / self.test if self.test else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(test: list[Bead], gold: list[Bead]) -> Score:
    g = set(gold)
    return Score(correct=sum(1 for b in set(test) if b in g), test=len(set(test)), gold=len(g))


def evaluate_dirs(gold_dir: Path, test_dir: Path) -> tuple[dict[str, Score], Score]:
    """Score every gold file (NNN.align) against the file of the same name in ``test_dir``."""
    gold_files = sorted(Path(gold_dir).glob("*.align"))
    if not gold_files:
        raise BooktransError(f"{gold_dir}: no *.align gold files")
    per_file: dict[str, Score] = {}
    for g in gold_files:
        t = Path(test_dir) / g.name
        if not t.exists():
            raise BooktransError(f"{t}: missing (every gold file needs a test file of the same name)")
        per_file[g.name] = score(parse_beads(t.read_text(encoding="utf-8"), str(t)), read_beads(g))
    total = Score(
        sum(s.correct for s in per_file.values()),
        sum(s.test for s in per_file.values()),
        sum(s.gold for s in per_file.values()),
    )
    return per_file, total


# --- the end-to-end measure: raw paragraphs -> the project's splitter -> aligner -> gold ----------

LinkKey = tuple[int, int]


_JOIN = {"zh": "", "en": " "}


@dataclass
class RawText:
    """Raw paragraphs rebuilt from gold beads, with where every gold sentence lies in them."""

    zh: list[str]
    en: list[str]
    zh_spans: list[tuple[int, int, int]]  # per gold zh sentence: (paragraph, start, end) in characters
    en_spans: list[tuple[int, int, int]]


def raw_paragraphs(gold: GoldText, seed: int = 0, min_beads: int = 2, max_beads: int = 5) -> RawText:
    """Group consecutive gold beads into paragraphs of ``min_beads``..``max_beads`` beads (seeded),
    the two sides breaking at the same beads; join sentences (Chinese without a space, English with
    one). A paragraph empty on one side joins the next one."""
    import random

    rng = random.Random(f"{seed}:{gold.name}")
    groups: list[list[Bead]] = []
    k = 0
    while k < len(gold.beads):
        size = rng.randint(min_beads, max_beads)
        group = list(gold.beads[k : k + size])
        k += size
        while k < len(gold.beads) and not (any(z for z, _ in group) and any(e for _, e in group)):
            group.append(gold.beads[k])
            k += 1
        groups.append(group)
    if len(groups) > 1 and not (any(z for z, _ in groups[-1]) and any(e for _, e in groups[-1])):
        groups[-2] += groups.pop()
    raw = RawText([], [], [(-1, 0, 0)] * len(gold.zh), [(-1, 0, 0)] * len(gold.en))
    for p, group in enumerate(groups):
        for lang, sents, spans, paras in (("zh", gold.zh, raw.zh_spans, raw.zh), ("en", gold.en, raw.en_spans, raw.en)):
            text = ""
            for bead in group:
                for i in bead[0] if lang == "zh" else bead[1]:
                    s = sents[i].strip()
                    if text and s:
                        text += _JOIN[lang]
                    spans[i] = (p, len(text), len(text) + len(s))
                    text += s
            paras.append(text)
    return raw


def sentence_spans(paragraph: str, sentences: list[str], where: str = "") -> list[tuple[int, int]]:
    """Character spans of a splitter's sentences inside their paragraph (the splitter must keep the
    text: every sentence found in order)."""
    spans, pos = [], 0
    for s in sentences:
        k = paragraph.find(s, pos)
        if k < 0:
            raise BooktransError(f"{where}: the splitter changed the text: {s[:40]!r} not found in its paragraph")
        spans.append((k, k + len(s)))
        pos = k + len(s)
    return spans


BoundaryScore = Score  # correct boundaries, boundaries the splitter made ("test"), gold boundaries


def boundary_score(paragraphs: list[str], gold_spans: list[tuple[int, int, int]], split, lang: str) -> BoundaryScore:
    """Sentence boundaries inside paragraphs (the start of every sentence but a paragraph's first)
    found by ``split(text, lang)`` against the gold sentences."""
    gold: set[tuple[int, int]] = set()
    firsts: dict[int, int] = {}
    for p, a, b in gold_spans:
        if b > a:
            firsts[p] = min(firsts.get(p, a), a)
            gold.add((p, a))
    gold -= {(p, a) for p, a in firsts.items()}
    pred: set[tuple[int, int]] = set()
    for p, text in enumerate(paragraphs):
        spans = sentence_spans(text, split(text, lang), f"paragraph {p}")
        pred |= {(p, a) for a, _ in spans[1:]}
    return BoundaryScore(len(gold & pred), len(pred), len(gold))


def project(
    beads: list[tuple[tuple[int, ...], tuple[int, ...]]],
    zh_sent_spans: list[tuple[int, int, int]],
    en_sent_spans: list[tuple[int, int, int]],
    raw: RawText,
) -> list[Bead]:
    """Beads over the splitter's sentences -> beads over the gold sentences: a gold sentence belongs
    to the bead holding most of its characters. Beads left with no gold sentence disappear."""
    owner: dict[tuple[str, int], int] = {}
    for k, (zs, es) in enumerate(beads):
        for i in zs:
            owner[("zh", i)] = k
        for j in es:
            owner[("en", j)] = k
    out: dict[int, tuple[list[int], list[int]]] = {}
    for lang, gold_spans, test_spans in (("zh", raw.zh_spans, zh_sent_spans), ("en", raw.en_spans, en_sent_spans)):
        by_para: dict[int, list[tuple[int, int, int]]] = {}
        for t, (p, a, b) in enumerate(test_spans):
            by_para.setdefault(p, []).append((a, b, t))
        for g, (p, a, b) in enumerate(gold_spans):
            best, arg = -1, None
            for ta, tb, t in by_para.get(p, []):
                ov = min(b, tb) - max(a, ta)
                if ov > best:
                    best, arg = ov, t
            if arg is None:
                continue
            k = owner[(lang, arg)]
            out.setdefault(k, ([], []))[0 if lang == "zh" else 1].append(g)
    return [(tuple(sorted(z)), tuple(sorted(e))) for _, (z, e) in sorted(out.items())]


def links(beads: list[Bead]) -> set[LinkKey]:
    """Sentence links of non-null beads: every (zh, en) pair inside a bead."""
    return {(i, j) for zs, es in beads for i in zs for j in es}


def link_score(test: list[Bead], gold: list[Bead]) -> Score:
    t, g = links(test), links(gold)
    return Score(correct=len(t & g), test=len(t), gold=len(g))


@dataclass
class EndToEnd:
    strict: Score
    link: Score
    boundaries: dict[str, BoundaryScore]
    null_chars: dict[str, float]  # share of each side's characters that end in null beads


def end_to_end(golds: list[GoldText], align, split, seed: int = 0) -> tuple[EndToEnd, dict[str, EndToEnd]]:
    """The path a user's book takes, measured: each gold file becomes raw paragraphs (one chapter
    each), ``split(text, lang)`` cuts them into sentences, ``align(zh_paragraphs, en_paragraphs)``
    (the pipeline's ``align_book`` signature: paragraph dicts in, bead dicts with ``zh``/``en``
    sentence lists out) aligns the whole set as one book, and the beads are projected back onto
    the gold sentences by character offsets and scored. Returns (total, per file)."""
    raws = [raw_paragraphs(g, seed) for g in golds]
    zh_pars, en_pars = [], []
    for c, raw in enumerate(raws):
        zh_pars += [{"chapter": c + 1, "title": "", "para": p, "text": t, "loc": ""} for p, t in enumerate(raw.zh)]
        en_pars += [{"chapter": c + 1, "title": "", "para": p, "text": t, "loc": ""} for p, t in enumerate(raw.en)]
    beads = align(zh_pars, en_pars)
    # the splitter's sentences of each chapter, with their spans, in the order the beads hold them
    per_file: dict[str, EndToEnd] = {}
    cursor = 0
    totals = {"strict": [0, 0, 0], "link": [0, 0, 0], "null": {"zh": [0, 0], "en": [0, 0]}}
    bounds_total: dict[str, list[int]] = {"zh": [0, 0, 0], "en": [0, 0, 0]}  # correct, made, gold
    for c, (g, raw) in enumerate(zip(golds, raws)):
        sents: dict[str, list[tuple[str, tuple[int, int, int]]]] = {"zh": [], "en": []}
        bounds = {}
        for lang, paras, spans in (("zh", raw.zh, raw.zh_spans), ("en", raw.en, raw.en_spans)):
            for p, text in enumerate(paras):
                got = split(text, lang)
                for s, (a, b) in zip(got, sentence_spans(text, got, f"{g.name} {lang} paragraph {p}")):
                    sents[lang].append((s, (p, a, b)))
            bounds[lang] = boundary_score(paras, spans, split, lang)
            for k, v in enumerate((bounds[lang].correct, bounds[lang].test, bounds[lang].gold)):
                bounds_total[lang][k] += v
        pos = {"zh": 0, "en": 0}
        mine: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        null = {"zh": [0, 0], "en": [0, 0]}
        while cursor < len(beads) and (pos["zh"] < len(sents["zh"]) or pos["en"] < len(sents["en"])):
            b = beads[cursor]
            ids = {}
            for lang in ("zh", "en"):
                ids[lang] = tuple(range(pos[lang], pos[lang] + len(b[lang])))
                for k, s in zip(ids[lang], b[lang]):
                    if k >= len(sents[lang]) or sents[lang][k][0] != s:
                        raise BooktransError(f"{g.name}: bead {cursor} does not follow the split sentences")
                    chars = len(s)
                    null[lang][1] += chars
                    if not (b["zh"] and b["en"]):
                        null[lang][0] += chars
                pos[lang] += len(b[lang])
            mine.append((ids["zh"], ids["en"]))
            cursor += 1
        projected = project(mine, [sp for _, sp in sents["zh"]], [sp for _, sp in sents["en"]], raw)
        strict, link = score(projected, g.beads), link_score(projected, g.beads)
        per_file[g.name] = EndToEnd(strict, link, bounds, {k: v[0] / v[1] if v[1] else 0.0 for k, v in null.items()})
        for key, s in (("strict", strict), ("link", link)):
            for k, v in enumerate((s.correct, s.test, s.gold)):
                totals[key][k] += v
        for lang in ("zh", "en"):
            totals["null"][lang][0] += null[lang][0]
            totals["null"][lang][1] += null[lang][1]
    total = EndToEnd(
        Score(*totals["strict"]),
        Score(*totals["link"]),
        {k: BoundaryScore(*v) for k, v in bounds_total.items()},
        {k: v[0] / v[1] if v[1] else 0.0 for k, v in totals["null"].items()},
    )
    return total, per_file
