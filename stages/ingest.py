"""Stage `ingest`: read every book of the manifest into paragraphs with chapter ids.

    python stages/ingest.py --params params.yaml --out data/text --report reports/ingest.json

Writes data/text/<book>.<lang>.jsonl (one paragraph per line: chapter, title, para, text, loc) and
reports/ingest.json (per book and edition: status, format, encoding, chapters, paragraphs, characters
extracted and kept, dropped by reason, warnings). A bad book is one line on stderr; the stage exits 2
listing the failures unless ingest.on_error is `skip`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from booktrans.errors import IngestError
from booktrans.ingest import ingest_file
from booktrans.io import atomic_dir, write_json, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("ingest")


def _inside(path: Path, roots: list[Path]) -> bool:
    rp = path.resolve()
    return any(rp.is_relative_to(r.resolve()) for r in roots)


def run(params_path: Path, out: Path, report_path: Path) -> int:
    params = load_params(params_path)
    manifest = Path(get(params, "ingest.manifest"))
    roots = [Path(r) for r in get(params, "ingest.roots")]
    on_error = get(params, "ingest.on_error", "fail")
    books = load_manifest(manifest)
    report: dict = {}
    failures: list[str] = []
    with atomic_dir(out) as tmp:
        for book in tqdm(books, desc="ingest", unit="book"):
            entry: dict = {"split": book.split, "genre": book.genre, "editions": {}}
            for lang in ("zh", "en"):
                path = Path(book.file(lang))
                try:
                    if not _inside(path, roots):
                        raise IngestError(path, "outside the data folders", f"manifest paths must lie under {', '.join(map(str, roots))}")
                    result = ingest_file(path, lang)
                except IngestError as exc:
                    failures.append(str(exc))
                    print(f"error: {book.id}: {exc}", file=sys.stderr)
                    entry["editions"][lang] = {"status": exc.reason, "file": str(path), "error": str(exc)}
                    continue
                write_jsonl(tmp / f"{book.id}.{lang}.jsonl", (p.to_json() for p in result.paragraphs))
                entry["editions"][lang] = {"file": str(path), **result.report}
            ok = all(e.get("status") == "ok" for e in entry["editions"].values())
            entry["status"] = "ok" if ok else "failed"
            report[book.id] = entry
            if not ok:
                for lang in ("zh", "en"):
                    (tmp / f"{book.id}.{lang}.jsonl").unlink(missing_ok=True)
        summary = {
            "books": len(books),
            "ok": sum(1 for e in report.values() if e["status"] == "ok"),
            "failed": sum(1 for e in report.values() if e["status"] != "ok"),
        }
        write_json(report_path, {"summary": summary, "books": report})
        if failures and on_error != "skip":
            print(f"ingest: {len(failures)} edition(s) failed (set ingest.on_error: skip to continue without them):",
                  file=sys.stderr)
            for f in failures:
                print(f"  {f}", file=sys.stderr)
            raise SystemExit(2)
    log.info("ingested %d/%d books into %s", summary["ok"], summary["books"], out)
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
