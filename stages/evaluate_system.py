"""Stage `evaluate-system@NAME`: an outside system scored with exactly the rounds' metrics.

    python stages/evaluate_system.py --params params.yaml --system deepseek --translations reports/translations/deepseek \
        --text data/text --aligned data/aligned --lexicon data/lexicon.json --metrics reports/metrics/deepseek.json \
        --out reports/evaluation/deepseek

Runs stages/evaluate.py on the system's translations (for the system's own directions when it lists
them). A system that translate-system@NAME skipped (no API key) gets a metrics file and an evaluation
folder that say so, with the reason, instead of numbers: `dvc metrics show` and the report show the
row as skipped, and the outputs stay the same bytes on every run.
"""

from __future__ import annotations

import argparse
import runpy
import sys
import tempfile
from pathlib import Path

import yaml

from booktrans.errors import BooktransError
from booktrans.io import atomic_dir, read_json, write_json
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.translate.systems import parse_systems

EVALUATE = Path(__file__).with_name("evaluate.py")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="Other options (--text, --aligned, --lexicon) go to evaluate.py.")
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--system", required=True)
    ap.add_argument("--translations", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args, rest = ap.parse_known_args()
    setup_logging()
    params = load_params(args.params)
    systems = parse_systems(get(params, "translate.systems", {}), list(get(params, "translate.rounds", [])))
    if args.system not in systems:
        raise BooktransError(f"translate.systems has no system {args.system!r} (systems: {', '.join(systems) or 'none'})")
    system = systems[args.system]
    skipped = args.translations / "skipped.json"
    if skipped.exists():
        note = read_json(skipped)
        with atomic_dir(args.out) as tmp:
            write_json(tmp / "skipped.json", note)
        write_json(args.metrics, {"round": args.system, "system": args.system, "skipped": note["skipped"]})
        return 0
    params_file = args.params
    with tempfile.TemporaryDirectory() as tmp:
        if system.directions and list(system.directions) != list(get(params, "translate.directions")):
            params["translate"]["directions"] = list(system.directions)  # the system's own directions only
            params_file = Path(tmp) / "params.yaml"
            params_file.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
        sys.argv = [str(EVALUATE), "--params", str(params_file), "--round", args.system, "--translations", str(args.translations),
                    "--metrics", str(args.metrics), "--out", str(args.out), *rest]
        runpy.run_path(str(EVALUATE), run_name="__main__")  # exits with evaluate.py's status
    return 0


if __name__ == "__main__":
    run_main(main)
