"""Stage `train@rN`: one training round, starting from the previous round's model.

    python stages/train.py --params params.yaml --round r2 --data data/sft/r2 --init models/r1 --out models/r2 \
        --log reports/train/r2.json

Method (LoRA, full, QLoRA), chaining (continue the previous adapter or merge it), long-context
settings and resumable checkpoints come from `train:` and `rounds.rN` in params.yaml (see
docs/train.md). With train.launcher: accelerate the same script is re-run under `accelerate launch`
with the config file named by the round's accelerate_config (rounds.rN, else train; DeepSpeed
ZeRO-2/3, one or several nodes), and this process waits for it: the master address is the hostfile's
first host, and variables that look like credentials stay out of the workers' environment. Only the main process writes:
models/<round>/ (the adapter, or merged 16-bit weights, and booktrans.json) and reports/train/<round>.json (loss and
learning rate per step). Checkpoints (optimizer shards included) go to build/checkpoints/<round>/, outside the DVC
output; a killed run started again resumes from the last one. With train.select chrf or omission
(rounds.rN.select per round) every checkpoint is kept, and once every training process has exited
this process translates the validation books (split: valid) with each within train.select_budget,
scores them (chrF, omission rate, length ratio) and puts the best at models/<round>;
reports/train/<round>-checkpoints.json lists every checkpoint's step and scores (booktrans.train.select). DVCLive logs
loss, learning rate, tokens/s and memory per step to reports/train/live/<round>/ (machine-dependent, so not a hashed
output).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging
from booktrans.train.job import RoundJob, checkpoints_report, run_round


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    setup_logging()
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--init", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument(
        "--checkpoints-report",
        type=Path,
        default=None,
        help="every checkpoint's step and validation scores (default: <log>-checkpoints.json beside --log)",
    )
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument("--lexicon", type=Path, default=Path("data/lexicon.json"))
    ap.add_argument("--worker", action="store_true", help="already running under the launcher")
    args = ap.parse_args()
    job = RoundJob.from_params(
        load(args.params),
        args.round,
        data=args.data,
        init=args.init,
        out=args.out,
        log=args.log,
        report=args.checkpoints_report or checkpoints_report(args.log),
        text=args.text,
        aligned=args.aligned,
        lexicon=args.lexicon,
    )
    return run_round(job, __file__, sys.argv[1:], worker=args.worker)


if __name__ == "__main__":
    run_main(main)
