"""Stage `review`: blinded side-by-side review packets for expert raters.

    python stages/review.py --params params.yaml --evaluation reports/evaluation --out reports/review

For the rounds in review.rounds plus r0 (the base model) and the human reference, passages of every
test book are drawn per direction and position band (early / middle / late in the document). Writes
reports/review/packet/ (form.html: the offline form; sheet.csv and sheet.xlsx: the same for
spreadsheet users; README.txt) and reports/review/key.json (which label is which system, per item:
keep it away from the reviewers).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.io import atomic_dir, atomic_write_text, read_jsonl, write_json
from booktrans.manifest import load_manifest
from booktrans.review import CRITERIA, SampleConfig, sample_items
from booktrans.review.forms import ERRORS_HELP, render_csv, render_form, write_xlsx
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("review")


def systems_of(params: dict) -> list[str]:
    chosen = list(get(params, "review.rounds"))
    unknown = [r for r in chosen if r not in get(params, "translate.rounds")]
    if unknown:
        raise BooktransError(f"review.rounds: {', '.join(unknown)} not in translate.rounds (only translated rounds can be reviewed)")
    return sorted(set(["r0"] + chosen))


def run(params_path: Path, evaluation: Path, out: Path) -> int:
    params = load_params(params_path)
    books = {b.id: {"title": b.title, "genre": b.genre} for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"}
    segments: dict = {}
    for system in systems_of(params):
        seg_dir = evaluation / system / "segments"
        if not seg_dir.is_dir():
            raise BooktransError(f"{seg_dir}: missing; run `dvc repro evaluate@{system}`")
        segments[system] = {}
        for f in sorted(seg_dir.glob("*.jsonl")):
            book, direction = f.name[: -len(".jsonl")].rsplit(".", 1)
            if book in books:
                segments[system][(book, direction)] = read_jsonl(f)
    r = get(params, "review")
    cfg = SampleConfig(per_band=int(r["per_band"]), passage_segments=int(r["passage_segments"]), seed=int(get(params, "seed")))
    items, key = sample_items(segments, books, cfg)
    if not items:
        raise BooktransError("no passage to review: the test books have no scored segments")
    packet_id = hashlib.sha256(json.dumps(items, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    with atomic_dir(out / "packet") as tmp:
        atomic_write_text(tmp / "form.html", render_form(items, packet_id, title=f"booktrans review — packet {packet_id}"))
        atomic_write_text(tmp / "sheet.csv", render_csv(items))
        write_xlsx(items, tmp / "sheet.xlsx")
        atomic_write_text(tmp / "README.txt", (
            f"booktrans review packet {packet_id}: {len(items)} passages, {sum(len(i['outputs']) for i in items)} translations to score.\n\n"
            "Either open form.html in a browser (it works offline), score each translation and press Save,\n"
            "or fill in sheet.csv / sheet.xlsx (one row per translation; put your name in the rater column).\n"
            f"Scores are whole numbers 1-5 for: {', '.join(CRITERIA)}.\n{ERRORS_HELP}\n"
            "Send the saved .json or the sheet back; it goes into reviews/completed/ in the project.\n"))
    write_json(out / "key.json", {"packet": packet_id, "items": {i["id"]: {**i, "key": key[i["id"]]} for i in items}})
    log.info("review packet %s: %d passages from %d book(s), systems %s + reference", packet_id, len(items), len(books),
             ", ".join(sorted(segments)))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"))
    ap.add_argument("--out", type=Path, default=Path("reports/review"))
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.evaluation, args.out)


if __name__ == "__main__":
    run_main(main)
