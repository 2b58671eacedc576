"""Evaluate one translated book against its source and its reference edition.

Inputs are what the pipeline already has: the translation rows of `translate@rN` (one chunk per row,
with its chapter, source paragraph ids, source text and translation), the source and reference
paragraphs of `ingest`, and the source-reference sentence beads of `align`.

1. **Link**: each chunk's source is split into sentences and matched, in order, with the source
   edition's sentences; a chunk that does not match is a hypothesis of another book (an error).
2. **Source ↔ translation**: inside each chunk, the translation's sentences are aligned to the source
   sentences by the omission detector (``omission.source_coverage``, with the reference translation
   of each source sentence as evidence): every source sentence is *dropped*, *partial* or translated,
   and translation sentences that no source sentence accounts for are *additions*. In a chunk whose
   generation stopped at the length limit (``truncated`` in its row), the untranslated tail is
   counted as truncated, apart from the omissions.
3. **Segments**: each source-reference bead of `align` gets the translation sentences aligned to its
   source sentences — (src, mt, ref) segments of a few sentences for BLEU, chrF, TER and COMET.
   Translation sentences no bead claims (additions, and translations of source sentences without a
   reference) join the segment of the translation sentence before them, so they count in the scores.
4. **Shrinkage**: each translation sentence's length goes to the source sentence it is aligned to,
   and is compared with what the reference edition's overall length rate predicts, per chapter and
   in bins of position in the document (1.0 = as long as the reference would be): shrinkage late
   inside a long chunk shows at the place it happens.
5. **Degeneration**: repeated n-grams inside a chunk, repeated sentences, source-script spans left
   untranslated, chunks in the wrong language, empty chunks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ..errors import BooktransError
from ..text import detect_lang, length, split_sentences
from .omission import OmissionConfig, source_coverage, split_reference

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
_LATIN_RUN = re.compile(r"[A-Za-z]+(?:[\s,'’-]+[A-Za-z]+){2,}")


@dataclass(frozen=True)
class BookEvalConfig:
    """How one book is scored: params ``evaluate`` (built by booktrans.evaluate.scoring.RoundEvalConfig.from_params)."""

    position_bins: int  # evaluate.position_bins
    omission: OmissionConfig  # evaluate.omission
    ngram: int = 4  # repetition: n-grams of words (en) or characters x2 (zh); a library knob


@dataclass
class SourceSentence:
    text: str
    chapter: int
    para: int
    start: int  # character offset in the translated part of the source
    hyp_len: float = 0.0
    omitted: bool = False  # dropped by the model
    partial: bool = False  # translated, with a clause missing
    truncated: bool = False  # in the untranslated tail of a chunk stopped by the length limit
    score: float = 1.0
    counterpart: tuple[int, ...] = ()
    ref: str = ""  # the reference sentences of its bead
    ref_piece: str = ""  # its own share of them (a bead of several source sentences is cut by length)
    missing: tuple[str, ...] = ()


def _join(parts: list[str], lang: str) -> str:
    return ("" if lang == "zh" else " ").join(p for p in parts if p)


def _source_sentences(paragraphs: list[dict], lang: str) -> list[SourceSentence]:
    out, pos = [], 0
    for p in paragraphs:
        for s in split_sentences(p["text"], lang):
            out.append(SourceSentence(s, p["chapter"], p["para"], pos))
            pos += len(s)
    return out


def link_chunks(rows: list[dict], source: list[SourceSentence], src_lang: str, path: str) -> list[list[int]]:
    """The source sentence ids of each translated chunk, checked against the source edition."""
    links, cursor = [], 0
    for k, row in enumerate(rows):
        for key in ("chapter", "paras", "source", "translation"):
            if key not in row:
                raise BooktransError(f"{path}: chunk {k} has no {key!r} (not a translate@rN output)")
        ids = []
        for s in split_sentences(row["source"], src_lang):
            if cursor >= len(source) or source[cursor].text != s:
                raise BooktransError(
                    f"{path}: chunk {k} (chapter {row['chapter']}) does not match the source edition at "
                    f"sentence {cursor}: the translation belongs to another book or an older text; "
                    f"re-run translate"
                )
            ids.append(cursor)
            cursor += 1
        links.append(ids)
    return links


def _ngram_repeats(text: str, lang: str, n: int) -> tuple[int, int]:
    toks = list(re.sub(r"\s+", "", text)) if lang == "zh" else re.findall(r"\w+", text.lower())
    n = n * 2 if lang == "zh" else n
    seen, rep, total = set(), 0, 0
    for i in range(len(toks) - n + 1):
        g = tuple(toks[i : i + n])
        total += 1
        if g in seen:
            rep += 1
        seen.add(g)
    return rep, total


def _untranslated(text: str, source: str, src_lang: str) -> list[str]:
    """Spans of the source language left in a translation (zh->en: Han runs; en->zh: runs of three or
    more English words that also occur in the source)."""
    if src_lang == "zh":
        return _HAN_RUN.findall(text)
    low = source.lower()
    return [m for m in _LATIN_RUN.findall(text) if m.lower() in low]


def evaluate_book(
    rows: list[dict],
    src_paragraphs: list[dict],
    ref_beads: list[dict],
    src_lang: str,
    tgt_lang: str,
    path: str | Path = "<translation>",
    *,
    cfg: BookEvalConfig,
    translator=None,
) -> dict:
    """Everything measured on one translated book; see the module docstring. Returns a dict with
    ``segments`` [(src, mt, ref)], ``docs`` (mt, ref), ``metrics`` (numbers), ``chapters``,
    ``positions``, ``omissions``, ``partials`` and ``truncated`` (examples and chunks).
    ``translator`` is the cross-lingual evidence of the omission detector (``lexicon.Translator``)."""
    path = str(path)
    if not rows:
        raise BooktransError(f"{path}: no translated chunks")
    translated = sorted({p for r in rows for p in r.get("paras", [])})
    keep = set(translated)
    source = _source_sentences([p for p in src_paragraphs if p["para"] in keep], src_lang)
    links = link_chunks(rows, source, src_lang, path)
    if links and links[-1] and links[-1][-1] != len(source) - 1:
        raise BooktransError(
            f"{path}: the chunks cover {links[-1][-1] + 1} of the {len(source)} source sentences of "
            f"their paragraphs; the translation is incomplete, re-run translate"
        )
    bead_src = _reference_beads(ref_beads, source, src_lang, tgt_lang)

    hyp_sents: list[str] = []
    owner: list[tuple[int, ...]] = []  # per translation sentence: the source sentences it translates (none: added)
    empty = wrong = 0
    rep = rep_total = 0
    untranslated: list[str] = []
    untranslated_len = 0
    truncated_chunks = []
    for k, (row, ids) in enumerate(zip(rows, links)):
        text = row["translation"]
        sents = split_sentences(text, tgt_lang)
        base = len(hyp_sents)
        hyp_sents += sents
        owner += [()] * len(sents)
        if not text.strip():
            empty += 1
        elif detect_lang(text) not in (None, tgt_lang):
            wrong += 1
        r, t = _ngram_repeats(text, tgt_lang, cfg.ngram)
        rep, rep_total = rep + r, rep_total + t
        spans = _untranslated(text, row["source"], src_lang)
        untranslated += spans
        untranslated_len += sum(length(s, tgt_lang) for s in spans)
        if not ids:
            continue
        cov = source_coverage(
            [source[i].text for i in ids],
            sents,
            src_lang,
            tgt_lang,
            cfg.omission,
            translator,
            references=[source[i].ref_piece for i in ids],
        )
        for c, i in zip(cov.lines, ids):
            s = source[i]
            s.omitted, s.partial, s.score, s.missing = c.omitted, c.partial, c.score, tuple(c.missing_clauses)
            s.counterpart = tuple(base + j for j in c.counterpart)
            for j in s.counterpart:
                owner[j] += (i,)
        if row.get("truncated", False):
            # generation stopped at the length limit: the untranslated tail is truncation, not omission
            tail = []
            for i in reversed(ids):
                if not source[i].omitted:
                    break
                tail.append(i)
            for i in tail:
                source[i].omitted, source[i].truncated = False, True
            truncated_chunks.append(
                {
                    "chunk": k,
                    "chapter": row["chapter"],
                    "sentences": len(ids),
                    "untranslated": len(tail),
                    "stop_reason": row.get("stop_reason", "length"),
                }
            )

    # each translation sentence's length goes to its source sentences (in proportion to their length);
    # an addition's to the source sentence of the translation sentence before it (after it, at the start)
    last: tuple[int, ...] = ()
    for j, h in enumerate(hyp_sents):
        ids = owner[j] or last
        if not ids:
            ids = next((o for o in owner[j:] if o), ())
        total = sum(len(source[i].text) for i in ids) or 1
        for i in ids:
            source[i].hyp_len += length(h, tgt_lang) * len(source[i].text) / total
        last = owner[j] or last
    hyp_total = sum(length(h, tgt_lang) for h in hyp_sents)
    added = sum(1 for o in owner if not o)
    segments = _segments(bead_src, source, hyp_sents, owner, src_lang, tgt_lang)
    if not segments:
        raise BooktransError(
            f"{path}: no source sentence of the translated part has a reference sentence "
            f"(the reference edition or its alignment does not match this book)"
        )
    ref_in_part = sum(length(ref, tgt_lang) for _, ref in bead_src)
    src_in_part = sum(length(source[i].text, src_lang) for ids, _ in bead_src for i in ids)
    rate = ref_in_part / src_in_part if src_in_part else 1.0  # reference units per source unit

    def expected(sents: list[SourceSentence]) -> float:
        return rate * sum(length(s.text, src_lang) for s in sents)

    def share(sents: list[SourceSentence], key: str) -> float | None:
        return round(sum(getattr(s, key) for s in sents) / len(sents), 4) if sents else None

    chapters = []
    by_chapter: dict[int, list[SourceSentence]] = defaultdict(list)
    for s in source:
        by_chapter[s.chapter].append(s)
    for ch, sents in sorted(by_chapter.items()):
        exp = expected(sents)
        chapters.append(
            {
                "chapter": ch,
                "sentences": len(sents),
                "omitted": sum(s.omitted for s in sents),
                "translation_length": round(sum(s.hyp_len for s in sents), 4),
                "expected_length": round(exp, 4),
                "omission_rate": share(sents, "omitted"),
                "partial_rate": share(sents, "partial"),
                "truncated_rate": share(sents, "truncated"),
                "length_ratio": round(sum(s.hyp_len for s in sents) / exp, 4) if exp else None,
            }
        )
    total_chars = max(source[-1].start + len(source[-1].text), 1)
    bins: list[list[SourceSentence]] = [[] for _ in range(cfg.position_bins)]
    for s in source:
        bins[min(cfg.position_bins - 1, int(cfg.position_bins * s.start / total_chars))].append(s)
    positions = []
    for k, sents in enumerate(bins):
        exp = expected(sents)
        positions.append(
            {
                "bin": k,
                "position": round((k + 0.5) / cfg.position_bins, 4),
                "sentences": len(sents),
                "length_ratio": round(sum(s.hyp_len for s in sents) / exp, 4) if exp else None,
                "omission_rate": share(sents, "omitted"),
                "truncated_rate": share(sents, "truncated"),
            }
        )
    seen: set[str] = set()
    repeated = 0
    for h in hyp_sents:
        if length(h, tgt_lang) >= 3:
            repeated += h in seen
            seen.add(h)
    exp_total = expected(source)
    metrics = {
        "chunks": len(rows),
        "source_sentences": len(source),
        "translation_sentences": len(hyp_sents),
        "segments": len(segments),
        "omission_rate": share(source, "omitted"),
        "partial_rate": share(source, "partial"),
        "truncated_chunks": len(truncated_chunks),
        "truncated_rate": share(source, "truncated"),
        "addition_rate": round(added / len(hyp_sents), 4) if hyp_sents else 0.0,
        "coverage": round(sum(s.score for s in source) / len(source), 4),
        "length_ratio": round(hyp_total / exp_total, 4) if exp_total else None,
        "length_ratio_late_vs_early": _late_vs_early(positions),
        "repetition_rate": round(rep / rep_total, 4) if rep_total else 0.0,
        "repeated_sentences": repeated,
        "untranslated_spans": len(untranslated),
        "untranslated_rate": round(untranslated_len / hyp_total, 4) if hyp_total else 0.0,
        "empty_translations": empty,
        "wrong_language_chunks": wrong,
    }

    def example(i: int, s: SourceSentence) -> dict:
        near = s.counterpart or _nearest_translation(source, i)
        around = range(max(0, min(near or (0,)) - 1), min(len(hyp_sents), max(near or (-2,)) + 2))
        return {
            "chapter": s.chapter,
            "para": s.para,
            "position": round(s.start / total_chars, 4),
            "score": round(s.score, 4),
            "sentence": s.text,
            "context_before": source[i - 1].text if i and source[i - 1].chapter == s.chapter else "",
            "context_after": source[i + 1].text if i + 1 < len(source) and source[i + 1].chapter == s.chapter else "",
            "translation": _join([hyp_sents[j] for j in around], tgt_lang),
        }

    omissions = [example(i, s) for i, s in enumerate(source) if s.omitted]
    partials = [{**example(i, s), "missing": list(s.missing)} for i, s in enumerate(source) if s.partial]
    return {
        "metrics": metrics,
        "flags": flags_of(metrics, src_lang, tgt_lang),
        "segments": segments,
        "docs": (
            _join([r["translation"] for r in rows], tgt_lang if tgt_lang == "en" else "zh"),
            _join([s["ref"] for s in segments], tgt_lang),
        ),
        "chapters": chapters,
        "positions": positions,
        "omissions": omissions,
        "partials": partials,
        "truncated": truncated_chunks,
        "untranslated": untranslated[:20],
        "sentences": [
            {
                "text": s.text,
                "chapter": s.chapter,
                "para": s.para,
                "omitted": s.omitted,
                "partial": s.partial,
                "truncated": s.truncated,
                "score": s.score,
                "missing": list(s.missing),
                "translation": _join([hyp_sents[j] for j in s.counterpart], tgt_lang),
                "around": "" if s.counterpart else example(i, s)["translation"],
            }
            for i, s in enumerate(source)
        ],
    }


def _reference_beads(
    ref_beads: list[dict], source: list[SourceSentence], src_lang: str, tgt_lang: str
) -> list[tuple[list[int], str]]:
    """The source sentences of each reference bead of `align`, with its reference text; every source
    sentence also gets its own share of that text (``ref_piece``), the omission detector's evidence."""
    src_side, ref_side = ("zh", "en") if src_lang == "zh" else ("en", "zh")
    index: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, s in enumerate(source):
        index[(s.chapter, s.text)].append(i)
    bead_src: list[tuple[list[int], str]] = []
    cursor = -1
    for b in ref_beads:
        src_ids = []
        for text in b[src_side]:
            cands = [i for i in index.get((b[f"{src_side}_chapter"], text), []) if i > cursor]
            if not cands:
                # a sentence of a later chapter of a merged pair
                cands = [i for c in {s.chapter for s in source} for i in index.get((c, text), []) if i > cursor]
            if cands:
                src_ids.append(min(cands))
                cursor = min(cands)
        if src_ids and b[ref_side]:
            ref = _join(b[ref_side], tgt_lang)
            bead_src.append((src_ids, ref))
            pieces = split_reference(ref, [len(source[i].text) for i in src_ids], tgt_lang)
            for i, piece in zip(src_ids, pieces):
                source[i].ref, source[i].ref_piece = ref, piece
    return bead_src


def _segments(
    bead_src: list[tuple[list[int], str]],
    source: list[SourceSentence],
    hyp_sents: list[str],
    owner: list[tuple[int, ...]],
    src_lang: str,
    tgt_lang: str,
) -> list[dict]:
    """One (src, mt, ref) segment per reference bead: the translation sentences aligned to its source
    sentences, plus those no bead claims (additions; translations of sentences without a reference),
    which join the segment of the translation sentence before them (or after, at the start)."""
    seg_of_source = {i: k for k, (ids, _) in enumerate(bead_src) for i in ids}
    seg_of_hyp: list[int | None] = []
    for o in owner:
        segs = [seg_of_source[i] for i in o if i in seg_of_source]
        seg_of_hyp.append(min(segs) if segs else None)
    first = next((x for x in seg_of_hyp if x is not None), None)
    prev = first
    mt: dict[int, list[int]] = defaultdict(list)
    for j, k in enumerate(seg_of_hyp):
        k = prev if k is None else k
        if k is not None:
            mt[k].append(j)
        prev = k
    total_chars = max(source[-1].start + len(source[-1].text), 1) if source else 1
    out = []
    for k, (src_ids, ref) in enumerate(bead_src):
        out.append(
            {
                "src": _join([source[i].text for i in src_ids], src_lang),
                "mt": _join([hyp_sents[j] for j in mt[k]], tgt_lang),
                "ref": ref,
                "position": round(source[src_ids[0]].start / total_chars, 4),
                "chapter": source[src_ids[0]].chapter,
            }
        )
    return out


def _nearest_translation(source: list[SourceSentence], i: int) -> tuple[int, ...]:
    """The translation sentences of the nearest source sentence before i that has any."""
    for k in range(i - 1, -1, -1):
        if source[k].counterpart:
            return source[k].counterpart
    return ()


def combine_positions(per_book: list[list[dict]]) -> list[dict]:
    """Position curves of several books as one: per bin, the books' values weighted by their sentences."""
    out = []
    for k, rows in enumerate(zip(*per_book)):
        row = {"bin": k, "position": rows[0]["position"], "sentences": sum(r["sentences"] for r in rows)}
        for key in ("length_ratio", "omission_rate", "truncated_rate"):
            vals = [(r[key], r["sentences"]) for r in rows if r.get(key) is not None]
            row[key] = round(sum(v * w for v, w in vals) / sum(w for _, w in vals), 4) if vals else None
        out.append(row)
    return out


def _late_vs_early(positions: list[dict]) -> float | None:
    """Length ratio of the last third of the document over that of the first third (< 1 = shrinks late)."""
    k = max(1, len(positions) // 3)
    early = [p["length_ratio"] for p in positions[:k] if p["length_ratio"] is not None]
    late = [p["length_ratio"] for p in positions[-k:] if p["length_ratio"] is not None]
    if not early or not late or sum(early) == 0:
        return None
    return round((sum(late) / len(late)) / (sum(early) / len(early)), 4)


def flags_of(m: dict, src_lang: str, tgt_lang: str) -> list[str]:
    """Plain-language warnings that keep a bad translation from passing as a low score."""
    flags = []
    if m["empty_translations"]:
        flags.append(f"empty translation in {m['empty_translations']} of {m['chunks']} chunks")
    if m["wrong_language_chunks"]:
        flags.append(f"{m['wrong_language_chunks']} of {m['chunks']} chunks are not in {tgt_lang}")
    if m["untranslated_rate"] >= 0.05:
        flags.append(f"{m['untranslated_rate']:.0%} of the translation is untranslated {src_lang} text")
    if m["repetition_rate"] >= 0.2:
        flags.append(f"{m['repetition_rate']:.0%} of n-grams repeat inside their chunk (degenerate output)")
    if m["length_ratio"] is not None and m["length_ratio"] < 0.5:
        flags.append(f"the translation is {m['length_ratio']:.2f}x the expected length (shrinkage)")
    if m.get("truncated_chunks"):
        flags.append(
            f"{m['truncated_chunks']} of {m['chunks']} chunks stopped at the length limit "
            f"({m['truncated_rate']:.1%} of the source sentences untranslated; not counted as omissions)"
        )
    return flags
