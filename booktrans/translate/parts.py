"""Finished units on disk, so that a stopped translation resumes chapter by chapter, and what the
pipeline and the CLI share around a run: units of books, local engines, the usage summary."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path

from ..io import read_jsonl, write_jsonl
from . import TranslateConfig, chunk_paragraphs
from .schedule import Unit, matches

log = logging.getLogger(__name__)


class PartStore:
    """``folder/<key>/<unit name>.jsonl``, one file per finished unit, written atomically."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def load(self, units: list[Unit]) -> dict[tuple[str, str], list[dict]]:
        done = {}
        for u in units:
            f = self.folder / u.key / f"{u.name}.jsonl"
            if f.exists():
                rows = read_jsonl(f)
                if matches(u, rows):
                    done[u.id] = rows
        return done

    def save(self, unit: Unit, rows: list[dict]) -> None:
        write_jsonl(self.folder / unit.key / f"{unit.name}.jsonl", rows)


def fingerprint(*parts) -> str:
    """A short digest of what decides a translation (model files, settings, source texts); bytes are
    taken as they are, anything else as sorted JSON."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else json.dumps(p, sort_keys=True, ensure_ascii=False, default=str).encode())
    return h.hexdigest()[:16]


def chapter_units(key: str, direction: str, paragraphs: list[dict], count, cfg: TranslateConfig) -> list[Unit]:
    """One unit per chapter of one book in one direction, chunked to the source budget."""
    src = direction.split("-")[0]
    chunks = chunk_paragraphs(paragraphs, count, int(cfg.context * cfg.source_share), src)
    by_chapter: dict[int, list] = {}
    for c in chunks:
        by_chapter.setdefault(c.chapter, []).append(c)
    return [Unit(key, f"chapter-{ch:05d}", direction, cs) for ch, cs in by_chapter.items()]


def rows_of(units: list[Unit], results: dict[tuple[str, str], list[dict]]) -> dict[str, list[dict]]:
    """key -> every row of its units, in book order."""
    out: dict[str, list[dict]] = {}
    for u in units:
        out.setdefault(u.key, []).extend(results[u.id])
    return out


def usage(rows: list[dict], price: dict | None = None) -> dict:
    """What a translated book cost and how its chunks ended: chunks, truncated chunks, stop reasons,
    chunks that carried context, tokens, and the cost in USD when ``price`` gives USD per million
    tokens (``input``, ``output``, optionally ``cached_input``)."""
    prompt = sum(r.get("prompt_tokens", 0) for r in rows)
    completion = sum(r.get("completion_tokens", 0) for r in rows)
    cached = sum(r.get("cached_tokens", 0) for r in rows)
    out = {
        "chunks": len(rows),
        "truncated": sum(bool(r.get("truncated")) for r in rows),
        "stop_reasons": dict(sorted(Counter(r.get("stop_reason", "unknown") for r in rows).items())),
        "carried": sum(1 for r in rows if r.get("carried")),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
    }
    if price:
        p_in, p_out = float(price.get("input", 0)), float(price.get("output", 0))
        p_cached = float(price.get("cached_input", p_in))
        out["cost_usd"] = round(((prompt - cached) * p_in + cached * p_cached + completion * p_out) / 1e6, 6)
    return out


def log_usage(label: str, u: dict) -> None:
    cost = f", ${u['cost_usd']:.4f}" if "cost_usd" in u else ""
    log.info(
        "%s: %d chunks, %d truncated (stop reasons %s), %d with carried context, %d prompt + %d completion tokens%s",
        label,
        u["chunks"],
        u["truncated"],
        ", ".join(f"{k} {v}" for k, v in u["stop_reasons"].items()) or "none",
        u["carried"],
        u["prompt_tokens"],
        u["completion_tokens"],
        cost,
    )


PROGRESS_FORMAT = (
    "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} source tokens [{elapsed} elapsed, ETA {remaining}, {rate_fmt}]"
)


def run_units(
    open_engine, units: list[Unit], cfg: TranslateConfig, count, store: PartStore, desc: str, stop_after: int = 0
) -> dict[tuple[str, str], list[dict]]:
    """Translate ``units`` with resume: finished units come from ``store``, each newly finished one is
    saved there at once. ``open_engine()`` is called only when something is left to translate. A
    progress bar over source tokens shows the rate and the time left. ``stop_after`` (tests) stops
    the run with KeyboardInterrupt once that many units were saved."""
    from tqdm import tqdm

    from .schedule import pending, translate_units

    done = store.load(units)
    if done:
        log.info(
            "%s: resuming from %s: %d of %d chapters already translated", desc, store.folder, len(done), len(units)
        )
    saved = [0]

    def on_unit(unit: Unit, rows: list[dict]) -> None:
        store.save(unit, rows)
        saved[0] += 1
        if stop_after and saved[0] >= stop_after:
            raise KeyboardInterrupt(f"stopped after {saved[0]} units (test hook)")

    engine = open_engine() if pending(units, done) else None
    total = sum(count(c.source) for u in units for c in u.chunks)
    with tqdm(total=total, desc=desc, unit="tok", bar_format=PROGRESS_FORMAT, mininterval=1.0) as bar:
        return translate_units(engine, units, cfg, count, done=done, on_unit=on_unit, progress=bar)


def held_out_streams(
    books, directions: list[str], text: Path, max_paragraphs: int
) -> dict[str, tuple[str, list[dict], Path]]:
    """``<book>.<src>-<tgt>`` -> (direction, source paragraphs, their file) for every test book and
    direction, from the ingest stage's ``data/text/<book>.<lang>.jsonl``."""
    from ..errors import BooktransError

    streams = {}
    for book in books:
        for direction in directions:
            src = direction.split("-")[0]
            f = Path(text) / f"{book.id}.{src}.jsonl"
            if not f.exists():
                raise BooktransError(
                    f"{f}: the {src} edition of test book {book.id} was not ingested; cannot translate {direction}"
                )
            paras = read_jsonl(f)
            streams[f"{book.id}.{direction}"] = (direction, paras[:max_paragraphs] if max_paragraphs else paras, f)
    return streams


def write_translations(out: Path, rows_by_key: dict[str, list[dict]], summary: dict, price: dict | None = None) -> dict:
    """``out/<key>.jsonl`` (one row per chunk) and ``out/summary.json`` (``summary`` plus the usage of
    each book and direction), replacing ``out`` whole."""
    from ..io import atomic_dir, write_json

    books = {}
    with atomic_dir(out) as tmp:
        for key, rows in rows_by_key.items():
            write_jsonl(tmp / f"{key}.jsonl", rows)
            books[key] = usage(rows, price)
        write_json(tmp / "summary.json", {**summary, "books": books})
    for key, u in books.items():
        log_usage(key, u)
    return books


def translate_held_out(
    streams: dict[str, tuple[str, list[dict], Path]],
    open_engine,
    count,
    cfg: TranslateConfig,
    scratch: Path,
    label: str,
    identity: list,
    stop_after: int = 0,
    batched: bool = True,
) -> dict[str, list[dict]]:
    """Translate the streams of ``held_out_streams`` chapter by chapter, resuming from
    ``scratch/<fingerprint>/``; the fingerprint covers ``identity`` (what decides the output: model
    files, engine, settings), ``cfg`` and the source files; ``cfg.batch_size`` only when ``batched``
    (a local engine, where the company in a batch can tip a floating-point tie; an endpoint's
    requests are single). Returns key -> rows in book order."""
    import dataclasses

    units = [u for key, (d, paras, _) in streams.items() for u in chapter_units(key, d, paras, count, cfg)]
    fp = fingerprint(
        *identity,
        cfg if batched else dataclasses.replace(cfg, batch_size=0),
        *[f.read_bytes() for _, _, f in streams.values()],
    )
    results = run_units(open_engine, units, cfg, count, PartStore(Path(scratch) / fp), label, stop_after)
    return rows_of(units, results)
