"""Stage `ingest`: read every book of the manifest into paragraphs with chapter ids.

    python stages/ingest.py --params params.yaml --out data/text --report reports/ingest.json

Writes data/text/<book>.<lang>.jsonl (one paragraph per line: chapter, title, para, text, loc),
data/text/<book>.<lang>.notes.jsonl when the edition has footnotes or endnotes, and
reports/ingest.json (per book and edition: status, format, encoding, chapters with their titles and levels,
the largest chapter's share of the text and the longest title, paragraphs,
characters extracted and kept, dropped by reason, warnings; per book the length ratio of the two
editions and the gate flags). A bad book is one line on stderr; the stage exits 2 listing the
failures unless ingest.on_error is `skip`. A book whose figures fall outside ingest.gates is one line
naming the book and the figure, and stops the stage unless ingest.gates.skip is true (or the book
has skip_gates: true). Editions whose bytes, options and ingest code are unchanged come from the
cache in ingest.cache_dir instead of being parsed again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.ingest.corpus import CorpusOptions, ingest_corpus
from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=Path("data/text"))
    ap.add_argument("--report", type=Path, default=Path("reports/ingest.json"))
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    ingest_corpus(load_manifest(P.ingest.manifest), args.out, args.report, CorpusOptions.from_params(P.ingest))
    return 0


if __name__ == "__main__":
    run_main(main)
