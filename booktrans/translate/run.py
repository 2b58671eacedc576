"""The held-out (test) books translated whole: by a round's model (``translate_round``, the
``translate@rN`` stage) or by an outside system (``translate_system``, ``translate-system@NAME``).
Both write the same folder (one row per chunk, summary.json), resume chapter by chapter from a
scratch folder, and take the typed ``translate`` record (booktrans.params.TranslateParams: what
``TranslateConfig.from_params`` reads; its settings but the rounds and systems lists are what the
resume folder's fingerprint covers)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..errors import BooktransError
from ..io import atomic_dir, read_jsonl, tree_digest, write_json
from . import TranslateConfig
from .parts import fingerprint, held_out_streams, translate_held_out, write_translations

log = logging.getLogger("translate")


def _test_books(books: list, manifest: str) -> list:
    test = [b for b in books if b.split == "test"]
    if not test:
        raise BooktransError(f"{manifest}: no book has split: test; nothing to translate")
    return test


def _settings(translate) -> dict:
    """The translate settings a resumed run must share with the run it resumes."""
    from ..params import to_dict

    return {k: v for k, v in to_dict(translate).items() if k not in ("rounds", "systems")}


def translate_round(
    name: str,
    model_dir: Path,
    books: list,
    manifest: str,
    text: Path,
    out: Path,
    translate,
    dtype: str,
    seed: int,
    scratch_root: Path = Path("build/translate"),
    stop_after_chapters: int = 0,
) -> None:
    """The test books of ``books`` translated with the round's model in ``model_dir`` into ``out``."""
    import torch

    from .engines import choose_engine, is_tiny, local_context, local_tokenizer, open_local_engine, token_counter

    torch.manual_seed(seed)
    tok = local_tokenizer(model_dir)
    # the tiny demo model never ends its turn: its output is capped (translate.tiny_max_new_tokens)
    cap = translate.tiny_max_new_tokens if is_tiny(model_dir) else 0
    cfg = TranslateConfig.from_params(translate, local_context(model_dir), cap)
    engine = choose_engine(translate.engine)
    test = _test_books(books, manifest)
    streams = held_out_streams(test, list(translate.directions), text, cfg.max_paragraphs)
    model_digest = tree_digest(model_dir)
    scratch = scratch_root / name
    merged = scratch / f"merged-{fingerprint(model_digest, dtype)}"  # vLLM: an adapter round merged into full weights
    rows = translate_held_out(
        streams,
        lambda: open_local_engine(model_dir, engine, tok, cfg.context, dtype, cfg.repetition_penalty, seed, merged),
        token_counter(tok),
        cfg,
        scratch,
        f"translate {name} ({engine})",
        [_settings(translate), seed, dtype, engine, model_digest],
        stop_after_chapters,
    )
    write_translations(
        out, rows, {"system": name, "engine": engine, "context": cfg.context, "max_new_tokens": cfg.max_new_tokens}
    )
    log.info("%s: translated %d book(s) into %s", name, len(test), out)


def translate_system(
    name: str,
    system,
    books: list,
    manifest: str,
    text: Path,
    out: Path,
    translate,
    dtype: str,
    seed: int,
    systems_dir: Path = Path("data/systems"),
    scratch_root: Path = Path("build/translate"),
    *,
    ingest,
) -> None:
    """The test books translated by outside system ``system`` (booktrans.translate.systems.System) into
    ``out``: imported from files (read with ``ingest``, booktrans.ingest.IngestOptions), through an
    OpenAI-compatible endpoint (skipped, saying why, without its key), or by a local model that is not a round."""
    test = _test_books(books, manifest)
    directions = list(system.directions or translate.directions)
    streams = held_out_streams(test, directions, text, translate.max_paragraphs)
    summary = {"system": name, "engine": system.engine}
    if system.engine == "files":
        from .systems import find_translation, import_translation

        folder = Path(system.path) if system.path else systems_dir / name
        rows = {}
        for key, (direction, _, f) in streams.items():
            src, tgt = direction.split("-")
            found = find_translation(folder, key.rsplit(".", 1)[0], tgt)
            rows[key] = import_translation(found, read_jsonl(f), src, tgt, ingest)
            logging.getLogger("translate-system").info(
                "%s: %s read from %s (%d chapters)", name, key, found, len(rows[key])
            )
        write_translations(out, rows, {**summary, "path": str(folder)})
        return
    if system.engine == "openai":
        from .api import OpenAIEngine, estimate_tokens, find_key

        key, variable = find_key(system.key_env) if system.key_env else (None, None)
        if system.key_env and key is None:
            reason = f"no API key: set {' or '.join(system.key_env)}"
            logging.getLogger("translate-system").warning(
                "%s: skipped, %s; then run `dvc repro -f translate-system@%s`", name, reason, name
            )
            with atomic_dir(out) as tmp:
                write_json(tmp / "skipped.json", {"system": name, "skipped": reason})
            return
        cfg = dataclasses.replace(
            TranslateConfig.from_params(translate, system.context or 16384, system.max_tokens), repetition_penalty=1.0
        )
        identity = [system.engine, system.base_url, system.model, system.extra]

        def open_engine():
            return OpenAIEngine(
                system.base_url,
                system.model,
                key,
                variable,
                concurrency=system.concurrency,
                timeout=system.timeout,
                max_tokens=system.max_tokens,
                extra=system.extra,
            )

        rows = translate_held_out(
            streams,
            open_engine,
            estimate_tokens,
            cfg,
            scratch_root / name,
            f"translate {name} ({system.model})",
            identity,
            batched=False,
        )
        write_translations(out, rows, {**summary, "base_url": system.base_url, "model": system.model}, system.price)
        return
    from .engines import choose_engine, local_context, local_tokenizer, open_local_engine, token_counter

    engine = choose_engine(system.engine)
    tok = local_tokenizer(system.model)
    cfg = TranslateConfig.from_params(translate, system.context or local_context(system.model))
    digest = tree_digest(system.model)
    merged = scratch_root / name / f"merged-{fingerprint(digest, dtype)}"
    rows = translate_held_out(
        streams,
        lambda: open_local_engine(system.model, engine, tok, cfg.context, dtype, cfg.repetition_penalty, seed, merged),
        token_counter(tok),
        cfg,
        scratch_root / name,
        f"translate {name} ({engine})",
        [engine, dtype, seed, digest],
    )
    write_translations(out, rows, {**summary, "model": system.model})
