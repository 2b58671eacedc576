"""Benchmark: alignment speed and memory.

    python bench/align_speed.py [--zh 30000] [--small 1444]

1. A chapter-free pair of about 30,000 Chinese x 40,000 English sentences, built by concatenating
   real text (the MAC-Dev chapters of ../shared/data/align-dev when present, else the sample books)
   until it is long enough, is aligned in one call on one core; prints seconds, peak memory and,
   when gold beads exist, strict F1 of the whole alignment.
2. A smaller input is aligned by booktrans and by plain pypi-bleualign (fed the same CC-CEDICT
   glosses as its "translation"), side by side, and the time ratio is printed.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import io
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALIGN_DEV = ROOT.parent / "shared" / "data" / "align-dev" / "mac_dev"


def real_text() -> tuple[list[str], list[str], list[tuple[tuple[int, ...], tuple[int, ...]]] | None]:
    from booktrans.align.evaluate import parse_beads

    if ALIGN_DEV.is_dir():
        zh, en, gold = [], [], []
        for g in sorted((ALIGN_DEV / "gold").glob("*.align")):
            z = (ALIGN_DEV / "src" / g.stem).read_text(encoding="utf-8").splitlines()
            e = (ALIGN_DEV / "tgt" / g.stem).read_text(encoding="utf-8").splitlines()
            gold += [(tuple(i + len(zh) for i in a), tuple(j + len(en) for j in b)) for a, b in parse_beads(g.read_text())]
            zh += z
            en += e
        return zh, en, gold
    from booktrans.ingest import ingest_file
    from booktrans.manifest import load_manifest
    from booktrans.text import split_sentences

    zh, en = [], []
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        zh += [s for p in ingest_file(ROOT / book.zh, "zh").paragraphs for s in split_sentences(p.text, "zh")]
        en += [s for p in ingest_file(ROOT / book.en, "en").paragraphs for s in split_sentences(p.text, "en")]
    return zh, en, None


def repeat(zh, en, gold, target):
    copies = -(-target // len(zh))
    big_zh, big_en, big_gold = [], [], []
    for _ in range(copies):
        if gold is not None:
            big_gold += [(tuple(i + len(big_zh) for i in a), tuple(j + len(big_en) for j in b)) for a, b in gold]
        big_zh += zh
        big_en += en
    return big_zh, big_en, (big_gold if gold is not None else None)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_booktrans(zh, en, glosser):
    from booktrans.align.sentalign import align_sentences

    t = time.perf_counter()
    beads = align_sentences(zh, en, glosser)
    return [(b.zh, b.en) for b in beads], time.perf_counter() - t


def run_bleualign(zh, en, glosser):
    import bleualign.align as bleualign_align
    from bleualign.align import Aligner

    bleualign_align.multiprocessing_enabled = 0  # one core, like ours (its worker pool also hangs here)

    glosses = [" ".join(sorted(b.stems)) for b in glosser.bags(zh)]  # the same dictionary "translation"
    opts = dict(Aligner.default_options)
    opts.update(srcfile=zh, targetfile=en, srctotarget=glosses, targettosrc=[], verbosity=0, log_to=io.StringIO(),
                output=None)
    t = time.perf_counter()
    aligner = Aligner(opts)
    aligner.mainloop()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zh", type=int, default=30000, help="Chinese sentences in the large pair")
    ap.add_argument("--small", type=int, default=1444, help="Chinese sentences in the side-by-side pair")
    args = ap.parse_args()
    from booktrans.align.evaluate import score
    from booktrans.align.lexicon import CedictGlosser

    glosser = CedictGlosser()
    zh, en, gold = real_text()
    source = "MAC-Dev chapters" if gold is not None else "sample books"

    small_zh, small_en, small_gold = repeat(zh, en, gold, args.small)
    small_zh, small_en = small_zh[: args.small], small_en[: round(args.small * len(en) / len(zh))]
    _, ours = run_booktrans(small_zh, small_en, glosser)
    theirs = run_bleualign(small_zh, small_en, glosser)
    print(f"side by side on {len(small_zh)} x {len(small_en)} sentences of {source}:")
    print(f"  booktrans      {ours:8.2f} s")
    print(f"  pypi-bleualign {theirs:8.2f} s")
    print(f"  ratio          {theirs / ours:8.2f}x (pypi-bleualign time / booktrans time)")

    big_zh, big_en, big_gold = repeat(zh, en, gold, args.zh)
    before = peak_mb()
    beads, seconds = run_booktrans(big_zh, big_en, glosser)
    print(f"chapter-free pair: {len(big_zh)} x {len(big_en)} sentences ({source} repeated)")
    print(f"  time           {seconds:8.2f} s on one core")
    print(f"  peak memory    {peak_mb():8.0f} MB (process; {before:.0f} MB before the large run)")
    if big_gold is not None:
        s = score(beads, big_gold)
        print(f"  strict F1      {s.f1:8.3f} against the concatenated gold (P {s.precision:.3f}, R {s.recall:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
