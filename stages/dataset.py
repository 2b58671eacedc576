"""Stage `dataset@rN`: long bilingual training documents for one round.

    python stages/dataset.py --params params.yaml --round r1 --aligned data/aligned --model models/r0 --out data/sft/r1

Cuts each book's aligned beads into chat-format documents that fit the round's context (tokens of
the base model's tokenizer, chat template included). Writes data/sft/<round>/{train,valid}.jsonl,
one {"messages": [...], "meta": {...}} per line, and data/sft/<round>/stats.json.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from booktrans.dataset import DatasetConfig, build_documents
from booktrans.io import atomic_dir, read_jsonl, write_json, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.model import load_tokenizer
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("dataset")


def run(params_path: Path, round_name: str, aligned: Path, model: Path, out: Path) -> int:
    params = load_params(params_path)
    books = load_manifest(get(params, "ingest.manifest"))
    cfg = DatasetConfig(context=int(get(params, f"rounds.{round_name}.context")),
                        en_zh_share=float(get(params, "dataset.en_zh_share")),
                        min_beads=int(get(params, "dataset.min_beads")), seed=int(get(params, "seed")))
    max_docs = int(get(params, f"rounds.{round_name}.max_docs", 0))
    tok = load_tokenizer(model)
    splits: dict[str, list[dict]] = {"train": [], "valid": []}
    stats: dict = {"round": round_name, "context": cfg.context, "books": {}}
    for book in tqdm(books, desc=f"dataset {round_name}", unit="book"):
        if book.split == "test":
            continue  # held-out books never reach training documents
        f = aligned / f"{book.id}.jsonl"
        if not f.exists():
            stats["books"][book.id] = {"status": "not aligned"}
            continue
        docs, s = build_documents({"id": book.id, "genre": book.genre, "license": book.license, "split": book.split},
                                  read_jsonl(f), tok, cfg)
        splits[book.split].extend(docs)
        stats["books"][book.id] = s
    if max_docs > 0:
        splits["train"] = splits["train"][:max_docs]
    for name, docs in splits.items():
        stats[name] = {"documents": len(docs), "tokens": sum(d["meta"]["tokens"] for d in docs),
                       "max_tokens": max((d["meta"]["tokens"] for d in docs), default=0)}
    with atomic_dir(out) as tmp:
        for name, docs in splits.items():
            write_jsonl(tmp / f"{name}.jsonl", docs)
        write_json(tmp / "stats.json", stats)
    log.info("%s: %d train / %d valid documents (max %d tokens, budget %d)", round_name,
             stats["train"]["documents"], stats["valid"]["documents"], stats["train"]["max_tokens"], cfg.context)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument("--model", type=Path, default=Path("models/r0"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.round, args.aligned, args.model, args.out)


if __name__ == "__main__":
    run_main(main)
