"""Stage `review-key`: the key of the review packet (which label is which system, per item).

    python stages/review_key.py --params params.yaml --evaluation reports/evaluation --packet reports/review/packet \
        --out reports/review/key.json

Draws the same passages as the `review` stage (stages/review.py; the draw is seeded), checks that
they are exactly the ones in the packet's form, and writes reports/review/key.json: keep it away
from the reviewers (a reviewer's `dvc pull review` never fetches it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.params import load
from booktrans.review.packet import project_packet, write_key
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"))
    ap.add_argument("--packet", type=Path, default=Path("reports/review/packet"))
    ap.add_argument("--out", type=Path, default=Path("reports/review/key.json"))
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    write_key(project_packet(P, args.evaluation), args.packet, args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
