"""Stage `dataset@rN`: long bilingual training documents for one round.

    python stages/dataset.py --params params.yaml --round r1 --aligned data/aligned --model models/r0 \
        --out data/sft/r1 --card reports/dataset

Cuts each book's kept beads into chat-format documents within the round's context (tokens of the
base model's tokenizer, chat template included; optionally also at most rounds.<r>.max_chars Chinese
characters), adds a share of short documents in long rounds, removes duplicates, mixes genres by
dataset.genre_weights up to rounds.<r>.max_docs, and proves with hashed n-grams that no held-out
(test) book's text is in a training document. Writes data/sft/<round>/{train,valid}.jsonl
({"messages": [...], "meta": {...}} per line), dataset_info.json (LLaMA-Factory), hf/ (a Hugging
Face datasets copy), stats.json, and the dataset card reports/dataset/<round>.md with its
token-length histogram <round>-tokens.svg.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.dataset.build import RoundData, build_round_data
from booktrans.manifest import load_manifest
from booktrans.model import load_tokenizer
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument("--model", type=Path, default=Path("models/r0"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--card", type=Path, default=Path("reports/dataset"))
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    build_round_data(
        args.round,
        load_manifest(P.ingest.manifest),
        args.aligned,
        load_tokenizer(args.model),
        RoundData.from_params(P, args.round),
        args.out,
        args.card,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
