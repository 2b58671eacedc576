"""One round's (or outside system's) translations of the test books scored against the source and
reference editions: what the ``evaluate@rN`` and ``evaluate-system@NAME`` stages write.

``evaluate_round`` scores every test book per direction (``book.evaluate_book``: omissions, partial
sentences, truncation, length drift, repetition, untranslated text), the corpus and per-book BLEU,
chrF, TER and d-BLEU (``corpus_scores``), COMET when a checkpoint is given, and combines the books
(counts summed, rates weighted by their base). ``RoundEvaluation.write`` writes the metrics file and
the evaluation folder (details.json, position.json, segments/, omissions/ pages).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import BooktransError
from ..io import atomic_dir, read_jsonl, write_json, write_jsonl
from . import corpus_scores
from .book import BookEvalConfig, combine_positions, evaluate_book, flags_of

log = logging.getLogger("evaluate")

SUMMED = (
    "chunks",
    "source_sentences",
    "translation_sentences",
    "segments",
    "repeated_sentences",
    "untranslated_spans",
    "empty_translations",
    "wrong_language_chunks",
    "truncated_chunks",
)


@dataclass(frozen=True)
class RoundEvalConfig:
    """params ``evaluate`` (booktrans.params.EvaluateParams; the values live in params.yaml)."""

    book: BookEvalConfig
    table_min_prob: float  # lexical-table entries the omission detector counts (data/lexicon.json)
    comet_checkpoint: str  # empty: COMET reported as absent, with the reason
    comet_batch_size: int

    @classmethod
    def from_params(cls, evaluate) -> "RoundEvalConfig":
        """From the typed ``evaluate`` record (booktrans.params.EvaluateParams)."""
        from .omission import OmissionConfig

        om = evaluate.omission
        omission = OmissionConfig.from_params(om)
        return cls(
            BookEvalConfig(position_bins=evaluate.position_bins, omission=omission),
            table_min_prob=om.table_min_prob,
            comet_checkpoint=evaluate.comet.checkpoint,
            comet_batch_size=evaluate.comet.batch_size,
        )


@dataclass
class RoundEvaluation:
    result: dict  # the metrics file: per direction and per book
    details: dict
    positions: dict[int, dict]
    segments: dict[str, list[dict]]  # <book>.<direction> -> scored segments
    pages: dict[str, str]  # <book>.<direction> -> the omissions page

    def write(self, out: Path, metrics: Path) -> None:
        """The evaluation folder ``out`` (atomically) and the metrics file."""
        with atomic_dir(out) as tmp:
            write_json(tmp / "details.json", self.details)
            write_json(tmp / "position.json", {"position": [self.positions[k] for k in sorted(self.positions)]})
            for key, segs in self.segments.items():
                write_jsonl(tmp / "segments" / f"{key}.jsonl", segs)
            for key, page in self.pages.items():
                (tmp / "omissions").mkdir(exist_ok=True)
                (tmp / "omissions" / f"{key}.html").write_text(page, encoding="utf-8")
        write_json(metrics, self.result)
        for d, m in self.result["directions"].items():
            log.info(
                "%s %s: BLEU %.2f chrF %.2f TER %.2f d-BLEU %.2f COMET %s dropped %.1f%% partial %.1f%% "
                "truncated %.1f%% "
                "length ratio %s",
                self.result["round"],
                d,
                m["bleu"],
                m["chrf"],
                m["ter"],
                m["d_bleu"],
                "absent" if m["comet"] is None else f"{m['comet']:.4f}",
                100 * m["omission_rate"],
                100 * m["partial_rate"],
                100 * m["truncated_rate"],
                m["length_ratio"],
            )


def combine_books(books: list[dict]) -> dict:
    """Direction-level numbers from per-book ones: counts summed, rates weighted by their base."""
    out = {k: sum(b["metrics"][k] for b in books) for k in SUMMED}
    w_src = out["source_sentences"] or 1
    for k in ("omission_rate", "partial_rate", "truncated_rate", "coverage"):
        out[k] = round(sum(b["metrics"][k] * b["metrics"]["source_sentences"] for b in books) / w_src, 4)
    out["addition_rate"] = round(
        sum(b["metrics"]["addition_rate"] * b["metrics"]["translation_sentences"] for b in books)
        / (out["translation_sentences"] or 1),
        4,
    )
    for k in ("length_ratio", "length_ratio_late_vs_early", "repetition_rate", "untranslated_rate"):
        vals = [(b["metrics"][k], b["metrics"]["source_sentences"]) for b in books if b["metrics"][k] is not None]
        out[k] = round(sum(v * w for v, w in vals) / sum(w for _, w in vals), 4) if vals else None
    return out


def load_table(lexicon: Path):
    """The corpus's lexical table, for the omission detector's cross-lingual evidence."""
    from ..align.similarity import LexicalTable

    if not lexicon.is_file():
        raise BooktransError(
            f"{lexicon}: no lexical table; the align stage writes it (`dvc repro align`), "
            f"and the omission detector needs it"
        )
    return LexicalTable.load(lexicon)


def _read_book(name: str, book: str, direction: str, translations: Path, text: Path, aligned: Path):
    src = direction.split("-")[0]
    hyp_file = translations / f"{book}.{direction}.jsonl"
    if not hyp_file.exists():
        raise BooktransError(f"{hyp_file}: no translation of test book {book} ({direction}); re-run translate@{name}")
    beads_file, src_file = aligned / f"{book}.jsonl", text / f"{book}.{src}.jsonl"
    for f in (beads_file, src_file):
        if not f.exists():
            raise BooktransError(f"{f}: missing; test book {book} needs its {src} text and its alignment")
    return hyp_file, read_jsonl(hyp_file), read_jsonl(src_file), read_jsonl(beads_file)


def evaluate_round(
    name: str,
    books: list[str],
    directions: list[str],
    translations: Path,
    text: Path,
    aligned: Path,
    lexicon: Path,
    cfg: RoundEvalConfig,
) -> RoundEvaluation:
    """Score the translations in ``translations`` (<book>.<src>-<tgt>.jsonl of every test book and
    direction) of round or system ``name``; ``lexicon``: the align stage's lexical table."""
    from tqdm import tqdm

    from .omission import table_translator
    from .omission.render import book_rows, html_page

    table = load_table(lexicon)
    if not translations.is_dir():
        raise BooktransError(f"{translations}: no translations; run `dvc repro translate@{name}`")
    expected = {f"{b}.{d}.jsonl" for b in books for d in directions}
    stray = sorted(p.name for p in translations.glob("*.jsonl") if p.name not in expected)
    if stray:
        raise BooktransError(
            f"{translations}: {', '.join(stray)} match no test book and direction of the manifest "
            f"(test books: {', '.join(books)}); the translations are of other books"
        )
    translator = table_translator(table, cfg.table_min_prob)  # the omission detector's cross-lingual evidence
    comet_model, comet_absent = None, "absent: no COMET checkpoint configured (evaluate.comet.checkpoint)"
    if cfg.comet_checkpoint:
        from .comet import load_comet

        comet_model, comet_absent = load_comet(cfg.comet_checkpoint), None
    ev_all = RoundEvaluation(
        {"round": name, "directions": {}, "books": {}}, {"round": name, "directions": {}, "books": {}}, {}, {}, {}
    )
    result, details, positions = ev_all.result, ev_all.details, ev_all.positions
    for direction in directions:
        src, tgt = direction.split("-")
        per_book = []
        for book in tqdm(books, desc=f"evaluate {name} {direction}", unit="book"):
            hyp_file, hyp, source, beads = _read_book(name, book, direction, translations, text, aligned)
            ev = evaluate_book(hyp, source, beads, src, tgt, hyp_file, cfg=cfg.book, translator=translator)
            ev["book"] = book
            per_book.append(ev)
            ev_all.segments[f"{book}.{direction}"] = ev["segments"]
            m = ev["metrics"]
            ev_all.pages[f"{book}.{direction}"] = html_page(
                book_rows(ev["sentences"]),
                f"{name} · {book} · {direction}: dropped and partial sentences",
                f"{m['omission_rate']:.1%} of {m['source_sentences']} source sentences dropped, "
                f"{m['partial_rate']:.1%} partial",
            )
        hyps = [s["mt"] for ev in per_book for s in ev["segments"]]
        refs = [s["ref"] for ev in per_book for s in ev["segments"]]
        scores = corpus_scores(
            hyps, refs, tgt, docs=([ev["docs"][0] for ev in per_book], [ev["docs"][1] for ev in per_book])
        )
        comet_scores: list[float] = []
        if comet_model is not None:
            from .comet import score_segments

            segs = [{"src": s["src"], "mt": s["mt"], "ref": s["ref"]} for ev in per_book for s in ev["segments"]]
            comet_scores = score_segments(comet_model, segs, batch_size=cfg.comet_batch_size)
        k = 0
        for ev in per_book:
            n = len(ev["segments"])
            b = corpus_scores(
                [s["mt"] for s in ev["segments"]],
                [s["ref"] for s in ev["segments"]],
                tgt,
                docs=([ev["docs"][0]], [ev["docs"][1]]),
            )
            for s, c in zip(ev["segments"], comet_scores[k : k + n]):
                s["comet"] = round(c, 4)
            book_comet = round(sum(comet_scores[k : k + n]) / n, 4) if comet_scores else None
            k += n
            m = {
                **{x: b[x] for x in ("bleu", "chrf", "ter", "d_bleu")},
                "comet": book_comet,
                **ev["metrics"],
                "flags": len(ev["flags"]),
            }
            result["books"].setdefault(ev["book"], {})[direction] = m
            details["books"].setdefault(ev["book"], {})[direction] = {
                "flags": ev["flags"],
                "chapters": ev["chapters"],
                "positions": ev["positions"],
                "omissions": ev["omissions"],
                "partials": ev["partials"],
                "truncated": ev["truncated"],
                "untranslated": ev["untranslated"],
                "page": f"omissions/{ev['book']}.{direction}.html",
            }
            for flag in ev["flags"]:
                log.warning("%s %s %s: %s", name, ev["book"], direction, flag)
        combined = combine_books(per_book)
        for p in combine_positions([ev["positions"] for ev in per_book]):
            row = positions.setdefault(p["bin"], {"position": p["position"]})
            row[f"{direction}_length_ratio"] = p["length_ratio"]
            row[f"{direction}_omission_rate"] = p["omission_rate"]
            row[f"{direction}_truncated_rate"] = p["truncated_rate"]
        comet = round(sum(comet_scores) / len(comet_scores), 4) if comet_scores else None
        flags = flags_of(combined, src, tgt)
        result["directions"][direction] = {
            **{x: scores[x] for x in ("bleu", "chrf", "ter", "d_bleu")},
            "comet": comet,
            **combined,
            "flags": len(flags),
        }
        details["directions"][direction] = {
            "signatures": scores["signatures"],
            "flags": flags,
            "comet": {"checkpoint": cfg.comet_checkpoint, "absent": comet_absent}
            if comet is None
            else {"checkpoint": cfg.comet_checkpoint, "segments": len(comet_scores)},
        }
        if comet is None:
            result["directions"][direction]["comet_absent"] = comet_absent
    return ev_all


def write_skipped(name: str, note_file: Path, out: Path, metrics: Path) -> None:
    """An outside system its translate stage skipped (no API key): a metrics file and an evaluation
    folder that say so, with the reason, instead of numbers (the same bytes on every run)."""
    from ..io import read_json

    note = read_json(note_file)
    with atomic_dir(out) as tmp:
        write_json(tmp / "skipped.json", note)
    write_json(metrics, {"round": name, "system": name, "skipped": note["skipped"]})
