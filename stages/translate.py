"""Stage `translate@rN`: translate the held-out (test) books whole with round N's model (r0 = base).

    python stages/translate.py --params params.yaml --round r1 --model models/r1 --text data/text --out reports/translations/r1

Chunks each book to the model's context (read from the model directory), carries the previous chunk
and its translation over, decodes greedily with transformers or vLLM (translate.engine). Writes
reports/translations/<round>/<book>.<src>-<tgt>.jsonl, one chunk per line with its chapter, source
paragraph ids, source text and translation.

Every finished chapter is also saved under build/translate/<round>/<fingerprint>/ (outside DVC); a run
that was stopped resumes there chapter by chapter. The fingerprint covers the model files, the
translate params and the source texts, so nothing stale is ever reused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from pathlib import Path

from tqdm import tqdm

from booktrans.errors import BooktransError
from booktrans.io import atomic_dir, read_jsonl, tree_digest, write_jsonl
from booktrans.manifest import load_manifest
from booktrans.model import load_model, read_info
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.translate import HFGenerator, TranslateConfig, VLLMGenerator, chunk_paragraphs, translate_streams, vllm_available

log = logging.getLogger("translate")


def _engine(name: str) -> str:
    import torch

    if name == "auto":
        return "vllm" if vllm_available() and torch.cuda.is_available() else "transformers"
    if name not in ("transformers", "vllm"):
        raise BooktransError(f"translate.engine is {name!r}: use transformers, vllm or auto")
    if name == "vllm" and not vllm_available():
        raise BooktransError("translate.engine is vllm but the vllm package is not installed "
                             "(pip install vllm on the GPU machine, or set translate.engine: transformers)")
    return name


def _saved(scratch: Path, key: str, chunks) -> list[dict]:
    """Rows of the whole chapters already translated for one stream, from the start, in order."""
    rows: list[dict] = []
    for chapter in dict.fromkeys(c.chapter for c in chunks):
        f = scratch / key / f"chapter-{chapter:05d}.jsonl"
        if not f.exists():
            break
        rows += read_jsonl(f)
    return rows


def run(params_path: Path, round_name: str, model_dir: Path, text: Path, out: Path, scratch_root: Path = Path("build/translate"),
        stop_after_chapters: int = 0) -> int:
    import torch

    params = load_params(params_path)
    seed = int(get(params, "seed"))
    torch.manual_seed(seed)
    info = read_info(model_dir)
    t = get(params, "translate")
    cfg = TranslateConfig(context=info.context, source_share=float(t["source_share"]), carry_share=float(t["carry_share"]),
                          max_new_factor=float(t["max_new_factor"]), batch_size=int(t["batch_size"]),
                          max_paragraphs=int(t["max_paragraphs"]), repetition_penalty=float(t["repetition_penalty"]))
    engine = _engine(str(t.get("engine", "transformers")))
    books = [b for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"]
    if not books:
        raise BooktransError(f"{get(params, 'ingest.manifest')}: no book has split: test; nothing to translate")
    from booktrans.model import load_tokenizer

    tok = load_tokenizer(model_dir)
    h = hashlib.sha256(json.dumps({k: v for k, v in t.items() if k != "rounds"}, sort_keys=True).encode())
    h.update(f"{seed}:{get(params, 'model.dtype')}:{engine}".encode())
    h.update(tree_digest(model_dir))
    streams = {}
    for book in books:
        for direction in t["directions"]:
            src, _tgt = direction.split("-")
            f = text / f"{book.id}.{src}.jsonl"
            if not f.exists():
                raise BooktransError(f"{f}: the {src} edition of test book {book.id} was not ingested; cannot translate {direction}")
            paras = read_jsonl(f)
            if cfg.max_paragraphs:
                paras = paras[: cfg.max_paragraphs]
            h.update(f.read_bytes())
            chunks = chunk_paragraphs(paras, tok, int(cfg.context * cfg.source_share), src)
            streams[f"{book.id}.{direction}"] = (direction, chunks)
    scratch = scratch_root / round_name / h.hexdigest()[:16]
    done = {key: _saved(scratch, key, chunks) for key, (_, chunks) in streams.items()}
    resumed = sum(len(r) for r in done.values())
    if resumed:
        log.info("%s: resuming from %s: %d chunks of finished chapters kept", round_name, scratch, resumed)
    saved = [0]

    def on_chapter(key: str, chapter: int, rows: list[dict]) -> None:
        write_jsonl(scratch / key / f"chapter-{chapter:05d}.jsonl", rows)
        saved[0] += 1
        if stop_after_chapters and saved[0] >= stop_after_chapters:
            raise KeyboardInterrupt(f"stopped after {saved[0]} chapters (test hook)")

    total = sum(len(c) for _, c in streams.values())
    remaining = total - resumed
    generate = None
    if remaining:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        if engine == "vllm":
            weights = _full_weights(model_dir, scratch, str(get(params, "model.dtype")))
            generate = VLLMGenerator(str(weights), tok, cfg.context, seed=seed)
        else:
            model, tok = load_model(model_dir, dtype=str(get(params, "model.dtype")), device=device)
            generate = HFGenerator(model, tok)
    with tqdm(total=total, desc=f"translate {round_name} ({engine})", unit="chunk") as bar:
        results = translate_streams(generate, tok, streams, cfg, progress=bar, done=done, on_chapter=on_chapter)
    with atomic_dir(out) as tmp:
        for key, rows in results.items():
            write_jsonl(tmp / f"{key}.jsonl", rows)
    log.info("%s: translated %d chunks of %d book(s) into %s (%d resumed)", round_name, total, len(books), out, resumed)
    return 0


def _full_weights(model_dir: Path, scratch: Path, dtype: str) -> Path:
    """vLLM loads plain weights: an adapter round is merged into its base once, into the scratch folder."""
    info = read_info(model_dir)
    if info.kind == "full":
        return model_dir
    if info.kind == "pointer" and info.path:
        return Path(info.path)
    merged = scratch / "merged"
    if not (merged / "config.json").exists():
        model, tok = load_model(model_dir, dtype=dtype, merge_adapters=True)
        with atomic_dir(merged) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
    return merged


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
