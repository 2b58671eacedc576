"""Stage `align`: pair the chapters of each book's two editions, then align sentences inside each
chapter pair.

    python stages/align.py --params params.yaml --text data/text --out data/aligned --report reports/align.json \
        --corrections proofread/corrections.json --lexicon data/lexicon.json

Sentences are aligned with align.method: `cedict` (offline CC-CEDICT glosses plus a lexical table
bootstrapped from the book's own confident beads, the default), `model` (the LLM at align.model
translates the Chinese side) or `gale-church` (lengths only). Writes data/aligned/<book>.jsonl (one
bead per line: zh and en sentences, chapter and paragraph ids, bead type, score, keep, drop reason),
reports/align.json (per book and chapter pair: coverage of each side, bead types, beads kept and
dropped by reason, unmatched chapters, gate flags) and data/lexicon.json (the lexical table pooled
from the expected counts of each training book's own table, booktrans/align/corpus.py, for the
stages after this one). Books whose ingested text, options and code are unchanged come from the
cache in align.cache_dir (the log says how many were aligned and how many came from the cache); an
unchanged book's output file is put back as it was (a hard link to the cache's copy), not rewritten. A book whose
figures fall outside align.gates (kept share, chapter-pair score, unpaired chapters) is one line naming the book and the
figure, and stops the stage unless align.gates.skip is true (or the book has skip_gates: true in the manifest).

Proofreading corrections (proofread/corrections.json, see docs/proofread.md) are applied to each
book's beads after alignment, on every run; what applied and what no longer does is reported per
book under "proofreading" in reports/align.json and in data/aligned/proofreading.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.align.corpus import AlignOptions, align_corpus
from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.proofread.corrections import Proofreading
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, default=Path("data/aligned"))
    ap.add_argument("--report", type=Path, default=Path("reports/align.json"))
    ap.add_argument("--corrections", type=Path, help="proofreading corrections to apply (proofread/corrections.json)")
    ap.add_argument("--lexicon", type=Path, default=None, help="write the corpus lexical table here (JSON)")
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    proofreading = Proofreading.load(args.corrections, sample=P.proofread.sample, seed=P.seed)
    align_corpus(
        load_manifest(P.ingest.manifest),
        args.text,
        args.out,
        args.report,
        AlignOptions.from_params(P.align),
        proofreading,
        args.lexicon,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
