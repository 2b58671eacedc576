"""One round's training data: the kept beads of every book cut into long chat-format documents within
the round's context (``build_documents``), a share of short documents in long rounds, duplicates
removed, genres mixed (``mix``), the held-out books' text proven absent (``LeakageIndex``), and the
exports and the dataset card written."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..io import atomic_dir, atomic_write_text, read_json, read_jsonl, write_json, write_jsonl
from . import DatasetConfig, build_documents
from .card import histogram_svg, render_card
from .export import write_exports
from .select import LeakageIndex, book_shingles, dedupe, mix, near_duplicates

log = logging.getLogger("dataset")


@dataclass(frozen=True)
class RoundData:
    """What a round's documents are (params ``rounds.<round>`` and ``dataset``)."""

    context: int  # tokens of the base model's tokenizer, chat template included
    max_chars: int  # Chinese characters per document (0: no cap)
    max_docs: int  # long training documents kept after mixing (0: all)
    short_share: float  # share of short documents in the training set
    short_context: int  # the short documents' context
    en_zh_share: float  # share of documents that translate English into Chinese
    min_beads: int
    genre_weights: dict[str, float]
    leakage_ngram: tuple[int, int]  # (zh, en) n-gram lengths of the leakage check
    near_duplicate_jaccard: float
    seed: int

    @classmethod
    def from_params(cls, params, round_name: str) -> "RoundData":
        """Round ``round_name`` of the typed params (booktrans.params.Params): rounds.<round> and dataset."""
        if round_name not in params.rounds:
            have = ", ".join(params.rounds) or "none"
            raise ConfigError(f"{params.source}: no round {round_name!r} under rounds (have: {have})")
        r, d = params.rounds[round_name], params.dataset
        return cls(
            context=r.context,
            max_chars=r.max_chars,
            max_docs=r.max_docs,
            short_share=r.short_share,
            short_context=d.short_context,
            en_zh_share=d.en_zh_share,
            min_beads=d.min_beads,
            genre_weights=dict(d.genre_weights),
            leakage_ngram=(d.leakage_ngram.zh, d.leakage_ngram.en),
            near_duplicate_jaccard=d.near_duplicate_jaccard,
            seed=params.seed,
        )


def build_round_data(
    round_name: str, books: list, aligned: Path, tokenizer, spec: RoundData, out: Path, card_dir: Path
) -> dict:
    """Documents of every book aligned in ``aligned`` into out/{train,valid}.jsonl, stats.json and the
    exports (atomically), and the card card_dir/<round>.md with its token histogram. Returns the stats."""
    from tqdm import tqdm

    seed = spec.seed
    cfg = DatasetConfig(
        context=spec.context,
        en_zh_share=spec.en_zh_share,
        min_beads=spec.min_beads,
        max_chars=spec.max_chars,
        seed=seed,
    )
    short_share = spec.short_share
    short_cfg = DatasetConfig(
        context=min(spec.short_context, cfg.context),
        en_zh_share=cfg.en_zh_share,
        min_beads=1,
        max_chars=0,
        seed=seed + 1,
    )
    leakage = LeakageIndex(zh_n=spec.leakage_ngram[0], en_n=spec.leakage_ngram[1])
    long_docs: dict[str, list[dict]] = {"train": [], "valid": []}
    short_docs: list[dict] = []
    stats: dict = {
        "round": round_name,
        "context": cfg.context,
        "max_chars": cfg.max_chars,
        "short_context": short_cfg.context,
        "short_share": short_share,
        "books": {},
    }
    shingles: dict[str, tuple[str, set[str]]] = {}
    for book in tqdm(books, desc=f"dataset {round_name}", unit="book"):
        f = aligned / f"{book.id}.jsonl"
        if not f.exists():
            stats["books"][book.id] = {"status": "not aligned"}
            continue
        beads = read_jsonl(f)
        shingles[book.id] = (
            book.split,
            book_shingles("".join(s for b in beads for s in b["zh"]), " ".join(s for b in beads for s in b["en"])),
        )
        if book.split in ("valid", "test"):
            for b in beads:  # held-out text, both languages, for the leakage check
                leakage.add(book.id, "".join(b["zh"]) + "\n" + " ".join(b["en"]), book.split)
        if book.split == "test":
            continue
        meta = {"id": book.id, "genre": book.genre, "license": book.license, "split": book.split}
        docs, s = build_documents(meta, beads, tokenizer, cfg)
        long_docs[book.split].extend(docs)
        if short_share > 0 and book.split == "train" and short_cfg.context < cfg.context:
            short, _ = build_documents(meta, beads, tokenizer, short_cfg)
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
    weights = {k: float(v) for k, v in spec.genre_weights.items()}
    train = mix(train, weights, spec.max_docs, seed)
    if short_share > 0 and short_docs:
        n_short = round(short_share / (1 - short_share) * len(train)) if short_share < 1 else len(short_docs)
        train = train + mix(short_docs, weights, min(n_short, len(short_docs)), seed + 1)
    stats["duplicates_removed"] = dup_long + dup_short + dup_valid
    stats["leakage"] = leakage.check(train + valid)
    stats["near_duplicates"] = near_duplicates(shingles, threshold=spec.near_duplicate_jaccard)
    for pair in stats["near_duplicates"]:
        log.warning(
            "near-duplicate books across splits: %s (%s) and %s (%s), Jaccard %.2f",
            pair["books"][0],
            pair["splits"][0],
            pair["books"][1],
            pair["splits"][1],
            pair["jaccard"],
        )
    splits = {"train": train, "valid": valid}
    for name, docs in splits.items():
        stats[name] = {
            "documents": len(docs),
            "tokens": sum(x["meta"]["tokens"] for x in docs),
            "target_tokens": sum(x["meta"]["target_tokens"] for x in docs),  # labelled: the loss's targets
            "max_tokens": max((x["meta"]["tokens"] for x in docs), default=0),
            "short_documents": sum(1 for x in docs if x["meta"]["kind"] == "short"),
        }
    with atomic_dir(out) as tmp:
        for name, docs in splits.items():
            write_jsonl(tmp / f"{name}.jsonl", docs)
        write_json(tmp / "stats.json", stats)
        write_exports(tmp, round_name, splits)
    svg = f"{round_name}-tokens.svg"
    atomic_write_text(
        card_dir / svg,
        histogram_svg(
            [x["meta"]["tokens"] for x in train], cfg.context, title=f"{round_name}: training documents by length"
        ),
    )
    proofread = read_json(aligned / "proofreading.json")["books"] if (aligned / "proofreading.json").exists() else {}
    proofread = {b.id: proofread[b.id] for b in books if b.split != "test" and b.id in proofread}  # the card's figure
    atomic_write_text(
        card_dir / f"{round_name}.md", render_card(round_name, stats, train, valid, svg, proofreading=proofread)
    )
    log.info(
        "%s: %d train (%d short) / %d valid documents, longest %d tokens (budget %d), %d duplicates removed, no leaks",
        round_name,
        stats["train"]["documents"],
        stats["train"]["short_documents"],
        stats["valid"]["documents"],
        stats["train"]["max_tokens"],
        cfg.context,
        stats["duplicates_removed"],
    )
    return stats
