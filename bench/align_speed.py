"""Benchmark: alignment speed and memory, against pypi-bleualign, and the incremental align stage.

    python bench/align_speed.py [--zh 30000] [--bleualign-beads 250] [--books 20] [--book-sentences 5000]
        [--chapter-sentences 250] [--only large|bleualign|incremental]

1. A chapter-free pair of about 30,000 Chinese x 40,000 English sentences, built by concatenating
   real text (the MAC-Dev chapters of ../shared/data/align-dev when present, else the sample books)
   until it is long enough, is aligned in one call on one core; prints seconds, peak memory and,
   when gold beads exist, strict F1 of the whole alignment.
2. Honest accuracy beside time: pypi-bleualign fed a real machine translation (the MT in
   align-dev/nonlit/*/src/*.trans, tokenised like its targets) against booktrans (CC-CEDICT plus the
   bootstrapped table) on the first --bleualign-beads gold beads of each non-literary set: strict F1
   and seconds for both.
3. The align stage, incremental: --books books of the size of a short novel (--book-sentences
   Chinese sentences in chapters of about --chapter-sentences, made of runs of real aligned
   paragraphs of align-dev in an order of each book's own, written as ingested editions to a
   temporary folder) aligned by stages/align.py from an empty cache, then one more book added and the
   stage run again, then once more with nothing new; each run a fresh process as DVC runs it; prints
   the times and the ratio of the second to the first (the target: at most 1.5 / --books). With
   ALIGN_PROFILE=PREFIX each stage run writes cProfile data to PREFIX<out><run>.
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
    from booktrans.align.gold import gold_names, read_gold

    if ALIGN_DEV.is_dir():
        zh, en, gold = [], [], []
        for name in gold_names(ALIGN_DEV):
            doc = read_gold(ALIGN_DEV, name)
            gold += [(tuple(i + len(zh) for i in a), tuple(j + len(en) for j in b)) for a, b in doc.beads]
            zh += doc.src
            en += doc.tgt
        return zh, en, gold
    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.manifest import load_manifest
    from booktrans.params import load
    from booktrans.text import split_sentences

    opts = IngestOptions.from_params(load(ROOT / "params.yaml").ingest)
    zh, en = [], []
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        zh += [s for p in ingest_file(ROOT / book.zh, "zh", opts).paragraphs for s in split_sentences(p.text, "zh")]
        en += [s for p in ingest_file(ROOT / book.en, "en", opts).paragraphs for s in split_sentences(p.text, "en")]
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


def run_booktrans(zh, en, glosser=None):
    from booktrans.align.sentalign import align_texts
    from booktrans.params import load

    t = time.perf_counter()
    (beads,), _ = align_texts([(zh, en)], glosser, bootstrap=load(ROOT / "params.yaml").align.bootstrap)
    return [(b.zh, b.en) for b in beads], time.perf_counter() - t


def _tokens(line: str) -> str:
    import re

    return " ".join(re.findall(r"\w+|[^\w\s]", line.lower()))


def bleualign_accuracy(n_beads: int) -> None:
    """pypi-bleualign with a real MT of the source against booktrans, on the first n gold beads."""
    import bleualign.align as bleualign_align
    from bleualign.align import Aligner

    from booktrans.align.evaluate import score
    from booktrans.align.gold import read_beads

    bleualign_align.multiprocessing_enabled = 0
    sets = {"aca": ("en", "001"), "mag": ("en", "003"), "pol": ("zh", "002")}
    from booktrans.align import SameMeaning

    SameMeaning().bags(["陈清扬"])  # dictionary and pinyin loaded before timing (the MT was made before, too)
    print(f"real MT: pypi-bleualign (src/*.trans) vs booktrans, first {n_beads} gold beads of each set")
    print(f"  {'set':<5} {'sentences':>11} {'bleualign F1':>13} {'time':>8} {'booktrans F1':>13} {'time':>8}")
    for name, (src_lang, f) in sets.items():
        root = ALIGN_DEV.parent / "nonlit" / name
        gold = read_beads(root / "gold" / f"{f}.align")[:n_beads]
        ns = max(i for a, _ in gold for i in a) + 1
        nt = max(j for _, b in gold for j in b) + 1
        src = (root / "src" / f).read_text(encoding="utf-8").splitlines()[:ns]
        tgt = (root / "tgt" / f).read_text(encoding="utf-8").splitlines()[:nt]
        trans = (root / "src" / f"{f}.trans").read_text(encoding="utf-8").splitlines()[:ns]
        if src_lang == "en":  # Chinese target: the set's own word segmentation, as the MT is segmented
            tgt_tok = (root / "tgt" / f"{f}.tok").read_text(encoding="utf-8").splitlines()[:nt]
            trans_tok = trans
        else:
            tgt_tok, trans_tok = [_tokens(x) for x in tgt], [_tokens(x) for x in trans]
        opts = dict(Aligner.default_options)
        opts.update(
            srcfile=src,
            targetfile=tgt_tok,
            srctotarget=trans_tok,
            targettosrc=[],
            verbosity=0,
            log_to=io.StringIO(),
            output=None,
        )
        t = time.perf_counter()
        aligner = Aligner(opts)
        pairs = [p for p, _ in aligner.process(src, tgt_tok, [trans_tok], [])]
        theirs_t = time.perf_counter() - t
        used_s = {i for a, _ in pairs for i in a}
        used_t = {j for _, b in pairs for j in b}
        theirs = sorted(
            [(tuple(a), tuple(b)) for a, b in pairs]
            + [((i,), ()) for i in range(ns) if i not in used_s]
            + [((), (j,)) for j in range(nt) if j not in used_t],
            key=lambda x: (x[0] or (-1,), x[1] or (-1,)),
        )
        zh, en = (src, tgt) if src_lang == "zh" else (tgt, src)
        ours_beads, ours_t = run_booktrans(zh, en)
        ours = [(z, e) if src_lang == "zh" else (e, z) for z, e in ours_beads]
        print(
            f"  {name:<5} {ns:>5} x {nt:<5} {score(theirs, gold).f1:>13.3f} {theirs_t:>7.1f}s "
            f"{score(ours, gold).f1:>13.3f} {ours_t:>7.1f}s"
        )


def paragraph_pool() -> list[list[tuple[str, str, int]]]:
    """Real aligned paragraphs of every align-dev set: per gold file, its raw paragraphs (2-5 gold
    beads each, the two sides breaking at the same beads) as (zh, en, Chinese sentences)."""
    from booktrans.align.evaluate import raw_paragraphs
    from booktrans.align.gold import load_gold_set

    sets = {"mac_dev": "zh", "nonlit/aca": "en", "nonlit/mag": "en", "nonlit/pol": "zh"}
    pool = []
    for name, lang in sets.items():
        for g in load_gold_set(ALIGN_DEV.parent / name, lang):
            raw = raw_paragraphs(g)
            n_zh = [0] * len(raw.zh)
            for p, _, _ in raw.zh_spans:
                if p >= 0:
                    n_zh[p] += 1
            pool.append([(z, e, n) for z, e, n in zip(raw.zh, raw.en, n_zh) if z and e])
    return pool


def make_book(
    pool: list[list[tuple[str, str, int]]],
    name: str,
    sentences: int,
    chapter: int,
) -> tuple[list[dict], list[dict], int]:
    """A book of about ``sentences`` Chinese sentences in chapters of about ``chapter``: runs of 5 to
    40 consecutive real paragraphs from a random place of a random gold file, in a seeded order of
    its own (so every book differs and the aligner has real work), as the two ingested editions
    and the number of Chinese sentences."""
    import random

    rng = random.Random(name)
    zh: list[dict] = []
    en: list[dict] = []
    total = in_chapter = 0
    ch = 1
    while total < sentences:
        src = rng.choice(pool)
        start = rng.randrange(len(src))
        for z, e, n in src[start : start + rng.randint(5, 40)]:
            if in_chapter >= chapter:
                ch, in_chapter = ch + 1, 0
            para = len(zh)
            zh.append({"chapter": ch, "title": f"第{ch}章", "para": para, "text": z, "loc": ""})
            en.append({"chapter": ch, "title": f"Chapter {ch}", "para": para, "text": e, "loc": ""})
            total += n
            in_chapter += n
    return zh, en, total


def incremental(n_books: int, sentences: int, chapter: int) -> None:
    """stages/align.py on n books from an empty cache, then with one more book, then again with
    nothing new; every run a fresh process, as DVC runs it."""
    import subprocess
    import tempfile

    import yaml

    from booktrans.io import write_jsonl

    pool = paragraph_pool()
    names = [f"book-{k:02d}" for k in range(n_books + 2)]
    warm_book, names = names[-1], names[:-1]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        sizes = {}
        for name in names + [warm_book]:
            zh, en, n = make_book(pool, name, sentences if name != warm_book else 50, chapter)
            write_jsonl(d / "text" / f"{name}.zh.jsonl", zh)
            write_jsonl(d / "text" / f"{name}.en.jsonl", en)
            sizes[name] = (n, zh[-1]["chapter"])
        first = [sizes[b][0] for b in names[:n_books]]
        print(
            f"align stage, incremental: {n_books} books of {min(first):,}-{max(first):,} Chinese sentences "
            f"({sum(first):,} in all, chapters of about {chapter}), then book {n_books + 1} "
            f"({sizes[names[-1]][0]:,} sentences) added",
            flush=True,
        )
        params = yaml.safe_load((ROOT / "params.yaml").read_text())
        params["align"]["cache_dir"] = str(d / "cache")

        def write_manifest(books: list[str]) -> None:
            entries = [
                {
                    "id": b,
                    "title": b,
                    "genre": "novel",
                    "zh": f"x/{b}.zh.txt",
                    "en": f"x/{b}.en.txt",
                    "source": "align-dev",
                    "license": "research",
                    "split": "train",
                }
                for b in books
            ]
            (d / "books.yaml").write_text(yaml.safe_dump({"books": entries}), encoding="utf-8")
            params["ingest"]["manifest"] = str(d / "books.yaml")
            (d / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")

        def stage(out: str, lexicon: bool = True, run: int = 0) -> tuple[float, str]:
            t = time.perf_counter()  # the stage as DVC runs it: a fresh process, imports and dictionary load included
            # ALIGN_PROFILE=/tmp/p- writes cProfile data of each run to /tmp/p-<out><run>
            prof = (
                ["-m", "cProfile", "-o", f"{os.environ['ALIGN_PROFILE']}{out}{run}"]
                if os.environ.get("ALIGN_PROFILE")
                else []
            )
            res = subprocess.run(
                [
                    sys.executable,
                    *prof,
                    str(ROOT / "stages" / "align.py"),
                    "--params",
                    str(d / "params.yaml"),
                    "--text",
                    str(d / "text"),
                    "--out",
                    str(d / out),
                    "--report",
                    str(d / f"{out}.json"),
                ]
                + (["--lexicon", str(d / f"{out}.lexicon.json")] if lexicon else []),
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            seconds = time.perf_counter() - t
            if res.returncode:
                raise SystemExit(res.stderr[-2000:])
            return seconds, next(line for line in res.stderr.splitlines() if "unchanged from cache" in line).split(
                ": ", 1
            )[1]

        write_manifest([warm_book])  # warm the parsed dictionary and pinyin caches: not a per-book cost
        stage("warm", lexicon=False)
        times = []
        for books in (names[:n_books], names, names):
            write_manifest(books)
            seconds, line = stage("aligned", run=len(times))
            times.append(seconds)
            print(f"  {seconds:7.2f} s  {line}", flush=True)
    print(
        f"  {n_books} books from an empty cache: {times[0]:.2f} s; one book added: {times[1]:.2f} s; "
        f"nothing new (the fixed cost): {times[2]:.2f} s"
    )
    print(f"  ratio {times[1] / times[0]:.3f} (target <= {1.5 / n_books:.3f} = 1.5/{n_books})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zh", type=int, default=30000, help="Chinese sentences in the large pair")
    ap.add_argument("--bleualign-beads", type=int, default=250, help="gold beads per set in the real-MT comparison")
    ap.add_argument("--books", type=int, default=20, help="books in the incremental stage benchmark")
    ap.add_argument(
        "--book-sentences", type=int, default=5000, help="Chinese sentences per book in the incremental benchmark"
    )
    ap.add_argument(
        "--chapter-sentences", type=int, default=250, help="Chinese sentences per chapter in the incremental benchmark"
    )
    ap.add_argument("--only", choices=["large", "bleualign", "incremental"])
    args = ap.parse_args()
    from booktrans.align.evaluate import score

    zh, en, gold = real_text()
    source = "MAC-Dev chapters" if gold is not None else "sample books"
    if args.only in (None, "large"):
        big_zh, big_en, big_gold = repeat(zh, en, gold, args.zh)
        before = peak_mb()
        beads, seconds = run_booktrans(big_zh, big_en)
        print(f"chapter-free pair: {len(big_zh)} x {len(big_en)} sentences ({source} repeated)")
        print(f"  time           {seconds:8.2f} s on one core")
        print(f"  peak memory    {peak_mb():8.0f} MB (process; {before:.0f} MB before the large run)")
        if big_gold is not None:
            s = score(beads, big_gold)
            print(f"  strict F1      {s.f1:8.3f} against the concatenated gold (P {s.precision:.3f}, R {s.recall:.3f})")
    if gold is None:
        print("bleualign with real MT and the incremental stage need ../shared/data/align-dev: skipped")
        return 0
    if args.only in (None, "bleualign"):
        bleualign_accuracy(args.bleualign_beads)
    if args.only in (None, "incremental"):
        incremental(args.books, args.book_sentences, args.chapter_sentences)
    return 0


if __name__ == "__main__":
    sys.exit(main())
