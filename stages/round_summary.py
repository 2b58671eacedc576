"""Stage `round-summary@rN`: what the report needs of one round, in one small file.

    python stages/round_summary.py --round r1 --data data/sft/r1/stats.json --loss reports/train/r1.json \
        --out reports/rounds/r1.json

Gathers the round's training-data statistics (documents, tokens, books, duplicates, leaks) and its
loss per step into reports/rounds/<round>.json. The report stage depends on the reports/rounds/
folder, so a round added to params.yaml reaches the report without an edit of dvc.yaml (the DVCLive
logs beside the loss file, reports/train/live/, depend on the machine and are not part of it).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from booktrans.io import read_json, write_json
from booktrans.stageutil import run_main, setup_logging

log = logging.getLogger("round-summary")


def run(round_name: str, data: Path, loss: Path, out: Path) -> int:
    stats = read_json(data)
    history = read_json(loss)
    write_json(out, {"round": round_name, "data": stats, "loss": history})
    log.info(
        "%s: %d training documents, %d logged steps",
        round_name,
        stats.get("train", {}).get("documents", 0),
        len(history),
    )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--round", required=True)
    ap.add_argument("--data", type=Path, required=True, help="data/sft/<round>/stats.json")
    ap.add_argument("--loss", type=Path, required=True, help="reports/train/<round>.json")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    setup_logging()
    return run(args.round, args.data, args.loss, args.out)


if __name__ == "__main__":
    run_main(main)
