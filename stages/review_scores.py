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
import logging
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.io import read_json, write_json
from booktrans.review.scores import aggregate, read_sheet, validate
from booktrans.stageutil import get, load_params, run_main, setup_logging

log = logging.getLogger("review-scores")


def run(params_path: Path, key_path: Path, completed: Path, metrics_dir: Path, out: Path) -> int:
    params = load_params(params_path)
    packet = read_json(key_path)
    items = packet["items"]
    key = {i: it["key"] for i, it in items.items()}
    files = sorted(p for p in completed.glob("*") if p.suffix.lower() in (".json", ".csv", ".xlsx")) if completed.is_dir() else []
    rows = []
    for f in files:
        rows += read_sheet(f)
    scored = validate(rows, key, items)
    round_metrics = {}
    for r in get(params, "translate.rounds"):
        f = metrics_dir / f"{r}.json"
        if f.exists():
            round_metrics[r] = read_json(f)
    result = aggregate(scored, items, round_metrics)
    result["packet"] = packet["packet"]
    result["sheets"] = len(files)
    if files and not scored:
        raise BooktransError(f"{completed}: {len(files)} sheet(s) but not one scored translation in them")
    write_json(out, result)
    if scored:
        log.info("%d ratings by %d rater(s) on %d passages; alpha (overall) %s", result["ratings"], result["raters"],
                 result["items_reviewed"], result["agreement"].get("overall"))
    else:
        log.info("no completed review sheets in %s yet", completed)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--key", type=Path, default=Path("reports/review/key.json"))
    ap.add_argument("--completed", type=Path, default=Path("reviews/completed"))
    ap.add_argument("--metrics", type=Path, default=Path("reports/metrics"))
    ap.add_argument("--out", type=Path, default=Path("reports/review/human.json"))
    args = ap.parse_args()
    setup_logging()
    return run(args.params, args.key, args.completed, args.metrics, args.out)


if __name__ == "__main__":
    run_main(main)
