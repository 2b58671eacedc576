"""The public API of the omission detector: ``source_coverage`` and what it returns."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ...align.lexicon import CedictGlosser, Translator
from ...align.sentalign import align_sentences
from ...align.similarity import LexicalTable, SameMeaning
from .calibrate import decision_value, probability
from .config import GLOSS_SENSES, TABLE_MIN_PROB, OmissionConfig
from .evidence import Evidence
from .locate import gap_islands, local_evidence
from .partial import partials
from .search import MARGIN_CAP, Search, anchor_points, band, guide_path, guide_points, length_model
from .units import char_length, split_reference, units_of
from .words import Memo, Words


@dataclass
class LineCoverage:
    line: int
    omitted: bool  # dropped: its content is absent from the translation
    score: float  # probability that it is translated (calibrate); below 0.5 = dropped
    counterpart: tuple[int, ...]  # translation lines aligned to it (most of each line's text)
    partial: bool = False  # translated, but a clause of it is missing
    missing_clauses: list[str] = field(default_factory=list)
    margin: float = 0.0  # cost of dropping it minus cost of keeping it
    local: float = 0.0  # its best evidence near its place (locate)
    moved: bool = False  # found out of order, near its place (locate)
    clause_features: dict = field(default_factory=dict)  # what partial judged it on (partial.py)

    def to_json(self) -> dict:
        return {"line": self.line, "omitted": self.omitted, "score": round(self.score, 4), "partial": self.partial}


@dataclass
class Coverage:
    lines: list[LineCoverage]
    added: list[int]  # translation lines no source sentence accounts for (additions)
    units: list[str] = field(default_factory=list)  # the translation's clause units
    unit_line: list[int] = field(default_factory=list)  # translation line of each unit
    spans: list[tuple[int, int]] = field(default_factory=list)  # per source line: its units [start, end)

    @property
    def omission_rate(self) -> float:
        return sum(1 for c in self.lines if c.omitted) / len(self.lines) if self.lines else 0.0

    @property
    def partial_rate(self) -> float:
        return sum(1 for c in self.lines if c.partial) / len(self.lines) if self.lines else 0.0


def table_translator(table: LexicalTable | None, min_prob: float = TABLE_MIN_PROB) -> Translator:
    """The detector's cross-lingual evidence with a learned lexical table (``align.similarity``):
    ``SameMeaning(table)``, CC-CEDICT with the table's entries of probability ``min_prob`` or more
    added; CC-CEDICT alone (``CedictGlosser``, the default) when ``table`` is None. Either reads an
    entry's first ``GLOSS_SENSES`` senses, and keeps an idiom or name the dictionary lacks as one word
    (``join_unknown``): split into characters, each with glosses the translation never uses, it looked
    like a missing clause."""
    if table is None:
        return CedictGlosser(max_senses=GLOSS_SENSES, join_unknown=True)
    return SameMeaning(table, max_senses=GLOSS_SENSES, table_min_prob=min_prob, join_unknown=True)


def align_references(
    src: list[str], ref: list[str], src_lang: str, tgt_lang: str, translator: Translator | None = None
) -> list[str]:
    """The reference text of each source line, from a reference given as its own list of sentences
    (any count): the two are aligned with the project's sentence aligner, a reference bead of several
    source lines is cut in proportion to their lengths; a source line without one gets ""."""
    keep_s = [i for i, s in enumerate(src) if s.strip()]
    keep_r = [j for j, r in enumerate(ref) if r.strip()]
    out = [""] * len(src)
    if not keep_s or not keep_r:
        return out
    s_txt, r_txt = [src[i] for i in keep_s], [ref[j] for j in keep_r]
    zh, en = (s_txt, r_txt) if src_lang == "zh" else (r_txt, s_txt)
    for b in align_sentences(zh, en, translator or table_translator(None)):
        s_ids, r_ids = (b.zh, b.en) if src_lang == "zh" else (b.en, b.zh)
        if not s_ids or not r_ids:
            continue
        text = ("" if tgt_lang == "zh" else " ").join(r_txt[j] for j in r_ids)
        pieces = split_reference(text, [char_length(s_txt[i], src_lang) for i in s_ids], tgt_lang)
        for i, piece in zip(s_ids, pieces):
            out[keep_s[i]] = piece
    return out


def source_coverage(
    src: list[str],
    hyp: list[str],
    src_lang: str,
    tgt_lang: str,
    cfg: OmissionConfig | None = None,
    translator: Translator | None = None,
    references: list[str] | None = None,
) -> Coverage:
    """Judge every source line: dropped (``omitted``), its ``score``, ``partial``; and find the
    translation lines that no source line accounts for (``added``).

    ``hyp`` holds the translation in any number of lines. ``references`` (optional) holds a human
    translation *of each source line* ("" where there is none; see ``align_references`` for a
    reference given as its own list of sentences). ``translator`` is the cross-lingual evidence (any
    ``lexicon.Translator``; CC-CEDICT glosses when None)."""
    if {src_lang, tgt_lang} != {"zh", "en"}:
        raise ValueError(f"source and target language must be zh and en, one each (got {src_lang}, {tgt_lang})")
    if references is not None and len(references) != len(src):
        raise ValueError(f"need one reference text per source line (got {len(references)} for {len(src)})")
    cfg = cfg or OmissionConfig()
    translator = Memo(translator or table_translator(None))
    keep = [i for i, s in enumerate(src) if s.strip()]
    units, unit_line, ustart, usent = units_of(hyp, tgt_lang)
    lines = [LineCoverage(i, False, 1.0, ()) for i in range(len(src))]
    spans = [(0, 0)] * len(src)
    if not keep:
        return Coverage(lines, sorted(set(unit_line)), units, unit_line, spans)
    if not units:
        for i in keep:
            lines[i] = LineCoverage(i, True, 0.0, (), margin=-MARGIN_CAP)
        return Coverage(lines, [], units, unit_line, spans)
    s_txt = [src[i] for i in keep]
    refs = [references[i] for i in keep] if references is not None else None
    words = Words(s_txt, units, refs, src_lang, tgt_lang, translator)
    guide = guide_path(s_txt, units, usent, src_lang, translator)
    ev = Evidence(words, guide, cfg)
    slen = np.array([char_length(s, src_lang) for s in s_txt], dtype=float)
    ulen = np.array([char_length(u, tgt_lang) for u in units], dtype=float)
    ratio, variance = length_model(guide, slen, ulen)
    lo, hi = band([guide_points(guide), anchor_points(ev, len(s_txt), len(units))], len(s_txt), len(units), cfg.band)
    search = Search(ev, slen, ulen, np.array(ustart), ratio, variance, lo, hi, cfg)
    beads, margin = search.run()
    local, found_at = local_evidence(
        ev, beads, len(s_txt), len(units), margin < 0, (slen, search.ucum, ratio, variance, cfg.merge_cost)
    )
    islands = gap_islands(ev, beads, len(s_txt), cfg.merge_cost)
    for r, got in islands.items():
        margin[r] = min(float(margin[r]), got)  # kept alone inside a gap: its own words must show (locate)
    value = decision_value(margin, local)
    score = probability(value)
    owner = [-1] * len(units)
    local_span = [(0, 0)] * len(s_txt)
    for r0, r1, u, j in beads:
        for r in range(r0, r1):
            local_span[r] = (u, j)  # a dropped sentence: (u, u), its place in the translation
        if r1 > r0 and j > u:
            for p in range(u, j):
                owner[p] = r0 if r1 - r0 == 1 else -2 - r0  # shared stretches: resolved below
    # each translation line belongs to the source line(s) holding most of its characters
    line_chars: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for p, o in enumerate(owner):
        line_chars[unit_line[p]][o] += ulen[p] + 1e-3
    counterpart: dict[int, list[int]] = defaultdict(list)
    added = []
    for ln in sorted(line_chars):
        o = max(line_chars[ln].items(), key=lambda kv: (kv[1], -kv[0]))[0]
        if o == -1:
            added.append(ln)
            continue
        if o >= 0:
            counterpart[o].append(ln)
        else:
            r0 = -2 - o
            for r in range(r0, len(s_txt)):
                if local_span[r] != local_span[r0]:
                    break
                counterpart[r].append(ln)
    for r, i in enumerate(keep):
        mg = float(margin[r])
        dropped = bool(value[r] < 0.0)
        moved = mg < 0.0 and not dropped  # found nearby, out of the monotone order (locate)
        if moved:
            local_span[r] = found_at[r]
        if dropped and r in islands:  # the gap's edge text it held is not its translation
            local_span[r] = (local_span[r][0], local_span[r][0])
            counterpart.pop(r, None)
        lines[i] = LineCoverage(
            i,
            dropped,
            float(score[r]),
            tuple(counterpart.get(r, ())) or tuple(sorted({unit_line[p] for p in range(*local_span[r])})),
            margin=round(mg, 4),
            local=round(float(max(local[r], -MARGIN_CAP)), 4),
            moved=moved,
        )
        spans[i] = local_span[r]
    partials(lines, keep, s_txt, refs, units, local_span, src_lang, tgt_lang, translator, cfg, ev, (ratio, variance))
    return Coverage(lines, added, units, unit_line, spans)
