"""Stage `translate@rN`: translate the held-out (test) books whole with round N's model (r0 = base).

    python stages/translate.py --params params.yaml --round r1 --model models/r1 --text data/text --out reports/translations/r1

Chunks each book to the model's context (read from the model directory), carries the previous chunk
and its translation over, decodes greedily. Writes reports/translations/<round>/<book>.<src>-<tgt>.jsonl,
one chunk per line with its chapter, source paragraph ids, source text and translation.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from booktrans.io import atomic_dir, read_jsonl, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.model import load_model, read_info
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.translate import TranslateConfig, chunk_paragraphs, translate_streams

log = logging.getLogger("translate")


def run(params_path: Path, round_name: str, model_dir: Path, text: Path, out: Path) -> int:
    import torch

    params = load_params(params_path)
    torch.manual_seed(int(get(params, "seed")))
    info = read_info(model_dir)
    t = get(params, "translate")
    cfg = TranslateConfig(context=info.context, source_share=float(t["source_share"]), carry_share=float(t["carry_share"]),
                          max_new_factor=float(t["max_new_factor"]), batch_size=int(t["batch_size"]),
                          max_paragraphs=int(t["max_paragraphs"]), repetition_penalty=float(t["repetition_penalty"]))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tok = load_model(model_dir, dtype=str(get(params, "model.dtype")), device=device)
    books = [b for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"]
    streams = {}
    for book in books:
        for direction in t["directions"]:
            src, _tgt = direction.split("-")
            f = text / f"{book.id}.{src}.jsonl"
            if not f.exists():
                log.warning("%s: %s edition not ingested; skipped", book.id, src)
                continue
            paras = read_jsonl(f)
            if cfg.max_paragraphs:
                paras = paras[: cfg.max_paragraphs]
            chunks = chunk_paragraphs(paras, tok, int(cfg.context * cfg.source_share), src)
            streams[f"{book.id}.{direction}"] = (direction, chunks)
    total = sum(len(c) for _, c in streams.values())
    with tqdm(total=total, desc=f"translate {round_name}", unit="chunk") as bar:
        results = translate_streams(model, tok, streams, cfg, progress=bar)
    with atomic_dir(out) as tmp:
        for key, rows in results.items():
            write_jsonl(tmp / f"{key}.jsonl", rows)
    log.info("%s: translated %d chunks of %d book(s) into %s", round_name, total, len(books), out)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.round, args.model, args.text, args.out)


if __name__ == "__main__":
    run_main(main)
