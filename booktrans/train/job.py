"""One training round as the ``train@rN`` stage runs it: checks first (chain, config, selection
budget, validation books and lexical table), training in this process or under ``accelerate launch``
(this process waits; only rank 0 writes), then — once every training process has exited — the
checkpoints scored on the validation books and the best kept (booktrans.train.select)."""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import BooktransError, ConfigError
from ..io import read_jsonl, write_json
from ..model.store import base_config
from .config import TrainConfig, check_chain, validate
from .select import SelectConfig, ValidBook, check_select, select_round

log = logging.getLogger("train")


@dataclass(frozen=True)
class RoundJob:
    """Everything a round needs: its config, its files, and how to launch and select."""

    name: str
    cfg: TrainConfig
    data: Path  # data/sft/<round>: train.jsonl, valid.jsonl
    init: Path  # the model the round starts from
    out: Path  # models/<round>
    log: Path  # reports/train/<round>.json: loss per step
    report: Path  # reports/train/<round>-checkpoints.json
    manifest: Path  # its split: valid books score the checkpoints
    text: Path  # data/text, data/aligned: the validation books' text and beads
    aligned: Path
    lexicon: Path  # data/lexicon.json: the omission detector's lexical table
    checkpoint_dir: Path  # checkpoints go to <checkpoint_dir>/<round>, outside DVC
    keep_checkpoints: bool
    select_budget: dict  # chapters, tokens
    select: SelectConfig  # criterion, chapters and tokens are filled in from cfg and the budget
    omission: tuple[float, float, float]  # drop_cost, partial_threshold, partial_threshold_ref of the detector
    table_min_prob: float
    launcher: str  # python | accelerate
    accelerate_config: str

    @classmethod
    def from_params(cls, params, name: str, **paths) -> "RoundJob":
        """Round ``name`` of the typed params (booktrans.params.Params) with its files (``data``, ``init``,
        ``out``, ``log``, ``report``, ``text``, ``aligned``, ``lexicon``)."""
        from .config import config_for

        t, om = params.round_train(name), params.evaluate.omission
        return cls(
            name=name,
            cfg=config_for(params, name),
            manifest=Path(params.ingest.manifest),
            checkpoint_dir=Path(t.checkpoint_dir),
            keep_checkpoints=t.keep_checkpoints,
            select_budget={"chapters": t.select_budget.chapters, "tokens": t.select_budget.tokens},
            select=SelectConfig.from_params(params, name),
            omission=(om.drop_cost, om.partial_threshold, om.partial_threshold_ref),
            table_min_prob=om.table_min_prob,
            launcher=t.launcher,
            accelerate_config=t.accelerate_config,
            **paths,
        )

    @property
    def scratch(self) -> Path:
        return self.checkpoint_dir / self.name


def checkpoints_report(log_path: Path) -> Path:
    """reports/train/<round>-checkpoints.json beside the loss log reports/train/<round>.json."""
    return Path(log_path).with_name(f"{Path(log_path).stem}-checkpoints.json")


def check_round(job: RoundJob) -> None:
    """Everything that can be known before a launcher or a model is started."""
    check_chain(job.name, job.init)
    validate(job.cfg, job.name, base_config(job.init))


def valid_books(job: RoundJob) -> list[ValidBook]:
    """The manifest's validation books (split: valid) with their ingested text and aligned beads."""
    from ..manifest import load_manifest

    books = []
    for b in load_manifest(job.manifest):
        if b.split != "valid":
            continue
        files = {
            "zh": job.text / f"{b.id}.zh.jsonl",
            "en": job.text / f"{b.id}.en.jsonl",
            "beads": job.aligned / f"{b.id}.jsonl",
        }
        for f in files.values():
            if not f.is_file():
                raise BooktransError(
                    f"{f}: missing; validation book {b.id} needs its ingested text and its alignment "
                    f"to score the round's checkpoints (dvc repro align)"
                )
        books.append(
            ValidBook(b.id, {"zh": read_jsonl(files["zh"]), "en": read_jsonl(files["en"])}, read_jsonl(files["beads"]))
        )
    return books


def lexicon_translator(job: RoundJob):
    """The omission detector's cross-lingual evidence, as evaluate@rN uses it (data/lexicon.json)."""
    from ..align.similarity import LexicalTable
    from ..evaluate.omission import table_translator

    if not job.lexicon.is_file():
        raise BooktransError(
            f"{job.lexicon}: no lexical table; the align stage writes it (`dvc repro align`), and the "
            f"omission rate of the checkpoints' validation translations needs it"
        )
    return table_translator(LexicalTable.load(job.lexicon), job.table_min_prob)


def train_here(job: RoundJob) -> int:
    """Train the round in this process (a worker of the launcher, or alone)."""
    from .rounds import train_round

    check_round(job)
    cfg = job.cfg
    train_docs = read_jsonl(job.data / "train.jsonl")
    valid_docs = read_jsonl(job.data / "valid.jsonl")
    # a selecting round keeps its checkpoints until they are scored (select_checkpoint removes them)
    summary = train_round(
        job.init,
        job.out,
        train_docs,
        valid_docs,
        cfg,
        job.name,
        scratch_dir=job.scratch,
        live_dir=Path("reports/train/live") / job.name,
        keep_checkpoints=cfg.select != "last" or job.keep_checkpoints,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        write_json(job.log, summary["history"])
        if cfg.select == "last":  # nothing to score: the final weights stay, and say so
            select_round(
                job.out,
                job.init,
                Path(summary["checkpoints"]),
                cfg,
                job.name,
                [],
                replace(job.select, criterion="last"),
                job.report,
                final_step=summary["steps"],
            )
        else:  # what the selection (one process, once every rank has exited) needs to find
            write_json(
                job.scratch / "finished.json", {"checkpoints": summary["checkpoints"], "final_step": summary["steps"]}
            )
        log.info(
            "%s: %s, %d steps%s, final loss %s, eval loss %s",
            job.name,
            summary["method"],
            summary["steps"],
            f" (resumed from {summary['resumed_from']})" if summary["resumed_from"] else "",
            summary["final_loss"],
            summary["eval_loss"],
        )
    leave_process_group()
    return 0


def leave_process_group() -> None:
    """Every rank leaves the process group together once its part of the round is written: a group left
    for the interpreter's exit to tear down can abort a rank (gloo's threads destroyed while running:
    "terminate called without an active exception", SIGABRT after a finished round, which fails the
    launch and the stage). Nothing to do in a process that never joined one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def select_checkpoint(job: RoundJob) -> dict:
    """Score the round's checkpoints on the validation books and keep the best at ``job.out`` (one
    process, after training; see booktrans.train.select)."""
    import dataclasses

    cfg, scratch = job.cfg, job.scratch
    if not (scratch / "finished.json").is_file():
        raise BooktransError(
            f"{scratch / 'finished.json'}: missing; the training launch ended without its main process "
            f"finishing round {job.name}, so there are no checkpoints to score"
        )
    finished = json.loads((scratch / "finished.json").read_text(encoding="utf-8"))
    budget = job.select_budget
    check_select(cfg.select, f"round {job.name}: train", budget)
    sc = dataclasses.replace(
        job.select, criterion=cfg.select, chapters=int(budget.get("chapters", 0)), tokens=int(budget.get("tokens", 0))
    )
    books, om, translator = [], None, None
    if cfg.select != "last":
        books = valid_books(job)
        if books:
            from ..evaluate.omission import OmissionConfig

            drop, partial, partial_ref = (float(v) for v in job.omission)
            om = OmissionConfig(drop_cost=drop, partial_threshold=partial, partial_threshold_ref=partial_ref)
            translator = lexicon_translator(job)
    doc = select_round(
        job.out,
        job.init,
        Path(finished["checkpoints"]),
        cfg,
        job.name,
        books,
        sc,
        job.report,
        om,
        translator,
        final_step=int(finished["final_step"]),
    )
    if not job.keep_checkpoints:
        shutil.rmtree(finished["checkpoints"], ignore_errors=True)
    (scratch / "finished.json").unlink(missing_ok=True)
    return doc


def run_round(job: RoundJob, script: str, argv: list[str], worker: bool = False) -> int:
    """The whole round: checks, training (under ``accelerate launch`` of ``script argv --worker`` when the
    job's launcher is accelerate and this is not a worker), then the checkpoint selection."""
    from .launch import DEEPSPEED_ENV, launch_command, launch_env

    if not worker:  # what the selection needs is checked before any training starts
        check_round(job)
        check_select(job.cfg.select, f"round {job.name}: train", job.select_budget)
        if job.cfg.select != "last":
            valid_books(job)
            lexicon_translator(job)
    if job.launcher not in ("python", "accelerate"):
        raise ConfigError(f"train.launcher: {job.launcher!r} is not python or accelerate")
    if job.launcher == "accelerate" and not worker:
        check_round(job)  # fail here, before any worker or GPU starts
        cmd = launch_command(job.accelerate_config, script, [*argv, "--worker"])
        env, dropped = launch_env(dict(os.environ))
        if dropped:
            log.info("left out of the workers' environment (credentials): %s", ", ".join(dropped))
        log.info("launching: accelerate launch %s", shlex.join(cmd[3:]))
        Path(DEEPSPEED_ENV).unlink(missing_ok=True)  # accelerate appends to it on several nodes
        try:
            rc = subprocess.call(cmd, env=env)
        finally:
            Path(DEEPSPEED_ENV).unlink(missing_ok=True)
    else:
        rc = train_here(job)
    if rc == 0 and not worker and job.cfg.select != "last":
        select_checkpoint(job)  # every training process has exited: the scoring holds up no rank
    return rc
