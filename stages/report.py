"""Stage `report`: one self-contained HTML page comparing every round.

    python stages/report.py --params params.yaml --metrics reports/metrics --evaluation reports/evaluation \
        --out reports/index.html --plots reports/plots/rounds.json

Reads reports/metrics/<round>.json and reports/evaluation/<round>/ for every round in translate.rounds,
reports/metrics/human.json (expert review), data/sft/<round>/stats.json (training data),
reports/train/<round>.json (loss per step) and the planner's estimate for the rounds trained so far.
Writes reports/index.html (inline SVG charts, no network) and reports/plots/rounds.json (DVC plots).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.io import atomic_write_text, read_json, write_json
from booktrans.report import render_report, rounds_table
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("report")


def _cost(params: dict, trained: list[str]) -> dict | None:
    """The planner's GPU-hours and cost for the rounds trained so far."""
    from booktrans.plan import plan, plan_summary

    try:
        summary = plan_summary(plan(params, Path(".")))
    except Exception as exc:  # the page is still useful without the estimate; say why it is missing
        log.warning("no cost estimate: %s", exc)
        return None
    rounds = {r: v for r, v in summary["rounds"].items() if r in trained and "cost" in v}
    return {"model": summary["model"], "rounds": rounds, "gpu_hours": round(sum(v["gpu_hours"] for v in rounds.values()), 4),
            "cost": round(sum(v["cost"] for v in rounds.values()), 2)}


def run(params_path: Path, metrics_dir: Path, evaluation: Path, out: Path, plots: Path) -> int:
    params = load_params(params_path)
    metrics, details, positions = {}, {}, {}
    for r in get(params, "translate.rounds"):
        f = metrics_dir / f"{r}.json"
        if not f.exists():
            log.warning("no metrics for %s (%s missing)", r, f)
            continue
        metrics[r] = read_json(f)
        if (evaluation / r / "details.json").exists():
            details[r] = read_json(evaluation / r / "details.json")
            positions[r] = read_json(evaluation / r / "position.json")["position"]
    systems = {s: read_json(metrics_dir / f"{s}.json") for s in (get(params, "translate.systems", {}) or {})
               if (metrics_dir / f"{s}.json").exists()}  # outside systems: rows beside the rounds
    human = read_json(metrics_dir / "human.json") if (metrics_dir / "human.json").exists() else None
    datasets = {r: read_json(Path("data/sft") / r / "stats.json") for r in (get(params, "rounds") or {})
                if (Path("data/sft") / r / "stats.json").exists()}
    losses = {r: read_json(Path("reports/train") / f"{r}.json") for r in (get(params, "rounds") or {})
              if (Path("reports/train") / f"{r}.json").exists()}
    notes = []
    if str(get(params, "model.base")) == "tiny":
        notes.append("These scores come from model.base: tiny, a small random-initialised model used to run the "
                     "pipeline on a CPU. They say nothing about translation quality.")
    page = render_report(metrics, notes=notes, details=details, positions=positions, human=human, datasets=datasets,
                         losses=losses, cost=_cost(params, sorted(losses)), systems=systems)
    atomic_write_text(out, page)
    write_json(plots, {"rounds": rounds_table(metrics)})
    log.info("wrote %s (%d rounds)", out, len(metrics))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, default=Path("reports/metrics"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"))
    ap.add_argument("--out", type=Path, default=Path("reports/index.html"))
    ap.add_argument("--plots", type=Path, default=Path("reports/plots/rounds.json"), help="metrics over rounds, for dvc plots")
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.metrics, args.evaluation, args.out, args.plots)


if __name__ == "__main__":
    run_main(main)
