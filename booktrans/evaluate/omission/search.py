"""Search: a monotone dynamic programme over (source sentences done, units done) inside a band.

Each source sentence gets a stretch of consecutive units: usually one or more units of its own,
possibly none (dropped), or one unit shared by two or three short sentences; a unit belongs to at
most one stretch (none: an addition). The cost of a stretch is minus the evidence of its source
words and of its units' words, plus the Gale-Church length mismatch (``gale_church.length_cost``,
ratio and variance measured on the input's one-to-one pairs), plus ``cut_cost`` when the stretch
starts inside a translated sentence; a dropped sentence costs ``drop_cost``, an added unit
``add_cost``. The search runs in a band of ``band`` units around the path of the project's sentence
aligner, so its cost grows linearly with the text. A forward and a backward pass give, per source
sentence, the cost of the best alignment that keeps it and of the best that drops it.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict

import numpy as np

from ...align.gale_church import VARIANCE, length_cost
from ...align.lexicon import Translator
from ...align.sentalign import AlignConfig, align_sentences
from .config import OmissionConfig
from .evidence import Evidence

_INF = float("inf")
MARGIN_CAP = 50.0  # margins of sentences that can only be kept (or only dropped) are this
CHI2_1_MEDIAN = 0.455  # median of a chi-square with one degree of freedom: a median of squares / this = a variance
MIN_PAIRS = 20  # fewer one-sentence pairs than this: the length model keeps Gale and Church's variance

ANCHOR_UNITS = 3  # an anchor is a run of this many units (a sentence cut at its commas)
ANCHOR_MAX_PLACES = 30  # words found in more units than this place no anchor
ANCHOR_MIN = 12.0  # evidence (log-likelihood ratio) a sentence's best run needs to anchor the band
MAX_DETOUR = 1000  # units the anchors may lead the band away from the aligner's path (a gap of ~300 sentences)
ANCHOR_STEEP = 4.0  # anchors more units apart than this many times the text's units per sentence do not chain
ANCHOR_UNIQUE = 0.5  # ... and no other run may weigh more than this share of it (a repeated passage anchors nothing)

# The guide only places the band: the aligner's corridor search (anchors of rare words) is enough, and
# far quicker than its whole-matrix search on chunks of hundreds of sentences.
GUIDE = AlignConfig(full_dp_cells=20_000)


def guide_path(
    src: list[str], units: list[str], sent: list[int], src_lang: str, translator: Translator
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The project's sentence aligner on whole translated sentences, mapped onto units."""
    sentences: dict[int, list[int]] = defaultdict(list)
    for p, s in enumerate(sent):
        sentences[s].append(p)
    texts = [" ".join(units[p] for p in sentences[s]) for s in sorted(sentences)]
    zh, en = (src, texts) if src_lang == "zh" else (texts, src)
    out = []
    for b in align_sentences(zh, en, translator, GUIDE):
        s_ids, t_ids = (b.zh, b.en) if src_lang == "zh" else (b.en, b.zh)
        out.append((tuple(s_ids), tuple(p for t in t_ids for p in sentences[t])))
    return out


def length_model(guide, slen: np.ndarray, ulen: np.ndarray) -> tuple[float, float]:
    """Translation characters per source character, and the Gale-Church variance of the translation's
    length, from the aligner's one-sentence pairs (Gale and Church's constants when there are few)."""
    pairs = [(float(slen[s[0]]), float(ulen[list(u)].sum())) for s, u in guide if len(s) == 1 and u]
    a, b = sum(x for x, _ in pairs), sum(y for _, y in pairs)
    ratio = b / a if a and b else float(ulen.sum() / max(slen.sum(), 1.0))
    if len(pairs) < MIN_PAIRS:
        return ratio, VARIANCE
    # robust: the median of squared deviations per unit of length, scaled to a variance
    dev = np.array([(y - ratio * x) ** 2 / max((y + ratio * x) / 2.0, 1.0) for x, y in pairs])
    return ratio, float(np.clip(np.median(dev) / CHI2_1_MEDIAN, 1.0, 4 * VARIANCE))


def guide_points(guide) -> list[tuple[int, int]]:
    """(source sentences done, units done) after each bead of the guide."""
    i = j = 0
    points = [(0, 0)]
    for s_ids, u_ids in guide:
        i += len(s_ids)
        j += len(u_ids)
        points.append((i, j))
    return points


def anchor_points(ev: Evidence, n: int, m: int) -> list[tuple[int, int]]:
    """The path the detector's own evidence draws, where it is sure: for each source sentence, the
        run of ``ANCHOR_UNITS`` units where its words weigh most (words found in more than
        ``ANCHOR_MAX_PLACES`` units left out), kept when that weight is at least ``ANCHOR_MIN`` and no
    other run weighs more than ``ANCHOR_UNIQUE`` of it; then the
        longest chain of those that is monotone in both texts (only the stretch between the first and the
        last anchor: where there are none, e.g. in a passage repeated word for word, the aligner's path
        alone places the band). The project's aligner, which places the
        band, can lose its way across a long gap (a lost page, a chapter end); these anchors do not."""
    cand: list[tuple[int, int]] = []
    for i in range(n):
        acc: dict[int, float] = defaultdict(float)
        for g, pos in zip(ev.src_gain[i], ev.found[i]):
            if g <= 0.0 or not pos or len(pos) > ANCHOR_MAX_PLACES:
                continue
            for p in set(q - d for q in pos for d in range(ANCHOR_UNITS) if q - d >= 0):
                acc[p] += g
        if acc:
            p, w = max(acc.items(), key=lambda kv: (kv[1], -kv[0]))
            other = max((x for q, x in acc.items() if abs(q - p) >= ANCHOR_UNITS), default=0.0)
            if w >= ANCHOR_MIN and other <= ANCHOR_UNIQUE * w:
                cand.append((i, p))
    # longest chain increasing in both (patience sorting on the unit, sentences already increasing)
    tails: list[int] = []
    tail_idx: list[int] = []
    prev = [-1] * len(cand)
    for k, (_, p) in enumerate(cand):
        t = bisect.bisect_left(tails, p)
        if t == len(tails):
            tails.append(p)
            tail_idx.append(k)
        else:
            tails[t] = p
            tail_idx[t] = k
        prev[k] = tail_idx[t - 1] if t else -1
    chain = []
    k = tail_idx[-1] if tail_idx else -1
    while k >= 0:
        chain.append(cand[k])
        k = prev[k]
    chain.reverse()
    points: list[tuple[int, int]] = []
    for i, p in chain:
        if not points or (i > points[-1][0] and p >= points[-1][1]):
            points.append((i, p))
    # a step far steeper than the text's own rate joins anchors that cannot both be right (a passage
    # repeated further on): the chain is cut there and its shorter side left out
    rate = m / max(n, 1)
    runs: list[list[tuple[int, int]]] = [[]]
    for pt in points:
        if runs[-1] and pt[1] - runs[-1][-1][1] > ANCHOR_STEEP * rate * (pt[0] - runs[-1][-1][0]) + ANCHOR_UNITS:
            runs.append([])
        runs[-1].append(pt)
    return max(runs, key=len)


def band(paths: list[list[tuple[int, int]]], n: int, m: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Allowed units consumed [lo, hi] after each number of source sentences: ``width`` units either
    side of every path (lists of (sentences done, units done) points), and between them. The first
    path (the aligner's) covers every row; the others widen the band only where they stray from it
    by at most ``MAX_DETOUR`` units (a long gap; farther, a repeated passage)."""
    lo = np.full(n + 1, m, dtype=np.int64)
    hi = np.zeros(n + 1, dtype=np.int64)
    first = None
    for k, points in enumerate(paths):
        plo = np.full(n + 1, m, dtype=np.int64)
        phi = np.full(n + 1, -1, dtype=np.int64)
        for (i0, j0), (i1, j1) in zip(points, points[1:]):
            for r in range(i0, i1 + 1):
                f = (r - i0) / (i1 - i0) if i1 > i0 else 0.0
                c = j0 + f * (j1 - j0)
                plo[r] = min(plo[r], int(c) if i1 > i0 else j0)
                phi[r] = max(phi[r], int(math.ceil(c)) if i1 > i0 else j1)
        if k == 0:
            first = (plo.copy(), phi.copy())
        else:
            far = (phi < 0) | (np.abs(plo - first[0]) > MAX_DETOUR) | (np.abs(phi - first[1]) > MAX_DETOUR)
            plo[far], phi[far] = m, 0
        lo = np.minimum(lo, plo)
        hi = np.maximum(hi, phi)
    lo = np.maximum(lo - width, 0)
    hi = np.minimum(hi + width, m)
    lo[0], hi[n] = 0, m
    lo = np.maximum.accumulate(lo)
    hi = np.minimum.accumulate(hi[::-1])[::-1]
    hi = np.maximum(hi, lo)
    return lo, hi


class Search:
    """Forward-backward dynamic programme over (source sentences done, units done) inside the band."""

    MERGE_SPAN = 1  # sentences sharing a stretch share one unit (the model ran them together)
    CACHE_CELLS = 40_000_000  # keep the forward pass's stretch costs for the backward pass up to this many (320 MB)
    SPAN_SENTENCES = 6  # a stretch holds at most this many sentences' worth of units...
    MIN_SPAN = 16  # ...and at least this many units may always be taken

    def __init__(
        self,
        ev: Evidence,
        slen: np.ndarray,
        ulen: np.ndarray,
        ustart: np.ndarray,
        ratio: float,
        variance: float,
        lo: np.ndarray,
        hi: np.ndarray,
        cfg: OmissionConfig,
    ) -> None:
        self.ev, self.cfg = ev, cfg
        self.slen, self.ratio, self.variance = slen, ratio, variance
        self.ucum = np.concatenate([[0.0], np.cumsum(ulen)])
        self.cut = np.where(ustart, 0.0, cfg.cut_cost)
        self.lo, self.hi = lo, hi
        self.n, self.m = len(slen), len(ulen)
        self.max_span = max(self.MIN_SPAN, int(math.ceil(self.SPAN_SENTENCES * self.m / max(self.n, 1))))

    def cols(self, r: int) -> np.ndarray:
        return np.arange(self.lo[r], self.hi[r] + 1)

    def window(self, i: int) -> tuple[int, int]:
        """The unit boundaries any stretch holding source sentence i may use (it can share one with
        the two sentences before it)."""
        return int(self.lo[max(0, i - 2)]), int(self.hi[i + 1])

    def cost(self, r: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Costs of the stretches of source sentences r..r+k-1: rows = units done before (u),
        columns = units done after (j); infinite where no such stretch is allowed."""
        cfg = self.cfg
        us, js = self.cols(r), self.cols(r + k)
        span = js[None, :] - us[:, None]
        ok = (span >= 1) & (span <= self.max_span) if k == 1 else (span >= 1) & (span <= self.MERGE_SPAN)
        c = np.full(span.shape, _INF)
        if not ok.any():
            return us, js, c
        rows, cols = np.nonzero(ok)
        u, j = us[rows], js[cols]
        lo, hi = int(u.min()), int(j.max())
        sources = range(r, r + k)
        se = sum(self.ev.source_evidence(i, u, j, self.window(i)) for i in sources)
        he = np.concatenate([[0.0], np.cumsum(self.ev.unit_evidence(sources, lo, hi))])
        ls = self.ratio * float(sum(self.slen[i] for i in sources))
        c[rows, cols] = (
            -se
            - cfg.unit_weight * (he[j - lo] - he[u - lo])
            + cfg.length_weight * length_cost(ls, self.ucum[j] - self.ucum[u], self.variance)
            + self.cut[np.minimum(u, self.m - 1)]
            + cfg.merge_cost * (k - 1)
        )
        return us, js, c

    def run(self) -> tuple[list[tuple[int, int, int, int]], np.ndarray]:
        """The best path as beads (r0, r1, u, j) and the margin of every source sentence."""
        cfg, n = self.cfg, self.n
        F = [np.full(self.hi[r] - self.lo[r] + 1, _INF) for r in range(n + 1)]
        back: list[list[tuple[int, int] | None]] = [[None] * len(F[r]) for r in range(n + 1)]
        F[0][0] = 0.0
        cache: dict[int, tuple] = {}  # one-sentence stretch costs, for the backward pass
        cached = 0
        for r in range(n + 1):
            self._additions(F[r], back[r], r)
            if r == n:
                break
            # drop source sentence r
            us = self.cols(r)
            js = self.cols(r + 1)
            both = (us >= js[0]) & (us <= js[-1])
            cand = F[r][both] + cfg.drop_cost
            tgt = us[both] - self.lo[r + 1]
            better = cand < F[r + 1][tgt]
            F[r + 1][tgt[better]] = cand[better]
            for t, u in zip(tgt[better], us[both][better]):
                back[r + 1][t] = (r, int(u))
            for k in (1, 2, 3):
                if r + k > n:
                    break
                us, js, c = self.cost(r, k)
                if k == 1 and cached + c.size <= self.CACHE_CELLS:
                    cache[r] = (us, js, c)
                    cached += c.size
                tot = F[r][:, None] + c
                arg = np.argmin(tot, axis=0)
                best = tot[arg, np.arange(len(js))]
                better = best < F[r + k]
                F[r + k][better] = best[better]
                for t in np.nonzero(better)[0]:
                    back[r + k][t] = (r, int(us[arg[t]]))
        # backward pass: B[r][j] = cost from (r, j) to the end; with it, the best keep / drop cost per sentence
        B = [np.full(self.hi[r] - self.lo[r] + 1, _INF) for r in range(n + 1)]
        B[n][-1] = 0.0
        keep = np.full(n, _INF)
        drop = np.full(n, _INF)
        for r in range(n, -1, -1):
            if r < n:
                us, js = self.cols(r), self.cols(r + 1)
                both = (us >= js[0]) & (us <= js[-1])
                via = B[r + 1][us[both] - self.lo[r + 1]] + cfg.drop_cost
                B[r][both] = np.minimum(B[r][both], via)
                drop[r] = float(np.min(F[r][both] + via)) if both.any() else _INF
                for k in (1, 2, 3):
                    if r + k > n:
                        break
                    got = cache.get(r) if k == 1 else None
                    us, js, c = got if got is not None else self.cost(r, k)
                    tot = c + B[r + k][None, :]
                    B[r] = np.minimum(B[r], tot.min(axis=1))
                    through = float((F[r][:, None] + tot).min())
                    keep[r : r + k] = np.minimum(keep[r : r + k], through)
            # additions inside the row, right to left
            row = B[r]
            for t in range(len(row) - 2, -1, -1):
                v = row[t + 1] + cfg.add_cost
                if v < row[t]:
                    row[t] = v
        beads = []
        r, j = n, self.m
        while r > 0 or j > 0:
            prev = back[r][j - self.lo[r]]
            if prev is None:
                raise RuntimeError("omission search found no path")
            pr, pu = prev
            beads.append((pr, r, pu, j))
            r, j = pr, pu
        beads.reverse()
        margin = np.where(
            np.isfinite(drop) & np.isfinite(keep), drop - keep, np.where(np.isfinite(keep), MARGIN_CAP, -MARGIN_CAP)
        )
        return beads, margin

    def _additions(self, row: np.ndarray, back: list, r: int) -> None:
        add = self.cfg.add_cost
        lo = self.lo[r]
        for t in range(1, len(row)):
            v = row[t - 1] + add
            if v < row[t]:
                row[t] = v
                back[t] = (r, int(lo + t - 1))
