"""The review packet and its key: passages of every test book drawn from the evaluation outputs of
the reviewed systems (``sample_items``, seeded), rendered for raters (form, CSV, XLSX, README), and
the key (which label is which system) written only after checking it draws exactly the packet's items."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import BooktransError
from ..io import atomic_dir, atomic_write_text, read_jsonl, write_json
from . import CRITERIA, SampleConfig, sample_items
from .forms import ERRORS_HELP, read_form_data, render_csv, render_form, write_xlsx

log = logging.getLogger("review")


@dataclass
class Packet:
    items: list[dict]
    key: dict
    id: str
    books: dict  # test book id -> title, genre
    segments: dict  # system -> (book, direction) -> segments


def review_systems(rounds: list[str], translated: list[str]) -> list[str]:
    """The reviewed systems: r0 (the base model) and ``rounds`` (review.rounds), each a translated round."""
    unknown = [r for r in rounds if r not in translated]
    if unknown:
        raise BooktransError(
            f"review.rounds: {', '.join(unknown)} not in translate.rounds (only translated rounds can be reviewed)"
        )
    return sorted(set(["r0"] + list(rounds)))


def project_packet(params, evaluation: Path) -> Packet:
    """The packet the project's params draw (``params``: booktrans.params.Params): the manifest's test
    books, r0 and review.rounds, review's sample settings and the project seed. The review and review-key
    stages both call it, so they draw the same passages."""
    from ..manifest import load_manifest

    books = {
        b.id: {"title": b.title, "genre": b.genre} for b in load_manifest(params.ingest.manifest) if b.split == "test"
    }
    systems = review_systems(list(params.review.rounds), list(params.translate.rounds))
    return draw_packet(evaluation, books, systems, SampleConfig.from_params(params.review, params.seed))


def draw_packet(evaluation: Path, books: dict, systems: list[str], cfg: SampleConfig) -> Packet:
    """The packet's passages from evaluation/<system>/segments/ of every reviewed system."""
    segments: dict = {}
    for system in systems:
        seg_dir = evaluation / system / "segments"
        if not seg_dir.is_dir():
            raise BooktransError(f"{seg_dir}: missing; run `dvc repro evaluate@{system}`")
        segments[system] = {}
        for f in sorted(seg_dir.glob("*.jsonl")):
            book, direction = f.name[: -len(".jsonl")].rsplit(".", 1)
            if book in books:
                segments[system][(book, direction)] = read_jsonl(f)
    items, key = sample_items(segments, books, cfg)
    if not items:
        raise BooktransError("no passage to review: the test books have no scored segments")
    packet_id = hashlib.sha256(json.dumps(items, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    return Packet(items, key, packet_id, books, segments)


def write_packet(packet: Packet, out: Path) -> None:
    """What reviewers get, in ``out`` (atomically): form.html, sheet.csv, sheet.xlsx, README.txt."""
    items = packet.items
    with atomic_dir(out) as tmp:
        atomic_write_text(
            tmp / "form.html", render_form(items, packet.id, title=f"booktrans review — packet {packet.id}")
        )
        atomic_write_text(tmp / "sheet.csv", render_csv(items))
        write_xlsx(items, tmp / "sheet.xlsx")
        atomic_write_text(
            tmp / "README.txt",
            (
                f"booktrans review packet {packet.id}: {len(items)} passages, "
                f"{sum(len(i['outputs']) for i in items)} translations to score.\n\n"
                "Either open form.html in a browser (it works offline), score each translation and press Save,\n"
                "or fill in sheet.xlsx (recommended; one row per translation; put your name in the rater column).\n"
                "sheet.csv is the same sheet as UTF-8 text with a byte-order mark; save it back as CSV UTF-8.\n"
                f"Scores are whole numbers 1-5 for: {', '.join(CRITERIA)}.\n{ERRORS_HELP}\n"
                "Send the saved .json or the sheet back; it goes into reviews/completed/ in the project.\n"
            ),
        )
    log.info(
        "review packet %s: %d passages from %d book(s), systems %s + reference",
        packet.id,
        len(items),
        len(packet.books),
        ", ".join(sorted(packet.segments)),
    )


def write_key(packet: Packet, shipped: Path, out: Path) -> None:
    """The key of ``packet`` into ``out``, once the packet folder ``shipped`` is checked to hold exactly
    its items (so packet and key cannot disagree)."""
    form = shipped / "form.html"
    if not form.exists():
        raise BooktransError(f"{form}: missing; run `dvc repro review` first")
    got = read_form_data(form.read_text(encoding="utf-8"))
    if got.get("packet") != packet.id or got.get("items") != packet.items:
        raise BooktransError(
            f"{shipped}: packet {got.get('packet')} is not the one these evaluation outputs and params "
            f"give ({packet.id}); run `dvc repro review` so packet and key match"
        )
    write_json(out, {"packet": packet.id, "items": {i["id"]: {**i, "key": packet.key[i["id"]]} for i in packet.items}})
    log.info("key of review packet %s: %d passages", packet.id, len(packet.items))
