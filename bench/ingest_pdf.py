"""Benchmark: pages per second of booktrans's full PDF path against plain page.get_text().

    python bench/ingest_pdf.py [PDF ...] [--repeat 5]

Both run on the same file in the same process, alternating, best of --repeat runs each; the ratio
is full / plain (1.0 = as fast as bare extraction). Without arguments it uses the Chinese report in
../shared/data/ingest when present, and always a 200-page book built from the sample sources.
"""

from __future__ import annotations

import argparse
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


def full(path: Path, lang: str) -> int:
    from booktrans.ingest import ingest_file

    ingest_file(path, lang)
    return pymupdf.open(path).page_count


def synthetic_book(dest: Path, lang: str, repeat: int = 12) -> Path:
    """A long PDF from the sample sources, rendered the way make_sample.py renders books."""
    import make_sample

    chapters = []
    for book in ("prob-textbook", "lighthouse", "sky-blue", "night-train"):
        chapters += make_sample.parse_source(ROOT / "data" / "sample" / "source" / f"{book}.{lang}.md")
    make_sample.write_pdf(chapters * repeat, "Benchmark", lang, dest)
    return dest


def bench(path: Path, lang: str, repeat: int) -> tuple[int, float, float]:
    best_plain = best_full = float("inf")
    pages = 0
    for _ in range(repeat):
        t = time.perf_counter()
        pages = plain(path)
        best_plain = min(best_plain, time.perf_counter() - t)
        t = time.perf_counter()
        full(path, lang)
        best_full = min(best_full, time.perf_counter() - t)
    return pages, pages / best_plain, pages / best_full


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pdfs", nargs="*", type=Path)
    ap.add_argument("--lang", default="zh")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    files = [(p, args.lang) for p in args.pdfs]
    tmp = Path(tempfile.mkdtemp())
    if not files:
        report = ROOT.parent / "shared" / "data" / "ingest" / "cjk-report.zh.pdf"
        if report.exists():
            files.append((report, "zh"))
        files.append((synthetic_book(tmp / "synthetic.zh.pdf", "zh"), "zh"))
        files.append((synthetic_book(tmp / "synthetic.en.pdf", "en"), "en"))
    print(f"{'file':<28} {'pages':>6} {'plain p/s':>10} {'full p/s':>10} {'ratio':>6}")
    for path, lang in files:
        pages, p, f = bench(path, lang, args.repeat)
        print(f"{path.name:<28} {pages:>6} {p:>10.0f} {f:>10.0f} {f / p:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
