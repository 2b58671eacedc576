"""Stage `train@rN`: one training round, starting from the previous round's model.

    python stages/train.py --params params.yaml --round r2 --data data/sft/r2 --init models/r1 --out models/r2 --log reports/train/r2.json

Method (LoRA, full, QLoRA), chaining (continue the previous adapter or merge it), long-context
settings and resumable checkpoints come from `train:` and `rounds.rN` in params.yaml (see
docs/train.md). With train.launcher: accelerate the same script is re-run under `accelerate launch`
with the config file named by the round's accelerate_config (rounds.rN, else train; DeepSpeed
ZeRO-2/3, one or several nodes), and this process waits for it: the master address is the hostfile's
first host, and variables that look like credentials stay out of the workers' environment. Only the main process writes: models/<round>/ (the adapter, or merged
16-bit weights, and booktrans.json) and reports/train/<round>.json (loss and learning rate per step).
Checkpoints (optimizer shards included) go to build/checkpoints/<round>/, outside the DVC output; a
killed run started again resumes from the last one. With train.select chrf or omission
(rounds.rN.select per round) every checkpoint is kept, and once every training process has exited
this process translates the validation books (split: valid) with each within train.select_budget,
scores them (chrF, omission rate, length ratio) and puts the best at models/<round>;
reports/train/<round>-checkpoints.json lists every checkpoint's step and scores (booktrans.train.select). DVCLive logs loss, learning rate, tokens/s and
memory per step to reports/train/live/<round>/ (machine-dependent, so not a hashed output).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.train import config_for
from booktrans.train.job import RoundJob, checkpoints_report, run_round
from booktrans.train.select import SelectConfig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    setup_logging()
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--init", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--checkpoints-report", type=Path, default=None,
                    help="every checkpoint's step and validation scores (default: <log>-checkpoints.json beside --log)")
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--aligned", type=Path, default=Path("data/aligned"))
    ap.add_argument("--lexicon", type=Path, default=Path("data/lexicon.json"))
    ap.add_argument("--worker", action="store_true", help="already running under the launcher")
    args = ap.parse_args()
    params = load_params(args.params)
    t, om = get(params, "translate"), get(params, "evaluate.omission")
    from booktrans.evaluate.omission import TABLE_MIN_PROB

    job = RoundJob(
        name=args.round, cfg=config_for(params, args.round), data=args.data, init=args.init, out=args.out, log=args.log,
        report=args.checkpoints_report or checkpoints_report(args.log), manifest=Path(get(params, "ingest.manifest")),
        text=args.text, aligned=args.aligned, lexicon=args.lexicon,
        checkpoint_dir=Path(get(params, "train.checkpoint_dir", "build/checkpoints")),
        keep_checkpoints=bool(get(params, "train.keep_checkpoints", False)),
        select_budget=dict(get(params, "train.select_budget", None) or {}),
        select=SelectConfig(directions=tuple(t["directions"]), translate=dict(t), dtype=str(get(params, "model.dtype")),
                            tiny_max_new_tokens=int(t.get("tiny_max_new_tokens", 0) or 0), seed=int(get(params, "seed"))),
        omission=(float(om["drop_cost"]), float(om["partial_threshold"])), table_min_prob=float(om.get("table_min_prob", TABLE_MIN_PROB)),
        launcher=get(params, "train.launcher", "python"),
        accelerate_config=str((get(params, "rounds") or {}).get(args.round, {}).get("accelerate_config")
                              or get(params, "train.accelerate_config", "")))
    return run_round(job, __file__, sys.argv[1:], worker=args.worker)


if __name__ == "__main__":
    run_main(main)
