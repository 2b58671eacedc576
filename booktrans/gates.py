"""Gates: a book whose figures are far from a normal book's is flagged, and its stage stops.

Ingest gates look at each edition's kept share (characters kept in paragraphs, titles and notes,
over the characters the reader found, Project Gutenberg's boilerplate left out), at its chapters (the
largest chapter's share of the text in a book of several, the length of the longest title) and at the
length ratio of the two editions (English words per Chinese character). Align gates look at the share of
each side's sentences kept for training, the mean bead score of every chapter pair, and the share
of sentences in chapters left unpaired. How the defaults were chosen is in docs/ingest.md.

The check functions return flags; ``record_flags`` puts them in a book's report entry (one line on
stderr per flagged book) and ``stop_on_flags`` stops the step unless told to skip
(``ingest.gates.skip`` / ``align.gates.skip``, or ``skip_gates: true`` on one book in the manifest).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

from .errors import Stopped


@dataclass(frozen=True)
class Flag:
    figure: str  # the report key, e.g. "kept_zh" or "chapters[3].mean_score"
    value: float
    limit: float
    rule: str  # "min" or "max"
    param: str  # the params.yaml key of the limit
    detail: str = ""  # where, when the figure is the worst of several (chapter pairs)

    def describe(self) -> str:
        below = "below" if self.rule == "min" else "above"
        return f"{self.figure} {self.value:g} is {below} {self.param} {self.limit:g}" + (
            f" ({self.detail})" if self.detail else ""
        )

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IngestGates:
    """ingest.gates of params.yaml (booktrans.params; the values and their comments live there)."""

    min_kept_share: float  # per edition: share of the text found that is kept (0..1)
    min_length_ratio: float  # English words per Chinese character, whole book
    max_length_ratio: float
    max_chapter_share: float  # per edition of 3+ chapters: share of the text in its largest chapter
    max_title_zh_chars: int  # per Chinese edition: characters of its longest chapter title
    max_title_en_words: int  # per English edition: words of its longest chapter title
    skip: bool  # record the flags, do not stop


@dataclass(frozen=True)
class AlignGates:
    """align.gates of params.yaml."""

    min_kept: float  # share of each side's sentences in beads kept for training
    min_pair_score: float  # mean bead score of a chapter pair ...
    min_pair_sentences: int  # ... that holds at least this many sentences (both sides together)
    max_unpaired_share: float  # share of either side's sentences in chapters without a partner
    skip: bool


def check_ingest(editions: dict[str, dict], length_ratio: float | None, gates: IngestGates) -> list[Flag]:
    """Flags of one book from its edition reports (``kept_share``) and its length ratio."""
    flags: list[Flag] = []
    for lang in sorted(editions):
        share = editions[lang].get("kept_share")
        if share is not None and share < gates.min_kept_share:
            flags.append(Flag(f"{lang}.kept_share", share, gates.min_kept_share, "min", "ingest.gates.min_kept_share"))
        largest = editions[lang].get("largest_chapter_share")
        if largest is not None and editions[lang].get("chapters", 0) >= 3 and largest > gates.max_chapter_share:
            flags.append(
                Flag(
                    f"{lang}.largest_chapter_share",
                    largest,
                    gates.max_chapter_share,
                    "max",
                    "ingest.gates.max_chapter_share",
                    "one chapter holds most of the book: its headings were missed",
                )
            )
        size = editions[lang].get("longest_title_length")
        limit, param = (
            (gates.max_title_zh_chars, "max_title_zh_chars")
            if lang == "zh"
            else (gates.max_title_en_words, "max_title_en_words")
        )
        if size is not None and size > limit:
            flags.append(
                Flag(
                    f"{lang}.longest_title_length",
                    size,
                    limit,
                    "max",
                    f"ingest.gates.{param}",
                    f"a sentence read as a title: {editions[lang].get('longest_title', '')[:60]!r}",
                )
            )
    if length_ratio is not None:
        if length_ratio < gates.min_length_ratio:
            flags.append(
                Flag("length_ratio", length_ratio, gates.min_length_ratio, "min", "ingest.gates.min_length_ratio")
            )
        elif length_ratio > gates.max_length_ratio:
            flags.append(
                Flag("length_ratio", length_ratio, gates.max_length_ratio, "max", "ingest.gates.max_length_ratio")
            )
    return flags


def unpaired_shares(report: dict) -> tuple[float, float]:
    """(zh, en) share of sentences in chapters left without a partner, from an align report."""
    zh_total, en_total = report.get("zh_sentences", 0), report.get("en_sentences", 0)
    zh_un = en_un = 0
    for u in report.get("unmatched_chapters", []):
        if u.get("zh_chapters"):
            zh_un += u.get("sentences", 0)
        else:
            en_un += u.get("sentences", 0)
    return (round(zh_un / zh_total, 4) if zh_total else 0.0, round(en_un / en_total, 4) if en_total else 0.0)


def check_align(report: dict, gates: AlignGates) -> list[Flag]:
    """Flags of one book's align report (``booktrans.align.align_book``)."""
    flags: list[Flag] = []
    for side in ("zh", "en"):
        kept = report.get(f"kept_{side}", 0.0)
        if kept < gates.min_kept:
            flags.append(Flag(f"kept_{side}", kept, gates.min_kept, "min", "align.gates.min_kept"))
    pairs = [
        ch
        for ch in report.get("chapters", [])
        if ch.get("zh_sentences", 0) + ch.get("en_sentences", 0) >= gates.min_pair_sentences
    ]
    low = [ch for ch in pairs if ch.get("mean_score", 0.0) < gates.min_pair_score]
    if low:
        worst = min(low, key=lambda ch: ch.get("mean_score", 0.0))
        where = f"zh {','.join(map(str, worst['zh_chapters']))} / en {','.join(map(str, worst['en_chapters']))}"
        flags.append(
            Flag(
                "chapter-pair mean_score",
                worst.get("mean_score", 0.0),
                gates.min_pair_score,
                "min",
                "align.gates.min_pair_score",
                f"{len(low)} of {len(pairs)} pairs below; lowest {where}",
            )
        )
    for side, share in zip(("zh", "en"), unpaired_shares(report)):
        if share > gates.max_unpaired_share:
            flags.append(
                Flag(f"unpaired_{side}", share, gates.max_unpaired_share, "max", "align.gates.max_unpaired_share")
            )
    return flags


def gate_line(stage: str, book: str, flags: list[Flag], skip_param: str) -> str:
    """One line naming the book and its figures, for stderr."""
    return f"{stage}: book {book}: " + "; ".join(f.describe() for f in flags) + f" (set {skip_param}: true to go on)"


class GatesFailed(Stopped):
    """Books far from a normal book stopped a step; the message lists one line per book."""


def record_flags(step: str, book: str, flags: list[Flag], skip: bool, entry: dict, flagged: list[str], **extra) -> None:
    """Record a book's flags in its report entry (``gates``, with ``extra`` figures) and say so on stderr;
    a flag not skipped (``skip``: the step's or the book's) adds one line to ``flagged``."""
    skipped = bool(flags) and skip
    entry["gates"] = {"flags": [f.to_json() for f in flags], "passed": not flags, "skipped": skipped, **extra}
    if flags:
        from tqdm import tqdm

        line = gate_line(step, book, flags, f"{step}.gates.skip")
        tqdm.write(("warning (gates skipped): " if skipped else "error: ") + line, file=sys.stderr)
        if not skipped:
            flagged.append(line)


def stop_on_flags(step: str, flagged: list[str], report_path) -> None:
    """Raise GatesFailed naming every flagged book (the report, already written, holds the figures)."""
    if flagged:
        raise GatesFailed(
            f"{step}: {len(flagged)} book(s) far from a normal book; see the gates in {report_path}:\n"
            + "\n".join(f"  {line}" for line in flagged)
        )
