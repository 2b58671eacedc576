"""How well chapters are paired, on real translations bent the way editions differ.

    python eval/chapter_pairing.py            # = make eval-pairing

Editions are built from the gold-aligned dev sets in ../shared/data/align-dev: each document is cut
at gold bead boundaries into k pieces ("chapters"), so the true pairing is known, then one edition
is bent: an extra front chapter, equal counts but shifted by one (extra front on one side, extra end
on the other), two chapters merged, one chapter split, one missing. The tuning part is mac_dev
(six novels, k=4 and k=8: 24 and 48 chapters, neighbours from the same novel); the reporting part
is nonlit (academic, magazine, political: one document each, k=8: 8 chapters of one topic each).

For each case it prints the share of true chapter beads found and whether the whole pairing is
exact, for booktrans's pairing by content and for the pairing it replaced (heading numbers when
both editions number uniquely, else order when the counts are equal, else Gale-Church on chapter
lengths) as the baseline, run side by side on the same editions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from booktrans.align.chapters import GlossBags, pair_by_content  # noqa: E402
from booktrans.align.gale_church import align_lengths  # noqa: E402
from booktrans.align.gold import read_gold  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "align-dev"


def load(folder: Path, name: str, zh_is_src: bool) -> list[tuple[list[str], list[str]]]:
    """Gold beads of one document as (zh sentences, en sentences)."""
    doc = read_gold(folder, name)
    beads = []
    for a, b in doc.beads:
        s, t = [doc.src[i] for i in a], [doc.tgt[j] for j in b]
        beads.append((s, t) if zh_is_src else (t, s))
    return beads


def chapters(beads, k: int) -> list[tuple[list[str], list[str]]]:
    cuts = [round(len(beads) * t / k) for t in range(k + 1)]
    return [
        ([s for b in beads[a:c] for s in b[0]], [s for b in beads[a:c] for s in b[1]]) for a, c in zip(cuts, cuts[1:])
    ]


def cases(pieces):
    """(name, zh chapters, en chapters, true beads)."""
    zh = [p[0] for p in pieces]
    en = [p[1] for p in pieces]
    n = len(pieces)
    mid = n // 2
    yield "same chapters", zh, en, [([i], [i]) for i in range(n)]
    yield "extra front chapter (zh)", zh, en[1:], [([0], [])] + [([i], [i - 1]) for i in range(1, n)]
    yield (
        "shifted by one, equal counts",
        zh[:-1],
        en[1:],
        [([0], [])] + [([i], [i - 1]) for i in range(1, n - 1)] + [([], [n - 2])],
    )
    yield (
        "two chapters merged (en)",
        zh,
        en[:mid] + [en[mid] + en[mid + 1]] + en[mid + 2 :],
        [([i], [i]) for i in range(mid)] + [([mid, mid + 1], [mid])] + [([i], [i - 1]) for i in range(mid + 2, n)],
    )
    yield (
        "one chapter split (en)",
        zh[:mid] + [zh[mid] + zh[mid + 1]] + zh[mid + 2 :],
        en,
        [([i], [i]) for i in range(mid)] + [([mid], [mid, mid + 1])] + [([i - 1], [i]) for i in range(mid + 2, n)],
    )
    yield (
        "missing chapter (en)",
        zh,
        en[:mid] + en[mid + 1 :],
        [([i], [i]) for i in range(mid)] + [([mid], [])] + [([i], [i - 1]) for i in range(mid + 1, n)],
    )


def baseline(zh, en):
    """The pairing this replaced: order when the counts are equal, else Gale-Church on lengths (the
    synthetic editions carry no heading numbers)."""
    if len(zh) == len(en):
        return [([i], [i]) for i in range(len(zh))]
    zl = [sum(len(s) for s in c) for c in zh]
    el = [sum(len(s) for s in c) for c in en]
    priors = {(1, 1): 0.9, (1, 0): 0.02, (0, 1): 0.02, (2, 1): 0.03, (1, 2): 0.03}
    return [(list(b.src), list(b.tgt)) for b in align_lengths(zl, el, priors, null_penalty=0.0)]


def score(got, truth) -> tuple[int, int, bool]:
    g = {(tuple(a), tuple(b)) for a, b in got}
    t = {(tuple(a), tuple(b)) for a, b in truth}
    return len(g & t), len(t), g == t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args()
    if not DEV.is_dir():
        print(f"skipped: {DEV} is absent (the dev data lies beside a developer checkout)")
        return 0
    sets = {
        "tune": [
            (
                f"mac_dev k={k}",
                [
                    p
                    for name in ("001", "002", "003", "004", "005", "006")
                    for p in chapters(load(DEV / "mac_dev", name, True), k)
                ],
            )
            for k in (4, 8)
        ],
        "report": [
            (f"nonlit {s} k=8", chapters(load(DEV / "nonlit" / s, name, zh_is_src), 8))
            for s, name, zh_is_src in (("aca", "001", False), ("mag", "003", False), ("pol", "002", True))
        ],
    }
    bags = GlossBags()
    print(
        f"{'part':6} {'editions':18} {'case':30} {'content: beads found':>20} {'exact':>5}   "
        f"{'baseline':>9} {'exact':>5}  {'s':>5}"
    )
    totals: dict[str, list[int]] = {}
    for part, groups in sets.items():
        for label, pieces in groups:
            for case, zh, en, truth in cases(pieces):
                t = time.perf_counter()
                got = [
                    (a, b)
                    for a, b, _ in pair_by_content(
                        zh, en, [sum(map(len, c)) for c in zh], [sum(map(len, c)) for c in en], bags=bags
                    )
                ]
                secs = time.perf_counter() - t
                hit, total, exact = score(got, truth)
                bhit, _, bexact = score(baseline(zh, en), truth)
                tot = totals.setdefault(part, [0, 0, 0, 0, 0, 0])
                for k, v in enumerate((hit, total, exact, bhit, bexact, 1)):
                    tot[k] += v
                print(
                    f"{part:6} {label:18} {case:30} {hit:>9}/{total:<10} {'yes' if exact else 'no':>5}   "
                    f"{bhit:>4}/{total:<4} {'yes' if bexact else 'no':>5}  {secs:5.2f}"
                )
    for part, (hit, total, exact, bhit, bexact, runs) in totals.items():
        print(
            f"{part}: content {hit}/{total} beads ({hit / total:.1%}), {exact}/{runs} editions exact; "
            f"baseline {bhit}/{total} ({bhit / total:.1%}), {bexact}/{runs} exact"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
