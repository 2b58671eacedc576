"""Stage `train@rN`: one training round, starting from the previous round's model.

    python stages/train.py --params params.yaml --round r2 --data data/sft/r2 --init models/r1 --out models/r2 --log reports/train/r2.json

Trains a LoRA adapter (peft) on the round's documents, loss on the assistant tokens only. With
train.launcher: accelerate the same script is re-run under `accelerate launch` with the config file
named by train.accelerate_config, and this process waits for it. Writes models/<round>/ (adapter and
booktrans.json) and reports/train/<round>.json (loss per step). Scratch checkpoints go to
build/checkpoints/<round>/, outside the DVC output.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import subprocess
import sys
from pathlib import Path

from booktrans.errors import ConfigError
from booktrans.io import atomic_dir, read_jsonl, write_json
from booktrans.model import read_info
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.train import TrainConfig, train_round

log = logging.getLogger("train")


def config_for(params: dict, round_name: str) -> TrainConfig:
    r = get(params, f"rounds.{round_name}")
    t = get(params, "train")
    return TrainConfig(
        context=int(r["context"]), learning_rate=float(r["learning_rate"]), epochs=float(r.get("epochs", 1)),
        max_steps=int(r.get("max_steps", -1)), batch_size=int(t["batch_size"]), grad_accum=int(t["grad_accum"]),
        scheduler=str(r.get("scheduler", t["scheduler"])), warmup_ratio=float(t["warmup_ratio"]),
        lora_r=int(t["lora"]["r"]), lora_alpha=int(t["lora"]["alpha"]), lora_dropout=float(t["lora"]["dropout"]),
        target_modules=tuple(t["lora"]["target_modules"]), seed=int(get(params, "seed")), dtype=str(get(params, "model.dtype")),
    )


def run(params_path: Path, round_name: str, data: Path, init: Path, out: Path, log_path: Path) -> int:
    params = load_params(params_path)
    if not (init / "booktrans.json").exists():
        raise ConfigError(f"{round_name}: its starting model {init} is missing; run the previous round first "
                          f"(dvc repro train@{init.name})")
    read_info(init)
    cfg = config_for(params, round_name)
    train_docs = read_jsonl(data / "train.jsonl")
    valid_docs = read_jsonl(data / "valid.jsonl")
    with atomic_dir(out) as tmp:
        summary = train_round(init, tmp, train_docs, valid_docs, cfg, round_name,
                              scratch_dir=Path("build/checkpoints") / round_name)
    write_json(log_path, summary["history"])
    log.info("%s: %d steps, final loss %s, eval loss %s", round_name, summary["steps"], summary["final_loss"], summary["eval_loss"])
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
    if launcher == "accelerate" and not args.worker:
        cmd = ["accelerate", "launch", "--config_file", str(get(params, "train.accelerate_config")),
               __file__, *sys.argv[1:], "--worker"]
        log.info("launching: %s", shlex.join(cmd))
        return subprocess.call(cmd)
    if launcher not in ("python", "accelerate"):
        raise ConfigError(f"train.launcher: {launcher!r} is not python or accelerate")
    return run(args.params, args.round, args.data, args.init, args.out, args.log)


if __name__ == "__main__":
    run_main(main)
