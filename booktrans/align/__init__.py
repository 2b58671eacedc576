"""Align the Chinese and English editions of a book: chapters first, then sentences inside each
chapter pair, so the work is never quadratic in a whole book."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..text import length, split_sentences
from ..text.headings import parse_heading
from .chapters import ChapterBags, GlossBags, pair_by_content
from .gale_church import LengthBead, align_lengths
from .sentalign import AlignConfig, align_sentences, align_texts
from .similarity import LexicalTable, SameMeaning, learn_from_beads

__all__ = [
    "align_book",
    "align_lengths",
    "align_sentences",
    "filter_beads",
    "FilterConfig",
    "LengthBead",
    "Sentence",
    "pair_chapters",
    "LexicalTable",
    "SameMeaning",
    "learn_from_beads",
]


@dataclass(frozen=True)
class Sentence:
    text: str
    chapter: int
    para: int


def chapter_numbers(paragraphs: list[dict], lang: str) -> dict[int, int | None]:
    """Chapter index -> the number in its heading (第三章 -> 3, Chapter 3 -> 3, III. -> 3), or None;
    the front matter before the first heading (chapter 0, no title) is number 0."""
    nums: dict[int, int | None] = {}
    for p in paragraphs:
        if p["chapter"] not in nums:
            h = parse_heading(p["title"], lang) if p["title"] else None
            nums[p["chapter"]] = h[0] if h else (0 if p["chapter"] == 0 and not p["title"] else None)
    return nums


def sentences_of(paragraphs: list[dict], lang: str) -> dict[int, list[Sentence]]:
    """Group the sentences of ingested paragraphs by chapter, keeping paragraph ids."""
    by_chapter: dict[int, list[Sentence]] = {}
    for p in paragraphs:
        for s in split_sentences(p["text"], lang):
            by_chapter.setdefault(p["chapter"], []).append(Sentence(s, p["chapter"], p["para"]))
    return by_chapter


def pair_chapters(
    zh: dict[int, list[Sentence]],
    en: dict[int, list[Sentence]],
    zh_nums: dict[int, int | None] | None = None,
    en_nums: dict[int, int | None] | None = None,
    bags: ChapterBags | None = None,
    translator=None,
) -> list[tuple[list[int], list[int]]]:
    """Pair chapters by content (``chapters.pair_by_content``): the lexical similarity of the
    sentence aligner, summed per chapter, chooses 1-1, merged (2-1, 3-1), split (1-2, 1-3) and
    missing (1-0, 0-1) chapters; heading numbers and lengths only break near-ties. ``bags`` replaces
    the measure (see ``ChapterBags``); ``translator`` is the glosser the default measure uses.
    Returns [(zh chapter ids, en chapter ids)]; one side empty = unmatched."""
    zc, ec = sorted(zh), sorted(en)
    beads = pair_by_content(
        [[s.text for s in zh[c]] for c in zc],
        [[s.text for s in en[c]] for c in ec],
        [sum(len(s.text) for s in zh[c]) for c in zc],
        [sum(len(s.text) for s in en[c]) for c in ec],
        [(zh_nums or {}).get(c) for c in zc],
        [(en_nums or {}).get(c) for c in ec],
        bags=bags or GlossBags(translator),
    )
    pairs = [([zc[i] for i in a], [ec[j] for j in b]) for a, b, _ in beads]
    # front matter (the text before the first heading: title page, epigraph) is too short for words to
    # decide; when both editions have it and nothing before it was paired, it goes with the other's
    if len(pairs) >= 2 and {tuple(map(tuple, pairs[0])), tuple(map(tuple, pairs[1]))} == {((0,), ()), ((), (0,))}:
        pairs[:2] = [([0], [0])]
    return pairs


@dataclass(frozen=True)
class FilterConfig:
    """Which aligned beads are fit for training: params ``align.filters`` (the values live in params.yaml).
    Length units: characters for Chinese, words for English."""

    min_score: float  # lexical score below which a bead is dropped (0..1; null beads have none) ...
    score_min_chars: int  # ... when it has at least this many Chinese characters (short ones score unreliably)
    min_ratio: float  # English words per Chinese character below which a bead is dropped
    max_ratio: float  # ... and above which (gold literary beads: 1% below 0.2, 1% above 1.43)
    ratio_min_chars: int  # the ratio test applies from this many Chinese characters on

    @classmethod
    def from_params(cls, filters) -> "FilterConfig":
        """From the typed ``align.filters`` record (booktrans.params)."""
        return cls(
            min_score=filters.min_score,
            score_min_chars=filters.score_min_chars,
            min_ratio=filters.min_ratio,
            max_ratio=filters.max_ratio,
            ratio_min_chars=filters.ratio_min_chars,
        )


def _sentence_aligner(method: str, translator, bootstrap: int, base_table):
    """One call for all chapter pairs of a book: [(zh sentences, en sentences)] -> ([[(zh ids, en ids,
    score)]], learned table or None)."""
    if method == "gale-church":

        def run(tasks):
            return [
                [(b.src, b.tgt, b.score) for b in align_lengths([len(s) for s in zs], [len(s) for s in es])]
                for zs, es in tasks
            ], None

        return run

    def run(tasks):
        results, table = align_texts(tasks, translator, AlignConfig(), bootstrap=bootstrap, base_table=base_table)
        return [[(b.zh, b.en, b.score) for b in beads] for beads in results], table

    return run


def filter_beads(beads: list[dict], cfg: FilterConfig) -> None:
    """Mark each bead ``keep`` true or false with a ``drop`` reason: null, low_score, length_ratio, duplicate."""
    seen: set[tuple[str, str]] = set()
    for b in beads:
        reason = None
        if not b["zh"] or not b["en"]:
            reason = "null"
        elif b["score"] < cfg.min_score and length("".join(b["zh"]), "zh") >= cfg.score_min_chars:
            reason = "low_score"
        else:
            zl = length("".join(b["zh"]), "zh")
            el = length(" ".join(b["en"]), "en")
            if zl >= cfg.ratio_min_chars and not cfg.min_ratio <= el / zl <= cfg.max_ratio:
                reason = "length_ratio"
            else:
                key = ("".join(b["zh"]), " ".join(b["en"]))
                if key in seen:
                    reason = "duplicate"
                seen.add(key)
        b["keep"] = reason is None
        if reason:
            b["drop"] = reason
        else:
            b.pop("drop", None)


def align_book(
    zh_paragraphs: list[dict],
    en_paragraphs: list[dict],
    *,
    method: str,
    filters: FilterConfig,
    bootstrap: int,
    translator=None,
    base_table: LexicalTable | None = None,
    chapter_bags: ChapterBags | None = None,
) -> tuple[list[dict], dict]:
    """Align one book: chapters first, then sentences inside each chapter pair. Returns (beads, report).

    ``method`` is ``cedict`` (the offline glossing translator), ``model`` (pass a translator built
    on the project's LLM) or ``gale-church`` (lengths only). Each bead: {"zh": [sentences], "en":
    [sentences], "zh_chapter", "en_chapter", "zh_para": [ids], "en_para": [ids], "type": "1-2",
    "score": 0..1, "keep": bool, "drop": reason}. The report gives, per book and per chapter pair,
    the coverage of each side, bead types, and dropped beads by reason; unmatched chapters are listed.

    With ``cedict``, the book is aligned, a lexical table is learned from its own confident beads
    (``bootstrap`` rounds; ``base_table`` is added to the dictionary from the start), and the book
    is aligned again with it; the report's ``lexicon`` gives the table's size. ``method``, ``filters``
    and ``bootstrap`` are params ``align`` (AlignOptions.from_params builds them).
    """
    if method == "cedict" and translator is None:
        translator = SameMeaning(table=base_table)
    elif method == "model" and translator is None:
        raise ValueError("align method 'model' needs a translator built on a model")
    elif method not in ("cedict", "model", "gale-church"):
        raise ValueError(f"unknown align method {method!r} (cedict, model or gale-church)")
    aligner = _sentence_aligner(method, translator, bootstrap, base_table)
    zh = sentences_of(zh_paragraphs, "zh")
    en = sentences_of(en_paragraphs, "en")
    beads: list[dict] = []
    chapters_report = []
    unmatched: list[dict] = []
    zh_nums, en_nums = chapter_numbers(zh_paragraphs, "zh"), chapter_numbers(en_paragraphs, "en")
    pairs = pair_chapters(
        zh, en, zh_nums, en_nums, bags=chapter_bags, translator=translator if method == "cedict" else None
    )
    tasks = []
    for zc, ec in pairs:
        zs = [s for c in zc for s in zh[c]]
        es = [s for c in ec for s in en[c]]
        if not zc or not ec:
            unmatched.append({"zh_chapters": zc, "en_chapters": ec, "sentences": len(zs) + len(es)})
            continue
        tasks.append((zc, ec, zs, es))
    results, table = aligner([([s.text for s in zs], [s.text for s in es]) for _, _, zs, es in tasks])
    for (zc, ec, zs, es), found in zip(tasks, results):
        chapter_beads = []
        for src, tgt, score in found:
            bz = [zs[i] for i in src]
            be = [es[j] for j in tgt]
            chapter_beads.append(
                {
                    "zh": [s.text for s in bz],
                    "en": [s.text for s in be],
                    "zh_chapter": zc[0],
                    "en_chapter": ec[0],
                    "zh_para": sorted({s.para for s in bz}),
                    "en_para": sorted({s.para for s in be}),
                    "type": f"{len(bz)}-{len(be)}",
                    "score": round(float(score), 4),
                }
            )
        filter_beads(chapter_beads, filters)
        beads.extend(chapter_beads)
        chapters_report.append({"zh_chapters": zc, "en_chapters": ec, **_summary(chapter_beads, len(zs), len(es))})
    report = {
        "method": method,
        **_summary(beads, sum(len(v) for v in zh.values()), sum(len(v) for v in en.values())),
        "chapters": chapters_report,
        "unmatched_chapters": unmatched,
    }
    if table is not None:
        report["lexicon"] = {"entries": len(table), "confident_beads": table.meta.get("confident_beads", 0)}
    return beads, report


def _summary(beads: list[dict], zh_total: int, en_total: int) -> dict:
    kept = [b for b in beads if b["keep"]]
    aligned_zh = sum(len(b["zh"]) for b in beads if b["en"])
    aligned_en = sum(len(b["en"]) for b in beads if b["zh"])
    return {
        "zh_sentences": zh_total,
        "en_sentences": en_total,
        "beads": len(beads),
        "bead_types": dict(sorted(Counter(b["type"] for b in beads).items())),
        "coverage_zh": round(aligned_zh / zh_total, 4) if zh_total else 0.0,
        "coverage_en": round(aligned_en / en_total, 4) if en_total else 0.0,
        "kept_beads": len(kept),
        "kept_zh": round(sum(len(b["zh"]) for b in kept) / zh_total, 4) if zh_total else 0.0,
        "kept_en": round(sum(len(b["en"]) for b in kept) / en_total, 4) if en_total else 0.0,
        "dropped": dict(sorted(Counter(b["drop"] for b in beads if not b["keep"]).items())),
        "mean_score": round(sum(b["score"] for b in beads) / len(beads), 4) if beads else 0.0,
    }
