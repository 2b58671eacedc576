"""Measure the aligner on ../shared/data/align-dev, three ways, and print every figure of docs/align.md.

    python eval/align.py [--data ../shared/data/align-dev] [--translator cedict|gale-church]
                         [--out build/align-eval] [--skip-drift]

1. Gold splits: each set's gold sentences aligned (all files of a set as one book: the lexical table
   is bootstrapped from the set's own confident beads), strict P / R / F1 per file and in total.
   MAC-Dev is also printed in its two parts: TUNE (001-003, where the knobs were chosen) and REPORT
   (004-006, never tuned on).
2. End to end, the path a user's book takes: raw paragraphs rebuilt from the gold beads (2-5 beads a
   paragraph, both sides breaking together), the project's splitter, ``align_book``, the beads
   projected back onto the gold sentences by character offsets; strict F1 (null beads in),
   sentence-link F1, the splitter's boundary precision / recall per language, and the share of
   characters that end in null beads.
3. Drift: every set concatenated into one chapter-free text and aligned in one call, against the
   same sets aligned one file at a time (strict F1 over the same gold beads).

Writes the gold-split beads to OUT/<translator>/<set>/NNN.align (the format `booktrans align` prints).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from booktrans.align import FilterConfig, align_book
from booktrans.align.evaluate import Score, end_to_end, evaluate_dirs, score
from booktrans.align.gale_church import align_lengths
from booktrans.align.gold import format_bead, load_gold_set
from booktrans.align.sentalign import align_texts
from booktrans.io import atomic_write_text
from booktrans.params import load
from booktrans.text import split_sentences

ROOT = Path(__file__).resolve().parents[1]
ALIGN = load(ROOT / "params.yaml").align  # the project's align params: method, filters, bootstrap
# set -> source language; the gold beads are [source ids]:[target ids]
SETS = {"mac_dev": "zh", "nonlit/aca": "en", "nonlit/mag": "en", "nonlit/pol": "zh"}
PARTS = {"TUNE": ("001", "002", "003"), "REPORT": ("004", "005", "006")}  # of mac_dev


def _sum(scores) -> Score:
    scores = list(scores)
    return Score(sum(s.correct for s in scores), sum(s.test for s in scores), sum(s.gold for s in scores))


def _row(name: str, f: str, s: Score, extra: str = "") -> str:
    return f"{name:<12} {f:<10} {s.test:>6} {s.gold:>6} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}{extra}"


def align_gold(golds, translator: str) -> list[list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    if translator == "gale-church":
        return [[(b.src, b.tgt) for b in align_lengths([len(s) for s in g.zh], [len(s) for s in g.en])] for g in golds]
    results, _ = align_texts([(g.zh, g.en) for g in golds], bootstrap=ALIGN.bootstrap)
    return [[(b.zh, b.en) for b in beads] for beads in results]


def gold_splits(data: Path, translator: str, out: Path) -> dict[str, Score]:
    print(f"1. gold sentence splits, translator {translator}")
    print(f"{'set':<12} {'file':<10} {'beads':>6} {'gold':>6} {'P':>6} {'R':>6} {'F1':>6}")
    totals = {}
    for name, src_lang in SETS.items():
        golds = load_gold_set(data / name, src_lang)
        start = time.perf_counter()
        for g, beads in zip(golds, align_gold(golds, translator)):
            lines = [format_bead(*((z, e) if src_lang == "zh" else (e, z))) for z, e in beads]
            atomic_write_text(out / name / f"{g.name}.align", "\n".join(lines) + "\n")
        seconds = time.perf_counter() - start
        per_file, total = evaluate_dirs(data / name / "gold", out / name)
        for f, s in per_file.items():
            print(_row(name, f, s))
        if name == "mac_dev":
            for part, files in PARTS.items():
                print(_row(name, part, _sum(per_file[f"{k}.align"] for k in files)))
        print(_row(name, "TOTAL", total, f"   ({seconds:.1f} s)"))
        totals[name] = total
    return totals


def e2e(data: Path) -> None:
    print("2. end to end: raw paragraphs -> booktrans splitter -> align_book -> projected onto gold sentences")
    print(
        f"{'set':<12} {'part':<7} {'strict F1':>9} {'link F1':>8} {'zh bound P/R':>13} {'en bound P/R':>13} "
        f"{'null chars zh/en':>17}"
    )
    for name, src_lang in SETS.items():
        golds = load_gold_set(data / name, src_lang)
        total, per_file = end_to_end(
            golds,
            lambda z, e: align_book(
                z, e, method=ALIGN.method, filters=FilterConfig.from_params(ALIGN.filters), bootstrap=ALIGN.bootstrap
            )[0],
            split_sentences,
        )
        rows = [("ALL", total)]
        if name == "mac_dev":
            for part, files in PARTS.items():
                strict = _sum(per_file[f].strict for f in files)
                link = _sum(per_file[f].link for f in files)
                rows.append((part, type(total)(strict, link, {}, {})))
        for part, r in rows:
            b = "".join(
                f"{r.boundaries[lang].precision:>7.3f}/{r.boundaries[lang].recall:.3f}" if r.boundaries else f"{'':>13}"
                for lang in ("zh", "en")
            )
            nulls = f"{r.null_chars['zh']:>10.3f}/{r.null_chars['en']:.3f}" if r.null_chars else ""
            print(f"{name:<12} {part:<7} {r.strict.f1:>9.3f} {r.link.f1:>8.3f} {b}{nulls}")


def drift(data: Path) -> None:
    print("3. drift: all sets concatenated into one chapter-free text, against each file aligned on its own")
    golds = [g for name, src_lang in SETS.items() for g in load_gold_set(data / name, src_lang)]
    start = time.perf_counter()
    parts, _ = align_texts([(g.zh, g.en) for g in golds], bootstrap=ALIGN.bootstrap)
    per_part = _sum(score([(b.zh, b.en) for b in beads], g.beads) for g, beads in zip(golds, parts))
    t_parts = time.perf_counter() - start
    zh, en, gold = [], [], []
    for g in golds:
        gold += [(tuple(i + len(zh) for i in a), tuple(j + len(en) for j in b)) for a, b in g.beads]
        zh += g.zh
        en += g.en
    start = time.perf_counter()
    (whole,), _ = align_texts([(zh, en)], bootstrap=ALIGN.bootstrap)
    t_whole = time.perf_counter() - start
    joined = score([(b.zh, b.en) for b in whole], gold)
    print(f"  per part     strict F1 {per_part.f1:.3f}  ({len(golds)} parts, {t_parts:.1f} s)")
    print(f"  one text     strict F1 {joined.f1:.3f}  ({len(zh)} x {len(en)} sentences, {t_whole:.1f} s)")
    print(f"  difference   {joined.f1 - per_part.f1:+.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "align-dev")
    ap.add_argument("--translator", default="cedict", choices=["cedict", "gale-church"])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "align-eval")
    ap.add_argument("--skip-drift", action="store_true", help="skip the (slower) concatenated-text run")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"error: {args.data}: no align-dev data here", file=sys.stderr)
        return 2
    gold_splits(args.data, args.translator, args.out / args.translator)
    if args.translator == "cedict":
        e2e(args.data)
        if not args.skip_drift:
            drift(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
