"""Stage `evaluate@rN`: score round N's translations of the test books against the reference editions.

    python stages/evaluate.py --params params.yaml --round r1 --translations reports/translations/r1 --text data/text --out reports/metrics/r1.json

Writes reports/metrics/<round>.json (a DVC metrics file): per direction and per book, sacrebleu
BLEU (tokenizer zh into Chinese, 13a into English) and chrF with their signatures, and the length
ratio of translation to reference (characters for Chinese, words for English).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.evaluate import score_documents
from booktrans.io import read_jsonl, write_json
from booktrans.manifest import load_manifest
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("evaluate")


def run(params_path: Path, round_name: str, translations: Path, text: Path, out: Path) -> int:
    params = load_params(params_path)
    books = [b for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"]
    directions: dict = {}
    per_book: dict = {}
    for direction in get(params, "translate.directions"):
        src, tgt = direction.split("-")
        hyps, refs = [], []
        for book in books:
            hyp_file = translations / f"{book.id}.{direction}.jsonl"
            ref_file = text / f"{book.id}.{tgt}.jsonl"
            if not hyp_file.exists() or not ref_file.exists():
                raise BooktransError(f"{hyp_file}: no translation of test book {book.id} ({direction}); re-run translate@{round_name}")
            rows = read_jsonl(hyp_file)
            max_paras = int(get(params, "translate.max_paragraphs"))
            ref_paras = read_jsonl(ref_file)
            hyp = "\n".join(r["translation"] for r in rows)
            if max_paras:
                # only part of the source was translated: compare with the same share of the reference
                src_total = len(read_jsonl(text / f"{book.id}.{src}.jsonl"))
                keep = max(1, round(len(ref_paras) * min(1.0, max_paras / max(src_total, 1))))
                ref_paras = ref_paras[:keep]
            ref = "\n".join(p["text"] for p in ref_paras)
            hyps.append(hyp)
            refs.append(ref)
            per_book.setdefault(book.id, {})[direction] = {k: v for k, v in score_documents([hyp], [ref], tgt).items() if k != "signatures"}
        directions[direction] = score_documents(hyps, refs, tgt)
    write_json(out, {"round": round_name, "directions": directions, "books": per_book})
    for d, m in directions.items():
        log.info("%s %s: BLEU %.2f chrF %.2f length ratio %s", round_name, d, m["bleu"], m["chrf"], m["length_ratio"])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--translations", type=Path, required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.round, args.translations, args.text, args.out)


if __name__ == "__main__":
    run_main(main)
