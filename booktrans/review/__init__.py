"""Expert review: blinded side-by-side packets, and the scores brought back into the metrics.

- ``sample_items``: passages of the test books drawn by book, direction and position in the
  document (early / middle / late), each with the output of every chosen system (rounds, the base
  model r0 and the human reference) in a random order per item, labelled A, B, C…; the key that
  maps labels back to systems is returned apart.
- ``forms``: the offline HTML form and the CSV/XLSX sheet reviewers fill in.
- ``scores``: validation of completed sheets, unblinding, per-system means, Krippendorff's alpha and
  the correlation of human scores with the automatic metrics.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

CRITERIA = ("accuracy", "fluency", "style", "terminology", "completeness")
CRITERIA_HELP = {
    "accuracy": "the meaning of the source is rendered correctly",
    "fluency": "the text reads as natural, grammatical prose in the target language",
    "style": "register, tone and literary qualities of the source are kept",
    "terminology": "terms, names and background facts are right and used consistently",
    "completeness": "nothing of the source is left out (5 = nothing missing, 1 = most of it missing)",
}
MQM_CATEGORIES = (
    "accuracy/mistranslation",
    "accuracy/omission",
    "accuracy/addition",
    "accuracy/untranslated",
    "fluency/grammar",
    "fluency/spelling",
    "fluency/punctuation",
    "fluency/inconsistency",
    "style/awkward",
    "terminology/inappropriate",
    "terminology/inconsistent",
    "other",
)
SEVERITIES = ("minor", "major", "critical")
BANDS = ("early", "middle", "late")
REFERENCE = "reference"


@dataclass(frozen=True)
class SampleConfig:
    """params ``review`` and ``seed`` (no defaults here: build it with :meth:`from_params`)."""

    per_band: int  # passages per book, direction and position band
    passage_segments: int  # consecutive aligned segments (a few sentences each) per passage
    seed: int

    @classmethod
    def from_params(cls, review, seed: int) -> "SampleConfig":
        """From the typed ``review`` record (booktrans.params.ReviewParams) and the params' seed."""
        return cls(per_band=review.per_band, passage_segments=review.passage_segments, seed=seed)


def band_of(position: float) -> str:
    return BANDS[min(2, int(position * 3))]


def _rng(seed: int, *parts: str) -> random.Random:
    """A random generator per (seed, parts): the same draw whatever else changes in the packet."""
    digest = hashlib.sha256("\x1f".join((str(seed),) + parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def sample_items(
    segments: dict[str, dict[tuple[str, str], list[dict]]], books: dict[str, dict], cfg: SampleConfig
) -> tuple[list[dict], dict[str, dict[str, str]]]:
    """``segments[system][(book, direction)]`` = that system's (src, mt, ref, position) segments
    (the evaluate stage's output; every system has the same segments in the same order, since they
    are the reference's beads). ``books[id]`` = {"genre", "title"}. ``system`` is a round name, and
    ``reference`` is added from the segments' ``ref``.

    Returns (items, key): each item has id, book, genre, direction, band, position, source and
    outputs {label: text}; key[item id] = {label: system}."""
    systems = sorted(segments)
    if not systems:
        raise ValueError("no system to review")
    pairs = sorted(set.intersection(*(set(segments[s]) for s in systems)))
    items, key = [], {}
    for book, direction in pairs:
        n = min(len(segments[s][(book, direction)]) for s in systems)
        for s in systems:
            if len(segments[s][(book, direction)]) != n:
                raise ValueError(f"{book} {direction}: systems have different segments ({s}); re-run evaluate")
        starts = list(range(0, max(n - cfg.passage_segments + 1, 1), cfg.passage_segments))
        by_band: dict[str, list[int]] = {b: [] for b in BANDS}
        for st in starts:
            by_band[band_of(segments[systems[0]][(book, direction)][st]["position"])].append(st)
        for band in BANDS:
            chosen = sorted(
                _rng(cfg.seed, book, direction, band).sample(by_band[band], min(cfg.per_band, len(by_band[band])))
            )
            for st in chosen:
                segs = {s: segments[s][(book, direction)][st : st + cfg.passage_segments] for s in systems}
                first = segs[systems[0]]
                sep = "" if direction.endswith("zh") else " "
                src_sep = "" if direction.startswith("zh") else " "
                outputs = {s: sep.join(x["mt"] for x in segs[s]).strip() for s in systems}
                outputs[REFERENCE] = sep.join(x["ref"] for x in first).strip()
                item_id = f"{book}.{direction}.{band}.{st:05d}"
                order = sorted(outputs)
                _rng(cfg.seed, item_id, "order").shuffle(order)
                labels = [chr(ord("A") + k) for k in range(len(order))]
                items.append(
                    {
                        "id": item_id,
                        "book": book,
                        "title": books.get(book, {}).get("title", book),
                        "genre": books.get(book, {}).get("genre", ""),
                        "direction": direction,
                        "band": band,
                        "position": first[0]["position"],
                        "source": src_sep.join(x["src"] for x in first).strip(),
                        "outputs": {lab: outputs[s] for lab, s in zip(labels, order)},
                    }
                )
                key[item_id] = dict(zip(labels, order))
    return items, key
