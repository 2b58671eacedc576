"""A dataset card per round: counts, a token-length histogram (SVG), genre mix and provenance."""

from __future__ import annotations

import html
from collections import Counter


def histogram_svg(values: list[int], limit: int, bins: int = 20, title: str = "") -> str:
    """A self-contained SVG bar chart of ``values`` (token counts) from 0 to ``limit``."""
    width, height, pad = 640, 260, 40
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int(v * bins / max(limit, 1)))] += 1
    top = max(counts) or 1
    bw = (width - 2 * pad) / bins
    bars = []
    for k, c in enumerate(counts):
        h = (height - 2 * pad) * c / top
        x = pad + k * bw
        bars.append(
            f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" fill="#4a78b5">'
            f"<title>{int(k * limit / bins)}-{int((k + 1) * limit / bins)} tokens: {c}</title></rect>"
        )
    ticks = "".join(
        f'<text x="{pad + k * (width - 2 * pad) / 4:.1f}" y="{height - pad + 16}" font-size="11" '
        f'text-anchor="middle">{int(k * limit / 4)}</text>'
        for k in range(5)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{width / 2}" y="20" font-size="13" text-anchor="middle">{html.escape(title)}</text>'
        f'{"".join(bars)}<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>'
        f'{ticks}<text x="{width / 2}" y="{height - 6}" font-size="11" text-anchor="middle">tokens per document '
        f'(chat template included)</text><text x="12" y="{pad - 8}" font-size="11">max {top}</text></svg>\n'
    )


def proofreading_lines(proofreading: dict[str, dict]) -> list[str]:
    """The card's alignment-quality section: per book, beads checked and corrected by proofreaders and
    the precision of the aligned pairs estimated from the book's random sample, then all books pooled."""
    from ..proofread.estimate import pooled_estimate

    def ci(c) -> str:
        return f"{c[0]:.1%}–{c[1]:.1%}"

    rows = []
    for book, p in sorted(proofreading.items()):
        s = p.get("sample") or {}
        est = (
            f"{s['precision']:.1%} ({ci(s['ci95'])}), {s['judged']} of {s['population']} pairs"
            if s.get("judged")
            else f"not measured yet ({s.get('size', 0)} pairs drawn)"
        )
        rows.append(f"| {book} | {p.get('checked', 0)} | {p.get('corrected', 0)} | {len(p.get('stale', []))} | {est} |")
    pooled = pooled_estimate({b: p.get("sample") or {} for b, p in proofreading.items()})
    head = (
        "**Estimated precision of the aligned pairs: "
        + (
            f"{pooled['precision']:.1%} (95% interval {ci(pooled['ci95'])}, "
            f"{pooled['judged']} sampled pairs judged in {pooled['books']} book(s))**"
            if pooled
            else "not measured yet** (no sampled pair judged: docs/proofread.md)"
        )
        + "."
    )
    return [
        "## Alignment quality (proofreading)",
        "",
        head,
        "",
        "| book | beads checked | corrected | corrections no longer applying | precision from the random sample |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def render_card(
    round_name: str,
    stats: dict,
    train: list[dict],
    valid: list[dict],
    svg_name: str,
    proofreading: dict[str, dict] | None = None,
) -> str:
    def table(rows: list[tuple], head: tuple) -> str:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        return "\n".join(out)

    genres = Counter(d["meta"]["genre"] for d in train)
    genre_tokens = Counter()
    for d in train:
        genre_tokens[d["meta"]["genre"]] += d["meta"]["tokens"]
    directions = Counter(d["meta"]["direction"] for d in train)
    books: dict[str, dict] = {}
    for d in train + valid:
        b = books.setdefault(
            d["meta"]["book"],
            {
                "license": d["meta"]["license"],
                "split": d["meta"]["split"],
                "genre": d["meta"]["genre"],
                "docs": 0,
                "tokens": 0,
            },
        )
        b["docs"] += 1
        b["tokens"] += d["meta"]["tokens"]
    lines = [
        f"# Dataset card: round {round_name}",
        "",
        f"Documents of at most **{stats['context']} tokens** (system prompt, instruction, source and target, "
        f"rendered with the base model's chat template)"
        + (f", at most {stats['max_chars']} Chinese characters a side" if stats.get("max_chars") else "")
        + ".",
        f"Short documents (at most {stats['short_context']} tokens) make up {stats['short_share']:.0%} of training "
        "documents."
        if stats.get("short_share")
        else "No short-document share in this round.",
        "",
        "## Counts",
        "",
        table(
            [
                ("train", stats["train"]["documents"], stats["train"]["tokens"], stats["train"]["max_tokens"]),
                ("valid", stats["valid"]["documents"], stats["valid"]["tokens"], stats["valid"]["max_tokens"]),
            ],
            ("split", "documents", "tokens", "longest"),
        ),
        "",
        f"Duplicates removed: {stats['duplicates_removed']}. Leakage check: {stats['leakage']['documents_checked']} "
        f"documents against {stats['leakage']['held_out_ngrams']} hashed n-grams of the held-out books, "
        f"{stats['leakage']['leaks']} leaks. Near-duplicate books across splits: "
        f"{', '.join(' / '.join(p['books']) for p in stats.get('near_duplicates', [])) or 'none'}.",
        "",
        "## Token lengths",
        "",
        f"![token-length histogram]({svg_name})",
        "",
        "## Genre mix (training)",
        "",
        table(
            [
                (g, genres[g], genre_tokens[g], f"{genre_tokens[g] / max(1, sum(genre_tokens.values())):.0%}")
                for g in sorted(genres)
            ],
            ("genre", "documents", "tokens", "share of tokens"),
        ),
        "",
        "Directions: " + ", ".join(f"{d} {n}" for d, n in sorted(directions.items())) + ".",
        "",
        "## Provenance",
        "",
        table(
            [(b, v["split"], v["genre"], v["license"], v["docs"], v["tokens"]) for b, v in sorted(books.items())],
            ("book", "split", "genre", "license", "documents", "tokens"),
        ),
        "",
        "Every document's `meta` names its book, license, chapters, bead range, direction, token count and "
        "labelled (target) token count.",
        "",
    ]
    if proofreading is not None:
        lines += proofreading_lines(proofreading)
    return "\n".join(lines)
