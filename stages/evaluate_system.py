"""Stage `evaluate-system@NAME`: an outside system scored with exactly the rounds' metrics.

    python stages/evaluate_system.py --params params.yaml --system deepseek \
        --translations reports/translations/deepseek \
        --text data/text --aligned data/aligned --lexicon data/lexicon.json --metrics reports/metrics/deepseek.json \
        --out reports/evaluation/deepseek

Scores the system's translations exactly as evaluate@rN scores a round's (booktrans.evaluate.scoring,
for the system's own directions when it lists them). A system that translate-system@NAME skipped (no API key) gets a
metrics file and an evaluation folder that say so, with the reason, instead of numbers: `dvc metrics show` and the
report show the row as skipped, and the outputs stay the same bytes on every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.evaluate.scoring import RoundEvalConfig, evaluate_round, write_skipped
from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging
from booktrans.translate.systems import parse_systems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--system", required=True)
    ap.add_argument("--translations", type=Path, required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument("--lexicon", type=Path, default=Path("data/lexicon.json"))
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    systems = parse_systems(P.translate.systems, list(P.translate.rounds))
    if args.system not in systems:
        raise BooktransError(
            f"translate.systems has no system {args.system!r} (systems: {', '.join(systems) or 'none'})"
        )
    if (args.translations / "skipped.json").exists():
        write_skipped(args.system, args.translations / "skipped.json", args.out, args.metrics)
        return 0
    books = [b.id for b in load_manifest(P.ingest.manifest) if b.split == "test"]
    directions = list(systems[args.system].directions or P.translate.directions)  # the system's own, if any
    evaluate_round(
        args.system,
        books,
        directions,
        args.translations,
        args.text,
        args.aligned,
        args.lexicon,
        RoundEvalConfig.from_params(P.evaluate),
    ).write(args.out, args.metrics)
    return 0


if __name__ == "__main__":
    run_main(main)
