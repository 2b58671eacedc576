"""Stage `translate-system@NAME`: the test books translated by an outside system (translate.systems.NAME).

    python stages/translate_system.py --params params.yaml --system deepseek --text data/text --out reports/translations/deepseek

Writes reports/translations/<system>/ exactly like translate@rN (one row per chunk, summary.json with
tokens and cost), so that evaluate-system@NAME scores it with the rounds' metrics:

- engine openai: an OpenAI-compatible endpoint, chapter by chapter with carried context, resuming from
  build/translate/<system>/<fingerprint>/. Without a key (translate.systems.NAME.key_env, default
  BOOKTRANS_API_KEY then OPENAI_API_KEY) the system is skipped: one warning line, and the folder holds
  only skipped.json (the same bytes every time). Once the key is set: dvc repro -f translate-system@NAME
- engine transformers / vllm: a local model folder that is not a round;
- engine files: translations made elsewhere, data/systems/<name>/<book>.<tgt>.txt|epub|pdf.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.io import atomic_dir, read_jsonl, tree_digest, write_json
from booktrans.manifest import load_manifest
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.translate import TranslateConfig
from booktrans.translate.parts import fingerprint, held_out_streams, translate_held_out, write_translations
from booktrans.translate.systems import find_translation, import_translation, parse_systems

log = logging.getLogger("translate-system")


def run(params_path: Path, name: str, text: Path, out: Path, systems_dir: Path = Path("data/systems"),
        scratch_root: Path = Path("build/translate")) -> int:
    params = load_params(params_path)
    t = get(params, "translate")
    systems = parse_systems(t.get("systems"), list(t.get("rounds") or []) + list(get(params, "rounds", {}) or {}))
    if name not in systems:
        raise BooktransError(f"translate.systems has no system {name!r} (systems: {', '.join(systems) or 'none'})")
    system = systems[name]
    books = [b for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"]
    if not books:
        raise BooktransError(f"{get(params, 'ingest.manifest')}: no book has split: test; nothing to translate")
    directions = list(system.directions or t["directions"])
    streams = held_out_streams(books, directions, text, int(t.get("max_paragraphs", 0)))
    summary = {"system": name, "engine": system.engine}
    if system.engine == "files":
        folder = Path(system.path) if system.path else systems_dir / name
        rows = {}
        for key, (direction, _, f) in streams.items():
            src, tgt = direction.split("-")
            found = find_translation(folder, key.rsplit(".", 1)[0], tgt)
            rows[key] = import_translation(found, read_jsonl(f), src, tgt)
            log.info("%s: %s read from %s (%d chapters)", name, key, found, len(rows[key]))
        write_translations(out, rows, {**summary, "path": str(folder)})
        return 0
    if system.engine == "openai":
        from booktrans.translate.api import OpenAIEngine, estimate_tokens, find_key

        key, variable = find_key(system.key_env) if system.key_env else (None, None)
        if system.key_env and key is None:
            reason = f"no API key: set {' or '.join(system.key_env)}"
            log.warning("%s: skipped, %s; then run `dvc repro -f translate-system@%s`", name, reason, name)
            with atomic_dir(out) as tmp:
                write_json(tmp / "skipped.json", {"system": name, "skipped": reason})
            return 0
        cfg = dataclasses.replace(TranslateConfig.from_block(t, system.context or 16384, system.max_tokens), repetition_penalty=1.0)
        identity = [system.engine, system.base_url, system.model, system.extra]

        def open_engine():
            return OpenAIEngine(system.base_url, system.model, key, variable, concurrency=system.concurrency,
                                timeout=system.timeout, max_tokens=system.max_tokens, extra=system.extra)

        rows = translate_held_out(streams, open_engine, estimate_tokens, cfg, scratch_root / name, f"translate {name} ({system.model})",
                                  identity, batched=False)
        write_translations(out, rows, {**summary, "base_url": system.base_url, "model": system.model}, system.price)
        return 0
    from booktrans.translate.engines import choose_engine, local_context, local_tokenizer, open_local_engine, token_counter

    engine = choose_engine(system.engine)
    tok = local_tokenizer(system.model)
    cfg = TranslateConfig.from_block(t, system.context or local_context(system.model))
    dtype, seed, digest = str(get(params, "model.dtype")), int(get(params, "seed")), tree_digest(system.model)
    merged = scratch_root / name / f"merged-{fingerprint(digest, dtype)}"
    rows = translate_held_out(streams, lambda: open_local_engine(system.model, engine, tok, cfg.context, dtype, cfg.repetition_penalty,
                                                                 seed, merged),
                              token_counter(tok), cfg, scratch_root / name, f"translate {name} ({engine})", [engine, dtype, seed, digest])
    write_translations(out, rows, {**summary, "model": system.model})
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--system", required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--systems", type=Path, default=Path("data/systems"), help="translations made elsewhere, one folder per system")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--scratch", type=Path, default=Path("build/translate"), help="where finished chapters are kept for resuming")
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.system, args.text, args.out, args.systems, args.scratch)


if __name__ == "__main__":
    run_main(main)
