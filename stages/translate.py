"""Stage `translate@rN`: translate the held-out (test) books whole with round N's model (r0 = base).

    python stages/translate.py --params params.yaml --round r1 --model models/r1 --text data/text --out reports/translations/r1

Chunks every chapter to the model's context (read from the model directory), carries the tail of the
previous chunk and its translation, fills each batch with chunks of different chapters and decodes
greedily with transformers or vLLM (translate.engine). Writes reports/translations/<round>/<book>.<src>-<tgt>.jsonl,
one chunk per line (chapter, source paragraph ids, source, translation, truncated, stop_reason,
carried tokens, token counts), and summary.json (per book and direction: truncated chunks, stop
reasons, chunks with carried context, tokens).

Every finished chapter is also saved under build/translate/<round>/<fingerprint>/ (outside DVC); a run
that was stopped resumes there chapter by chapter. The fingerprint covers the model files, the
translate params and the source texts, so nothing stale is ever reused.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.io import tree_digest
from booktrans.manifest import load_manifest
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.translate import TranslateConfig
from booktrans.translate.engines import choose_engine, is_tiny, local_context, local_tokenizer, open_local_engine, token_counter
from booktrans.translate.parts import fingerprint, held_out_streams, translate_held_out, write_translations

log = logging.getLogger("translate")


def run(params_path: Path, round_name: str, model_dir: Path, text: Path, out: Path, scratch_root: Path = Path("build/translate"),
        stop_after_chapters: int = 0) -> int:
    import torch

    params = load_params(params_path)
    seed = int(get(params, "seed"))
    torch.manual_seed(seed)
    t = get(params, "translate")
    tok = local_tokenizer(model_dir)
    # the tiny demo model never ends its turn: its output is capped (translate.tiny_max_new_tokens)
    cap = int(t.get("tiny_max_new_tokens") or 0) if is_tiny(model_dir) else 0
    cfg = TranslateConfig.from_block(t, local_context(model_dir), cap)
    engine = choose_engine(str(t.get("engine", "transformers")))
    books = [b for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"]
    if not books:
        raise BooktransError(f"{get(params, 'ingest.manifest')}: no book has split: test; nothing to translate")
    count = token_counter(tok)
    streams = held_out_streams(books, list(t["directions"]), text, cfg.max_paragraphs)
    settings = {k: v for k, v in t.items() if k not in ("rounds", "systems")}
    dtype, model_digest = str(get(params, "model.dtype")), tree_digest(model_dir)
    scratch = scratch_root / round_name
    merged = scratch / f"merged-{fingerprint(model_digest, dtype)}"  # vLLM: an adapter round merged into full weights
    rows = translate_held_out(streams, lambda: open_local_engine(model_dir, engine, tok, cfg.context, dtype, cfg.repetition_penalty,
                                                                 seed, merged),
                              count, cfg, scratch, f"translate {round_name} ({engine})", [settings, seed, dtype, engine, model_digest],
                              stop_after_chapters)
    write_translations(out, rows, {"system": round_name, "engine": engine, "context": cfg.context, "max_new_tokens": cfg.max_new_tokens})
    log.info("%s: translated %d book(s) into %s", round_name, len(books), out)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--scratch", type=Path, default=Path("build/translate"), help="where finished chapters are kept for resuming")
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.round, args.model, args.text, args.out, args.scratch)


if __name__ == "__main__":
    run_main(main)
