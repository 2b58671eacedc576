"""Stage `review`: the blinded side-by-side review packet for expert raters.

    python stages/review.py --params params.yaml --evaluation reports/evaluation --out reports/review/packet

For the rounds in review.rounds plus r0 (the base model) and the human reference, passages of every
test book are drawn per direction and position band (early / middle / late in the document) from the
evaluation outputs. Writes reports/review/packet/ (form.html: the offline form; sheet.csv and
sheet.xlsx: the same for spreadsheet users; README.txt). Its key is the output of another stage,
`review-key` (stages/review_key.py), so that a reviewer's `dvc pull review` never fetches the key.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.params import load
from booktrans.review.packet import project_packet, write_packet
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"))
    ap.add_argument("--out", type=Path, default=Path("reports/review/packet"))
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    write_packet(project_packet(P, args.evaluation), args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
