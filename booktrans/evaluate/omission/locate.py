"""Local evidence: is a source sentence's content anywhere near where the alignment put it?

The monotone search cannot follow what models translating whole chapters do: a sentence moved a
few places, two sentences run into one ("…, and …"), a long gap that pushes the search off its band.
Each of those leaves the sentence's words in the translation, a few units away from where the
monotone path can take them. So every sentence is also judged on its own: its best evidence
(``Evidence.source_evidence``: found words' log-likelihood ratios, missing words' against) over
every stretch of at most ``STRETCH`` sentences' worth of units inside a *window* around its place
on the path (from the place of the sentence ``WINDOW`` before it to that of the sentence
``WINDOW`` after it) that *no other sentence needs*: units the search left as additions, or the
first or last units of a neighbour's stretch, less whatever evidence the neighbour loses without
them (a monotone search that meets B' A' for A B gives A both and drops B). Text a neighbour does
need is not searched: its words are that sentence's, and counting them would let a truly dropped
sentence borrow its neighbours' vocabulary. Where several moves fall close together a moved
sentence's translation lies across the boundary of two neighbours' stretches (the tail of one, any
free units, the head of the next): those stretches are tried too, less what both neighbours lose. A sentence the search
drops whose best such evidence is positive (its words are found more than chance explains, in text no other sentence
accounts for) was moved or run into a neighbour, not dropped (``api``; the threshold 0 is the likelihood ratio's own
boundary, and on the tune halves it recovered the most swapped sentences at no loss of dropped ones found,
docs/evaluate.md).

A sentence run into its neighbour without a mark is inside text the neighbour does need; for it the
neighbour's stretch is tried *shared* (``joint_evidence``): on the sentence's own words only (those
the neighbour does not have) plus what the neighbour's length gains by holding both, less
``merge_cost``, what the search charges for a shared stretch (docs/evaluate.md). A sentence inside
a gap (a run of ``GAP_RUN`` or more sentences dropped with nothing translated between) is not tried
so, and one the search keeps alone inside a gap must show its own words there (``gap_islands``).
"""

from __future__ import annotations

import bisect

import numpy as np

from ...align.gale_church import length_cost
from .evidence import Evidence
from .words import REF, XL

WINDOW = 4  # source sentences either side: a swap or move "within a window of a few sentences"
STRETCH = 2.0  # the longest stretch tried, in sentences' worth of units (a sentence split in two)
MIN_UNITS = 3  # ...and at least this many units (a sentence whose translation was cut at commas)
GAP_RUN = 5  # a run of this many sentences dropped with no translation between is a gap: one more than
# the most sentences a merge runs into one (the 2-4), so no merge leaves such a run


def path_places(beads: list[tuple[int, int, int, int]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per source sentence, the first and last unit boundary of its place on the search's path (its
    stretch; for a dropped sentence the boundary where it was dropped)."""
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    for r0, r1, u, j in beads:
        for r in range(r0, r1):
            start[r], end[r] = u, j
    return start, end


def local_evidence(
    ev: Evidence,
    beads: list[tuple[int, int, int, int]],
    n: int,
    m: int,
    which: np.ndarray | None = None,
    joint: tuple | None = None,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Per source sentence (those ``which`` marks; all when None), its best evidence near its place
    (module docstring), -inf where there is nothing to try; and the stretch [u, j) that gave it.

    Two kinds of stretch are tried inside the window: runs of units no sentence holds, and the first
    or last units of a neighbour's stretch when the neighbour does not need them (its own evidence
    without them is as high as with them, up to the loss counted against the moved sentence)."""
    start, end = path_places(beads, n)
    free = np.ones(m, dtype=bool)
    single: dict[int, tuple[int, int]] = {}  # sentence -> its stretch, where one sentence holds it alone
    for r0, r1, u, j in beads:
        if r1 > r0 and j > u:
            free[u:j] = False
            if r1 - r0 == 1:
                single[r0] = (u, j)
    longest = max(MIN_UNITS, int(round(STRETCH * m / max(n, 1))))
    out = np.full(n, -np.inf)
    where = [(0, 0)] * n

    def consider(
        r: int, us: np.ndarray, js: np.ndarray, window: tuple[int, int], loss: np.ndarray | float = 0.0
    ) -> None:
        got = ev.source_evidence(r, us, js, window) - loss
        k = int(np.argmax(got))
        if got[k] > out[r]:
            out[r], where[r] = float(got[k]), (int(us[k]), int(js[k]))

    # the stretches that hold units, in order: (u, j, the sentence holding it alone or -1 if shared)
    ordered = [(u, j, r0 if r1 - r0 == 1 else -1) for r0, r1, u, j in beads if r1 > r0 and j > u]

    def loss(s_: int, u: int, j: int, ks: np.ndarray, tail: bool) -> np.ndarray:
        """What sentence s_, holding [u, j) alone, loses without its last (tail) or first ks units."""
        full = float(ev.source_evidence(s_, np.array([u]), np.array([j]), (u, j))[0])
        rest = (
            ev.source_evidence(s_, np.full(len(ks), u), j - ks, (u, j))
            if tail
            else ev.source_evidence(s_, u + ks, np.full(len(ks), j), (u, j))
        )
        return np.where(ks == 0, 0.0, np.maximum(0.0, full - rest))

    def across(r: int, left: tuple[int, int, int], right: tuple[int, int, int]) -> None:
        """A sentence's translation split between two neighbours' stretches: the last k1 units of the
        left one, the free units between, the first k2 of the right one (a neighbour keeps one unit
        at least; k1 = k2 = 0 is a free run, tried above), less what the neighbours lose."""
        u0, j0, s0 = left
        u1, j1, s1 = right
        mid = u1 - j0
        k1s = np.arange(0, min(longest - mid, j0 - u0 - 1) + 1 if s0 >= 0 else 1)
        k2s = np.arange(0, min(longest - mid, j1 - u1 - 1) + 1 if s1 >= 0 else 1)
        K1, K2 = np.meshgrid(k1s, k2s, indexing="ij")
        ok = (K1 + K2 + mid <= longest) & np.where(mid > 0, K1 + K2 > 0, (K1 > 0) & (K2 > 0))
        if not ok.any():
            return
        lost = (loss(s0, u0, j0, k1s, True)[:, None] if s0 >= 0 else 0.0) + (
            loss(s1, u1, j1, k2s, False)[None, :] if s1 >= 0 else 0.0
        )
        lost = np.broadcast_to(lost, K1.shape)[ok]
        consider(r, (j0 - K1)[ok], (u1 + K2)[ok], (u0, j1), lost)

    for r in range(n) if which is None else np.nonzero(which)[0]:
        r = int(r)
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
                consider(r, us, np.minimum(us + size, q), (p, q))
            p = q
        for s_ in range(max(0, r - WINDOW), min(n, r + WINDOW + 1)):
            u, j = single.get(s_, (0, 0))
            if s_ == r or j - u < 2:
                continue
            full = float(ev.source_evidence(s_, np.array([u]), np.array([j]), (u, j))[0])
            ks = np.arange(1, min(longest, j - u - 1) + 1)
            # the first k units go to r, the neighbour keeps the rest; or the last k
            rest = ev.source_evidence(s_, u + ks, np.full(len(ks), j), (u, j))
            consider(r, np.full(len(ks), u), u + ks, (u, j), np.maximum(0.0, full - rest))
            rest = ev.source_evidence(s_, np.full(len(ks), u), j - ks, (u, j))
            consider(r, j - ks, np.full(len(ks), j), (u, j), np.maximum(0.0, full - rest))
        k0 = max(0, bisect.bisect_left(ordered, (a, -1, -2)) - 1)  # the stretches about the window only
        for k in range(k0, len(ordered) - 1):
            (u0, j0, s0), (u1, j1, s1) = ordered[k], ordered[k + 1]
            if u1 > b:
                break
            if j0 >= a and (s0 >= 0 or s1 >= 0) and r not in (s0, s1):
                across(r, (u0, j0, s0), (u1, j1, s1))
    if joint is not None:
        held = [(u, j, r0, r1) for r0, r1, u, j in beads if r1 > r0 and j > u]  # in order of u (and j)
        in_gap = gap_members(beads, n)
        for r in range(n) if which is None else np.nonzero(which)[0]:
            if in_gap[r]:
                continue  # the neighbours' stretches lie outside the gap: nothing there to share
            for got, at in joint_evidence(ev, held, int(r), start, end, joint, longest):
                if got > out[r]:
                    out[r], where[r] = got, at
    return out, where


def gap_members(beads: list[tuple[int, int, int, int]], n: int) -> np.ndarray:
    """Per source sentence, whether it lies in a run of at least ``GAP_RUN`` sentences the search
    drops with no translation between them (a gap: a lost page, a chapter's end). A sentence in it is
    not run into a neighbour; the neighbours' stretches lie on either side of the whole run."""
    at = np.full(n, -1, dtype=np.int64)  # where a dropped sentence was dropped; -1: it holds units
    for r0, r1, u, j in beads:
        if j == u:
            at[r0:r1] = u
    out = np.zeros(n, dtype=bool)
    r = 0
    while r < n:
        if at[r] < 0:
            r += 1
            continue
        q = r
        while q < n and at[q] == at[r]:  # the same place: no translation (not even an addition) between
            q += 1
        if q - r >= GAP_RUN:
            out[r:q] = True
        r = q
    return out


def gap_islands(ev: Evidence, beads: list[tuple[int, int, int, int]], n: int, merge_cost: float) -> dict[int, float]:
    """Sentences the search keeps alone inside a gap, and the evidence they must show to stay kept.

    A sentence between two runs of at least ``GAP_RUN`` dropped sentences (``gap_members``) that holds
    a stretch of its own sits inside one gap: what it holds is text at the gap's edge, which the
    sentences on either side of the whole gap can claim too (a short "But he did it." fits any unit
    on length alone). It is judged as the joint test judges a sentence sharing a neighbour's stretch:
    on its own words found there (``own_words_evidence``, not those of the sentences kept on either
    side of the gap) less ``merge_cost``. Returns {sentence: that value}."""
    in_gap = gap_members(beads, n)
    out: dict[int, float] = {}
    for k in range(1, len(beads) - 1):
        r0, r1, u, j = beads[k]
        if r1 - r0 != 1 or j <= u or r0 < GAP_RUN or r0 + 1 + GAP_RUN > n:
            continue
        if not (in_gap[r0 - 1] and in_gap[r0 + 1]):
            continue
        lo, hi = r0 - 1, r0 + 1
        while lo >= 0 and in_gap[lo]:
            lo -= 1
        while hi < n and in_gap[hi]:
            hi += 1
        edges = [s for s in (lo, hi) if 0 <= s < n]
        out[r0] = own_words_evidence(ev, r0, edges, u, j) - merge_cost
    return out


def joint_evidence(
    ev: Evidence, held: list[tuple[int, int, int, int]], r: int, start: np.ndarray, end: np.ndarray, joint, longest: int
) -> list[tuple[float, tuple[int, int]]]:
    """A sentence run into its neighbour without a mark ("…长久的记忆是…", "… goal we must …") has its
    words inside the neighbour's stretch, which the neighbour needs too. Such a stretch is shared, not
    taken: the last units of the stretch before the sentence's place, or the first of the one after,
    scored (1) on the sentence's *own* words only (a word the neighbour also has explains nothing:
    a dropped sentence cannot borrow its neighbour's vocabulary) and (2) on the length of the
    neighbour's whole stretch, which must hold both: the Gale-Church cost of the neighbour alone less
    that of the two together (a stretch that fits the neighbour alone says the sentence is not there).
    ``held``: the stretches (u, j, first sentence, end sentence) of the search's path that hold units,
    in order; ``joint``: (source lengths, cumulative unit lengths, ratio, variance, merge_cost)."""
    slen, ucum, ratio, variance, merge_cost = joint
    k = bisect.bisect_right(held, (int(start[r]), float("inf"))) - 1
    while k >= 0 and (held[k][1] > start[r] or held[k][2] <= r < held[k][3]):
        k -= 1
    before = held[k] if k >= 0 else None
    k = bisect.bisect_left(held, (int(end[r]), -1))
    while k < len(held) and held[k][2] <= r < held[k][3]:
        k += 1
    after = held[k] if k < len(held) else None
    out = []
    for bead, tail in ((before, True), (after, False)):
        if bead is None:
            continue
        u, j, r0, r1 = bead
        own = sum(float(slen[s]) for s in range(r0, r1)) * ratio
        size = float(ucum[j] - ucum[u])
        gain = float(length_cost(own, size, variance)) - float(
            length_cost(own + ratio * float(slen[r]), size, variance)
        )
        for k in range(1, min(longest, j - u) + 1):
            a, b = (j - k, j) if tail else (u, u + k)
            out.append((own_words_evidence(ev, r, range(r0, r1), a, b) + gain - merge_cost, (a, b)))
    return out


def own_words_evidence(ev: Evidence, r: int, others: range, a: int, b: int) -> float:
    """``Evidence.source_evidence`` of sentence r on units [a, b), counting as found only the words
    that none of the ``others`` sentences has."""
    keys = ev.w.src_keys
    it = ev.w.src[r]
    hit, miss_found = 0.0, [0.0, 0.0]
    for g, miss, chan, ks, pos in zip(ev.src_gain[r], ev.src_miss[r], it.chan, it.keys, ev.found[r]):
        if g <= 0.0 or not pos or any(ks & keys[s][chan] for s in others):
            continue
        p = bisect.bisect_left(pos, a)
        if p < len(pos) and pos[p] < b:
            hit += g + miss
            miss_found[chan] += miss
    return float(ev.total(r, hit, miss_found[XL], miss_found[REF]))
