"""Stage `evaluate@rN`: score round N's translations of the test books against the source and reference editions.

    python stages/evaluate.py --params params.yaml --round r1 --translations reports/translations/r1 \
        --text data/text --aligned data/aligned --lexicon data/lexicon.json --metrics reports/metrics/r1.json \
        --out reports/evaluation/r1

Writes reports/metrics/<round>.json (DVC metrics: per direction and per book BLEU, chrF, TER, d-BLEU,
COMET, dropped (omission), partial, truncated and addition rates, length ratio and its late/early
drift, repetition, untranslated text, flag counts) and reports/evaluation/<round>/: position.json
(length ratio and omission rate over position in the document, a DVC plot), details.json
(signatures, flags, per-chapter numbers, examples of dropped and partial sentences, truncated chunks)
segments/<book>.<direction>.jsonl (the (src, mt, ref) segments scored) and
omissions/<book>.<direction>.html (every source sentence beside its translation, the dropped and
partial ones marked, a jump list; the report links to it).

The omission detector's cross-lingual evidence is CC-CEDICT plus the lexical table the align stage
learned from the training books' confident beads (data/lexicon.json, ``SameMeaning(table)``, its
entries counted from ``evaluate.omission.table_min_prob``); the stage depends on that file and stops
when it is missing.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from booktrans.align.similarity import LexicalTable
from booktrans.errors import BooktransError
from booktrans.evaluate import corpus_scores
from booktrans.evaluate.book import BookEvalConfig, combine_positions, evaluate_book, flags_of
from booktrans.evaluate.omission import TABLE_MIN_PROB, OmissionConfig, table_translator
from booktrans.evaluate.omission.render import book_rows, html_page
from booktrans.io import atomic_dir, read_jsonl, write_json, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("evaluate")

SUMMED = ("chunks", "source_sentences", "translation_sentences", "segments", "repeated_sentences", "untranslated_spans",
          "empty_translations", "wrong_language_chunks", "truncated_chunks")


def _combine(books: list[dict]) -> dict:
    """Direction-level numbers from per-book ones: counts summed, rates weighted by their base."""
    out = {k: sum(b["metrics"][k] for b in books) for k in SUMMED}
    w_src = out["source_sentences"] or 1
    for k in ("omission_rate", "partial_rate", "truncated_rate", "coverage"):
        out[k] = round(sum(b["metrics"][k] * b["metrics"]["source_sentences"] for b in books) / w_src, 4)
    out["addition_rate"] = round(sum(b["metrics"]["addition_rate"] * b["metrics"]["translation_sentences"] for b in books)
                                 / (out["translation_sentences"] or 1), 4)
    for k in ("length_ratio", "length_ratio_late_vs_early", "repetition_rate", "untranslated_rate"):
        vals = [(b["metrics"][k], b["metrics"]["source_sentences"]) for b in books if b["metrics"][k] is not None]
        out[k] = round(sum(v * w for v, w in vals) / sum(w for _, w in vals), 4) if vals else None
    return out


def _comet(params: dict):
    ckpt = str(get(params, "evaluate.comet.checkpoint") or "")
    if not ckpt:
        return None, "absent: no COMET checkpoint configured (evaluate.comet.checkpoint)"
    from booktrans.evaluate.comet import load_comet

    return load_comet(ckpt), None


def load_table(lexicon: Path) -> LexicalTable:
    """The corpus's lexical table, for the omission detector's cross-lingual evidence."""
    if not lexicon.is_file():
        raise BooktransError(f"{lexicon}: no lexical table; the align stage writes it (`dvc repro align`), "
                             f"and the omission detector needs it")
    return LexicalTable.load(lexicon)


def run(params_path: Path, round_name: str, translations: Path, text: Path, aligned: Path, metrics_out: Path, out: Path,
        lexicon: Path = Path("data/lexicon.json")) -> int:
    table = load_table(lexicon)
    params = load_params(params_path)
    books = [b for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"]
    directions = list(get(params, "translate.directions"))
    if not translations.is_dir():
        raise BooktransError(f"{translations}: no translations; run `dvc repro translate@{round_name}`")
    expected = {f"{b.id}.{d}.jsonl" for b in books for d in directions}
    stray = sorted(p.name for p in translations.glob("*.jsonl") if p.name not in expected)
    if stray:
        raise BooktransError(f"{translations}: {', '.join(stray)} match no test book and direction of the manifest "
                             f"(test books: {', '.join(b.id for b in books)}); the translations are of other books")
    om = get(params, "evaluate.omission")
    cfg = BookEvalConfig(position_bins=int(get(params, "evaluate.position_bins")),
                         omission=OmissionConfig(drop_cost=float(om["drop_cost"]), partial_threshold=float(om["partial_threshold"])))
    # the omission detector's cross-lingual evidence (lexicon.Translator)
    translator = table_translator(table, float(om.get("table_min_prob", TABLE_MIN_PROB)))
    comet_model, comet_absent = _comet(params)
    result: dict = {"round": round_name, "directions": {}, "books": {}}
    details: dict = {"round": round_name, "directions": {}, "books": {}}
    positions: dict[int, dict] = {}
    segments_out: dict[str, list[dict]] = {}
    pages: dict[str, str] = {}
    for direction in directions:
        src, tgt = direction.split("-")
        per_book = []
        for book in tqdm(books, desc=f"evaluate {round_name} {direction}", unit="book"):
            hyp_file = translations / f"{book.id}.{direction}.jsonl"
            if not hyp_file.exists():
                raise BooktransError(f"{hyp_file}: no translation of test book {book.id} ({direction}); re-run translate@{round_name}")
            beads_file = aligned / f"{book.id}.jsonl"
            src_file = text / f"{book.id}.{src}.jsonl"
            for f in (beads_file, src_file):
                if not f.exists():
                    raise BooktransError(f"{f}: missing; test book {book.id} needs its {src} text and its alignment")
            ev = evaluate_book(read_jsonl(hyp_file), read_jsonl(src_file), read_jsonl(beads_file), src, tgt, hyp_file, cfg, translator)
            ev["book"] = book.id
            per_book.append(ev)
            segments_out[f"{book.id}.{direction}"] = ev["segments"]
            m = ev["metrics"]
            pages[f"{book.id}.{direction}"] = html_page(
                book_rows(ev["sentences"]), f"{round_name} · {book.id} · {direction}: dropped and partial sentences",
                f"{m['omission_rate']:.1%} of {m['source_sentences']} source sentences dropped, {m['partial_rate']:.1%} partial")
        hyps = [s["mt"] for ev in per_book for s in ev["segments"]]
        refs = [s["ref"] for ev in per_book for s in ev["segments"]]
        scores = corpus_scores(hyps, refs, tgt, docs=([ev["docs"][0] for ev in per_book], [ev["docs"][1] for ev in per_book]))
        comet_scores: list[float] = []
        if comet_model is not None:
            from booktrans.evaluate.comet import score_segments

            segs = [{"src": s["src"], "mt": s["mt"], "ref": s["ref"]} for ev in per_book for s in ev["segments"]]
            comet_scores = score_segments(comet_model, segs, batch_size=int(get(params, "evaluate.comet.batch_size")))
        k = 0
        for ev in per_book:
            n = len(ev["segments"])
            b = corpus_scores([s["mt"] for s in ev["segments"]], [s["ref"] for s in ev["segments"]], tgt, docs=([ev["docs"][0]], [ev["docs"][1]]))
            for s, c in zip(ev["segments"], comet_scores[k:k + n]):
                s["comet"] = round(c, 4)
            book_comet = round(sum(comet_scores[k:k + n]) / n, 4) if comet_scores else None
            k += n
            m = {**{x: b[x] for x in ("bleu", "chrf", "ter", "d_bleu")}, "comet": book_comet, **ev["metrics"], "flags": len(ev["flags"])}
            result["books"].setdefault(ev["book"], {})[direction] = m
            details["books"].setdefault(ev["book"], {})[direction] = {
                "flags": ev["flags"], "chapters": ev["chapters"], "positions": ev["positions"],
                "omissions": ev["omissions"], "partials": ev["partials"], "truncated": ev["truncated"],
                "untranslated": ev["untranslated"], "page": f"omissions/{ev['book']}.{direction}.html"}
            for flag in ev["flags"]:
                log.warning("%s %s %s: %s", round_name, ev["book"], direction, flag)
        combined = _combine(per_book)
        for p in combine_positions([ev["positions"] for ev in per_book]):
            row = positions.setdefault(p["bin"], {"position": p["position"]})
            row[f"{direction}_length_ratio"] = p["length_ratio"]
            row[f"{direction}_omission_rate"] = p["omission_rate"]
            row[f"{direction}_truncated_rate"] = p["truncated_rate"]
        comet = round(sum(comet_scores) / len(comet_scores), 4) if comet_scores else None
        flags = flags_of(combined, src, tgt)
        result["directions"][direction] = {**{x: scores[x] for x in ("bleu", "chrf", "ter", "d_bleu")}, "comet": comet,
                                           **combined, "flags": len(flags)}
        details["directions"][direction] = {"signatures": scores["signatures"], "flags": flags,
                                            "comet": {"checkpoint": str(get(params, "evaluate.comet.checkpoint") or ""),
                                                      "absent": comet_absent} if comet is None else
                                            {"checkpoint": str(get(params, "evaluate.comet.checkpoint")), "segments": len(comet_scores)}}
        if comet is None:
            result["directions"][direction]["comet_absent"] = comet_absent
    with atomic_dir(out) as tmp:
        write_json(tmp / "details.json", details)
        write_json(tmp / "position.json", {"position": [positions[k] for k in sorted(positions)]})
        for key, segs in segments_out.items():
            write_jsonl(tmp / "segments" / f"{key}.jsonl", segs)
        for key, page in pages.items():
            (tmp / "omissions").mkdir(exist_ok=True)
            (tmp / "omissions" / f"{key}.html").write_text(page, encoding="utf-8")
    write_json(metrics_out, result)
    for d, m in result["directions"].items():
        log.info("%s %s: BLEU %.2f chrF %.2f TER %.2f d-BLEU %.2f COMET %s dropped %.1f%% partial %.1f%% truncated %.1f%% "
                 "length ratio %s", round_name, d, m["bleu"], m["chrf"], m["ter"], m["d_bleu"],
                 "absent" if m["comet"] is None else f"{m['comet']:.4f}", 100 * m["omission_rate"], 100 * m["partial_rate"],
                 100 * m["truncated_rate"], m["length_ratio"])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--translations", type=Path, required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument("--lexicon", type=Path, default=Path("data/lexicon.json"),
                    help="the lexical table the align stage learned (the omission detector's evidence)")
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.round, args.translations, args.text, args.aligned, args.metrics, args.out, args.lexicon)


if __name__ == "__main__":
    run_main(main)
