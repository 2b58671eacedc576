"""Stage `base`: the untouched base model, round r0.

    python stages/base.py --params params.yaml --text data/text --out models/r0

With model.base: tiny, trains a byte-level BPE tokenizer on the training books' text and builds a
small random-initialised Qwen2 model from a config (CPU demo; its translations mean nothing). With a
local path, checks the checkout and writes a pointer (nothing is copied). Writes models/r0/.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.io import atomic_dir, read_jsonl
from booktrans.manifest import load_manifest
from booktrans.model import TinyConfig, build_tiny_model, train_tokenizer, write_pointer
from booktrans.model.store import ModelInfo, write_info
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("base")


def run(params_path: Path, text: Path, out: Path) -> int:
    params = load_params(params_path)
    base = str(get(params, "model.base"))
    context = int(get(params, "model.context"))
    with atomic_dir(out) as tmp:
        if base != "tiny":
            write_pointer(tmp, base, context)
            log.info("r0 points at %s", base)
            return 0
        books = load_manifest(get(params, "ingest.manifest"))
        texts = []
        for book in books:
            if book.split != "train":
                continue  # the tokenizer sees no held-out text
            for lang in ("zh", "en"):
                f = text / f"{book.id}.{lang}.jsonl"
                if f.exists():
                    texts += [p["text"] for p in read_jsonl(f)]
        t = get(params, "model.tiny")
        cfg = TinyConfig(vocab_size=int(t["vocab_size"]), hidden_size=int(t["hidden_size"]),
                         intermediate_size=int(t["intermediate_size"]), num_hidden_layers=int(t["layers"]),
                         num_attention_heads=int(t["heads"]), num_key_value_heads=int(t["kv_heads"]),
                         max_position_embeddings=int(t["max_positions"]), seed=int(get(params, "seed")))
        tok = train_tokenizer(texts, cfg.vocab_size)
        model = build_tiny_model(tok, cfg)
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        write_info(tmp, ModelInfo(kind="full", context=context, round="r0", extra={"tiny": True}))
        log.info("built tiny Qwen2 (%d parameters, vocabulary %d) in %s",
                 sum(p.numel() for p in model.parameters()), len(tok), out)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, default=Path("models/r0"))
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.text, args.out)


if __name__ == "__main__":
    run_main(main)
