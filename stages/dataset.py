"""Stage `dataset@rN`: long bilingual training documents for one round.

    python stages/dataset.py --params params.yaml --round r1 --aligned data/aligned --model models/r0 --out data/sft/r1 --card reports/dataset

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
import logging
from pathlib import Path

from tqdm import tqdm

from booktrans.dataset import DatasetConfig, build_documents
from booktrans.dataset.card import histogram_svg, render_card
from booktrans.dataset.export import write_exports
from booktrans.dataset.select import LeakageIndex, book_shingles, dedupe, mix, near_duplicates
from booktrans.io import atomic_dir, atomic_write_text, read_json, read_jsonl, write_json, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.model import load_tokenizer
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("dataset")


def run(params_path: Path, round_name: str, aligned: Path, model: Path, out: Path, card_dir: Path) -> int:
    params = load_params(params_path)
    books = load_manifest(get(params, "ingest.manifest"))
    r = get(params, f"rounds.{round_name}")
    d = get(params, "dataset")
    seed = int(get(params, "seed"))
    cfg = DatasetConfig(context=int(r["context"]), en_zh_share=float(d["en_zh_share"]), min_beads=int(d["min_beads"]),
                        max_chars=int(r.get("max_chars", 0)), seed=seed)
    short_share = float(r.get("short_share", 0.0))
    short_cfg = DatasetConfig(context=min(int(d["short_context"]), cfg.context), en_zh_share=cfg.en_zh_share,
                              min_beads=1, seed=seed + 1)
    tok = load_tokenizer(model)
    leakage = LeakageIndex(zh_n=int(d["leakage_ngram"]["zh"]), en_n=int(d["leakage_ngram"]["en"]))
    long_docs: dict[str, list[dict]] = {"train": [], "valid": []}
    short_docs: list[dict] = []
    stats: dict = {"round": round_name, "context": cfg.context, "max_chars": cfg.max_chars,
                   "short_context": short_cfg.context, "short_share": short_share, "books": {}}
    shingles: dict[str, tuple[str, set[str]]] = {}
    for book in tqdm(books, desc=f"dataset {round_name}", unit="book"):
        f = aligned / f"{book.id}.jsonl"
        if not f.exists():
            stats["books"][book.id] = {"status": "not aligned"}
            continue
        beads = read_jsonl(f)
        shingles[book.id] = (book.split, book_shingles("".join(s for b in beads for s in b["zh"]),
                                                       " ".join(s for b in beads for s in b["en"])))
        if book.split in ("valid", "test"):
            for b in beads:  # held-out text, both languages, for the leakage check
                leakage.add(book.id, "".join(b["zh"]) + "\n" + " ".join(b["en"]), book.split)
        if book.split == "test":
            continue
        meta = {"id": book.id, "genre": book.genre, "license": book.license, "split": book.split}
        docs, s = build_documents(meta, beads, tok, cfg)
        long_docs[book.split].extend(docs)
        if short_share > 0 and book.split == "train" and short_cfg.context < cfg.context:
            short, _ = build_documents(meta, beads, tok, short_cfg)
            for doc in short:
                doc["meta"]["kind"] = "short"
            short_docs.extend(short)
        stats["books"][book.id] = s
    for docs in long_docs.values():
        for doc in docs:
            doc["meta"]["kind"] = "long"
    train, dup_long = dedupe(long_docs["train"])
    short_docs, dup_short = dedupe(short_docs)
    valid, dup_valid = dedupe(long_docs["valid"])
    weights = {k: float(v) for k, v in d["genre_weights"].items()}
    max_docs = int(r.get("max_docs", 0))
    train = mix(train, weights, max_docs, seed)
    if short_share > 0 and short_docs:
        n_short = round(short_share / (1 - short_share) * len(train)) if short_share < 1 else len(short_docs)
        train = train + mix(short_docs, weights, min(n_short, len(short_docs)), seed + 1)
    stats["duplicates_removed"] = dup_long + dup_short + dup_valid
    stats["leakage"] = leakage.check(train + valid)
    stats["near_duplicates"] = near_duplicates(shingles, threshold=float(d.get("near_duplicate_jaccard", 0.5)))
    for pair in stats["near_duplicates"]:
        log.warning("near-duplicate books across splits: %s (%s) and %s (%s), Jaccard %.2f", pair["books"][0],
                    pair["splits"][0], pair["books"][1], pair["splits"][1], pair["jaccard"])
    splits = {"train": train, "valid": valid}
    for name, docs in splits.items():
        stats[name] = {"documents": len(docs), "tokens": sum(x["meta"]["tokens"] for x in docs),
                       "max_tokens": max((x["meta"]["tokens"] for x in docs), default=0),
                       "short_documents": sum(1 for x in docs if x["meta"]["kind"] == "short")}
    with atomic_dir(out) as tmp:
        for name, docs in splits.items():
            write_jsonl(tmp / f"{name}.jsonl", docs)
        write_json(tmp / "stats.json", stats)
        write_exports(tmp, round_name, splits)
    svg = f"{round_name}-tokens.svg"
    atomic_write_text(card_dir / svg, histogram_svg([x["meta"]["tokens"] for x in train], cfg.context,
                                                    title=f"{round_name}: training documents by length"))
    proofread = read_json(aligned / "proofreading.json")["books"] if (aligned / "proofreading.json").exists() else {}
    proofread = {b.id: proofread[b.id] for b in books if b.split != "test" and b.id in proofread}  # the card's figure
    atomic_write_text(card_dir / f"{round_name}.md", render_card(round_name, stats, train, valid, svg, proofreading=proofread))
    log.info("%s: %d train (%d short) / %d valid documents, longest %d tokens (budget %d), %d duplicates removed, no leaks",
             round_name, stats["train"]["documents"], stats["train"]["short_documents"], stats["valid"]["documents"],
             stats["train"]["max_tokens"], cfg.context, stats["duplicates_removed"])
    return 0


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
    return run(args.params, args.round, args.aligned, args.model, args.out, args.card)


if __name__ == "__main__":
    run_main(main)
