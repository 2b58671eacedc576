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
from pathlib import Path

from booktrans.evaluate.scoring import RoundEvalConfig, evaluate_round
from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--translations", type=Path, required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument(
        "--lexicon",
        type=Path,
        default=Path("data/lexicon.json"),
        help="the lexical table the align stage learned (the omission detector's evidence)",
    )
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    books = [b.id for b in load_manifest(P.ingest.manifest) if b.split == "test"]
    evaluate_round(
        args.round,
        books,
        list(P.translate.directions),
        args.translations,
        args.text,
        args.aligned,
        args.lexicon,
        RoundEvalConfig.from_params(P.evaluate),
    ).write(args.out, args.metrics)
    return 0


if __name__ == "__main__":
    run_main(main)
