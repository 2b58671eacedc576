"""Align every set of ../shared/data/align-dev and score it against the gold beads.

    python scripts/eval_align.py [--data ../shared/data/align-dev] [--translator cedict|gale-church] [--out build/align-eval]

Writes the test beads to OUT/<set>/NNN.align (the same files `booktrans align` prints) and prints
per file and total precision, recall and strict F1 per set, as `booktrans align-eval` computes them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from booktrans.align.evaluate import evaluate_dirs, format_bead
from booktrans.align.gale_church import align_lengths
from booktrans.align.lexicon import CedictGlosser
from booktrans.align.sentalign import align_sentences
from booktrans.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
# set -> (source language, target language); the gold beads are [source ids]:[target ids]
SETS = {"mac_dev": ("zh", "en"), "nonlit/aca": ("en", "zh"), "nonlit/mag": ("en", "zh"), "nonlit/pol": ("zh", "en")}


def align_set(data: Path, name: str, translator: str, out: Path) -> tuple[dict, object, float]:
    src_lang, _ = SETS[name]
    glosser = CedictGlosser() if translator == "cedict" else None
    start = time.perf_counter()
    for gold in sorted((data / name / "gold").glob("*.align")):
        src = (data / name / "src" / gold.stem).read_text(encoding="utf-8").splitlines()
        tgt = (data / name / "tgt" / gold.stem).read_text(encoding="utf-8").splitlines()
        zh, en = (src, tgt) if src_lang == "zh" else (tgt, src)
        if translator == "gale-church":
            pairs = [(b.src, b.tgt) for b in align_lengths([len(s) for s in zh], [len(s) for s in en])]
        else:
            pairs = [(b.zh, b.en) for b in align_sentences(zh, en, glosser)]
        lines = [format_bead(*((z, e) if src_lang == "zh" else (e, z))) for z, e in pairs]
        atomic_write_text(out / name / gold.name, "\n".join(lines) + "\n")
    seconds = time.perf_counter() - start
    per_file, total = evaluate_dirs(data / name / "gold", out / name)
    return per_file, total, seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "align-dev")
    ap.add_argument("--translator", default="cedict", choices=["cedict", "gale-church"])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "align-eval")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"error: {args.data}: no align-dev data here", file=sys.stderr)
        return 2
    print(f"translator: {args.translator}")
    print(f"{'set':<12} {'file':<10} {'beads':>6} {'gold':>6} {'P':>6} {'R':>6} {'F1':>6}")
    for name in SETS:
        per_file, total, seconds = align_set(args.data, name, args.translator, args.out / args.translator)
        for f, s in per_file.items():
            print(f"{name:<12} {f:<10} {s.test:>6} {s.gold:>6} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}")
        print(f"{name:<12} {'TOTAL':<10} {total.test:>6} {total.gold:>6} {total.precision:>6.3f} {total.recall:>6.3f} "
              f"{total.f1:>6.3f}   ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
