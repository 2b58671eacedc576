"""Stage `report`: one self-contained HTML page comparing every round.

    python stages/report.py --params params.yaml --metrics reports/metrics --evaluation reports/evaluation \
        --rounds reports/rounds --human reports/review/human.json --align reports/align.json \
        --out reports/index.html --plots reports/plots --compare reports/compare.json

Reads reports/metrics/<round>.json and reports/evaluation/<round>/ for every round in translate.rounds,
reports/review/human.json (expert review), reports/compare.json (significance, breakdown per genre
and book, decision criteria), reports/rounds/<round>.json (training data and loss per
step of every round in rounds:), the proofreading figures per book in reports/align.json and the
planner's estimate for the rounds trained so far. Writes reports/index.html (Vega-Lite charts with the
vendored vega-embed inlined: no network) and, for `dvc plots`, reports/plots/rounds.json (metrics over rounds) and
reports/plots/position.json (length ratio and omissions over position, one row per round and bin).
Every file is found by round name from params.yaml: dvc.yaml names no round.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.io import atomic_write_text, read_json, write_json
from booktrans.report import position_table, render_report, rounds_table
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


def run(params_path: Path, metrics_dir: Path, evaluation: Path, out: Path, plots: Path, rounds_dir: Path = Path("reports/rounds"),
        human_path: Path = Path("reports/review/human.json"), align_report: Path = Path("reports/align.json"),
        compare_path: Path = Path("reports/compare.json")) -> int:
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
    human = read_json(human_path) if human_path.exists() else None
    summaries = {r: read_json(rounds_dir / f"{r}.json") for r in (get(params, "rounds") or {}) if (rounds_dir / f"{r}.json").exists()}
    datasets = {r: s["data"] for r, s in summaries.items()}
    losses = {r: s["loss"] for r, s in summaries.items()}
    aligned = read_json(align_report) if align_report.exists() else {}
    proofreading = {b: {"split": v.get("split"), **v["proofreading"]} for b, v in sorted(aligned.items()) if "proofreading" in v}
    notes = []
    if str(get(params, "model.base")) == "tiny":
        notes.append("These scores come from model.base: tiny, a small random-initialised model used to run the "
                     "pipeline on a CPU. They say nothing about translation quality.")
    page = render_report(metrics, notes=notes, details=details, positions=positions, human=human, datasets=datasets,
                         losses=losses, cost=_cost(params, sorted(losses)), proofreading=proofreading, systems=systems,
                         compare=read_json(compare_path) if compare_path.exists() else None)
    atomic_write_text(out, page)
    write_json(plots / "rounds.json", {"rounds": rounds_table(metrics)})
    write_json(plots / "position.json", {"position": position_table(positions)})
    log.info("wrote %s (%d rounds)", out, len(metrics))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--metrics", type=Path, default=Path("reports/metrics"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"))
    ap.add_argument("--out", type=Path, default=Path("reports/index.html"))
    ap.add_argument("--plots", type=Path, default=Path("reports/plots"), help="folder of the files for dvc plots")
    ap.add_argument("--rounds", type=Path, default=Path("reports/rounds"), help="per-round summaries (round-summary stage)")
    ap.add_argument("--human", type=Path, default=Path("reports/review/human.json"), help="expert review scores")
    ap.add_argument("--align", type=Path, default=Path("reports/align.json"), help="the align report (proofreading per book)")
    ap.add_argument("--compare", type=Path, default=Path("reports/compare.json"),
                    help="significance, breakdown per genre and book and decision verdicts (compare stage)")
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.metrics, args.evaluation, args.out, args.plots, args.rounds, args.human, args.align, args.compare)


if __name__ == "__main__":
    run_main(main)
