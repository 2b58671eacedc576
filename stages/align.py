"""Stage `align`: pair the chapters of each book's two editions, then align sentences inside each
chapter pair.

    python stages/align.py --params params.yaml --text data/text --out data/aligned --report reports/align.json

Sentences are aligned with align.method: `cedict` (offline CC-CEDICT glosses, the default), `model`
(the LLM at align.model translates the Chinese side) or `gale-church` (lengths only). Writes
data/aligned/<book>.jsonl (one bead per line: zh and en sentences, chapter and paragraph ids, bead
type, score, keep, drop reason) and reports/align.json (per book and chapter pair: coverage of each
side, bead types, beads kept and dropped by reason, unmatched chapters, gate flags). A book whose
figures fall outside align.gates (kept share, chapter-pair score, unpaired chapters) is one line
naming the book and the figure, and stops the stage unless align.gates.skip is true (or the book has
skip_gates: true in the manifest).

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

from booktrans.align import FilterConfig, align_book
from booktrans.align.lexicon import CedictGlosser
from booktrans.errors import ConfigError
from booktrans.gates import AlignGates, check_align, gate_line, gates_from, unpaired_shares
from booktrans.io import atomic_dir, read_jsonl, write_json, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.proofread.corrections import Proofreading
from booktrans.stageutil import EXIT_BAD_INPUT, get, load_params, run_main, setup_logging

log = logging.getLogger("align")


def run(params_path: Path, text: Path, out: Path, report_path: Path, corrections: Path | None = None) -> int:
    params = load_params(params_path)
    books = load_manifest(get(params, "ingest.manifest"))
    method = get(params, "align.method")
    f = get(params, "align.filters")
    filters = FilterConfig(min_score=float(f["min_score"]), score_min_chars=int(f["score_min_chars"]),
                           min_ratio=float(f["min_ratio"]), max_ratio=float(f["max_ratio"]),
                           ratio_min_chars=int(f["ratio_min_chars"]))
    gates = gates_from(AlignGates, get(params, "align.gates", {}), "align.gates")
    flagged: list[str] = []
    translator = None
    if method == "cedict":
        translator = CedictGlosser()
    elif method == "model":
        from booktrans.align.model_translator import ModelGlosser

        translator = ModelGlosser(get(params, "align.model"), batch_size=int(get(params, "align.batch_size", 16)))
    elif method != "gale-church":
        raise ConfigError(f"align.method: {method!r} is not cedict, model or gale-church")
    report = {}
    proofreading = Proofreading.load(corrections, sample=int(get(params, "proofread.sample", 0)), seed=int(get(params, "seed", 0)))
    with atomic_dir(out) as tmp:
        for book in tqdm(books, desc="align", unit="book"):
            zh_file, en_file = text / f"{book.id}.zh.jsonl", text / f"{book.id}.en.jsonl"
            if not (zh_file.exists() and en_file.exists()):
                report[book.id] = {"status": "not ingested"}
                continue
            beads, rep = align_book(read_jsonl(zh_file), read_jsonl(en_file), method=method, translator=translator,
                                    filters=filters)
            beads, rep["proofreading"] = proofreading.apply(book.id, beads)
            write_jsonl(tmp / f"{book.id}.jsonl", beads)
            report[book.id] = {"status": "ok", "split": book.split, **rep}
            apply_gates(book, report[book.id], gates, flagged)
        write_json(tmp / "proofreading.json", proofreading.summary())
        stop_on_gates(report_path, report, flagged)
    for book_id, n in proofreading.unused().items():
        log.warning("proofreading: %d correction(s) for %s, which was not aligned (not in the manifest or not ingested)", n, book_id)
    write_json(report_path, report)
    log.info("aligned %d books into %s", sum(1 for r in report.values() if r["status"] == "ok"), out)
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
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.text, args.out, args.report, args.corrections)


if __name__ == "__main__":
    run_main(main)
