"""Benchmark: building a round's documents from a 100-book corpus.

    python bench/dataset_speed.py [--books 100] [--context 1024] [--baseline-books 4]

The corpus is synthesised from the sample's training books by repetition (each copy renamed and its
sentences numbered, so copies are not duplicates). Prints the time to build every book's documents
with booktrans (bead tokens counted once, in one batch per book; each candidate checked by one
rendering) and, on the first --baseline-books books, against a naive builder that re-renders and
re-tokenises the whole candidate document after every added bead, side by side as a ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def corpus(n_books: int) -> list[tuple[dict, list[dict]]]:
    from booktrans.align import FilterConfig, align_book
    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.manifest import load_manifest
    from booktrans.params import load

    P = load(ROOT / "params.yaml")
    align, ingest = P.align, IngestOptions.from_params(P.ingest)
    opts = {"method": align.method, "filters": FilterConfig.from_params(align.filters), "bootstrap": align.bootstrap}
    base = []
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        if book.split == "train":
            zh = [p.to_json() for p in ingest_file(ROOT / book.zh, "zh", ingest).paragraphs]
            en = [p.to_json() for p in ingest_file(ROOT / book.en, "en", ingest).paragraphs]
            base.append((book, align_book(zh, en, **opts)[0]))
    out = []
    for k in range(n_books):
        book, beads = base[k % len(base)]
        copy = [dict(b, zh=[f"{s}（{k}）" for s in b["zh"]], en=[f"{s} ({k})" for s in b["en"]]) for b in beads]
        out.append(({"id": f"{book.id}-{k}", "genre": book.genre, "license": book.license, "split": "train"}, copy))
    return out


def naive(book: dict, beads: list[dict], tok, context: int) -> int:
    """Grow each document bead by bead, rendering and tokenising the whole candidate every time."""
    from booktrans.dataset import join_beads, messages_for

    docs, i = 0, 0
    while i < len(beads):
        j = i + 1
        while j <= len(beads):
            msgs = messages_for("zh-en", join_beads(beads[i:j], "zh"), join_beads(beads[i:j], "en"))
            if len(tok.apply_chat_template(msgs, tokenize=True)) > context:
                break
            j += 1
        i = max(j - 1, i + 1)
        docs += 1
    return docs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--books", type=int, default=100)
    ap.add_argument("--context", type=int, default=1024, help="tokens (round 4 of the demo)")
    ap.add_argument("--baseline-books", type=int, default=4)
    args = ap.parse_args()
    from dataclasses import replace

    from booktrans.dataset import DatasetConfig, build_documents
    from booktrans.model import train_tokenizer
    from booktrans.params import load

    books = corpus(args.books)
    tok = train_tokenizer([s for _, beads in books[:4] for b in beads for s in b["zh"] + b["en"]], 4000)
    cfg = replace(DatasetConfig.from_params(load(ROOT / "params.yaml"), "r4"), context=args.context, min_beads=1)
    beads_total = sum(len(b) for _, b in books)

    t = time.perf_counter()
    n_docs = sum(len(build_documents(meta, beads, tok, cfg)[0]) for meta, beads in books)
    ours = time.perf_counter() - t
    print(f"corpus: {args.books} books, {beads_total} beads; budget {args.context} tokens")
    print(f"booktrans: {n_docs} documents in {ours:.2f} s ({beads_total / ours:.0f} beads/s)")

    sub = books[: args.baseline_books]
    sub_beads = sum(len(b) for _, b in sub)
    t = time.perf_counter()
    for meta, beads in sub:
        build_documents(meta, beads, tok, cfg)
    ours_sub = time.perf_counter() - t
    t = time.perf_counter()
    for meta, beads in sub:
        naive(meta, beads, tok, args.context)
    base_sub = time.perf_counter() - t
    print(
        f"side by side on {len(sub)} books ({sub_beads} beads): booktrans {ours_sub:.3f} s, "
        f"naive re-tokenising builder {base_sub:.3f} s, ratio {base_sub / ours_sub:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
