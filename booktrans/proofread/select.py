"""Which beads a corrector should look at: the ones most likely wrong, and a random sample.

Every signal is measured against the book's own beads (median and median absolute deviation), so a
terse translation or a verbose one does not flag every bead:

- ``low_score``: the aligner's lexical score far below the book's typical score;
- ``length_ratio``: English words per Chinese character far from the book's typical ratio;
- ``null_next_to_long``: a sentence without counterpart beside a bead that would read more normally
  with it (its ratio moves towards the book's), or beside a bead of several sentences;
- ``chapter_outlier``: a chapter pair whose whole length ratio or mean score is far from the other
  chapters' (a wrong chapter pairing shows there first); its first and last beads are shown;
- ``boundary``: two neighbouring beads of one chapter pair that would read better with their
  boundary elsewhere: moving the last sentence of one into the other (either language, either
  direction) or merging them lowers the pair's cost by the aligner's own terms, its shape prior and
  skip cost (``booktrans.align.sentalign``) and one minus ``SameMeaning`` coverage, plus a length
  term against the book's typical ratio. The aligner chose this boundary by a cost of the same kind;
  a second, independent reading of both beads that prefers another one marks a boundary shift,
  the commonest error left on literary text. Both beads are flagged;
- ``null``: any other sentence without counterpart (lowest priority).

The sample is drawn among the pairs the dataset would train on (both sides present, kept by the
aligner's filters) by a seeded hash of their texts, so the same pairs stay in it when other parts
of the book change.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from ..align.sentalign import SHAPES, AlignConfig
from ..text import length


@dataclass(frozen=True)
class SelectConfig:
    """Which beads a proofreader sees. The first four fields are params (``proofread:`` and ``seed``) and have
    no default here: build it with :meth:`from_params`. The rest are the detector's own knobs, not params."""

    doubtful: int  # beads most likely wrong exported per book (0 = none)
    sample: int  # pairs drawn at random per book for the precision estimate (0 = none)
    context: int  # beads shown before and after each one
    seed: int
    min_chars: int = 10  # Chinese characters below which length ratios and scores are not judged
    score_z: float = 1.5  # robust deviations below the book's typical score that flag a bead
    ratio_z: float = 1.5  # robust deviations from the book's typical length ratio that flag a bead
    boundary: bool = True  # check the boundary between neighbouring beads (needs a SameMeaning)
    boundary_gain: float = 0.0  # a boundary is flagged when another one costs less by more than this
    boundary_length: float = 0.02  # weight of the squared length-ratio deviation in a bead's cost
    boundary_strength: float = (
        4.0  # the reason's strength: this plus boundary_scale x the gain (ranks it above most others)
    )
    boundary_scale: float = 4.0

    @classmethod
    def from_params(cls, proofread, seed: int) -> "SelectConfig":
        """From the typed ``proofread`` record (booktrans.params.ProofreadParams) and the params' seed."""
        return cls(doubtful=proofread.doubtful, sample=proofread.sample, context=proofread.context, seed=seed)


def texts(bead: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(bead["zh"]), tuple(bead["en"])


def is_pair(bead: dict) -> bool:
    return bool(bead["zh"]) and bool(bead["en"])


def _zh_chars(bead: dict) -> int:
    return length("".join(bead["zh"]), "zh")


def _en_words(bead: dict) -> int:
    return length(" ".join(bead["en"]), "en")


def _log_ratio(zh_chars: int, en_words: int) -> float:
    return math.log((en_words + 1) / (zh_chars + 1))


def _robust(values: list[float]) -> tuple[float, float]:
    """(median, scale): the scale is 1.4826 x the median absolute deviation, floored so a book of
    near-identical values does not make every small difference an outlier."""
    if not values:
        return 0.0, 1.0
    s = sorted(values)
    med = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
    dev = sorted(abs(v - med) for v in values)
    mad = dev[len(dev) // 2] if len(dev) % 2 else (dev[len(dev) // 2 - 1] + dev[len(dev) // 2]) / 2
    return med, max(1.4826 * mad, 0.05)


def _chapter_key(bead: dict) -> tuple:
    return bead["zh_chapter"], bead["en_chapter"]


_MOVES = {  # (what moves, said of the bead before the boundary, said of the bead after it)
    "zh-last": (
        "its last Chinese sentence reads better with the next bead",
        "the last Chinese sentence of the bead before reads better with this one",
    ),
    "en-last": (
        "its last English sentence reads better with the next bead",
        "the last English sentence of the bead before reads better with this one",
    ),
    "zh-first": (
        "the first Chinese sentence of the next bead reads better with this one",
        "its first Chinese sentence reads better with the bead before",
    ),
    "en-first": (
        "the first English sentence of the next bead reads better with this one",
        "its first English sentence reads better with the bead before",
    ),
    "merge": ("this bead and the next read better as one bead", "this bead and the one before read better as one bead"),
}


class _Reader:
    """A bead's cost as the aligner weighs one (shape prior, skip cost, one minus similarity per
    sentence) with ``meaning``'s coverage of the bead's sentence units, plus a length term."""

    def __init__(self, meaning, r_med: float, r_scale: float, length_weight: float) -> None:
        self.meaning = meaning
        self.r_med, self.r_scale, self.length_weight = r_med, r_scale, length_weight
        self.skip = AlignConfig().skip
        self._zh: dict[str, tuple] = {}
        self._en: dict[str, tuple] = {}

    def _zh_units(self, s: str) -> tuple:
        got = self._zh.get(s)
        if got is None:
            got = self._zh[s] = (tuple(w for w in self.meaning.zh_words(s) if w.content), length(s, "zh"))
        return got

    def _en_units(self, s: str) -> tuple:
        got = self._en.get(s)
        if got is None:
            bag = self.meaning.en_bag(s)
            got = self._en[s] = (bag, length(s, "en"))
        return got

    def similarity(self, zh: list[str], en: list[str]) -> float:
        words = [w for s in zh for w in self._zh_units(s)[0]]
        bags = [self._en_units(s)[0] for s in en]
        stems = frozenset().union(*(b.stems for b in bags)) if bags else frozenset()
        if not words or not stems:
            return 0.0
        bag = type(bags[0])(stems, frozenset().union(*(b.names for b in bags)))
        zh_cov = sum(1 for w in words if self.meaning.shows(w, bag)) / len(words)
        explained = set().union(*(w.stems for w in words)) | {w.pinyin for w in words if w.pinyin}
        en_cov = sum(1 for t in stems if t in explained) / len(stems)
        return 2 * zh_cov * en_cov / (zh_cov + en_cov) if zh_cov + en_cov else 0.0

    def cost(self, zh: list[str], en: list[str]) -> float:
        m, n = len(zh), len(en)
        if not m or not n:
            return self.skip * (m + n)
        if (m, n) not in SHAPES:
            return math.inf
        z = (
            _log_ratio(sum(self._zh_units(s)[1] for s in zh), sum(self._en_units(s)[1] for s in en)) - self.r_med
        ) / self.r_scale
        return SHAPES[(m, n)] + (1.0 - self.similarity(zh, en)) * (m + n) / 2 + self.length_weight * min(z * z, 25.0)

    def best_move(self, a: dict, b: dict) -> tuple[str, float, float, float] | None:
        """The best other boundary between beads a and b: (move, gain in cost, the two beads'
        similarity now (mean), after); None when no other boundary is possible."""
        now = self.cost(a["zh"], a["en"]) + self.cost(b["zh"], b["en"])
        if not math.isfinite(now):
            return None
        alts: list[tuple[float, str, list]] = []
        for side in ("zh", "en"):
            other = "en" if side == "zh" else "zh"
            if a[side]:
                na = {side: a[side][:-1], other: a[other]}
                nb = {side: a[side][-1:] + b[side], other: b[other]}
                alts.append((self.cost(na["zh"], na["en"]) + self.cost(nb["zh"], nb["en"]), f"{side}-last", [na, nb]))
            if b[side]:
                na = {side: a[side] + b[side][:1], other: a[other]}
                nb = {side: b[side][1:], other: b[other]}
                alts.append((self.cost(na["zh"], na["en"]) + self.cost(nb["zh"], nb["en"]), f"{side}-first", [na, nb]))
        merged = {"zh": a["zh"] + b["zh"], "en": a["en"] + b["en"]}
        alts.append((self.cost(merged["zh"], merged["en"]), "merge", [merged]))
        cost, move, after = min(alts, key=lambda x: (x[0], x[1]))
        if not math.isfinite(cost):
            return None

        def sim(bs):
            pairs = [x for x in bs if x["zh"] and x["en"]]
            return sum(self.similarity(x["zh"], x["en"]) for x in pairs) / max(1, len(pairs))

        return move, now - cost, sim([a, b]), sim(after)


def reasons(beads: list[dict], cfg: SelectConfig, meaning=None) -> list[list[tuple[str, float, str]]]:
    """For each bead, a list of (code, strength, explanation); strength ~ how many deviations from
    the book's norm (2 and more is unusual). ``meaning``: the measure the boundary check reads beads
    with (a ``booktrans.align.similarity.SameMeaning``, e.g. with the book's learned table); None =
    one with CC-CEDICT alone."""
    out: list[list[tuple[str, float, str]]] = [[] for _ in beads]
    judged = [i for i, b in enumerate(beads) if is_pair(b) and _zh_chars(b) >= cfg.min_chars]
    ratios = {i: _log_ratio(_zh_chars(beads[i]), _en_words(beads[i])) for i in judged}
    r_med, r_scale = _robust(list(ratios.values()))
    scored = [i for i in judged if isinstance(beads[i].get("score"), (int, float))]
    s_med, s_scale = _robust([beads[i]["score"] for i in scored])
    for i in scored:
        z = (s_med - beads[i]["score"]) / s_scale
        if z >= cfg.score_z:
            out[i].append(
                ("low_score", z, f"score {beads[i]['score']:.2f}, the book's typical bead scores {s_med:.2f}")
            )
    for i, r in ratios.items():
        z = (r - r_med) / r_scale
        if abs(z) >= cfg.ratio_z:
            times = math.exp(r - r_med)
            why = (
                f"{times:.1f}x as much English for its Chinese as is usual in this book"
                if times >= 1
                else f"{1 / times:.1f}x less English for its Chinese than is usual in this book"
            )
            out[i].append(("length_ratio", abs(z), why))
    for i, b in enumerate(beads):
        if is_pair(b) or not (b["zh"] or b["en"]):
            continue
        best = None
        for j in (i - 1, i + 1):
            if not 0 <= j < len(beads) or not is_pair(beads[j]) or _chapter_key(beads[j]) != _chapter_key(b):
                continue
            n = beads[j]
            zc, ew = _zh_chars(n), _en_words(n)
            before = abs(_log_ratio(zc, ew) - r_med) / r_scale
            after = abs(_log_ratio(zc + _zh_chars(b), ew + _en_words(b)) - r_med) / r_scale
            gain = before - after
            side = "before" if j < i else "after"
            if gain >= 1.0 and zc >= cfg.min_chars:
                cand = (
                    1.0 + gain,
                    f"the bead {side} it would read more normally with this sentence "
                    f"({before:.1f} -> {after:.1f} deviations from the book's length ratio)",
                )
            elif len(n["zh"]) + len(n["en"]) >= 4:
                cand = (1.5, f"the bead {side} it has {n['type']} sentences")
            else:
                continue
            if best is None or cand[0] > best[0]:
                best = cand
        if best:
            out[i].append(("null_next_to_long", best[0], "no counterpart; " + best[1]))
        else:
            out[i].append(("null", 1.0, "no counterpart in the other language"))
    if cfg.boundary and len(beads) > 1:
        if meaning is None:
            from ..align.similarity import SameMeaning

            meaning = SameMeaning()
        reader = _Reader(meaning, r_med, r_scale, cfg.boundary_length)
        for i in range(len(beads) - 1):
            a, b = beads[i], beads[i + 1]
            if _chapter_key(a) != _chapter_key(b) or "proofread" in a or "proofread" in b:
                continue
            got = reader.best_move(a, b)
            if got is None or got[1] <= cfg.boundary_gain:
                continue
            move, gain, before, after = got
            strength = cfg.boundary_strength + cfg.boundary_scale * gain
            tail = f" (the two beads' similarity {before:.2f} -> {after:.2f})"
            out[i].append(("boundary", strength, _MOVES[move][0] + tail))
            out[i + 1].append(("boundary", strength, _MOVES[move][1] + tail))
    # chapter pairs far from the book's other chapters
    chapters: dict[tuple, list[int]] = {}
    for i, b in enumerate(beads):
        chapters.setdefault(_chapter_key(b), []).append(i)
    if len(chapters) >= 3:
        ch_ratio, ch_score = {}, {}
        for key, idx in chapters.items():
            zc = sum(_zh_chars(beads[i]) for i in idx)
            ew = sum(_en_words(beads[i]) for i in idx)
            ch_ratio[key] = _log_ratio(zc, ew)
            sc = [
                beads[i]["score"] for i in idx if is_pair(beads[i]) and isinstance(beads[i].get("score"), (int, float))
            ]
            if sc:
                ch_score[key] = sum(sc) / len(sc)
        rm, rs = _robust(list(ch_ratio.values()))
        sm, ss = _robust(list(ch_score.values()))
        for key, idx in chapters.items():
            zr = abs(ch_ratio[key] - rm) / rs
            zs = (sm - ch_score[key]) / ss if key in ch_score else 0.0
            z = max(zr, zs)
            if z < 2.5:
                continue
            why = (
                f"chapter pair zh {key[0]} / en {key[1]}: "
                + (
                    f"length ratio {math.exp(ch_ratio[key] - rm):.2f}x the book's"
                    if zr >= zs
                    else f"mean score {ch_score[key]:.2f}, the book's chapters {sm:.2f}"
                )
                + " (were the right chapters paired?)"
            )
            for i in sorted(set(idx[:2] + idx[-1:])):
                out[i].append(("chapter_outlier", z, why))
    return out


def sample_rank(book: str, beads: list[dict], seed: int) -> list[str]:
    """A pseudo-random key per bead from its texts (and its occurrence number among beads with the
    same texts): the sample is the beads with the smallest keys."""
    seen: dict[tuple, int] = {}
    keys = []
    for b in beads:
        t = texts(b)
        k = seen.get(t, 0)
        seen[t] = k + 1
        payload = "\x1d".join([str(seed), book, "\x1e".join(t[0]), "\x1e".join(t[1]), str(k)])
        keys.append(hashlib.sha256(payload.encode("utf-8")).hexdigest())
    return keys


def sample_population(beads: list[dict]) -> list[int]:
    """The pairs the estimate is about: both sides present and kept by the aligner's filters."""
    return [i for i, b in enumerate(beads) if is_pair(b) and b.get("keep", True)]


def draw_sample(book: str, beads: list[dict], size: int, seed: int) -> set[int]:
    keys = sample_rank(book, beads, seed)
    pop = sample_population(beads)
    return set(sorted(pop, key=lambda i: (keys[i], i))[: max(0, size)])


def _brief(b: dict) -> dict:
    return {"zh": list(b["zh"]), "en": list(b["en"])}


def build_items(book: str, beads: list[dict], cfg: SelectConfig, meaning=None) -> tuple[list[dict], dict]:
    """The items of one book's proofreading sheet, in book order, and a summary.

    ``beads`` are the book's current beads (data/aligned, corrections already applied): beads a
    corrector already decided carry ``proofread`` and are not asked again; pairs of the random sample
    not judged yet carry ``proofread_sample``. Each item: id, index, chapter, kind (doubtful or
    sample), reasons, the bead, the context beads before and after (same chapter pair), and the key
    that the completed sheet hands back (the texts of the bead and its neighbours)."""
    why = reasons(beads, cfg, meaning)
    sample = {i for i, b in enumerate(beads) if b.get("proofread_sample")} if cfg.sample else set()
    open_ = [i for i, b in enumerate(beads) if "proofread" not in b and i not in sample and why[i]]
    ranked = sorted(open_, key=lambda i: (-max(s for _, s, _ in why[i]), i))
    doubtful = set(ranked[: max(0, cfg.doubtful)])
    items = []
    for i in sorted(doubtful | sample):
        b = beads[i]
        same = [
            j
            for j in range(max(0, i - cfg.context), min(len(beads), i + cfg.context + 1))
            if _chapter_key(beads[j]) == _chapter_key(b)
        ]
        prev = beads[i - 1] if i > 0 and _chapter_key(beads[i - 1]) == _chapter_key(b) else None
        nxt = beads[i + 1] if i + 1 < len(beads) and _chapter_key(beads[i + 1]) == _chapter_key(b) else None
        kind = "sample" if i in sample else "doubtful"
        items.append(
            {
                "id": f"{book}.{i:05d}",
                "book": book,
                "index": i,
                "chapter": f"{b['zh_chapter']}/{b['en_chapter']}",
                "kind": kind,
                "reasons": [w for _, _, w in sorted(why[i], key=lambda r: -r[1])],
                "bead": {
                    **_brief(b),
                    "type": b.get("type", ""),
                    "score": b.get("score"),
                    "keep": b.get("keep", True),
                    "drop": b.get("drop", ""),
                },
                "before": [_brief(beads[j]) for j in same if j < i],
                "after": [_brief(beads[j]) for j in same if j > i],
                "key": {
                    "book": book,
                    "index": i,
                    "zh_chapter": b["zh_chapter"],
                    "en_chapter": b["en_chapter"],
                    **_brief(b),
                    "prev": _brief(prev) if prev else None,
                    "next": _brief(nxt) if nxt else None,
                },
            }
        )
    counts: dict[str, int] = {}
    for i in doubtful:
        for code, _, _ in why[i]:
            counts[code] = counts.get(code, 0) + 1
    summary = {
        "beads": len(beads),
        "pairs": len(sample_population(beads)),
        "checked_before": sum(1 for b in beads if "proofread" in b),
        "flagged": len(open_),
        "doubtful": len(doubtful),
        "doubtful_reasons": dict(sorted(counts.items())),
        "sample_unjudged": len(sample),
    }
    return items, summary
