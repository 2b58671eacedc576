"""Stage `report`: one self-contained HTML page comparing every round.

    python stages/report.py --params params.yaml --metrics reports/metrics --evaluation reports/evaluation \
        --rounds reports/rounds --human reports/review/human.json --align reports/align.json \
        --out reports/index.html --plots reports/plots --compare reports/compare.json

Reads reports/metrics/<round>.json and reports/evaluation/<round>/ for every round in translate.rounds,
reports/review/human.json (expert review), reports/compare.json (significance, breakdown per genre
and book, decision criteria), reports/rounds/<round>.json (training data and loss per
step of every round in rounds:), the proofreading figures per book in reports/align.json and the
planner's estimate for the rounds trained so far (from the training-data counts in reports/rounds/, so
the page reads nothing undeclared). Writes reports/index.html (Vega-Lite charts with the
vendored vega-embed inlined: no network) and, for `dvc plots`, reports/plots/rounds.json (metrics over rounds) and
reports/plots/position.json (length ratio and omissions over position, one row per round and bin).
Every file is found by round name from params.yaml: dvc.yaml names no round.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.params import load
from booktrans.report.build import ReportInputs, build_report, planned_cost
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, default=Path("reports/metrics"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"))
    ap.add_argument("--out", type=Path, default=Path("reports/index.html"))
    ap.add_argument("--plots", type=Path, default=Path("reports/plots"), help="folder of the files for dvc plots")
    ap.add_argument(
        "--rounds", type=Path, default=Path("reports/rounds"), help="per-round summaries (round-summary stage)"
    )
    ap.add_argument("--human", type=Path, default=Path("reports/review/human.json"), help="expert review scores")
    ap.add_argument(
        "--align", type=Path, default=Path("reports/align.json"), help="the align report (proofreading per book)"
    )
    ap.add_argument(
        "--compare",
        type=Path,
        default=Path("reports/compare.json"),
        help="significance, breakdown per genre and book and decision verdicts (compare stage)",
    )
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    summary = planned_cost(P, args.rounds, Path("."))  # the planner's estimate of the rounds trained so far
    build_report(
        list(P.translate.rounds),
        list(P.translate.systems),
        list(P.rounds),
        ReportInputs(args.metrics, args.evaluation, args.rounds, args.human, args.align, args.compare),
        args.out,
        args.plots,
        tiny=P.model.base == "tiny",
        plan_summary=summary,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
