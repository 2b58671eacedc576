"""Align the Chinese and English editions of a book: chapters first, then sentences inside each
chapter pair, so the work is never quadratic in a whole book."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..text import split_sentences
from ..text.headings import parse_heading
from .gale_church import LengthBead, align_lengths

__all__ = ["align_book", "align_lengths", "LengthBead", "Sentence", "pair_chapters"]


@dataclass(frozen=True)
class Sentence:
    text: str
    chapter: int
    para: int


def chapter_numbers(paragraphs: list[dict], lang: str) -> dict[int, int | None]:
    """Chapter index -> the number in its heading (第三章 -> 3, Chapter 3 -> 3, III. -> 3), or None."""
    nums: dict[int, int | None] = {}
    for p in paragraphs:
        if p["chapter"] not in nums:
            h = parse_heading(p["title"], lang) if p["title"] else None
            nums[p["chapter"]] = h[0] if h else None
    return nums


def sentences_of(paragraphs: list[dict], lang: str) -> dict[int, list[Sentence]]:
    """Group the sentences of ingested paragraphs by chapter, keeping paragraph ids."""
    by_chapter: dict[int, list[Sentence]] = {}
    for p in paragraphs:
        for s in split_sentences(p["text"], lang):
            by_chapter.setdefault(p["chapter"], []).append(Sentence(s, p["chapter"], p["para"]))
    return by_chapter


def pair_chapters(zh: dict[int, list[Sentence]], en: dict[int, list[Sentence]],
                  zh_nums: dict[int, int | None] | None = None, en_nums: dict[int, int | None] | None = None,
                  ) -> list[tuple[list[int], list[int]]]:
    """Pair chapters by heading numbers when both editions number them uniquely, else by order and
    length (Gale-Church on chapter lengths), allowing merged, split and missing chapters.
    Returns [(zh chapter ids, en chapter ids)]; one side empty = unmatched."""
    zc, ec = sorted(zh), sorted(en)
    by_number = _pair_by_number(zc, ec, zh_nums or {}, en_nums or {})
    if by_number is not None:
        return by_number
    if len(zc) == len(ec):
        return [([a], [b]) for a, b in zip(zc, ec)]
    zl = [sum(len(s.text) for s in zh[c]) for c in zc]
    el = [sum(len(s.text) for s in en[c]) for c in ec]
    priors = {(1, 1): 0.9, (1, 0): 0.02, (0, 1): 0.02, (2, 1): 0.03, (1, 2): 0.03}
    beads = align_lengths(zl, el, priors, null_penalty=0.0)
    return [([zc[i] for i in b.src], [ec[j] for j in b.tgt]) for b in beads]


def _pair_by_number(zc: list[int], ec: list[int], zn: dict, en: dict) -> list[tuple[list[int], list[int]]] | None:
    """Pair by heading number; unnumbered chapters before the first numbered one (front matter) pair
    by order. None when numbers are missing, repeated or out of order on either side."""
    def numbered(chs, nums):
        body = [(c, nums.get(c)) for c in chs if nums.get(c) is not None]
        front = [c for c in chs if nums.get(c) is None]
        values = [n for _, n in body]
        ok = body and values == sorted(set(values)) and all(c < body[0][0] for c in front)
        return (front, dict((n, c) for c, n in body)) if ok else None

    a, b = numbered(zc, zn), numbered(ec, en)
    if a is None or b is None:
        return None
    (zfront, zmap), (efront, emap) = a, b
    pairs: list[tuple[list[int], list[int]]] = []
    for i in range(max(len(zfront), len(efront))):
        pairs.append(([zfront[i]] if i < len(zfront) else [], [efront[i]] if i < len(efront) else []))
    for n in sorted(set(zmap) | set(emap)):
        pairs.append(([zmap[n]] if n in zmap else [], [emap[n]] if n in emap else []))
    return pairs


def align_book(zh_paragraphs: list[dict], en_paragraphs: list[dict]) -> tuple[list[dict], dict]:
    """Align one book. Returns (beads, report).

    Each bead: {"zh": [sentences], "en": [sentences], "zh_chapter", "en_chapter", "zh_para": [ids],
    "en_para": [ids], "type": "1-2", "score": 0..1}. The report counts bead types, coverage of each
    side and unmatched chapters.
    """
    zh = sentences_of(zh_paragraphs, "zh")
    en = sentences_of(en_paragraphs, "en")
    beads: list[dict] = []
    chapters_report = []
    unmatched: list[dict] = []
    pairs = pair_chapters(zh, en, chapter_numbers(zh_paragraphs, "zh"), chapter_numbers(en_paragraphs, "en"))
    for zc, ec in pairs:
        zs = [s for c in zc for s in zh[c]]
        es = [s for c in ec for s in en[c]]
        if not zc or not ec:
            unmatched.append({"zh_chapters": zc, "en_chapters": ec, "sentences": len(zs) + len(es)})
            continue
        lb = align_lengths([len(s.text) for s in zs], [len(s.text) for s in es])
        types: Counter[str] = Counter()
        for b in lb:
            bz = [zs[i] for i in b.src]
            be = [es[j] for j in b.tgt]
            kind = f"{len(bz)}-{len(be)}"
            types[kind] += 1
            beads.append({
                "zh": [s.text for s in bz],
                "en": [s.text for s in be],
                "zh_chapter": zc[0],
                "en_chapter": ec[0],
                "zh_para": sorted({s.para for s in bz}),
                "en_para": sorted({s.para for s in be}),
                "type": kind,
                "score": b.score,
            })
        chapters_report.append({
            "zh_chapters": zc, "en_chapters": ec, "zh_sentences": len(zs), "en_sentences": len(es),
            "beads": len(lb), "bead_types": dict(sorted(types.items())),
        })
    total_zh = sum(len(v) for v in zh.values())
    total_en = sum(len(v) for v in en.values())
    aligned_zh = sum(len(b["zh"]) for b in beads if b["en"])
    aligned_en = sum(len(b["en"]) for b in beads if b["zh"])
    types_all = Counter(b["type"] for b in beads)
    report = {
        "zh_sentences": total_zh,
        "en_sentences": total_en,
        "beads": len(beads),
        "bead_types": dict(sorted(types_all.items())),
        "coverage_zh": round(aligned_zh / total_zh, 4) if total_zh else 0.0,
        "coverage_en": round(aligned_en / total_en, 4) if total_en else 0.0,
        "mean_score": round(sum(b["score"] for b in beads) / len(beads), 4) if beads else 0.0,
        "chapters": chapters_report,
        "unmatched_chapters": unmatched,
    }
    return beads, report
