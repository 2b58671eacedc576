"""The proofreading sheets of a corpus: for every aligned book, the beads most likely wrong and the
pairs of its random sample not judged yet (booktrans.proofread.select), written per book as a form,
a CSV and an XLSX sheet (booktrans.proofread.sheets), with a summary and a README for correctors."""

from __future__ import annotations

import logging
from pathlib import Path

from ..io import atomic_dir, atomic_write_text, read_json, read_jsonl, write_json
from . import DECISIONS
from .select import SelectConfig, build_items
from .sheets import write_sheets

log = logging.getLogger("proofread")

README = (
    "booktrans proofreading sheets: one folder per book.\n\n"
    "Open form.html in a browser (it works offline), decide each bead and press Save; or fill in\n"
    "sheet.xlsx (recommended; one row per bead, your name in the corrector column). sheet.csv is the same\n"
    "sheet as UTF-8 text with a byte-order mark; keep that encoding when you save it (CSV UTF-8).\n"
    f"Decisions: {', '.join(DECISIONS)}.\n"
    "Fix a sentence's text in zh_fixed / en_fixed (the whole side, one sentence per line).\n"
    "The completed files go into proofread/completed/ in the project (see docs/proofread.md).\n"
)


def export_sheets(books: list, aligned: Path, out: Path, cfg: SelectConfig) -> dict:
    """Sheets of every book of ``books`` aligned in ``aligned`` into ``out`` (atomically): out/<book>/,
    summary.json (per book: what was flagged and why, what is already checked) and README.txt.
    Returns the summary."""
    done = read_json(aligned / "proofreading.json")["books"] if (aligned / "proofreading.json").exists() else {}
    summary: dict = {}
    with atomic_dir(out) as tmp:
        for book in books:
            f = aligned / f"{book.id}.jsonl"
            if not f.exists():
                summary[book.id] = {"status": "not aligned"}
                continue
            items, s = build_items(book.id, read_jsonl(f), cfg)
            s.update(
                {"status": "ok", "split": book.split, "exported": len(items), "proofreading": done.get(book.id, {})}
            )
            summary[book.id] = s
            if not items:
                continue
            write_sheets(items, tmp / book.id, f"{book.title} ({book.id})")
        write_json(tmp / "summary.json", summary)
        atomic_write_text(tmp / "README.txt", README)
    ok = {b: s for b, s in summary.items() if s.get("status") == "ok"}
    log.info(
        "proofreading sheets for %d book(s): %d doubtful beads and %d sampled pairs to check, %d already checked",
        len(ok),
        sum(s["doubtful"] for s in ok.values()),
        sum(s["sample_unjudged"] for s in ok.values()),
        sum(s["checked_before"] for s in ok.values()),
    )
    return summary
