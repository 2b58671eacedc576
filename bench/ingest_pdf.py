"""Benchmark: booktrans's full PDF path against plain page.get_text(), side by side.

    python bench/ingest_pdf.py [PDF ...] [--repeat 7] [--lang zh]

Both run on the same file in one process, alternating (which goes first swaps every round), --repeat
rounds each. For each side the best (minimum) time is kept, as wall-clock time and as this process's
CPU time (time.process_time: on a busy machine it leaves out the time spent waiting for a core).
The ratio is plain time / full time, i.e. full pages per second over plain pages per second (1.0 = as
fast as bare extraction); the spread column gives the lowest and highest per-round ratio. The ceiling column is plain
time over the time of the extraction alone (text page + extractDICT, no post-processing): the best ratio the
full path could reach if its own Python cost nothing. The page
count is read once before timing, so neither side pays for it. Without arguments it uses the Chinese
report in ../shared/data/ingest when present, and always the 288/312-page books built from the sample
sources. Single process throughout: no side uses more than one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def plain(path: Path) -> int:
    doc = pymupdf.open(path)
    n = 0
    for page in doc:
        page.get_text()
        n += 1
    return n


def extraction(path: Path) -> None:
    """What the full path asks of pymupdf and cannot do without: each page's text page and its
    dict (blocks, lines, spans with boxes and font sizes), with no post-processing at all."""
    doc = pymupdf.open(path)
    for page in doc:
        page.get_textpage(flags=pymupdf.TEXTFLAGS_TEXT).extractDICT()


def full(path: Path, lang: str) -> None:
    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.params import load as load_params

    ingest_file(path, lang, IngestOptions.from_params(load_params(ROOT / "params.yaml").ingest))


def synthetic_book(dest: Path, lang: str, repeat: int = 12) -> Path:
    """A long PDF from the sample sources, rendered the way make_sample.py renders books."""
    import make_sample

    chapters = []
    for book in ("prob-textbook", "lighthouse", "sky-blue", "night-train"):
        chapters += make_sample.parse_source(ROOT / "data" / "sample" / "source" / f"{book}.{lang}.md")
    make_sample.write_pdf(chapters * repeat, "Benchmark", lang, dest)
    return dest


def _timed(fn, *args) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - w, time.process_time() - c


def bench(path: Path, lang: str, repeat: int) -> dict:
    """Times of both sides, alternating; the first round of each is a warm-up and not counted."""
    with pymupdf.open(path) as doc:
        pages = doc.page_count
    plain(path), full(path, lang)  # warm-up: imports, caches, file in the page cache
    rounds = []
    for i in range(repeat):
        if i % 2 == 0:
            p, f, e = _timed(plain, path), _timed(full, path, lang), _timed(extraction, path)
        else:
            e, f, p = _timed(extraction, path), _timed(full, path, lang), _timed(plain, path)
        rounds.append((p, f, e))
    out = {"pages": pages}
    for k, name in ((0, "wall"), (1, "cpu")):
        bp, bf, be = (min(r[j][k] for r in rounds) for j in range(3))
        per_round = [r[0][k] / r[1][k] for r in rounds]
        out[name] = (pages / bp, pages / bf, bp / bf, min(per_round), max(per_round), bp / be)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdfs", nargs="*", type=Path)
    ap.add_argument("--lang", default="zh")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    files = [(p, args.lang) for p in args.pdfs]
    tmp = Path(tempfile.mkdtemp())
    if not files:
        report = ROOT.parent / "shared" / "data" / "ingest" / "cjk-report.zh.pdf"
        if report.exists():
            files.append((report, "zh"))
        files.append((synthetic_book(tmp / "synthetic.zh.pdf", "zh"), "zh"))
        files.append((synthetic_book(tmp / "synthetic.en.pdf", "en"), "en"))
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    print(
        f"{'file':<22} {'pages':>5} {'clock':>5} {'plain p/s':>9} {'full p/s':>9} {'ratio':>6} "
        f"{'spread':>11} {'ceiling':>7}"
    )
    for path, lang in files:
        res = bench(path, lang, args.repeat)
        for name in ("wall", "cpu"):
            p, f, ratio, lo, hi, ceiling = res[name]
            print(
                f"{path.name:<22} {res['pages']:>5} {name:>5} {p:>9.0f} {f:>9.0f} {ratio:>6.2f} "
                f"{lo:>5.2f}-{hi:<5.2f} {ceiling:>7.2f}"
            )
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
