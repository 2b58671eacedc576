"""Stage `align`: pair the chapters of each book's two editions, then align sentences inside each
chapter pair.

    python stages/align.py --params params.yaml --text data/text --out data/aligned --report reports/align.json \
        --corrections proofread/corrections.json --lexicon data/lexicon.json

Sentences are aligned with align.method: `cedict` (offline CC-CEDICT glosses plus a lexical table
bootstrapped from the book's own confident beads, the default), `model` (the LLM at align.model
translates the Chinese side) or `gale-church` (lengths only). Writes data/aligned/<book>.jsonl (one
bead per line: zh and en sentences, chapter and paragraph ids, bead type, score, keep, drop reason),
reports/align.json (per book and chapter pair: coverage of each side, bead types, beads kept and
dropped by reason, unmatched chapters, gate flags) and data/lexicon.json (the lexical table pooled
from the expected counts of each training book's own table, booktrans/align/corpus.py, for the
stages after this one). Books whose ingested text, options and code are unchanged come from the
cache in align.cache_dir (the log says how many were aligned and how many came from the cache); an
unchanged book's output file is put back as it was (a hard link to the cache's copy), not rewritten. A book whose figures fall outside align.gates (kept
share, chapter-pair score, unpaired chapters) is one line naming the book and the figure, and stops
the stage unless align.gates.skip is true (or the book has skip_gates: true in the manifest).

Proofreading corrections (proofread/corrections.json, see docs/proofread.md) are applied to each
book's beads after alignment, on every run; what applied and what no longer does is reported per
book under "proofreading" in reports/align.json and in data/aligned/proofreading.json.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from booktrans.align import FilterConfig, SameMeaning, align_book
from booktrans.align import lexicon as lexicon_module
from booktrans.align.cache import AlignCache, model_fingerprint
from booktrans.align.corpus import book_counts, pool
from booktrans.align.similarity import confident_pairs
from booktrans.errors import ConfigError
from booktrans.gates import AlignGates, check_align, gate_line, gates_from, unpaired_shares
from booktrans.io import atomic_dir, read_jsonl, write_json, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.proofread.corrections import Proofreading
from booktrans.stageutil import EXIT_BAD_INPUT, get, load_params, run_main, setup_logging

log = logging.getLogger("align")


def run(params_path: Path, text: Path, out: Path, report_path: Path, corrections: Path | None = None,
        lexicon: Path | None = None) -> int:
    params = load_params(params_path)
    books = load_manifest(get(params, "ingest.manifest"))
    method = get(params, "align.method")
    bootstrap = int(get(params, "align.bootstrap", 1))
    f = get(params, "align.filters")
    filters = FilterConfig(min_score=float(f["min_score"]), score_min_chars=int(f["score_min_chars"]),
                           min_ratio=float(f["min_ratio"]), max_ratio=float(f["max_ratio"]),
                           ratio_min_chars=int(f["ratio_min_chars"]))
    options = {"method": method, "bootstrap": bootstrap, "filters": dict(sorted(f.items()))}
    gates = gates_from(AlignGates, get(params, "align.gates", {}), "align.gates")
    flagged: list[str] = []
    translator = None
    if method == "model":
        from booktrans.align.model_translator import ModelGlosser

        options["model"] = model_fingerprint(get(params, "align.model"))
        translator = ModelGlosser(get(params, "align.model"), batch_size=int(get(params, "align.batch_size", 16)))
    elif method not in ("cedict", "gale-church"):
        raise ConfigError(f"align.method: {method!r} is not cedict, model or gale-church")
    cache = AlignCache(get(params, "align.cache_dir", "build/cache/align"), options)
    lexicon_module.PARSED_CACHE = cache.dir  # the parsed dictionary is kept there too
    counts = {"aligned": 0, "cached": 0}
    report: dict = {}
    train_counts: list[dict] = []
    meaning: SameMeaning | None = None
    proofreading = Proofreading.load(corrections, sample=int(get(params, "proofread.sample", 0)), seed=int(get(params, "seed", 0)))
    with atomic_dir(out) as tmp:
        for book in tqdm(books, desc="align", unit="book"):
            zh_file, en_file = text / f"{book.id}.zh.jsonl", text / f"{book.id}.en.jsonl"
            if not (zh_file.exists() and en_file.exists()):
                report[book.id] = {"status": "not ingested"}
                continue
            key = cache.key(zh_file, en_file)
            okey = cache.output_key(key, [proofreading.corrections.get(book.id, []), proofreading.sample, proofreading.seed])
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
                    beads, rep = align_book(read_jsonl(zh_file), read_jsonl(en_file), method=method,
                                            translator=translator, filters=filters, bootstrap=bootstrap)
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
            report[book.id] = {"status": "ok", "split": book.split, **rep}
            apply_gates(book, report[book.id], gates, flagged)
            if book.split == "train":
                train_counts.append(lex)
        write_json(tmp / "proofreading.json", proofreading.summary())
        stop_on_gates(report_path, report, flagged)
    for book_id, n in proofreading.unused().items():
        log.warning("proofreading: %d correction(s) for %s, which was not aligned (not in the manifest or not ingested)", n, book_id)
    if lexicon is not None:
        table = pool(c["counts"] for c in train_counts)
        table.meta["confident_beads"] = sum(c["confident_beads"] for c in train_counts)
        table.save(lexicon)
        log.info("lexical table pooled from the confident beads of the training books: %d Chinese words -> %s",
                 len(table), lexicon)
    write_json(report_path, report)
    log.info("aligned %d books into %s: %d aligned, %d unchanged from cache",
             sum(1 for r in report.values() if r["status"] == "ok"), out, counts["aligned"], counts["cached"])
    return 0


def apply_gates(book, entry: dict, gates: AlignGates, flagged: list[str]) -> None:
    """Record the book's gate flags in its report entry; a flag not skipped is one line in ``flagged``."""
    flags = check_align(entry, gates)
    skipped = bool(flags) and (gates.skip or book.skip_gates)
    zh_un, en_un = unpaired_shares(entry)
    entry["gates"] = {"flags": [f.to_json() for f in flags], "passed": not flags, "skipped": skipped,
                      "unpaired_zh": zh_un, "unpaired_en": en_un}
    if flags:
        line = gate_line("align", book.id, flags, "align.gates.skip")
        tqdm.write(("warning (gates skipped): " if skipped else "error: ") + line, file=sys.stderr)
        if not skipped:
            flagged.append(line)


def stop_on_gates(report_path: Path, report: dict, flagged: list[str]) -> None:
    """Write the report and stop (exit 2, nothing written to the output folder) when a book is flagged."""
    if flagged:
        write_json(report_path, report)
        print(f"align: {len(flagged)} book(s) far from a normal book; see the gates in {report_path}:", file=sys.stderr)
        for line in flagged:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, default=Path("data/aligned"))
    ap.add_argument("--report", type=Path, default=Path("reports/align.json"))
    ap.add_argument("--corrections", type=Path, help="proofreading corrections to apply (proofread/corrections.json)")
    ap.add_argument("--lexicon", type=Path, default=None, help="write the corpus lexical table here (JSON)")
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.text, args.out, args.report, args.corrections, args.lexicon)


if __name__ == "__main__":
    run_main(main)
