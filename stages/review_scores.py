"""Stage `review-scores`: completed review sheets → human scores per round in the DVC metrics.

    python stages/review_scores.py --params params.yaml --key reports/review/key.json --completed reviews/completed \
        --metrics reports/metrics --out reports/review/human.json

Reads every .json (saved from the form), .csv and .xlsx in reviews/completed/, validates them (one
message lists every missing or out-of-range score, unknown item or label, bad error mark, with file
and row), unblinds them with the key, and writes per-system means per criterion, MQM error counts,
Krippendorff's alpha per criterion and the correlation of human scores with the automatic metrics
(reports/metrics/<round>.json of every round in translate.rounds: the stage depends on the folder,
so dvc.yaml names no round; the result lives outside that folder).
With no completed sheet yet, the file says so instead of holding zeros.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.io import write_json
from booktrans.params import load
from booktrans.review.scores import review_scores
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--key", type=Path, default=Path("reports/review/key.json"))
    ap.add_argument("--completed", type=Path, default=Path("reviews/completed"))
    ap.add_argument("--metrics", type=Path, default=Path("reports/metrics"))
    ap.add_argument("--out", type=Path, default=Path("reports/review/human.json"))
    args = ap.parse_args()
    setup_logging()
    rounds = list(load(args.params).translate.rounds)
    write_json(args.out, review_scores(args.key, args.completed, args.metrics, rounds))
    return 0


if __name__ == "__main__":
    run_main(main)
