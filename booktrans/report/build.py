"""The report page and the files for ``dvc plots`` from the pipeline's outputs: every file found by
round (or outside system) name in the folders the stages write, so a round added to params.yaml
reaches the report without an edit of dvc.yaml."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..io import atomic_write_text, read_json, write_json
from . import position_table, render_report, rounds_table

log = logging.getLogger("report")

TINY_NOTE = (
    "These scores come from model.base: tiny, a small random-initialised model used to run the "
    "pipeline on a CPU. They say nothing about translation quality."
)


@dataclass(frozen=True)
class ReportInputs:
    metrics: Path = Path("reports/metrics")  # <round>.json of every round and system
    evaluation: Path = Path("reports/evaluation")  # <round>/details.json, position.json
    rounds: Path = Path("reports/rounds")  # <round>.json: training data and loss per step
    human: Path = Path("reports/review/human.json")
    align: Path = Path("reports/align.json")  # proofreading figures per book
    compare: Path = Path("reports/compare.json")


def planned_cost(params, rounds: Path, root: Path) -> dict | None:
    """The planner's estimate (booktrans.train.plan.plan_summary) of every round in ``params`` from the
    training-data counts in ``rounds``/<round>.json (the round-summary stage's copy of the dataset's
    stats.json, which the report stage depends on); ``root`` names plan.model_config and the launch configs.
    None, with the reason logged, when it cannot be made: the page is still useful without it."""
    from ..train.plan import DataCounts, plan, plan_summary

    try:
        data = {r: DataCounts.read(rounds / f"{r}.json", "data", "train") for r in params.rounds}
        return plan_summary(plan(params, root, data))
    except Exception as exc:  # any failure only drops the estimate, and says why
        log.warning("no cost estimate: %s", exc)
        return None


def trained_cost(plan_summary: dict | None, trained: list[str]) -> dict | None:
    """The planner's GPU-hours and cost (booktrans.train.plan.plan_summary) of the rounds trained so far."""
    if plan_summary is None:
        return None
    rounds = {r: v for r, v in plan_summary["rounds"].items() if r in trained and "cost" in v}
    return {
        "model": plan_summary["model"],
        "rounds": rounds,
        "gpu_hours": round(sum(v["gpu_hours"] for v in rounds.values()), 4),
        "cost": round(sum(v["cost"] for v in rounds.values()), 2),
    }


def build_report(
    translated: list[str],
    systems: list[str],
    trained: list[str],
    inputs: ReportInputs,
    out: Path,
    plots: Path,
    tiny: bool = False,
    plan_summary: dict | None = None,
) -> None:
    """reports/index.html (``out``) comparing the ``translated`` rounds, the outside ``systems`` and the
    ``trained`` rounds' data and loss; plots/rounds.json and plots/position.json for ``dvc plots``."""
    metrics, details, positions = {}, {}, {}
    for r in translated:
        f = inputs.metrics / f"{r}.json"
        if not f.exists():
            log.warning("no metrics for %s (%s missing)", r, f)
            continue
        metrics[r] = read_json(f)
        if (inputs.evaluation / r / "details.json").exists():
            details[r] = read_json(inputs.evaluation / r / "details.json")
            positions[r] = read_json(inputs.evaluation / r / "position.json")["position"]
    outside = {
        s: read_json(inputs.metrics / f"{s}.json") for s in systems if (inputs.metrics / f"{s}.json").exists()
    }  # outside systems: rows beside the rounds
    human = read_json(inputs.human) if inputs.human.exists() else None
    summaries = {r: read_json(inputs.rounds / f"{r}.json") for r in trained if (inputs.rounds / f"{r}.json").exists()}
    datasets = {r: s["data"] for r, s in summaries.items()}
    losses = {r: s["loss"] for r, s in summaries.items()}
    aligned = read_json(inputs.align) if inputs.align.exists() else {}
    proofreading = {
        b: {"split": v.get("split"), **v["proofreading"]} for b, v in sorted(aligned.items()) if "proofreading" in v
    }
    page = render_report(
        metrics,
        notes=[TINY_NOTE] if tiny else [],
        details=details,
        positions=positions,
        human=human,
        datasets=datasets,
        losses=losses,
        cost=trained_cost(plan_summary, sorted(losses)),
        proofreading=proofreading,
        systems=outside,
        compare=read_json(inputs.compare) if inputs.compare.exists() else None,
    )
    atomic_write_text(out, page)
    write_json(plots / "rounds.json", {"rounds": rounds_table(metrics)})
    write_json(plots / "position.json", {"position": position_table(positions)})
    log.info("wrote %s (%d rounds)", out, len(metrics))
