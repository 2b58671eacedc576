"""Whole-book translation speed with the tiny CPU model: chapters filling the batch (what the translate
stage does) against lock-step streams (one chunk per book and direction per batch, the former
scheduler), and one thread against two.

    python bench/translate_speed.py [--model models/r0] [--context 1024] [--batch-size 8] [--max-new-tokens 48]

Translates the test book of the sample (night-train, both directions) with the same engine, the same
chunks and the same output cap each way, and prints wall time, chunks per second and generate calls.
Without --model a tiny model is built from the sample books first (as the base stage does).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tiny_model(folder: Path) -> Path:
    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.manifest import load_manifest
    from booktrans.model import TinyConfig, build_tiny_model, train_tokenizer
    from booktrans.model.store import ModelInfo, write_info
    from booktrans.params import load

    P = load(ROOT / "params.yaml")
    texts = [
        p.text
        for b in load_manifest(ROOT / "data" / "books.yaml")
        for lang in ("zh", "en")
        for p in ingest_file(ROOT / b.file(lang), lang, IngestOptions.from_params(P.ingest)).paragraphs
    ]
    tok = train_tokenizer(texts, 4000)
    model = build_tiny_model(tok, TinyConfig.from_params(P.model.tiny, P.seed))
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    write_info(folder, ModelInfo(kind="full", context=1024, extra={"tiny": True}))
    return folder


class Counting:
    def __init__(self, engine):
        self.engine, self.calls, self.parallel = engine, 0, False

    def prompt_length(self, messages):
        return self.engine.prompt_length(messages)

    def generate(self, requests):
        self.calls += 1
        return self.engine.generate(requests)


def lock_step(engine, streams, cfg, count):
    """The former scheduler: every book-direction stream advances one chunk per step, so a batch holds
    at most as many chunks as there are streams."""
    from booktrans.translate import Unit, translate_units

    whole = [
        Unit(key, "book", direction, [c for u in units for c in u.chunks])
        for key, (direction, units) in streams.items()
    ]
    return translate_units(engine, whole, cfg, count)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument(
        "--context", type=int, default=1024, help="tokens (the demo's r0/r1 translate at 256, r3/r4 at 1024)"
    )
    args = ap.parse_args()
    import torch

    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.model import load_model
    from booktrans.params import load
    from booktrans.translate import HFEngine, TranslateConfig, translate_units
    from booktrans.translate.engines import token_counter
    from booktrans.translate.parts import chapter_units

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model or tiny_model(Path(tmp) / "tiny")
        model, tok = load_model(model_dir)
        P = load(ROOT / "params.yaml")
        translate = P.translate  # the project's settings, the command line's sizes
        cfg = replace(
            TranslateConfig.from_params(translate, args.context, args.max_new_tokens), batch_size=args.batch_size
        )
        count = token_counter(tok)
        streams = {}
        for src, tgt, f in (("zh", "en", "night-train.zh.epub"), ("en", "zh", "night-train.en.pdf")):
            paras = [
                p.to_json()
                for p in ingest_file(ROOT / "data" / "sample" / f, src, IngestOptions.from_params(P.ingest)).paragraphs
            ]
            key = f"night-train.{src}-{tgt}"
            streams[key] = (f"{src}-{tgt}", chapter_units(key, f"{src}-{tgt}", paras, count, cfg))
        units = [u for _, us in streams.values() for u in us]
        chunks = sum(len(u.chunks) for u in units)
        print(
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; context {cfg.context}: "
            f"{chunks} chunks in "
            f"{len(units)} chapters, batch_size {cfg.batch_size}, output cap {cfg.max_new_tokens} tokens"
        )
        print(f"{'scheduler':<22} {'threads':>7} {'seconds':>8} {'chunks/s':>9} {'calls':>6}")
        for name, threads in (("chapters in batches", 1), ("lock-step streams", 1), ("chapters in batches", 2)):
            torch.set_num_threads(threads)
            engine = Counting(HFEngine(model, tok, cfg.context, cfg.repetition_penalty))
            start = time.perf_counter()
            if name == "lock-step streams":
                lock_step(engine, streams, cfg, count)
            else:
                translate_units(engine, units, cfg, count)
            took = time.perf_counter() - start
            print(f"{name:<22} {threads:>7} {took:>8.2f} {chunks / took:>9.2f} {engine.calls:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
