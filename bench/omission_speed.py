"""Benchmark: the omission detector on a whole book in one call, one core: time and peak memory.

    python bench/omission_speed.py [--sentences 30000] [--drop 0.05] [--gap 200] [--reference]

A Chinese book of about --sentences sentences is built by repeating the six MAC-Dev chapters of
../shared/data/align-dev (real novels; their published English as the translation, bead by bead,
in paragraphs of 1-3 sentences), else the sample books of data/ (their English editions aligned by
the project's aligner). A seeded --drop share of the translation's beads is removed, and one run of
--gap beads in the middle (a lost chapter). ``source_coverage`` judges the whole book in one call
with CC-CEDICT alone; with ``--reference`` also the published English as the reference of every
source sentence, each bead's text shared out between its sentences by ``units.split_reference`` as
the evaluate stage does (``book.ref_piece``). Printed: sentences, seconds, peak resident memory (the
process's ``ru_maxrss``), and as a sanity check the share of the removed sentences found and of the
others flagged (and, with the reference, called partial). Target (issue 23): 30,000 sentences in at
most 10 minutes and 4 GB.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAC = ROOT.parent / "shared" / "data" / "align-dev" / "mac_dev"


def chapters() -> list[tuple[list[str], list[tuple[tuple[int, ...], str]]]]:
    """(source sentences, translation beads (source ids, English)) per chapter of real text."""
    if MAC.is_dir():
        from booktrans.align.gold import gold_names, read_gold

        out = []
        for name in gold_names(MAC):
            doc = read_gold(MAC, name)
            out.append((doc.src, [(s, " ".join(doc.tgt[j] for j in t)) for s, t in doc.beads if s and t]))
        return out
    from booktrans.align import FilterConfig, align_book
    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.manifest import load_manifest
    from booktrans.params import load

    P = load(ROOT / "params.yaml")
    opts = IngestOptions.from_params(P.ingest)
    out = []
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        zh = [p.__dict__ for p in ingest_file(ROOT / book.zh, "zh", opts).paragraphs]
        en = [p.__dict__ for p in ingest_file(ROOT / book.en, "en", opts).paragraphs]
        beads, _ = align_book(
            zh,
            en,
            method=P.align.method,
            filters=FilterConfig.from_params(P.align.filters),
            bootstrap=P.align.bootstrap,
        )
        src = [s for b in beads for s in b["zh"]]
        k, blocks = 0, []
        for b in beads:
            if b["zh"] and b["en"]:
                blocks.append((tuple(range(k, k + len(b["zh"]))), " ".join(b["en"])))
            k += len(b["zh"])
        out.append((src, blocks))
    return out


def book(target: int, drop: float, gap: int, seed: int = 1) -> tuple[list[str], list[str], set[int], list[str]]:
    """(source sentences, translation paragraphs, removed source ids, each source sentence's reference:
    its share of its bead's whole translation) of a book of ``target`` sentences."""
    from booktrans.evaluate.omission.units import split_reference

    rng = random.Random(seed)
    src: list[str] = []
    blocks: list[tuple[tuple[int, ...], str]] = []
    parts = chapters()
    while len(src) < target:
        for s, b in parts:
            blocks += [(tuple(i + len(src) for i in ids), t) for ids, t in b]
            src += s
    middle = len(blocks) // 2
    gone = set(range(middle, middle + gap)) | set(rng.sample(range(len(blocks)), round(drop * len(blocks))))
    removed = {i for k in gone for i in blocks[k][0]}
    kept = [t for k, (_, t) in enumerate(blocks) if k not in gone]
    hyp, k = [], 0
    while k < len(kept):
        n = rng.choice((1, 2, 3))
        hyp.append(" ".join(kept[k : k + n]))
        k += n
    refs = [""] * len(src)
    for ids, t in blocks:
        for i, piece in zip(ids, split_reference(t, [float(len(src[i])) for i in ids], "en")):
            refs[i] = piece
    return src, hyp, removed, refs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=30000)
    ap.add_argument("--drop", type=float, default=0.05, help="share of the translation's beads removed at random")
    ap.add_argument("--gap", type=int, default=200, help="beads removed in one run in the middle")
    ap.add_argument("--reference", action="store_true", help="judge with the published English as the reference")
    args = ap.parse_args()
    from booktrans.evaluate.omission import source_coverage

    src, hyp, removed, refs = book(args.sentences, args.drop, args.gap)
    t0 = time.perf_counter()
    cov = source_coverage(src, hyp, "zh", "en", references=refs if args.reference else None)
    took = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = sum(cov.lines[i].omitted for i in removed) / max(len(removed), 1)
    others = [c.omitted for c in cov.lines if c.line not in removed]
    partial = sum(c.partial for c in cov.lines if c.line not in removed) / max(len(others), 1)
    print(
        f"{len(src)} source sentences, {len(hyp)} translation paragraphs ({len(removed)} sentences removed)"
        f"{', with the reference' if args.reference else ''}: "
        f"{took:.0f} s, peak memory {peak:.0f} MB; removed found {found:.3f}, others flagged "
        f"{sum(others) / len(others):.3f}, called partial {partial:.3f}   target: <= 600 s and <= 4096 MB: "
        f"{'met' if took <= 600 and peak <= 4096 else 'MISSED'}"
    )
    return 0 if took <= 600 and peak <= 4096 else 1


if __name__ == "__main__":
    sys.exit(main())
