"""Stage `ingest`: read every book of the manifest into paragraphs with chapter ids.

    python stages/ingest.py --params params.yaml --out data/text --report reports/ingest.json

Writes data/text/<book>.<lang>.jsonl (one paragraph per line: chapter, title, para, text, loc),
data/text/<book>.<lang>.notes.jsonl when the edition has footnotes or endnotes, and
reports/ingest.json (per book and edition: status, format, encoding, chapters with their titles and levels,
the largest chapter's share of the text and the longest title, paragraphs,
characters extracted and kept, dropped by reason, warnings; per book the length ratio of the two
editions and the gate flags). A bad book is one line on stderr; the stage exits 2 listing the
failures unless ingest.on_error is `skip`. A book whose figures fall outside ingest.gates is one line
naming the book and the figure, and stops the stage unless ingest.gates.skip is true (or the book
has skip_gates: true). Editions whose bytes, options and ingest code are unchanged come from the
cache in ingest.cache_dir instead of being parsed again.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from booktrans.errors import ConfigError, IngestError
from booktrans.gates import IngestGates, check_ingest, gate_line, gates_from
from booktrans.ingest import IngestOptions, ingest_file
from booktrans.ingest.cache import IngestCache
from booktrans.io import atomic_dir, write_json, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.stageutil import EXIT_BAD_INPUT, get, load_params, run_main, setup_logging
from booktrans.text import length

log = logging.getLogger("ingest")


def _inside(path: Path, roots: list[Path]) -> bool:
    rp = path.resolve()
    return any(rp.is_relative_to(r.resolve()) for r in roots)


def run(params_path: Path, out: Path, report_path: Path) -> int:
    params = load_params(params_path)
    manifest = Path(get(params, "ingest.manifest"))
    roots = [Path(r) for r in get(params, "ingest.roots")]
    on_error = get(params, "ingest.on_error", "fail")
    if on_error not in ("fail", "skip"):
        raise ConfigError(f"ingest.on_error: {on_error!r} is not fail or skip")
    simplify = bool(get(params, "ingest.simplify", False))
    max_chars = int(get(params, "ingest.max_paragraph_chars", IngestOptions.max_paragraph_chars))
    gates = gates_from(IngestGates, get(params, "ingest.gates", {}), "ingest.gates")
    cache = IngestCache(get(params, "ingest.cache_dir", "build/cache/ingest"), {"simplify": simplify})
    books = load_manifest(manifest)
    report: dict = {}
    failures: list[str] = []
    flagged: list[str] = []
    counts = {"read": 0, "cached": 0}
    with atomic_dir(out) as tmp:
        for book in tqdm(books, desc="ingest", unit="book"):
            entry: dict = {"split": book.split, "genre": book.genre, "source": book.source, "license": book.license,
                           "editions": {}}
            results = {}
            for lang in ("zh", "en"):
                path = Path(book.file(lang))
                try:
                    if not _inside(path, roots):
                        raise IngestError(path, "outside the data folders", f"manifest paths must lie under {', '.join(map(str, roots))}")
                    if not path.is_file():
                        raise IngestError(path, "missing file", "the manifest names a file that does not exist")
                    opts = IngestOptions(check_language=book.language_check, simplify=simplify,
                                         chapter_pattern=book.pattern(lang), max_paragraph_chars=max_chars)
                    key = cache.key(path, lang, opts.key())
                    result = cache.get(key)
                    if result is None:
                        result = ingest_file(path, lang, opts=opts)
                        cache.put(key, result)
                        counts["read"] += 1
                    else:
                        counts["cached"] += 1
                except IngestError as exc:
                    failures.append(f"{book.id}: {exc}")
                    tqdm.write(f"error: {book.id}: {exc}", file=sys.stderr)
                    entry["editions"][lang] = {"status": exc.reason, "file": str(path), "error": str(exc)}
                    continue
                results[lang] = result
                entry["editions"][lang] = {"file": str(path), **result.report}
            ok = len(results) == 2
            entry["status"] = "ok" if ok else "failed"
            if ok:
                zh_chars = sum(length(p.text, "zh") for p in results["zh"].paragraphs)
                en_words = sum(length(p.text, "en") for p in results["en"].paragraphs)
                entry["length_ratio"] = round(en_words / zh_chars, 4) if zh_chars else 0.0
                flags = check_ingest(entry["editions"], entry["length_ratio"], gates)
                skipped = bool(flags) and (gates.skip or book.skip_gates)
                entry["gates"] = {"flags": [f.to_json() for f in flags], "passed": not flags, "skipped": skipped}
                if flags:
                    line = gate_line("ingest", book.id, flags, "ingest.gates.skip")
                    tqdm.write(("warning (gates skipped): " if skipped else "error: ") + line, file=sys.stderr)
                    if not skipped:
                        flagged.append(line)
            report[book.id] = entry
            if ok:  # a book counts only with both editions
                for lang, result in results.items():
                    write_jsonl(tmp / f"{book.id}.{lang}.jsonl", (p.to_json() for p in result.paragraphs))
                    if result.notes:
                        write_jsonl(tmp / f"{book.id}.{lang}.notes.jsonl", ({"note": n} for n in result.notes))
        summary = {
            "books": len(books),
            "ok": sum(1 for e in report.values() if e["status"] == "ok"),
            "failed": sum(1 for e in report.values() if e["status"] != "ok"),
        }
        flagged_books = sorted(b for b, e in report.items() if e.get("gates", {}).get("flags"))
        write_json(report_path, {"summary": summary, "gates": {"flagged": flagged_books, "skip": gates.skip},
                                 "books": report})
        if failures and on_error != "skip":
            print(f"ingest: {len(failures)} edition(s) failed; see {report_path} "
                  f"(set ingest.on_error: skip to go on without them):", file=sys.stderr)
            for f in failures:
                print(f"  {f}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT)
        if flagged:
            print(f"ingest: {len(flagged)} book(s) far from a normal book; see the gates in {report_path}:", file=sys.stderr)
            for line in flagged:
                print(f"  {line}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT)
    log.info("ingested %d/%d books into %s (%d editions read, %d unchanged from cache)",
             summary["ok"], summary["books"], out, counts["read"], counts["cached"])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=Path("data/text"))
    ap.add_argument("--report", type=Path, default=Path("reports/ingest.json"))
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.out, args.report)


if __name__ == "__main__":
    run_main(main)
