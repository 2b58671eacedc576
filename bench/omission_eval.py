"""Measure the omission detector against human MQM omission labels (WMT23 zh->en, ../shared/data/omission-dev).

    python bench/omission_eval.py [--data ../shared/data/omission-dev] [--grid]

Each (system, document) pair becomes one SRC/HYP file pair, one segment per line, exactly as
`booktrans omissions SRC HYP --src-lang zh --tgt-lang en` reads them (the detector aligns the lines
itself). A segment is positive when a rater marked an `Accuracy/Omission` error in it ("any rater"),
or when at least two of its three raters did ("majority"). Prints segment-level precision, recall
and F1 of the `omitted` flag, per label definition, for the whole set and for the two halves of the
documents (the defaults were chosen on the first half); --grid prints the same for other thresholds.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tarfile
import time
from collections import defaultdict
from pathlib import Path

from booktrans.align.lexicon import CedictGlosser
from booktrans.evaluate.omission import OmissionConfig, source_coverage

_MARK = re.compile(r"</?v>")


def load(data: Path):
    """{(system, doc): [(seg id, source, target, raters who marked an omission)]}"""
    archives = sorted(data.glob("*.tsv.tar.gz"))
    if not archives:
        sys.exit(f"{data}: no *.tsv.tar.gz with MQM ratings")
    csv.field_size_limit(1 << 24)
    segs: dict = {}
    marks: dict = defaultdict(set)
    with tarfile.open(archives[0]) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".tsv"))
        fh = (line.decode("utf-8") for line in tar.extractfile(member))
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for r in reader:
            system, doc, seg, rater, src, tgt, category = r[0], r[1], int(r[2]), r[4], r[5], r[6], r[7]
            key = (system, doc, seg)
            segs[key] = (_MARK.sub("", src), _MARK.sub("", tgt))
            if category.startswith("Accuracy/Omission"):
                marks[key].add(rater)
    docs: dict = defaultdict(list)
    for (system, doc, seg), (src, tgt) in sorted(segs.items()):
        docs[(system, doc)].append((seg, src, tgt, len(marks[(system, doc, seg)])))
    return docs


def predict(docs, cfg: OmissionConfig, glosser) -> list[tuple[str, bool, int]]:
    """[(doc, flagged, raters)] per segment."""
    out = []
    for (system, doc), rows in docs.items():
        cov = source_coverage([r[1] for r in rows], [r[2] for r in rows], "zh", "en", cfg, glosser)
        out += [(doc, c.omitted, r[3]) for c, r in zip(cov.lines, rows)]
    return out


def prf(pairs: list[tuple[bool, bool]]) -> tuple[int, int, float, float, float]:
    flagged = sum(1 for p, _ in pairs if p)
    gold = sum(1 for _, g in pairs if g)
    tp = sum(1 for p, g in pairs if p and g)
    p = tp / flagged if flagged else 0.0
    r = tp / gold if gold else 0.0
    return flagged, gold, p, r, (2 * p * r / (p + r) if p + r else 0.0)


def report(name: str, preds, docs_in=None) -> None:
    rows = [x for x in preds if docs_in is None or x[0] in docs_in]
    for label, k in (("any rater", 1), ("majority", 2)):
        flagged, gold, p, r, f = prf([(flag, raters >= k) for _, flag, raters in rows])
        base = gold / len(rows) if rows else 0.0
        print(f"{name:<12} {label:<10} segments {len(rows):>5}  positives {gold:>4} ({base:.1%})  "
              f"flagged {flagged:>5}  P {p:.3f}  R {r:.3f}  F1 {f:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/omission-dev"))
    ap.add_argument("--grid", action="store_true", help="also try other thresholds")
    args = ap.parse_args()
    t0 = time.perf_counter()
    docs = load(args.data)
    names = sorted({doc for _, doc in docs})
    first, second = set(names[: len(names) // 2]), set(names[len(names) // 2:])
    glosser = CedictGlosser()
    cfg = OmissionConfig()
    preds = predict(docs, cfg, glosser)
    print(f"{len(docs)} system-documents, {len(preds)} segments, {len(names)} source documents")
    print(f"defaults: {cfg}")
    report("all", preds)
    report("first half", preds, first)
    report("second half", preds, second)
    if args.grid:
        for clause in (0.1, 0.2, 0.35, 0.5):
            for line in (0.35, 0.5, 0.65):
                c = OmissionConfig(clause_threshold=clause, line_threshold=line)
                print(f"clause_threshold {clause} line_threshold {line}")
                report("  first half", predict(docs, c, glosser), first)
    print(f"{time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
