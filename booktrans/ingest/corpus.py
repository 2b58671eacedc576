"""Every book of the manifest read into paragraphs: the ingest step over a whole corpus.

``ingest_corpus`` reads both editions of each book (from the cache when the bytes, options and ingest
code are unchanged), writes ``<book>.<lang>.jsonl`` (and ``.notes.jsonl``) into the output folder, and
the report (per book and edition; per book the length ratio and the gate flags). A failed edition is
one line on stderr; failures stop the step unless ``on_error`` is ``skip``, flagged books unless
their gates are skipped (booktrans.gates).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, IngestError, Stopped
from ..gates import IngestGates, check_ingest, record_flags, stop_on_flags
from ..io import atomic_dir, write_json, write_jsonl
from ..manifest import Book
from ..text import length
from . import ingest_file
from .cache import IngestCache
from .model import IngestOptions

log = logging.getLogger("ingest")


@dataclass(frozen=True)
class CorpusOptions:
    """How a corpus is read: params ``ingest`` (booktrans.params.IngestParams; the values live in params.yaml)."""

    roots: tuple[Path, ...]  # manifest paths must lie under one of these
    on_error: str  # fail | skip: a failed edition stops the step or is left out
    simplify: bool
    max_paragraph_chars: int
    gates: IngestGates
    cache_dir: Path

    @classmethod
    def from_params(cls, ingest) -> "CorpusOptions":
        """From the typed ``ingest`` record (booktrans.params.IngestParams)."""
        return cls(
            roots=tuple(Path(r) for r in ingest.roots),
            on_error=ingest.on_error,
            simplify=ingest.simplify,
            max_paragraph_chars=ingest.max_paragraph_chars,
            gates=ingest.gates,
            cache_dir=Path(ingest.cache_dir),
        )


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    rp = path.resolve()
    return any(rp.is_relative_to(r.resolve()) for r in roots)


def ingest_corpus(books: list[Book], out: Path, report_path: Path, opts: CorpusOptions) -> dict:
    """Ingest every book into ``out`` and write the report to ``report_path``; returns the report."""
    from tqdm import tqdm

    if opts.on_error not in ("fail", "skip"):
        raise ConfigError(f"ingest.on_error: {opts.on_error!r} is not fail or skip")
    roots, gates = opts.roots, opts.gates
    cache = IngestCache(opts.cache_dir, {"simplify": opts.simplify})
    report: dict = {}
    failures: list[str] = []
    flagged: list[str] = []
    counts = {"read": 0, "cached": 0}
    with atomic_dir(out) as tmp:
        for book in tqdm(books, desc="ingest", unit="book"):
            entry: dict = {
                "split": book.split,
                "genre": book.genre,
                "source": book.source,
                "license": book.license,
                "editions": {},
            }
            results = {}
            for lang in ("zh", "en"):
                path = Path(book.file(lang))
                try:
                    if not _inside(path, roots):
                        raise IngestError(
                            path,
                            "outside the data folders",
                            f"manifest paths must lie under {', '.join(map(str, roots))}",
                        )
                    if not path.is_file():
                        raise IngestError(path, "missing file", "the manifest names a file that does not exist")
                    io = IngestOptions(
                        simplify=opts.simplify,
                        max_paragraph_chars=opts.max_paragraph_chars,
                        check_language=book.language_check,
                        chapter_pattern=book.pattern(lang),
                    )
                    key = cache.key(path, lang, io.key())
                    result = cache.get(key)
                    if result is None:
                        result = ingest_file(path, lang, opts=io)
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
                record_flags("ingest", book.id, flags, gates.skip or book.skip_gates, entry, flagged)
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
        doc = {"summary": summary, "gates": {"flagged": flagged_books, "skip": gates.skip}, "books": report}
        write_json(report_path, doc)
        if failures and opts.on_error != "skip":
            raise Stopped(
                f"ingest: {len(failures)} edition(s) failed; see {report_path} "
                f"(set ingest.on_error: skip to go on without them):\n" + "\n".join(f"  {f}" for f in failures)
            )
        stop_on_flags("ingest", flagged, report_path)
    log.info(
        "ingested %d/%d books into %s (%d editions read, %d unchanged from cache)",
        summary["ok"],
        summary["books"],
        out,
        counts["read"],
        counts["cached"],
    )
    return doc
