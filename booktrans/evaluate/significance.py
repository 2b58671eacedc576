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


def p_value(diffs: np.ndarray, delta: float) -> float:
    """Two-sided p of an observed difference, in sacrebleu's convention (module docstring), ties counted."""
    shifted = np.abs(diffs) - np.abs(diffs).mean()
    c = int(np.sum(shifted >= abs(delta) - 1e-9))
    return (c + 1) / (len(diffs) + 1)


def paired_bootstrap(metric: str, stats_a: np.ndarray, stats_b: np.ndarray, score: Callable[[np.ndarray], float],
                     resamples: int = 1000, seed: int = 12345, counts: np.ndarray | None = None) -> Comparison:
    """Compare system B with system A on the same units (rows of ``stats_a``/``stats_b``: one per
    segment or per block). ``counts`` (``resample_counts``) may be shared between comparisons on the
    same units, so every comparison sees the same resamples."""
    stats_a, stats_b = np.asarray(stats_a, dtype=np.float64), np.asarray(stats_b, dtype=np.float64)
    if stats_a.shape != stats_b.shape:
        raise ValueError(f"{metric}: the two systems are not on the same units ({stats_a.shape[0]} and {stats_b.shape[0]})")
    if not len(stats_a):
        raise ValueError(f"{metric}: nothing to compare (no units)")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1 (got {resamples})")
    if counts is None:
        counts = resample_counts(len(stats_a), resamples, seed)
    a, b = score(stats_a.sum(0)), score(stats_b.sum(0))
    ra, rb = counts @ stats_a, counts @ stats_b
    diffs = np.array([score(y) - score(x) for x, y in zip(ra, rb)])
    diffs = diffs[~np.isnan(diffs)]
    delta = b - a
    if not len(diffs):
        return Comparison(metric, round(a, 4), round(b, 4), round(delta, 4), float("nan"), float("nan"), float("nan"))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return Comparison(metric, round(a, 4), round(b, 4), round(delta, 4), round(float(lo), 4), round(float(hi), 4),
                      round(p_value(diffs, delta), 4))


def compare_texts(refs: Sequence[str], hyps_a: Sequence[str], hyps_b: Sequence[str], tgt_lang: str, metric: str,
                  resamples: int = 1000, seed: int = 12345) -> Comparison:
    """BLEU or chrF of two systems' segments against one reference, segment by segment resampled."""
    sa, sb = text_stats(metric, hyps_a, refs, tgt_lang), text_stats(metric, hyps_b, refs, tgt_lang)
    return paired_bootstrap(metric, sa, sb, scorer(metric, tgt_lang), resamples, seed)


def omission_stats(src: Sequence[str], hyps: Sequence[str], refs: Sequence[str] | None, src_lang: str, tgt_lang: str,
                   translator=None) -> np.ndarray:
    """Per source line (dropped, 1) by the omission detector (``omission.source_coverage``), with the
    reference line of each source line as its evidence."""
    from .omission import source_coverage

    cov = source_coverage(list(src), list(hyps), src_lang, tgt_lang, translator=translator,
                          references=list(refs) if refs is not None else None)
    return np.array([[1.0 if line.omitted else 0.0, 1.0] for line in cov.lines])
