"""The score: the probability that a source sentence is translated.

The decision value ``v`` of a sentence is the search's margin (cost of dropping it minus cost of
keeping it), or, for a sentence the search drops but whose words the translation shows nearby
(``locate``), that local evidence. Both are log-likelihood-ratio-like quantities with their
boundary at 0: ``dropped`` is ``v < 0``. The score is ``1 / (1 + e^(-SCORE_SLOPE * v))``: one slope,
no intercept, so that ``score < 0.5`` is exactly ``dropped``. The slope was fitted (maximum
likelihood, ``python eval/omission.py --fit``) on the tune halves' cases of every kind
(complete, dropped, swapped, merged, split, gaps; nonlit MT and MAC-Dev); the reliability table on
the report halves is in docs/evaluate.md.
"""

from __future__ import annotations

import numpy as np

SCORE_SLOPE = 0.390
V_CAP = 50.0  # |v| beyond this says nothing more


def decision_value(margin: np.ndarray, local: np.ndarray) -> np.ndarray:
    """``v`` per sentence: the margin, or the local evidence of a dropped sentence found nearby."""
    v = np.where((margin < 0) & (local >= 0), local, margin)
    return np.clip(v, -V_CAP, V_CAP)


def probability(v: np.ndarray | float, slope: float = SCORE_SLOPE) -> np.ndarray:
    """The probability that a sentence with decision value ``v`` is translated."""
    return 1.0 / (1.0 + np.exp(-slope * np.asarray(v, dtype=float)))
