"""Local evidence: is a source sentence's content anywhere near where the alignment put it?

The monotone search cannot follow what models translating whole chapters do: a sentence moved a
few places, two sentences run into one ("…, and …"), a long gap that pushes the search off its band.
Each of those leaves the sentence's words in the translation, a few units away from where the
monotone path can take them. So every sentence is also judged on its own: its best evidence
(``Evidence.source_evidence``: found words' log-likelihood ratios, missing words' against) over
every stretch of at most ``STRETCH`` sentences' worth of units that *no other sentence holds*
(units the search left as additions) inside a *window* around its place on the path, from the
place of the sentence ``WINDOW`` before it to that of the sentence ``WINDOW`` after it. Text
another sentence accounts for is not searched: its words are that sentence's, and counting them
would let a truly dropped sentence borrow its neighbours' vocabulary. A sentence the search drops whose best such evidence is positive (its words are found more
than chance explains, in text no other sentence accounts for) was moved or run into a neighbour,
not dropped (``api``; the threshold 0 is the likelihood ratio's own boundary, and on the tune
halves it recovered the most swapped sentences at no loss of dropped ones found, docs/evaluate.md).
"""

from __future__ import annotations

import numpy as np

from .evidence import Evidence

WINDOW = 4      # source sentences either side: a swap or move "within a window of a few sentences"
STRETCH = 2.0   # the longest stretch tried, in sentences' worth of units (a sentence split in two)
MIN_UNITS = 3   # ...and at least this many units (a sentence whose translation was cut at commas)


def path_places(beads: list[tuple[int, int, int, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per source sentence, the first and last unit boundary of its place on the search's path (its
    stretch; for a dropped sentence the boundary where it was dropped)."""
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    for r0, r1, u, j in beads:
        for r in range(r0, r1):
            start[r], end[r] = u, j
    return start, end


def local_evidence(ev: Evidence, beads: list[tuple[int, int, int, int]], n: int, m: int,
                   which: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Per source sentence (those ``which`` marks; all when None), its best evidence over the
    stretches of translation near its place that no other sentence holds (module docstring);
    -inf where there is none; and the stretch [u, j) that gave it ((0, 0) where none)."""
    start, end = path_places(beads, n)
    free = np.ones(m, dtype=bool)
    for r0, r1, u, j in beads:
        if r1 > r0 and j > u:
            free[u:j] = False
    longest = max(MIN_UNITS, int(round(STRETCH * m / max(n, 1))))
    out = np.full(n, -np.inf)
    where = [(0, 0)] * n
    for r in range(n) if which is None else np.nonzero(which)[0]:
        a = min(int(start[max(0, r - WINDOW)]), int(start[r]))
        b = max(int(end[min(n - 1, r + WINDOW)]), int(end[r]))
        p = a
        while p < b:
            if not free[p]:
                p += 1
                continue
            q = p
            while q < b and free[q]:
                q += 1
            us = np.arange(p, q)
            for size in range(1, min(longest, q - p) + 1):
                js = np.minimum(us + size, q)
                got = ev.source_evidence(int(r), us, js, (p, q))
                k = int(np.argmax(got))
                if got[k] > out[r]:
                    out[r], where[r] = float(got[k]), (int(us[k]), int(js[k]))
            p = q
    return out, where
