"""Stages `review` and `review-key`: blinded side-by-side review packets for expert raters, and
their key, as two outputs of two stages so that a reviewer's `dvc pull review` never fetches the key.

    python stages/review.py packet --params params.yaml --evaluation reports/evaluation --out reports/review/packet
    python stages/review.py key --params params.yaml --evaluation reports/evaluation --packet reports/review/packet \
        --out reports/review/key.json

For the rounds in review.rounds plus r0 (the base model) and the human reference, passages of every
test book are drawn per direction and position band (early / middle / late in the document).
`packet` writes reports/review/packet/ (form.html: the offline form; sheet.csv and sheet.xlsx: the
same for spreadsheet users; README.txt). `key` draws the same passages again (the draw is seeded),
checks that they are exactly the ones in the packet's form, and writes reports/review/key.json
(which label is which system, per item: keep it away from the reviewers).
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
from booktrans.review.forms import ERRORS_HELP, read_form_data, render_csv, render_form, write_xlsx
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("review")


def systems_of(params: dict) -> list[str]:
    chosen = list(get(params, "review.rounds"))
    unknown = [r for r in chosen if r not in get(params, "translate.rounds")]
    if unknown:
        raise BooktransError(f"review.rounds: {', '.join(unknown)} not in translate.rounds (only translated rounds can be reviewed)")
    return sorted(set(["r0"] + chosen))


def draw(params: dict, evaluation: Path) -> tuple[list[dict], dict, str, dict, dict]:
    """(items, key, packet id, test books, segments per system) from the evaluation outputs."""
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
    return items, key, packet_id, books, segments


def run_packet(params_path: Path, evaluation: Path, out: Path) -> int:
    items, _key, packet_id, books, segments = draw(load_params(params_path), evaluation)
    with atomic_dir(out) as tmp:
        atomic_write_text(tmp / "form.html", render_form(items, packet_id, title=f"booktrans review — packet {packet_id}"))
        atomic_write_text(tmp / "sheet.csv", render_csv(items))
        write_xlsx(items, tmp / "sheet.xlsx")
        atomic_write_text(tmp / "README.txt", (
            f"booktrans review packet {packet_id}: {len(items)} passages, {sum(len(i['outputs']) for i in items)} translations to score.\n\n"
            "Either open form.html in a browser (it works offline), score each translation and press Save,\n"
            "or fill in sheet.xlsx (recommended; one row per translation; put your name in the rater column).\n"
            "sheet.csv is the same sheet as UTF-8 text with a byte-order mark; save it back as CSV UTF-8.\n"
            f"Scores are whole numbers 1-5 for: {', '.join(CRITERIA)}.\n{ERRORS_HELP}\n"
            "Send the saved .json or the sheet back; it goes into reviews/completed/ in the project.\n"))
    log.info("review packet %s: %d passages from %d book(s), systems %s + reference", packet_id, len(items), len(books),
             ", ".join(sorted(segments)))
    return 0


def run_key(params_path: Path, evaluation: Path, packet: Path, out: Path) -> int:
    items, key, packet_id, _books, _segments = draw(load_params(params_path), evaluation)
    form = packet / "form.html"
    if not form.exists():
        raise BooktransError(f"{form}: missing; run `dvc repro review` first")
    shipped = read_form_data(form.read_text(encoding="utf-8"))
    if shipped.get("packet") != packet_id or shipped.get("items") != items:
        raise BooktransError(f"{packet}: packet {shipped.get('packet')} is not the one these evaluation outputs and params "
                             f"give ({packet_id}); run `dvc repro review` so packet and key match")
    write_json(out, {"packet": packet_id, "items": {i["id"]: {**i, "key": key[i["id"]]} for i in items}})
    log.info("key of review packet %s: %d passages", packet_id, len(items))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="part", required=True)
    pk = sub.add_parser("packet", help="the packet reviewers get")
    ky = sub.add_parser("key", help="the key of the packet (label -> system), checked against the packet")
    for p in (pk, ky):
        p.add_argument("--params", type=Path, default=Path("params.yaml"))
        p.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"))
    pk.add_argument("--out", type=Path, default=Path("reports/review/packet"))
    ky.add_argument("--packet", type=Path, default=Path("reports/review/packet"))
    ky.add_argument("--out", type=Path, default=Path("reports/review/key.json"))
    args = ap.parse_args()
    setup_logging()
    if args.part == "packet":
        return run_packet(args.params, args.evaluation, args.out)
    return run_key(args.params, args.evaluation, args.packet, args.out)


if __name__ == "__main__":
    run_main(main)
