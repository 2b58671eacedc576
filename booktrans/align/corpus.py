"""The corpus lexical table (data/lexicon.json), pooled from per-book expected counts.

IBM Model 1 by EM over the confident beads of all training books would have to run again over every
book whenever one is added, at a cost that grows with the corpus. Instead each book's own EM
(``LexicalTable.learn``, the CC-CEDICT glosses as prior) runs once, when the book is aligned, and
its last E-step's expected counts are kept with the book in the align cache. The corpus table pools
them: t(e | f) = the sum over books of count(f, e) / the sum over books of count(f), an entry kept
when t >= ``min_prob`` and the pooled count >= ``min_count`` (``LexicalTable.learn``'s thresholds).
With one book this is that book's table; with many it is one M-step over the books' E-steps. Adding
a book costs its own EM and a sum over the other books' counts, and the result depends on the books
and their manifest order only, never on which of them came from the cache.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import numpy as np

from .similarity import LexicalTable

FLOOR = 0.05  # a book's cells below this expected count are not kept (their word's total still counts them)
_ARRAYS = ("zh", "en", "total", "cz", "ce", "count")


def book_counts(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], prior: dict[str, Iterable[str]] | None = None,
                ) -> dict[str, np.ndarray]:
    """One book's expected counts as arrays: ``zh`` (Chinese words), ``total`` (each word's count
    over all its cells), ``en`` (English stems) and the cells ``cz``, ``ce``, ``count`` at or above
    FLOOR."""
    raw: dict = {}
    LexicalTable.learn(pairs, prior=prior, counts=raw)
    if not raw:
        return {"zh": np.array([], dtype=str), "en": np.array([], dtype=str), "total": np.zeros(0),
                "cz": np.zeros(0, dtype=np.int64), "ce": np.zeros(0, dtype=np.int64), "count": np.zeros(0)}
    cz, ce, count = raw["cz"], raw["ce"], raw["count"]
    total = np.bincount(cz, weights=count, minlength=len(raw["zh"]))
    words = np.unique(cz[cz != 0])
    sel = (cz != 0) & (count >= FLOOR)
    stems = np.unique(ce[sel])
    return {"zh": np.array([raw["zh"][int(i)] for i in words], dtype=str), "total": total[words],
            "en": np.array([raw["en"][int(j)] for j in stems], dtype=str),
            "cz": np.searchsorted(words, cz[sel]), "ce": np.searchsorted(stems, ce[sel]), "count": count[sel]}


def to_bytes(counts: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: counts[k] for k in _ARRAYS})
    return buf.getvalue()


def from_bytes(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in _ARRAYS}


def pool(books: Iterable[dict[str, np.ndarray]], min_prob: float = 0.1, min_count: float = 2.0) -> LexicalTable:
    """The corpus table from the books' ``book_counts``, summed in the order given."""
    zh_ids: dict[str, int] = {}
    en_ids: dict[str, int] = {}
    wz, wt, cz, ce, cc = [], [], [], [], []
    n = 0
    for b in books:
        n += 1
        zmap = np.array([zh_ids.setdefault(w, len(zh_ids)) for w in b["zh"].tolist()], dtype=np.int64)
        emap = np.array([en_ids.setdefault(w, len(en_ids)) for w in b["en"].tolist()], dtype=np.int64)
        wz.append(zmap)
        wt.append(b["total"])
        cz.append(zmap[b["cz"]])
        ce.append(emap[b["ce"]])
        cc.append(b["count"])
    meta = {"books": n, "min_prob": min_prob, "min_count": min_count, "floor": FLOOR}
    if not en_ids:
        return LexicalTable({}, meta)
    total = np.bincount(np.concatenate(wz), weights=np.concatenate(wt), minlength=len(zh_ids))
    cells, inv = np.unique(np.concatenate(cz) * len(en_ids) + np.concatenate(ce), return_inverse=True)
    count = np.bincount(inv, weights=np.concatenate(cc), minlength=len(cells))  # books in order, per cell
    z, e = cells // len(en_ids), cells % len(en_ids)
    t = count / total[z]
    keep = (t >= min_prob) & (count >= min_count)
    zh_names, en_names = list(zh_ids), list(en_ids)
    entries: dict[str, dict[str, float]] = {}
    for a, b, p in zip(z[keep].tolist(), e[keep].tolist(), t[keep].tolist()):
        entries.setdefault(zh_names[a], {})[en_names[b]] = round(p, 4)
    return LexicalTable(entries, meta)
