"""Stage `report`: one HTML page comparing every round.

    python stages/report.py --params params.yaml --metrics reports/metrics --out reports/index.html

Reads reports/metrics/<round>.json for every round in translate.rounds and writes reports/index.html.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.io import atomic_write_text, read_json, write_json
from booktrans.report import render_report, rounds_table
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("report")


def run(params_path: Path, metrics_dir: Path, out: Path, plots: Path = Path("reports/plots/rounds.json")) -> int:
    params = load_params(params_path)
    metrics = {}
    for r in get(params, "translate.rounds"):
        f = metrics_dir / f"{r}.json"
        if f.exists():
            metrics[r] = read_json(f)
        else:
            log.warning("no metrics for %s (%s missing)", r, f)
    notes = []
    if str(get(params, "model.base")) == "tiny":
        notes.append("These scores come from model.base: tiny, a small random-initialised model used to run the "
                     "pipeline on a CPU. They say nothing about translation quality.")
    atomic_write_text(out, render_report(metrics, notes=notes))
    write_json(plots, {"rounds": rounds_table(metrics)})
    log.info("wrote %s (%d rounds)", out, len(metrics))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, default=Path("reports/metrics"))
    ap.add_argument("--out", type=Path, default=Path("reports/index.html"))
    ap.add_argument("--plots", type=Path, default=Path("reports/plots/rounds.json"), help="metrics over rounds, for dvc plots")
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.metrics, args.out, args.plots)


if __name__ == "__main__":
    run_main(main)
