"""The figures the gate defaults in params.yaml were chosen from (docs/ingest.md, "Gates").

    python eval/gate_figures.py               # = make gate-figures

For the sample books (the ingest and align stages' own code on data/books.yaml) and for real
translations in ../shared/data/align-dev (six novel chapters of mac_dev and the three nonlit
documents, each cut into four chapters at gold bead boundaries), it prints what the gates look at:
each edition's kept share and the book's length ratio (English words per Chinese character), the
share of each side's sentences kept for training, and the lowest mean bead score of a chapter pair.
Beside the real pairs it prints the same figures for wrong pairs (a chapter of one document against
a chapter of another part of it), which is what a mispaired chapter or a wrong edition looks like.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from booktrans.align import FilterConfig, align_book  # noqa: E402
from booktrans.align.lexicon import CedictGlosser  # noqa: E402
from booktrans.ingest import IngestOptions, ingest_file  # noqa: E402
from booktrans.manifest import load_manifest  # noqa: E402
from booktrans.params import load as load_params  # noqa: E402
from booktrans.text import length  # noqa: E402


def paragraphs(chapters: list[list[str]]) -> list[dict]:
    out, k = [], 0
    for c, sentences in enumerate(chapters, start=1):
        for s in sentences:
            out.append({"chapter": c, "title": "", "para": k, "text": s})
            k += 1
    return out


def row(label: str, zh_text: str, en_text: str, report: dict, shares: str = "") -> None:
    ratio = length(en_text, "en") / max(1, length(zh_text, "zh"))
    low = min((c["mean_score"] for c in report["chapters"]), default=0.0)
    print(f"{label:<26} {shares:>13} {ratio:>7.3f} {report['kept_zh']:>8.3f} {report['kept_en']:>8.3f} {low:>9.3f}")


def main() -> int:
    translator = CedictGlosser()
    P = load_params(ROOT / "params.yaml")
    align, ingest = P.align, IngestOptions.from_params(P.ingest)
    opts = {"method": "cedict", "filters": FilterConfig.from_params(align.filters), "bootstrap": align.bootstrap}
    print(f"{'book':<26} {'kept share':>13} {'ratio':>7} {'kept_zh':>8} {'kept_en':>8} {'min pair':>9}")
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        res = {lang: ingest_file(ROOT / book.file(lang), lang, ingest) for lang in ("zh", "en")}
        zh = [p.to_json() for p in res["zh"].paragraphs]
        en = [p.to_json() for p in res["en"].paragraphs]
        _, report = align_book(zh, en, translator=translator, **opts)
        shares = f"{res['zh'].report['kept_share']:.3f}/{res['en'].report['kept_share']:.3f}"
        row(f"sample {book.id}", " ".join(p["text"] for p in zh), " ".join(p["text"] for p in en), report, shares)
    dev = ROOT.parent / "shared" / "data" / "align-dev"
    if not dev.is_dir():
        print(f"(no {dev}: dev figures skipped)")
        return 0
    from chapter_pairing import chapters, load

    sets = [(f"mac_dev {n}", load(dev / "mac_dev", n, True)) for n in ("001", "002", "003", "004", "005", "006")]
    sets += [
        (f"nonlit {s}", load(dev / "nonlit" / s, n, z))
        for s, n, z in (("aca", "001", False), ("mag", "003", False), ("pol", "002", True))
    ]
    for label, beads in sets:
        pieces = chapters(beads, 4)
        zh, en = [p[0] for p in pieces], [p[1] for p in pieces]
        _, report = align_book(paragraphs(zh), paragraphs(en), translator=translator, **opts)
        row(label, " ".join(s for c in zh for s in c), " ".join(s for c in en for s in c), report)
        _, wrong = align_book(paragraphs([zh[0]]), paragraphs([en[2]]), translator=translator, **opts)
        row("  wrong pair", " ".join(zh[0]), " ".join(en[2]), wrong)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
