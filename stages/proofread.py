"""Stages `proofread` (sheets out) and `corrections` (completed sheets in).

    python stages/proofread.py export --params params.yaml --aligned data/aligned --out reports/proofread
    python stages/proofread.py import --completed proofread/completed --out proofread/corrections.json

export: for every aligned book, the beads most likely wrong (proofread.doubtful per book) and the
pairs of the book's random sample not judged yet (proofread.sample per book), in book order, each with
proofread.context beads around it. Writes reports/proofread/<book>/{form.html, sheet.csv, sheet.xlsx},
reports/proofread/summary.json (per book: what was flagged and why, what is already checked, the
precision estimate so far) and README.txt.

import: validates every .json (saved from the form), .csv and .xlsx in proofread/completed/ (one
message lists every problem with file and row) and writes the corrections, in file-name and row
order, to proofread/corrections.json (with the list of sheets they came from), which the align
stage applies on every run.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.io import atomic_dir, atomic_write_text, read_json, read_jsonl, write_json
from booktrans.manifest import load_manifest
from booktrans.proofread import DECISIONS
from booktrans.proofread.corrections import compile_corrections, corrections_document
from booktrans.proofread.select import SelectConfig, build_items
from booktrans.proofread.sheets import read_completed_dir, write_sheets
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("proofread")


def export(params_path: Path, aligned: Path, out: Path) -> int:
    params = load_params(params_path)
    p = get(params, "proofread")
    cfg = SelectConfig(doubtful=int(p["doubtful"]), sample=int(p["sample"]), context=int(p["context"]),
                       seed=int(get(params, "seed")))
    done = read_json(aligned / "proofreading.json")["books"] if (aligned / "proofreading.json").exists() else {}
    summary: dict = {}
    with atomic_dir(out) as tmp:
        for book in load_manifest(get(params, "ingest.manifest")):
            f = aligned / f"{book.id}.jsonl"
            if not f.exists():
                summary[book.id] = {"status": "not aligned"}
                continue
            items, s = build_items(book.id, read_jsonl(f), cfg)
            s.update({"status": "ok", "split": book.split, "exported": len(items),
                      "proofreading": done.get(book.id, {})})
            summary[book.id] = s
            if not items:
                continue
            write_sheets(items, tmp / book.id, f"{book.title} ({book.id})")
        write_json(tmp / "summary.json", summary)
        atomic_write_text(tmp / "README.txt", (
            "booktrans proofreading sheets: one folder per book.\n\n"
            "Open form.html in a browser (it works offline), decide each bead and press Save; or fill in\n"
            "sheet.xlsx (recommended; one row per bead, your name in the corrector column). sheet.csv is the same\n"
            "sheet as UTF-8 text with a byte-order mark; keep that encoding when you save it (CSV UTF-8).\n"
            f"Decisions: {', '.join(DECISIONS)}.\n"
            "Fix a sentence's text in zh_fixed / en_fixed (the whole side, one sentence per line).\n"
            "The completed files go into proofread/completed/ in the project (see docs/proofread.md).\n"))
    ok = {b: s for b, s in summary.items() if s.get("status") == "ok"}
    log.info("proofreading sheets for %d book(s): %d doubtful beads and %d sampled pairs to check, %d already checked",
             len(ok), sum(s["doubtful"] for s in ok.values()), sum(s["sample_unjudged"] for s in ok.values()),
             sum(s["checked_before"] for s in ok.values()))
    return 0


def import_(completed: Path, out: Path) -> int:
    files, rows = read_completed_dir(completed) if completed.exists() else ([], [])
    corrections = compile_corrections(rows)
    write_json(out, corrections_document(files, corrections))
    books = sorted({c["book"] for c in corrections})
    log.info("%d correction(s) for %d book(s) from %d sheet(s) in %s", len(corrections), len(books), len(files), completed)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="action", required=True)
    e = sub.add_parser("export", help="proofreading sheets of the aligned books")
    e.add_argument("--params", type=Path, default=Path("params.yaml"))
    e.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    e.add_argument("--out", type=Path, default=Path("reports/proofread"))
    i = sub.add_parser("import", help="completed sheets into the corrections file")
    i.add_argument("--completed", type=Path, default=Path("proofread/completed"))
    i.add_argument("--out", type=Path, default=Path("proofread/corrections.json"))
    args = ap.parse_args()
    setup_logging()
    if args.action == "export":
        return export(args.params, args.aligned, args.out)
    return import_(args.completed, args.out)


if __name__ == "__main__":
    run_main(main)
