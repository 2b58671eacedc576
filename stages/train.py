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
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from booktrans.errors import BooktransError, ConfigError
from booktrans.io import read_jsonl, write_json
from booktrans.manifest import load_manifest
from booktrans.model.store import base_config
from booktrans.stageutil import get, load_params, run_main, setup_logging
from booktrans.train import TrainConfig, check_chain, config_for, train_round, validate
from booktrans.train.select import SelectConfig, ValidBook, check_select, select_round
from booktrans.train.launch import DEEPSPEED_ENV, launch_command, launch_env

log = logging.getLogger("train")


def check(params: dict, round_name: str, init: Path) -> TrainConfig:
    """Everything that can be known before a launcher or a model is started; returns the round's config."""
    check_chain(round_name, init)
    cfg = config_for(params, round_name)
    validate(cfg, round_name, base_config(init))
    return cfg


def scratch_dir(params: dict, round_name: str) -> Path:
    return Path(get(params, "train.checkpoint_dir", "build/checkpoints")) / round_name


def checkpoints_report(log_path: Path) -> Path:
    """reports/train/<round>-checkpoints.json beside the loss log reports/train/<round>.json."""
    return Path(log_path).with_name(f"{Path(log_path).stem}-checkpoints.json")


def run(params_path: Path, round_name: str, data: Path, init: Path, out: Path, log_path: Path,
        report: Path | None = None) -> int:
    params = load_params(params_path)
    cfg = check(params, round_name, init)
    train_docs = read_jsonl(data / "train.jsonl")
    valid_docs = read_jsonl(data / "valid.jsonl")
    # a selecting round keeps its checkpoints until they are scored (select_checkpoint removes them)
    summary = train_round(init, out, train_docs, valid_docs, cfg, round_name, scratch_dir=scratch_dir(params, round_name),
                          live_dir=Path("reports/train/live") / round_name,
                          keep_checkpoints=cfg.select != "last" or bool(get(params, "train.keep_checkpoints", False)))
    if int(os.environ.get("RANK", "0")) == 0:
        write_json(log_path, summary["history"])
        if cfg.select == "last":  # nothing to score: the final weights stay, and say so
            select_round(out, init, Path(summary["checkpoints"]), cfg, round_name, [], SelectConfig(criterion="last"),
                         report or checkpoints_report(log_path), final_step=summary["steps"])
        else:  # what the selection (one process, once every rank has exited) needs to find
            write_json(scratch_dir(params, round_name) / "finished.json",
                       {"checkpoints": summary["checkpoints"], "final_step": summary["steps"]})
        log.info("%s: %s, %d steps%s, final loss %s, eval loss %s", round_name, summary["method"], summary["steps"],
                 f" (resumed from {summary['resumed_from']})" if summary["resumed_from"] else "",
                 summary["final_loss"], summary["eval_loss"])
    return 0


def valid_books(params: dict, text: Path, aligned: Path) -> list[ValidBook]:
    """The manifest's validation books (split: valid) with their ingested text and aligned beads."""
    books = []
    for b in load_manifest(get(params, "ingest.manifest")):
        if b.split != "valid":
            continue
        files = {"zh": text / f"{b.id}.zh.jsonl", "en": text / f"{b.id}.en.jsonl", "beads": aligned / f"{b.id}.jsonl"}
        for f in files.values():
            if not f.is_file():
                raise BooktransError(f"{f}: missing; validation book {b.id} needs its ingested text and its alignment "
                                     f"to score the round's checkpoints (dvc repro align)")
        books.append(ValidBook(b.id, {"zh": read_jsonl(files["zh"]), "en": read_jsonl(files["en"])},
                               read_jsonl(files["beads"])))
    return books


def lexicon_translator(params: dict, lexicon: Path):
    """The omission detector's cross-lingual evidence, as evaluate@rN uses it (data/lexicon.json)."""
    from booktrans.align.similarity import LexicalTable
    from booktrans.evaluate.omission import TABLE_MIN_PROB, table_translator

    if not lexicon.is_file():
        raise BooktransError(f"{lexicon}: no lexical table; the align stage writes it (`dvc repro align`), and the "
                             f"omission rate of the checkpoints' validation translations needs it")
    return table_translator(LexicalTable.load(lexicon),
                            float(get(params, "evaluate.omission").get("table_min_prob", TABLE_MIN_PROB)))


def select_checkpoint(params_path: Path, round_name: str, init: Path, out: Path, report: Path, text: Path,
                      aligned: Path, lexicon: Path) -> dict:
    """Score the round's checkpoints on the validation books and keep the best at ``out`` (one process,
    after training; see booktrans.train.select)."""
    params = load_params(params_path)
    cfg = config_for(params, round_name)
    scratch = scratch_dir(params, round_name)
    if not (scratch / "finished.json").is_file():
        raise BooktransError(f"{scratch / 'finished.json'}: missing; the training launch ended without its main process "
                             f"finishing round {round_name}, so there are no checkpoints to score")
    finished = json.loads((scratch / "finished.json").read_text(encoding="utf-8"))
    budget = dict(get(params, "train.select_budget", None) or {})
    check_select(cfg.select, f"round {round_name}: train", budget)
    sc = SelectConfig(criterion=cfg.select, chapters=int(budget.get("chapters", 0)), tokens=int(budget.get("tokens", 0)),
                      directions=tuple(get(params, "translate.directions")), translate=dict(get(params, "translate")),
                      tiny_max_new_tokens=int(get(params, "translate.tiny_max_new_tokens", 0) or 0),
                      dtype=str(get(params, "model.dtype")), seed=int(get(params, "seed")))
    books, om, translator = [], None, None
    if cfg.select != "last":
        books = valid_books(params, text, aligned)
        if books:
            from booktrans.evaluate.omission import OmissionConfig

            o = get(params, "evaluate.omission")
            om = OmissionConfig(drop_cost=float(o["drop_cost"]), partial_threshold=float(o["partial_threshold"]))
            translator = lexicon_translator(params, lexicon)
    doc = select_round(out, init, Path(finished["checkpoints"]), cfg, round_name, books, sc, report, om, translator,
                       final_step=int(finished["final_step"]))
    if not get(params, "train.keep_checkpoints", False):
        shutil.rmtree(finished["checkpoints"], ignore_errors=True)
    (scratch / "finished.json").unlink(missing_ok=True)
    return doc


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
    if not args.worker:  # what the selection needs is checked before any training starts
        params = load_params(args.params)
        select = check(params, args.round, args.init).select
        check_select(select, f"round {args.round}: train", dict(get(params, "train.select_budget", None) or {}))
        if select != "last":
            valid_books(params, args.text, args.aligned)
            lexicon_translator(params, args.lexicon)
    args.checkpoints_report = args.checkpoints_report or checkpoints_report(args.log)
    rc = train(args)
    if rc == 0 and not args.worker and config_for(load_params(args.params), args.round).select != "last":
        # every training process has exited: the scoring holds up no rank
        select_checkpoint(args.params, args.round, args.init, args.out, args.checkpoints_report, args.text,
                          args.aligned, args.lexicon)
    return rc


def train(args) -> int:
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
    return run(args.params, args.round, args.data, args.init, args.out, args.log, args.checkpoints_report)


def accelerate_config(params: dict, round_name: str) -> str:
    """The round's accelerate config: rounds.<round>.accelerate_config, else train.accelerate_config."""
    return str((get(params, "rounds") or {}).get(round_name, {}).get("accelerate_config")
               or get(params, "train.accelerate_config"))


if __name__ == "__main__":
    run_main(main)
