"""Benchmark: booktrans's full TXT and EPUB paths against the plain library calls, on real and bent files.

    python bench/ingest_formats.py [--repeat 3]          # part of make bench-ingest

TXT: ``ingest_file`` (encoding found with both detectors, bad bytes repaired, headings, paragraphs,
normalisation, language check) against charset-normalizer's ``from_bytes(data).best()`` and
``str()`` of it — the well-kept library a script would call to read a file of unknown encoding.
Besides the time, each row says whether the baseline's text equals the file's true text (the text
the file was made from): the bent files are where a plain detector goes wrong.

EPUB: ``ingest_file`` (spine, table of contents, every element, notes, boilerplate) against
ebooklib's ``read_epub`` plus lxml's ``text_content()`` of every document in the spine.

Both run on the same file in the same process, alternating, best of --repeat runs each. Files: the
GBK novel and the Lu Xun EPUB in ../shared/data/ingest when present (and the novel bent: UTF-8 with
one bad byte, the whole book on one line), and always a Project Gutenberg-style EPUB and a cp1252
English text built from the sample sources.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))
SHARED = ROOT.parent / "shared" / "data" / "ingest"


def plain_txt(path: Path) -> str:
    import charset_normalizer

    best = charset_normalizer.from_bytes(path.read_bytes()).best()
    return str(best) if best is not None else ""


def plain_epub(path: Path) -> str:
    import ebooklib
    from ebooklib import epub
    from lxml import html

    book = epub.read_epub(str(path), options={"ignore_ncx": False})
    out = []
    for idref, _ in book.spine:
        item = book.get_item_with_id(idref)
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
            out.append(html.fromstring(item.get_content()).text_content())
    return "\n".join(out)


def full(path: Path, lang: str):
    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.params import load as load_params

    return ingest_file(path, lang, IngestOptions.from_params(load_params(ROOT / "params.yaml").ingest))


def files(tmp: Path) -> list[tuple[Path, str, str | None]]:
    """(file, language, the true text for TXT files or None)."""
    import bookfiles
    import make_sample

    out: list[tuple[Path, str, str | None]] = []
    if SHARED.is_dir():
        novel = SHARED / "hongloumeng.gbk.txt"
        text = novel.read_bytes().decode("gb18030")
        out.append((novel, "zh", text))
        data = text.encode("utf-8")
        k = 700_000
        while data[k] < 0x80:
            k += 1
        bad = tmp / "hongloumeng.utf8-bad-byte.txt"
        bad.write_bytes(data[:k] + b"\xff" + data[k + 1 :])
        out.append((bad, "zh", text))
        one = tmp / "hongloumeng.one-line.txt"
        one.write_text(text.replace("\r\n", "").replace("\n", ""), encoding="utf-8")
        out.append((one, "zh", one.read_text(encoding="utf-8")))
        out.append((SHARED / "fen-luxun.zh.epub", "zh", None))
    source = make_sample.parse_source(ROOT / "data" / "sample" / "source" / "lighthouse.en.md")
    typed = "\n\n".join(t + "\n\n" + "\n\n".join(ps) for t, ps in source)
    typed = "\n\n".join([re.sub(r'"([^"]*)"', "\u201c\\1\u201d", re.sub(r"(\w)'(\w)", "\\1\u2019\\2", typed))] * 20)
    cp = tmp / "lighthouse.cp1252.txt"
    cp.write_bytes(typed.encode("cp1252"))
    out.append((cp, "en", typed))
    chapters = [(f"CHAPTER {k + 1}.", paras) for k, (_, paras) in enumerate(source * 10)]
    out.append(
        (bookfiles.gutenberg_epub(tmp / "gutenberg.epub", "The Keeper's Daughter", "A. Writer", chapters), "en", None)
    )
    return out


def _close(got: str, truth: str, slack: int = 4) -> bool:
    """The same text but for at most ``slack`` characters around one place (a replaced bad byte)."""
    got, truth = got.replace("\r\n", "\n"), truth.replace("\r\n", "\n")
    n = min(len(got), len(truth))
    pre = next((i for i in range(n) if got[i] != truth[i]), n)
    suf = next((i for i in range(n - pre) if got[-1 - i] != truth[-1 - i]), n - pre)
    return abs(len(got) - len(truth)) <= slack and pre + suf >= len(truth) - slack


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    print(f"{'file':<34} {'MB':>5} {'plain s':>8} {'full s':>7} {'ratio':>6}  {'plain text right?':<18} booktrans")
    for path, lang, truth in files(tmp):
        base = plain_txt if path.suffix == ".txt" else plain_epub
        best_plain = best_full = float("inf")
        got = ""
        res = None
        for _ in range(args.repeat):
            t = time.perf_counter()
            got = base(path)
            best_plain = min(best_plain, time.perf_counter() - t)
            t = time.perf_counter()
            res = full(path, lang)
            best_full = min(best_full, time.perf_counter() - t)
        right = "-" if truth is None else "yes" if _close(got, truth) else "no"
        rep = res.report
        mine = f"{rep['encoding']}, {rep['chapters']} chapters, {rep['paragraphs']} paragraphs"
        if rep.get("bad_bytes"):
            mine += f", {rep['bad_bytes']} bad bytes"
        print(
            f"{path.name:<34} {path.stat().st_size / 1e6:>5.2f} {best_plain:>8.3f} {best_full:>7.3f} "
            f"{best_full / best_plain:>6.1f}  {right:<18} {mine}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
