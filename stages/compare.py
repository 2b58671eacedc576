"""Stage `compare`: paired bootstrap significance between the rounds and outside systems, the per-genre and
per-book breakdown, and the team's decision criteria judged for every round.

    python stages/compare.py --params params.yaml --evaluation reports/evaluation --human reports/review/human.json \
        --out reports/compare.json

For every round: against its predecessor, against r0 and against every outside system (``delta = round -
other``), BLEU, chrF, COMET, omission rate and length ratio, with the 95% interval and p, resampling whole
chapters (params ``compare``). Criteria: params ``decision`` (booktrans.evaluate.decision).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.evaluate.decision import compare_evaluations
from booktrans.io import read_json, write_json
from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"), help="the evaluate stages' folders")
    ap.add_argument("--human", type=Path, default=Path("reports/review/human.json"), help="expert review scores")
    ap.add_argument("--out", type=Path, default=Path("reports/compare.json"))
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)  # compare.unit is chapter: the pipeline resamples whole chapters (booktrans.params)
    c = P.compare
    books = {b.id: b.genre for b in load_manifest(P.ingest.manifest) if b.split == "test"}
    result = compare_evaluations(
        args.evaluation,
        books,
        list(P.translate.rounds),
        list(P.translate.systems),
        list(P.translate.directions),
        [x.as_dict() for x in P.decision.criteria],
        c.resamples,
        c.seed,
        c.alpha,
        read_json(args.human) if args.human.exists() else None,
    )
    write_json(args.out, result)
    return 0


if __name__ == "__main__":
    run_main(main)
