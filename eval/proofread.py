"""How well the proofreading export points at wrong beads, measured on MAC-Dev (../shared/data).

    .venv/bin/python eval/proofread.py [--doubtful 40] [--grid]

Each MAC-Dev chapter (real Chinese novels and their published translations, hand-aligned) is
aligned by the project's aligner as `align` does (CC-CEDICT glosses, the default filters); the
export then picks up to --doubtful beads per chapter. Printed per part: beads exported, how many of
them are wrong against the gold (exact bead match), the chapter's share of wrong beads, and the
share of all wrong beads the export finds; then, per signal, how many beads it flags and how many
of them are wrong. Chapters 001-003 are the tuning part (the thresholds
score_z, ratio_z and the boundary_* settings of booktrans.proofread.select were chosen there;
--grid prints the grids), 004-006 the reporting part.

--speed: the six chapters four times over as one book (5,428 beads, 24 chapter pairs) with 500
corrections spread over it; prints the seconds `align` spends applying them, beside the seconds the
aligner spent on the same chapters; and the seconds the export's selection takes on that book
with and without the boundary check.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from booktrans.align import FilterConfig, filter_beads  # noqa: E402
from booktrans.align.gold import read_gold  # noqa: E402
from booktrans.align.lexicon import CedictGlosser  # noqa: E402
from booktrans.align.sentalign import align_sentences  # noqa: E402
from booktrans.align.similarity import SameMeaning  # noqa: E402
from booktrans.params import load  # noqa: E402
from booktrans.proofread.corrections import apply_corrections  # noqa: E402
from booktrans.proofread.select import SelectConfig, build_items, reasons  # noqa: E402

PARTS = {"tune": ["001", "002", "003"], "report": ["004", "005", "006"]}
FILTERS = FilterConfig.from_params(load(ROOT / "params.yaml").align.filters)  # the align stage's bead filters


def as_beads(zh: list[str], en: list[str], aligned) -> list[dict]:
    """Sentence beads of one chapter (one sentence per line) as the align stage writes beads."""
    return [
        {
            "zh": [zh[i] for i in b.zh],
            "en": [en[j] for j in b.en],
            "zh_chapter": 1,
            "en_chapter": 1,
            "zh_para": list(b.zh),
            "en_para": list(b.en),
            "type": f"{len(b.zh)}-{len(b.en)}",
            "score": round(b.score, 4),
        }
        for b in aligned
    ]


def chapter(root: Path, name: str, translator) -> tuple[list[dict], list[bool]]:
    doc = read_gold(root, name)
    zh, en, gold = doc.src, doc.tgt, set(doc.beads)
    out = align_sentences(zh, en, translator)
    beads = as_beads(zh, en, out)
    filter_beads(beads, FILTERS)
    return beads, [(tuple(b.zh), tuple(b.en)) in gold for b in out]


def measure(data: dict, names: list[str], cfg: SelectConfig, meaning: SameMeaning) -> tuple[int, int, int, int]:
    exported = wrong = total = total_wrong = 0
    for name in names:
        beads, ok = data[name]
        items, _ = build_items("mac", beads, cfg, meaning)
        idx = {it["index"] for it in items}
        exported += len(idx)
        wrong += sum(not ok[i] for i in idx)
        total += len(ok)
        total_wrong += sum(not x for x in ok)
    return exported, wrong, total, total_wrong


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "align-dev" / "mac_dev")
    ap.add_argument("--doubtful", type=int, default=40, help="beads exported per chapter")
    ap.add_argument("--grid", action="store_true", help="also print the threshold grid on the tuning part")
    ap.add_argument("--speed", action="store_true", help="also time applying 500 corrections to a 5,552-bead book")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"{args.data}: not found (MAC-Dev lives in ../shared/data/align-dev)", file=sys.stderr)
        return 2
    translator = CedictGlosser()
    t0 = time.perf_counter()
    data = {n: chapter(args.data, n, translator) for part in PARTS.values() for n in part}
    align_s = time.perf_counter() - t0
    meaning = SameMeaning()
    P = load(ROOT / "params.yaml")
    base = replace(SelectConfig.from_params(P.proofread, P.seed), doubtful=args.doubtful, sample=0)
    if args.grid:
        print("tuning grid (chapters 001-003): score_z ratio_z exported wrong share-of-wrong-found")
        for sz in (1.0, 1.5, 2.0):
            for rz in (1.5, 2.0, 2.5):
                cfg = replace(base, score_z=sz, ratio_z=rz)
                e, w, _t, tw = measure(data, PARTS["tune"], cfg, meaning)
                print(f"  {sz:>4} {rz:>4} {e:>5} {w:>5} ({w / max(e, 1):.2f}) {w / tw:.2f}")
        print("boundary grid (chapters 001-003): gain length strength exported wrong share-of-wrong-found")
        for gain in (-0.1, 0.0, 0.1, 0.2):
            for lw in (0.02, 0.05, 0.1):
                for st in (2.0, 3.0, 4.0, 6.0):
                    cfg = replace(base, boundary_gain=gain, boundary_length=lw, boundary_strength=st)
                    e, w, _t, tw = measure(data, PARTS["tune"], cfg, meaning)
                    print(f"  {gain:>4} {lw:>4} {st:>4} {e:>5} {w:>5} ({w / max(e, 1):.2f}) {w / tw:.2f}")
        e, w, _t, tw = measure(data, PARTS["tune"], replace(base, boundary=False), meaning)
        print(f"  without the boundary check: {e:>5} {w:>5} ({w / max(e, 1):.2f}) {w / tw:.2f}")
    print(f"{'part':<8}{'beads':>7}{'wrong':>7}{'exported':>10}{'of them wrong':>15}{'wrong found':>13}")
    for part, names in PARTS.items():
        e, w, t, tw = measure(data, names, base, meaning)
        print(f"{part:<8}{t:>7}{tw / t:>7.1%}{e:>10}{w / max(e, 1):>15.1%}{w / tw:>13.1%}")
    for part, names in PARTS.items():  # every bead a signal flags, exported or not
        flagged: dict[str, list[int]] = {}
        for name in names:
            beads, ok = data[name]
            for why, right in zip(reasons(beads, base, meaning), ok):
                for code in {c for c, _, _ in why}:
                    flagged.setdefault(code, [0, 0])[0] += 1
                    flagged[code][1] += not right
        print(
            f"{part:<8}flagged by: "
            + ", ".join(f"{c} {n} ({w / n:.0%} wrong)" for c, (n, w) in sorted(flagged.items()))
        )
    if args.speed:
        book = [
            dict(b, zh_chapter=rep * 10 + int(n), en_chapter=rep * 10 + int(n))
            for rep in range(4)
            for n in sorted(data)
            for b in data[n][0]
        ]
        picks = sorted(random.Random(0).sample(range(1, len(book) - 1), 500))
        corrections = []
        for k, i in enumerate(picks):  # every third a merge with the next bead, the rest accepted
            b, n = book[i], book[i + 1]
            merge = k % 3 == 0 and b["zh_chapter"] == n["zh_chapter"] and i + 1 not in picks
            before = [{"zh": b["zh"], "en": b["en"]}] + ([{"zh": n["zh"], "en": n["en"]}] if merge else [])
            after = [{"zh": b["zh"] + n["zh"], "en": b["en"] + n["en"]}] if merge else [dict(before[0])]
            corrections.append(
                {
                    "book": "speed",
                    "decision": "merge-next" if merge else "accept",
                    "before": before,
                    "after": after,
                    "central": 0,
                    "fixed": {},
                    "hint": {"index": i},
                    "corrector": "bench",
                    "source": f"bench: row {k + 2}",
                }
            )
        t0 = time.perf_counter()
        _, summary = apply_corrections("speed", book, corrections, sample=30, seed=0)
        apply_s = time.perf_counter() - t0
        print(
            f"speed: {len(corrections)} corrections ({summary['applied']} applied) on a book of {len(book)} beads: "
            f"{apply_s:.2f} s; aligning its {len(data)} distinct chapters took {align_s:.2f} s (x4 for the whole book)"
        )
        for boundary in (False, True):
            t0 = time.perf_counter()
            build_items("speed", book, replace(base, boundary=boundary), SameMeaning() if boundary else None)
            print(
                f"speed: exporting the same book {'with' if boundary else 'without'} the boundary check "
                f"(a fresh measure, CC-CEDICT cached): {time.perf_counter() - t0:.2f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
