"""Stage `proofread`: sheets of the beads most likely wrong, and of a random sample, for proofreaders.

    python stages/proofread.py --params params.yaml --aligned data/aligned --out reports/proofread

For every aligned book, the beads most likely wrong (proofread.doubtful per book) and the pairs of the
book's random sample not judged yet (proofread.sample per book), in book order, each with
proofread.context beads around it. Writes reports/proofread/<book>/{form.html, sheet.csv, sheet.xlsx},
reports/proofread/summary.json (per book: what was flagged and why, what is already checked, the
precision estimate so far) and README.txt. The completed sheets come back through the `corrections`
stage (stages/corrections.py, docs/proofread.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.proofread.export import export_sheets
from booktrans.proofread.select import SelectConfig
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument("--out", type=Path, default=Path("reports/proofread"))
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    p = P.proofread
    cfg = SelectConfig.from_params(p, P.seed)
    export_sheets(load_manifest(P.ingest.manifest), args.aligned, args.out, cfg)
    return 0


if __name__ == "__main__":
    run_main(main)
