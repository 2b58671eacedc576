"""Stage `corrections`: completed proofreading sheets in, the corrections the align stage applies out.

    python stages/corrections.py --completed proofread/completed --out proofread/corrections.json

Validates every .json (saved from the form), .csv and .xlsx in proofread/completed/ (one message
lists every problem with file and row) and writes the corrections, in file-name and row order, to
proofread/corrections.json (with the list of sheets they came from), which the align stage applies
on every run (docs/proofread.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.proofread.corrections import import_corrections
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--completed", type=Path, default=Path("proofread/completed"))
    ap.add_argument("--out", type=Path, default=Path("proofread/corrections.json"))
    args = ap.parse_args()
    setup_logging()
    import_corrections(args.completed, args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
