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
killed run started again resumes from the last one. DVCLive logs loss, learning rate, tokens/s and
memory per step to reports/train/live/<round>/ (machine-dependent, so not a hashed output).
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from booktrans.errors import ConfigError
from booktrans.io import read_jsonl, write_json
from booktrans.model.store import base_config
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.train import TrainConfig, check_chain, config_for, train_round, validate
from booktrans.train.launch import DEEPSPEED_ENV, launch_command, launch_env

log = logging.getLogger("train")


def check(params: dict, round_name: str, init: Path) -> TrainConfig:
    """Everything that can be known before a launcher or a model is started; returns the round's config."""
    check_chain(round_name, init)
    cfg = config_for(params, round_name)
    validate(cfg, round_name, base_config(init))
    return cfg


def run(params_path: Path, round_name: str, data: Path, init: Path, out: Path, log_path: Path) -> int:
    params = load_params(params_path)
    cfg = check(params, round_name, init)
    train_docs = read_jsonl(data / "train.jsonl")
    valid_docs = read_jsonl(data / "valid.jsonl")
    summary = train_round(init, out, train_docs, valid_docs, cfg, round_name,
                          scratch_dir=Path(get(params, "train.checkpoint_dir", "build/checkpoints")) / round_name,
                          live_dir=Path("reports/train/live") / round_name,
                          keep_checkpoints=bool(get(params, "train.keep_checkpoints", False)))
    if int(os.environ.get("RANK", "0")) == 0:
        write_json(log_path, summary["history"])
        log.info("%s: %s, %d steps%s, final loss %s, eval loss %s", round_name, summary["method"], summary["steps"],
                 f" (resumed from {summary['resumed_from']})" if summary["resumed_from"] else "",
                 summary["final_loss"], summary["eval_loss"])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--init", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--log", type=Path, required=True)
    ap.add_argument("--worker", action="store_true", help="already running under the launcher")
    args = ap.parse_args()
    setup_logging()
    params = load_params(args.params)
    launcher = get(params, "train.launcher", "python")
    if launcher not in ("python", "accelerate"):
        raise ConfigError(f"train.launcher: {launcher!r} is not python or accelerate")
    if launcher == "accelerate" and not args.worker:
        check(params, args.round, args.init)  # fail here, before any worker or GPU starts
        config = accelerate_config(params, args.round)
        cmd = launch_command(config, __file__, [*sys.argv[1:], "--worker"])
        env, dropped = launch_env(dict(os.environ))
        if dropped:
            log.info("left out of the workers' environment (credentials): %s", ", ".join(dropped))
        log.info("launching: accelerate launch %s", shlex.join(cmd[3:]))
        Path(DEEPSPEED_ENV).unlink(missing_ok=True)  # accelerate appends to it on several nodes
        try:
            return subprocess.call(cmd, env=env)
        finally:
            Path(DEEPSPEED_ENV).unlink(missing_ok=True)
    return run(args.params, args.round, args.data, args.init, args.out, args.log)


def accelerate_config(params: dict, round_name: str) -> str:
    """The round's accelerate config: rounds.<round>.accelerate_config, else train.accelerate_config."""
    return str((get(params, "rounds") or {}).get(round_name, {}).get("accelerate_config")
               or get(params, "train.accelerate_config"))


if __name__ == "__main__":
    run_main(main)
