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
import logging
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.evaluate.decision import check_criteria, decide
from booktrans.evaluate.significance import compare_all, system_units
from booktrans.io import read_json, write_json
from booktrans.manifest import load_manifest
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("compare")


def run(params_path: Path, evaluation: Path, human_path: Path, out: Path) -> int:
    params = load_params(params_path)
    cfg = get(params, "compare")
    if str(cfg.get("unit", "chapter")) != "chapter":
        raise BooktransError(f"{params_path}: compare.unit {cfg.get('unit')!r}: the pipeline resamples whole chapters (chapter)")
    books = [b for b in load_manifest(get(params, "ingest.manifest")) if b.split == "test"]
    genre = {b.id: b.genre for b in books}
    rounds = [r for r in get(params, "translate.rounds") if (evaluation / r / "details.json").is_file()]
    outside = [s for s in (get(params, "translate.systems") or {}) if (evaluation / s / "details.json").is_file()]
    criteria = list(get(params, "decision.criteria") or [])
    check_criteria(criteria, list(get(params, "translate.rounds")) + list(get(params, "translate.systems") or {}))
    alpha, resamples, seed = float(cfg["alpha"]), int(cfg["resamples"]), int(cfg["seed"])
    result: dict = {"settings": {"resamples": resamples, "seed": seed, "unit": "chapter", "alpha": alpha,
                                 "interval": "percentile, 95%", "p": "two-sided, sacrebleu's paired-bs convention"},
                    "directions": {}}
    units = {d: {s: system_units(evaluation / s, [b.id for b in books], d) for s in rounds + outside}
             for d in get(params, "translate.directions")}
    result["directions"] = compare_all(units, rounds, outside, genre, resamples, seed, alpha)
    for d, v in result["directions"].items():
        log.info("%s: %d chapters, %d segments, %d comparisons", d, v["chapters"], v["segments"], len(v["comparisons"]))
    human = read_json(human_path) if human_path.exists() else None
    result["decision"] = decide(criteria, rounds, list(result["directions"]), result["directions"], human)
    write_json(out, result)
    log.info("wrote %s", out)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--evaluation", type=Path, default=Path("reports/evaluation"), help="the evaluate stages' folders")
    ap.add_argument("--human", type=Path, default=Path("reports/review/human.json"), help="expert review scores")
    ap.add_argument("--out", type=Path, default=Path("reports/compare.json"))
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.evaluation, args.human, args.out)


if __name__ == "__main__":
    run_main(main)
