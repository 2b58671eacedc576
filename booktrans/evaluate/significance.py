"""Paired bootstrap significance of the difference between two systems on the same segments.

Every metric here is a function of *summed* per-unit statistics, so a resample is a weighted sum of
the units' statistics and one score computation, never a re-run of the metric over text:

- BLEU, chrF: sacrebleu's own sufficient statistics per segment (``_extract_corpus_statistics``),
  summed and scored with ``_compute_score_from_stats``, as sacrebleu's ``--paired-bs`` does; the
  full-sample score equals ``corpus_score`` exactly.
- COMET: (sum of segment scores, segments) -> mean; omission rate: (dropped source sentences, source
  sentences); length ratio: (translation length, expected length).

**Units.** A unit is what is drawn with replacement: a segment for sentence-parallel files
(``booktrans compare``), a *chapter* of a book in the pipeline (``stages/compare.py``): segments of
one chapter share a translator's context, names and errors (a dropped paragraph takes several
segments with it), so they are not independent, and resampling them one by one would make intervals
too narrow. A chapter is the smallest part of a book that is translated and aligned on its own.

**Outputs.** ``delta = score_b - score_a`` on the full sample; ``ci_low``/``ci_high`` the 2.5th and
97.5th percentiles of the resampled differences (percentile interval); ``p`` two-sided, in
sacrebleu's convention (``significance._compute_p_value``): the resampled absolute differences,
shifted to mean zero, are the null distribution of ``|delta|``, and ``p = (c + 1) / (R + 1)`` where
``c`` counts shifted values at least ``|delta|``. sacrebleu counts *strictly greater* values, which
gives two identical systems p = 1/(R+1); counting ties (``>=``) gives them p = 1 and changes nothing
else when the resampled differences are continuous.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

METRICS = ("bleu", "chrf", "comet", "omission_rate", "length_ratio")
#: for which metrics a larger value is better (the report's "better/worse" wording)
HIGHER_IS_BETTER = {"bleu": True, "chrf": True, "comet": True, "omission_rate": False, "length_ratio": None}


@dataclass(frozen=True)
class Comparison:
    metric: str
    a: float
    b: float
    delta: float
    ci_low: float
    ci_high: float
    p: float

    def to_dict(self) -> dict:
        return asdict(self)


def _sacrebleu_metric(metric: str, tgt_lang: str):
    from sacrebleu.metrics import BLEU, CHRF

    if metric == "bleu":
        return BLEU(tokenize="zh" if tgt_lang == "zh" else "13a")
    if metric == "chrf":
        return CHRF()
    raise ValueError(f"{metric}: not a sacrebleu metric (bleu, chrf)")


def text_stats(metric: str, hyps: Sequence[str], refs: Sequence[str], tgt_lang: str) -> np.ndarray:
    """Per-segment sufficient statistics of BLEU or chrF (rows = segments), float64 (exact for counts)."""
    if len(hyps) != len(refs):
        raise ValueError(f"need one hypothesis segment per reference segment (got {len(hyps)} and {len(refs)})")
    m = _sacrebleu_metric(metric, tgt_lang)
    return np.asarray(m._extract_corpus_statistics(list(hyps), [list(refs)]), dtype=np.float64)


def scorer(metric: str, tgt_lang: str = "en") -> Callable[[np.ndarray], float]:
    """The score of summed statistics of ``metric``."""
    if metric in ("bleu", "chrf"):
        m = _sacrebleu_metric(metric, tgt_lang)
        return lambda s: float(m._compute_score_from_stats(list(s)).score)
    if metric in ("comet", "omission_rate", "length_ratio"):
        return lambda s: float(s[0] / s[1]) if s[1] else float("nan")
    raise ValueError(f"unknown metric {metric!r} (one of {', '.join(METRICS)})")


def block_sums(stats: np.ndarray, blocks: Sequence) -> tuple[np.ndarray, list]:
    """Statistics summed per block (e.g. per chapter), blocks in order of first appearance."""
    order: dict = {}
    for b in blocks:
        order.setdefault(b, len(order))
    out = np.zeros((len(order), stats.shape[1]))
    np.add.at(out, [order[b] for b in blocks], stats)
    return out, list(order)


def resample_counts(n_units: int, resamples: int, seed: int) -> np.ndarray:
    """How often each unit is drawn in each resample (resamples x units), from numpy's PCG64 with
    ``seed``: the same draw as ``rng.choice(n, size=(R, n))``, sacrebleu's own."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(n_units, size=(resamples, n_units), replace=True)
    counts = np.zeros((resamples, n_units))
    np.add.at(counts, (np.repeat(np.arange(resamples), n_units), idx.ravel()), 1.0)
    return counts


def resampled(counts: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """Each resample's summed statistics (resamples x statistics), exactly: the statistics are counts or
    carry at most 4 decimals (the evaluate stage rounds them so), so they are summed as integers in
    units of 1e-4, never by a float BLAS product whose summation order may vary between machines."""
    scaled = np.rint(np.asarray(stats, dtype=np.float64) * 1e4).astype(np.int64)
    return (np.asarray(counts).astype(np.int64) @ scaled) / 1e4


def p_value(diffs: np.ndarray, delta: float) -> float:
    """Two-sided p of an observed difference, in sacrebleu's convention (module docstring), ties counted."""
    shifted = np.abs(diffs) - np.abs(diffs).mean()
    c = int(np.sum(shifted >= abs(delta) - 1e-9))
    return (c + 1) / (len(diffs) + 1)


def paired_bootstrap(
    metric: str,
    stats_a: np.ndarray,
    stats_b: np.ndarray,
    score: Callable[[np.ndarray], float],
    resamples: int | None = None,
    seed: int | None = None,
    counts: np.ndarray | None = None,
) -> Comparison:
    """Compare system B with system A on the same units (rows of ``stats_a``/``stats_b``: one per
    segment or per block), over ``resamples`` draws with ``seed`` (params ``compare``), or over
    ``counts`` (``resample_counts``) shared between comparisons on the same units, so every comparison
    sees the same resamples."""
    stats_a, stats_b = np.asarray(stats_a, dtype=np.float64), np.asarray(stats_b, dtype=np.float64)
    if stats_a.shape != stats_b.shape:
        raise ValueError(
            f"{metric}: the two systems are not on the same units ({stats_a.shape[0]} and {stats_b.shape[0]})"
        )
    if not len(stats_a):
        raise ValueError(f"{metric}: nothing to compare (no units)")
    if counts is None and (resamples is None or seed is None):
        raise ValueError(f"{metric}: give the resamples and the seed (params compare:), or shared counts")
    if resamples is not None and resamples < 1:
        raise ValueError(f"resamples must be at least 1 (got {resamples})")
    if counts is None:
        counts = resample_counts(len(stats_a), resamples, seed)
    a, b = score(stats_a.sum(0)), score(stats_b.sum(0))
    ra, rb = resampled(counts, stats_a), resampled(counts, stats_b)
    diffs = np.array([score(y) - score(x) for x, y in zip(ra, rb)])
    diffs = diffs[~np.isnan(diffs)]
    delta = b - a
    if not len(diffs) or a != a or b != b:
        raise ValueError(f"{metric}: undefined on these units (nothing to score)")
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return Comparison(
        metric,
        round(a, 4),
        round(b, 4),
        round(delta, 4),
        round(float(lo), 4),
        round(float(hi), 4),
        round(p_value(diffs, delta), 4),
    )


def compare_texts(
    refs: Sequence[str],
    hyps_a: Sequence[str],
    hyps_b: Sequence[str],
    tgt_lang: str,
    metric: str,
    resamples: int,
    seed: int,
) -> Comparison:
    """BLEU or chrF of two systems' segments against one reference, segment by segment resampled."""
    sa, sb = text_stats(metric, hyps_a, refs, tgt_lang), text_stats(metric, hyps_b, refs, tgt_lang)
    return paired_bootstrap(metric, sa, sb, scorer(metric, tgt_lang), resamples, seed)


def omission_stats(
    src: Sequence[str], hyps: Sequence[str], refs: Sequence[str] | None, src_lang: str, tgt_lang: str, translator=None
) -> np.ndarray:
    """Per source line (dropped, 1) by the omission detector (``omission.source_coverage``), with the
    reference line of each source line as its evidence."""
    from .omission import source_coverage

    cov = source_coverage(
        list(src),
        list(hyps),
        src_lang,
        tgt_lang,
        translator=translator,
        references=list(refs) if refs is not None else None,
    )
    return np.array([[1.0 if line.omitted else 0.0, 1.0] for line in cov.lines])


# ---------------------------------------------------------------------------------------------------
# The pipeline: systems evaluated by the evaluate stage, resampled by chapter.


@dataclass
class SystemUnits:
    """One system's statistics in one direction, one row per unit (a chapter of a test book)."""

    units: list[tuple[str, int]]  # (book, chapter)
    segments: np.ndarray  # scored segments per unit
    stats: dict[str, np.ndarray]  # metric -> units x statistics
    absent: dict[str, str]  # metric -> why it is missing


def system_units(evaluation: Path, books: Sequence[str], direction: str) -> SystemUnits:
    """Read one system's evaluation folder (reports/evaluation/<system>/: segments/<book>.<direction>.jsonl
    and details.json) and sum its statistics per chapter."""
    from ..errors import BooktransError
    from ..io import read_json, read_jsonl

    evaluation = Path(evaluation)
    details_file = evaluation / "details.json"
    if not details_file.is_file():
        raise BooktransError(f"{details_file}: missing; run the evaluate stage of {evaluation.name}")
    details = read_json(details_file)
    segments, chapters = {}, {}
    for book in books:
        f = evaluation / "segments" / f"{book}.{direction}.jsonl"
        if not f.is_file():
            raise BooktransError(
                f"{f}: missing; the evaluate stage of {evaluation.name} did not score {book} ({direction})"
            )
        segments[book] = read_jsonl(f)
        try:
            chapters[book] = details["books"][book][direction]["chapters"]
        except KeyError:
            raise BooktransError(f"{details_file}: no chapters of {book} ({direction})") from None
    try:
        return units_of(segments, chapters, direction.split("-")[1])
    except KeyError as exc:
        raise BooktransError(
            f"{evaluation}: segments or chapters without {exc} (written by an older evaluate stage); "
            f"re-run its evaluate stage"
        ) from None


def units_of(segments: dict[str, list[dict]], chapters: dict[str, list[dict]], tgt_lang: str) -> SystemUnits:
    """Statistics per chapter from what the evaluate stage keeps per book: its (src, mt, ref, chapter[,
    comet]) segments and its chapters (sentences, omitted, translation_length, expected_length)."""
    books = list(segments)
    segs: list[dict] = []
    seg_unit: list[tuple[str, int]] = []
    chapter_rows: dict[tuple[str, int], dict] = {}
    for book in books:
        segs += segments[book]
        seg_unit += [(book, int(r["chapter"])) for r in segments[book]]
        for c in chapters.get(book, []):
            chapter_rows[(book, int(c["chapter"]))] = c
    units = sorted(set(seg_unit) | set(chapter_rows), key=lambda u: (books.index(u[0]), u[1]))
    index = {u: k for k, u in enumerate(units)}
    where = [index[u] for u in seg_unit]

    def per_unit(rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(units), rows.shape[1]))
        if len(rows):
            np.add.at(out, where, rows)
        return out

    stats: dict[str, np.ndarray] = {}
    absent: dict[str, str] = {}
    hyps, refs = [s["mt"] for s in segs], [s["ref"] for s in segs]
    for m in ("bleu", "chrf"):
        stats[m] = per_unit(text_stats(m, hyps, refs, tgt_lang))
    if segs and all("comet" in s for s in segs):
        stats["comet"] = per_unit(np.array([[float(s["comet"]), 1.0] for s in segs]))
    else:
        absent["comet"] = "no COMET segment scores (evaluate.comet.checkpoint is empty)"
    om = np.zeros((len(units), 2))
    ln = np.zeros((len(units), 2))
    for u, c in chapter_rows.items():
        om[index[u]] = (c["omitted"], c["sentences"])
        ln[index[u]] = (c["translation_length"], c["expected_length"])
    stats["omission_rate"], stats["length_ratio"] = om, ln
    return SystemUnits(units, per_unit(np.ones((len(segs), 1)))[:, 0], stats, absent)


def _num(x: float) -> float | None:
    """A number for JSON: None where a score is undefined (a group with nothing to score)."""
    return None if x != x else round(float(x), 4)


def _check_paired(a: SystemUnits, b: SystemUnits, names: tuple[str, str]) -> None:
    from ..errors import BooktransError

    if a.units != b.units:
        raise BooktransError(
            f"{names[0]} and {names[1]} are not evaluated on the same chapters of the same test books; "
            f"re-run their evaluate stages on one manifest"
        )


def score_interval(u: SystemUnits, metric: str, counts: np.ndarray, tgt_lang: str) -> dict:
    """A system's score with its bootstrap 95% interval (percentile) over the resampled units."""
    f = scorer(metric, tgt_lang)
    s = u.stats[metric]
    vals = np.array([f(x) for x in resampled(counts, s)])
    vals = vals[~np.isnan(vals)]
    lo, hi = np.percentile(vals, [2.5, 97.5]) if len(vals) else (float("nan"), float("nan"))
    return {"value": _num(f(s.sum(0))), "ci_low": _num(lo), "ci_high": _num(hi)}


def compare_systems(
    a: SystemUnits, b: SystemUnits, names: tuple[str, str], counts: np.ndarray, tgt_lang: str, alpha: float
) -> dict:
    """Every metric both systems have: B - A with its interval, p and whether it is significant: p below
    ``alpha`` and a 95% interval that excludes 0."""
    _check_paired(a, b, names)
    out = {}
    for m in METRICS:
        if m in a.stats and m in b.stats:
            c = paired_bootstrap(m, a.stats[m], b.stats[m], scorer(m, tgt_lang), counts=counts).to_dict()
            del c["metric"]
            # both must agree: p below alpha and a 95% interval that excludes 0 (near the boundary sacrebleu's
            # p convention and the percentile interval can disagree; such a difference is not called significant)
            c["significant"] = bool(c["p"] < alpha and (c["ci_low"] > 0 or c["ci_high"] < 0))
            out[m] = c
    return out


def breakdown(systems: dict[str, SystemUnits], genre_of: dict[str, str], tgt_lang: str) -> dict:
    """Every metric per genre and per book, with the segments, chapters and books behind each number."""
    out: dict = {"genre": {}, "book": {}}
    first = next(iter(systems.values()))
    for level, key in (("genre", lambda u: genre_of.get(u[0], "unknown")), ("book", lambda u: u[0])):
        groups: dict[str, list[int]] = {}
        for k, u in enumerate(first.units):
            groups.setdefault(key(u), []).append(k)
        for g, rows in groups.items():
            entry = {
                "segments": int(first.segments[rows].sum()),
                "chapters": len(rows),
                "books": len({first.units[k][0] for k in rows}),
                "systems": {},
            }
            for name, su in systems.items():
                entry["systems"][name] = {
                    m: _num(scorer(m, tgt_lang)(su.stats[m][rows].sum(0))) for m in METRICS if m in su.stats
                }
            out[level][g] = entry
    return out


def pairs(rounds: Sequence[str], outside: Sequence[str]) -> list[tuple[str, str, str]]:
    """(baseline, system, relation): each round against its predecessor, the first round (r0) and every
    outside system; r0 itself only against the outside systems."""
    out = []
    for i, r in enumerate(rounds):
        if i >= 1:
            out.append((rounds[i - 1], r, "round before"))
        if i >= 2:
            out.append((rounds[0], r, "base model"))
        out += [(s, r, "outside system") for s in outside]
    return out


def compare_all(
    units: dict[str, dict[str, SystemUnits]],
    rounds: Sequence[str],
    outside: Sequence[str],
    genre_of: dict[str, str],
    resamples: int,
    seed: int,
    alpha: float,
) -> dict:
    """reports/compare.json's ``directions``: per direction, every system's scores with their intervals,
    every comparison of ``pairs``, what is absent, and the per-genre and per-book breakdown. The same
    resamples (one draw of chapters per direction) serve every system and comparison."""
    out: dict = {}
    for d, by_system in units.items():
        if not by_system:
            continue
        tgt = d.split("-")[1]
        first = next(iter(by_system.values()))
        counts = resample_counts(len(first.units), resamples, seed)
        scores = {s: {m: score_interval(u, m, counts, tgt) for m in u.stats} for s, u in by_system.items()}
        comps = {
            f"{b} vs {a}": {
                "a": a,
                "b": b,
                "against": rel,
                **compare_systems(by_system[a], by_system[b], (a, b), counts, tgt, alpha),
            }
            for a, b, rel in pairs([r for r in rounds if r in by_system], [s for s in outside if s in by_system])
        }
        out[d] = {
            "chapters": len(first.units),
            "segments": int(first.segments.sum()),
            "systems": scores,
            "comparisons": comps,
            "absent": {s: u.absent for s, u in by_system.items() if u.absent},
            "breakdown": breakdown(by_system, genre_of, tgt),
        }
    return out
