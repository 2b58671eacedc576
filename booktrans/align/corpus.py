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

``align_corpus`` is the align step over the whole corpus: every book aligned (or taken from the
align cache), the proofreading corrections applied, the report with its gates, and the table.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..gates import AlignGates, check_align, record_flags, stop_on_flags, unpaired_shares
from . import FilterConfig
from .similarity import LexicalTable

if TYPE_CHECKING:
    from ..proofread.corrections import Proofreading

log = logging.getLogger("align")

FLOOR = 0.05  # a book's cells below this expected count are not kept (their word's total still counts them)
_ARRAYS = ("zh", "en", "total", "cz", "ce", "count")


def book_counts(
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    prior: dict[str, Iterable[str]] | None = None,
) -> dict[str, np.ndarray]:
    """One book's expected counts as arrays: ``zh`` (Chinese words), ``total`` (each word's count
    over all its cells), ``en`` (English stems) and the cells ``cz``, ``ce``, ``count`` at or above
    FLOOR."""
    raw: dict = {}
    LexicalTable.learn(pairs, prior=prior, counts=raw)
    if not raw:
        return {
            "zh": np.array([], dtype=str),
            "en": np.array([], dtype=str),
            "total": np.zeros(0),
            "cz": np.zeros(0, dtype=np.int64),
            "ce": np.zeros(0, dtype=np.int64),
            "count": np.zeros(0),
        }
    cz, ce, count = raw["cz"], raw["ce"], raw["count"]
    total = np.bincount(cz, weights=count, minlength=len(raw["zh"]))
    words = np.unique(cz[cz != 0])
    sel = (cz != 0) & (count >= FLOOR)
    stems = np.unique(ce[sel])
    return {
        "zh": np.array([raw["zh"][int(i)] for i in words], dtype=str),
        "total": total[words],
        "en": np.array([raw["en"][int(j)] for j in stems], dtype=str),
        "cz": np.searchsorted(words, cz[sel]),
        "ce": np.searchsorted(stems, ce[sel]),
        "count": count[sel],
    }


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


@dataclass(frozen=True)
class AlignOptions:
    """How a corpus is aligned: params ``align`` (booktrans.params.AlignParams; the values live in params.yaml)."""

    method: str  # cedict | model | gale-church
    bootstrap: int
    filters: FilterConfig
    gates: AlignGates
    model: str | None  # method model: the model that glosses the Chinese side
    batch_size: int
    cache_dir: Path

    @classmethod
    def from_params(cls, align) -> "AlignOptions":
        """From the typed ``align`` record (booktrans.params.AlignParams)."""
        return cls(
            method=align.method,
            bootstrap=align.bootstrap,
            filters=FilterConfig.from_params(align.filters),
            gates=align.gates,
            model=align.model,
            batch_size=align.batch_size,
            cache_dir=Path(align.cache_dir),
        )


def align_corpus(
    books: list,
    text: Path,
    out: Path,
    report_path: Path,
    opts: AlignOptions,
    proofreading: Proofreading,
    lexicon: Path | None = None,
) -> dict:
    """Align every ingested book of ``books`` (text/<book>.<lang>.jsonl) into out/<book>.jsonl, apply the
    proofreading corrections, write the report (per book, gates included) and, with ``lexicon``, the
    corpus lexical table pooled from the training books. A book whose ingested text, options and code
    are unchanged comes from the cache in ``opts.cache_dir`` (its output file put back as it was).
    Flagged books stop the step (booktrans.gates) unless their gates are skipped. Returns the report."""
    from tqdm import tqdm

    from ..io import atomic_dir, read_jsonl, write_json, write_jsonl
    from . import align_book
    from . import lexicon as lexicon_module
    from .cache import AlignCache, model_fingerprint
    from .similarity import SameMeaning, confident_pairs

    method = opts.method
    options = {"method": method, "bootstrap": opts.bootstrap, "filters": dict(sorted(asdict(opts.filters).items()))}
    translator = None
    if method == "model":
        from .model_translator import ModelGlosser

        options["model"] = model_fingerprint(opts.model)
        translator = ModelGlosser(opts.model, batch_size=opts.batch_size)
    elif method not in ("cedict", "gale-church"):
        raise ConfigError(f"align.method: {method!r} is not cedict, model or gale-church")
    cache = AlignCache(opts.cache_dir, options)
    counts = {"aligned": 0, "cached": 0}
    report: dict = {}
    flagged: list[str] = []
    train_counts: list[dict] = []
    meaning: SameMeaning | None = None
    with atomic_dir(out) as tmp:
        for book in tqdm(books, desc="align", unit="book"):
            zh_file, en_file = text / f"{book.id}.zh.jsonl", text / f"{book.id}.en.jsonl"
            if not (zh_file.exists() and en_file.exists()):
                report[book.id] = {"status": "not ingested"}
                continue
            key = cache.key(zh_file, en_file)
            okey = cache.output_key(
                key, [proofreading.corrections.get(book.id, []), proofreading.sample, proofreading.seed]
            )
            dest = tmp / f"{book.id}.jsonl"
            # an unchanged book: its output file is put back as it was, its report and counts read
            # from the cache, its beads neither read nor written (unless proofreading has warnings to say)
            meta = cache.get_meta(key)
            kept = cache.keep_output(okey, dest) if meta is not None else None
            if kept is not None and (kept["stale"] or kept["superseded"]):
                dest.unlink()
                kept = None
            if kept is not None:
                rep, lex = meta
                rep["proofreading"] = proofreading.books[book.id] = kept  # what Proofreading.apply records
                counts["cached"] += 1
            else:
                got = cache.get(key)
                if got is None:
                    if meaning is None:  # the parsed dictionary is kept in the cache folder too
                        lexicon_module.preload(cache.dir)
                    beads, rep = align_book(
                        read_jsonl(zh_file),
                        read_jsonl(en_file),
                        method=method,
                        translator=translator,
                        filters=opts.filters,
                        bootstrap=opts.bootstrap,
                    )
                    meaning = meaning or SameMeaning()
                    pairs, glosses = confident_pairs(beads, meaning)
                    lex = {"confident_beads": len(pairs), "counts": book_counts(pairs, glosses)}
                    cache.put(key, beads, rep, lex)
                    counts["aligned"] += 1
                else:
                    beads, rep, lex = got
                    counts["cached"] += 1
                beads, rep["proofreading"] = proofreading.apply(book.id, beads)
                write_jsonl(dest, beads)
                cache.put_output(okey, dest, rep["proofreading"])
            entry = report[book.id] = {"status": "ok", "split": book.split, **rep}
            zh_un, en_un = unpaired_shares(entry)
            record_flags(
                "align",
                book.id,
                check_align(entry, opts.gates),
                opts.gates.skip or book.skip_gates,
                entry,
                flagged,
                unpaired_zh=zh_un,
                unpaired_en=en_un,
            )
            if book.split == "train":
                train_counts.append(lex)
        write_json(tmp / "proofreading.json", proofreading.summary())
        if flagged:
            write_json(report_path, report)
        stop_on_flags("align", flagged, report_path)
    for book_id, n in proofreading.unused().items():
        log.warning(
            "proofreading: %d correction(s) for %s, which was not aligned (not in the manifest or not ingested)",
            n,
            book_id,
        )
    if lexicon is not None:
        table = pool(c["counts"] for c in train_counts)
        table.meta["confident_beads"] = sum(c["confident_beads"] for c in train_counts)
        table.save(lexicon)
        log.info(
            "lexical table pooled from the confident beads of the training books: %d Chinese words -> %s",
            len(table),
            lexicon,
        )
    write_json(report_path, report)
    log.info(
        "aligned %d books into %s: %d aligned, %d unchanged from cache",
        sum(1 for r in report.values() if r["status"] == "ok"),
        out,
        counts["aligned"],
        counts["cached"],
    )
    return report
