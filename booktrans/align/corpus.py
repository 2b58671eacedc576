"""The corpus lexical table (data/lexicon.json), pooled from per-book expected counts.

IBM Model 1 by EM over the confident beads of all training books would have to run again over every
book whenever one is added: on twenty 5,000-sentence books that is about 18 million co-occurrences
and as long as aligning a book, so the stage's cost would grow with the corpus. Instead each book's
own EM (``LexicalTable.learn``, the CC-CEDICT glosses as prior) is run once, when the book is
aligned, and its last E-step's expected counts are kept with the book in the align cache. The
corpus table pools them: t(e | f) = sum over books of count(f, e) / sum over books of count(f), an
entry kept when t >= ``min_prob`` and the pooled count >= ``min_count``, the thresholds of
``LexicalTable.learn``. With one book this is that book's table; with many it is one M-step over the
books' E-steps. Adding a book costs its own EM and a sum over the other books' counts, and the
result depends on the books and their manifest order only, never on which came from the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .similarity import LexicalTable

FLOOR = 0.05  # a book's cells below this expected count are not kept (their word's total still counts them)


def book_counts(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], prior: dict[str, Iterable[str]] | None = None,
                ) -> dict[str, list]:
    """One book's expected counts: {Chinese word: [total count, {English stem: count >= FLOOR}]},
    sorted, JSON-able (floats survive a JSON round trip exactly)."""
    counts: dict[str, dict[str, float]] = {}
    LexicalTable.learn(pairs, prior=prior, counts=counts)
    return {w: [sum(sorted(es.values())), {e: c for e, c in sorted(es.items()) if c >= FLOOR}]
            for w, es in sorted(counts.items())}


def pool(books: Iterable[dict[str, list]], min_prob: float = 0.1, min_count: float = 2.0) -> LexicalTable:
    """The corpus table from the books' ``book_counts``, summed in the order given."""
    total: dict[str, float] = {}
    cells: dict[str, dict[str, float]] = {}
    n = 0
    for counts in books:
        n += 1
        for w, (t, es) in counts.items():
            total[w] = total.get(w, 0.0) + t
            got = cells.setdefault(w, {})
            for e, c in es.items():
                got[e] = got.get(e, 0.0) + c
    entries: dict[str, dict[str, float]] = {}
    for w, es in cells.items():
        kept = {e: round(c / total[w], 4) for e, c in es.items() if c >= min_count and c / total[w] >= min_prob}
        if kept:
            entries[w] = kept
    return LexicalTable(entries, {"books": n, "min_prob": min_prob, "min_count": min_count, "floor": FLOOR})
