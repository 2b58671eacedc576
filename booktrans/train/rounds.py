"""One training round: build the model, feed the trainer, train (resuming when a checkpoint is
there), evaluate, and write the output folder."""

from __future__ import annotations

import logging
import math
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..io import replace_dir, write_json
from ..model.store import ModelInfo, base_config, load_model, read_info
from . import sparse as _sparse
from .config import TrainConfig, check_chain, sparse_spec, validate
from .data import Collator, encode_example, index_rows, pack_examples
from .output import finish_output, merged_start
from .resume import check_restart, fingerprint, last_complete_checkpoint, run_layout
from .trainer import make_callbacks, make_trainer_class, sequence_parallel_scope, training_args

log = logging.getLogger(__name__)


def build_model(init_dir: Path, cfg: TrainConfig, spec=None, start: Path | None = None):
    """(model, tokenizer, the starting model's ModelInfo, whether its adapter is trained on). ``start``:
    where the weights come from when the round does not continue ``init_dir``'s adapter (the merged
    folder ``output.merged_start`` wrote; default ``init_dir``, merged here)."""
    import torch

    init = read_info(init_dir)
    attn = cfg.attn_implementation
    if spec is not None and cfg.sequence_parallel == 1:
        attn = _sparse.register()  # under Ulysses the model keeps the core name; _sparse.swap_core puts it there
    load = dict(dtype=cfg.dtype, attn_implementation=attn, rope_scaling=cfg.rope_scaling, sparse="off")
    quant = None
    if cfg.method == "qlora":
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    continue_adapter = cfg.method in ("lora", "qlora") and cfg.chain == "continue" and init.kind == "adapter"
    if continue_adapter:
        model, tok = load_model(init_dir, trainable=True, quantization_config=quant, **load)
    else:
        model, tok = load_model(start or init_dir, merge_adapters=True, quantization_config=quant, **load)
    if cfg.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    if cfg.method in ("lora", "qlora") and not continue_adapter:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.target_modules),
            modules_to_save=list(cfg.trainable) or None,
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    if spec is not None:
        n = _sparse.install(model, spec, core=cfg.attn_implementation)
        log.info(
            "sparse attention %s in %d of %d layers: %s",
            spec.kind,
            n,
            model.config.get_text_config().num_hidden_layers,
            spec.to_dict(),
        )
    if cfg.gradient_checkpointing and cfg.method != "full":
        model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
    model.config.use_cache = False  # a cache in training would also hide packed rows from the mask builder
    return model, tok, init, continue_adapter


def train_round(
    init_dir: Path,
    out_dir: Path,
    train_docs: list[dict],
    valid_docs: list[dict],
    cfg: TrainConfig,
    round_name: str,
    scratch_dir: Path,
    live_dir: Path | None = None,
    callbacks: list | None = None,
    keep_checkpoints: bool = False,
) -> dict:
    """Train one round starting from ``init_dir`` and write the result to ``out_dir`` (replaced whole,
    by the main process only). Returns a summary with the loss history (deterministic values only)."""
    import torch
    from transformers import set_seed

    if not train_docs:
        raise ConfigError(f"round {round_name}: the training set is empty")
    init_dir, out_dir = Path(init_dir), Path(out_dir)
    check_chain(round_name, init_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    validate(cfg, round_name, base_config(init_dir), gpu=torch.cuda.is_available(), world_size=world)
    spec = sparse_spec(cfg, round_name, base_config(init_dir))
    set_seed(cfg.seed)
    args = training_args(cfg, Path(scratch_dir), world)  # before the model: ZeRO-3 must see it to shard at load time
    layout = run_layout(args)
    if cfg.sequence_parallel > 1:
        # DeepSpeed makes its sequence-parallel groups through its own communication layer, which only
        # ZeRO-3's sharded loading brings up early; under ZeRO-2 it must be started here
        import deepspeed

        deepspeed.init_distributed(verbose=False)
    run_id = fingerprint(cfg, train_docs, init_dir)
    checkpoints = Path(scratch_dir) / fingerprint(cfg, train_docs, init_dir, layout)
    check_restart(Path(scratch_dir), run_id, layout, round_name)
    args.output_dir = str(checkpoints)
    start = merged_start(init_dir, cfg, checkpoints, args)  # rank 0 merges whole weights, the others wait
    model, tok, init, continued = build_model(init_dir, cfg, spec, start)
    train = [encode_example(d["messages"], tok, cfg.context) for d in train_docs]
    valid = [encode_example(d["messages"], tok, cfg.context) for d in valid_docs]
    rows = pack_examples(train, cfg.context) if cfg.packing else train
    valid_rows = pack_examples(valid, cfg.context) if cfg.packing else valid
    trainer_cls = make_trainer_class()
    collator = Collator(tok.pad_token_id, sp=cfg.sequence_parallel, sp_rank=args.process_index % cfg.sequence_parallel)
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=index_rows(rows),
        eval_dataset=index_rows(valid_rows) or None,
        data_collator=collator,
        callbacks=make_callbacks(live_dir, round_name) + list(callbacks or []),
    )
    trainer.chunked = cfg.loss == "chunked"  # Liger on or off (its fused losses are turned off)
    trainer.measure_logits = "logits" in (cfg.extra.get("measure") or ())
    trainer.measure_memory = "memory" in (cfg.extra.get("measure") or ())
    trainer.loss_chunk = cfg.loss_chunk
    trainer.sequence_parallel = cfg.sequence_parallel
    resume = last_complete_checkpoint(checkpoints)
    if resume:
        log.info("%s: resuming from %s", round_name, resume)
    elif trainer.is_world_process_zero():
        write_json(checkpoints / "run.json", {"run": run_id, "layout": layout, "round": round_name})
    calls_before = dict(_sparse.CALLS)
    with (
        _sparse.swap_core(cfg.attn_implementation, spec is not None and cfg.sequence_parallel > 1),
        sequence_parallel_scope(cfg),
    ):
        run = RoundRun(
            cfg=cfg,
            name=round_name,
            init_dir=init_dir,
            start=start,
            init=init,
            continued=continued,
            tok=tok,
            out_dir=out_dir,
            checkpoints=checkpoints,
            keep_checkpoints=keep_checkpoints,
            layout=layout,
            spec=spec,
            train=train,
            rows=rows,
            valid=valid,
            valid_rows=valid_rows,
        )
        summary = run_and_save(trainer, args, run, resume)
    if spec is not None:  # what ran in this process (proof the pattern was used, per rank)
        summary["sparse_attention_calls"] = {
            k: v - calls_before.get(k, 0) for k, v in _sparse.CALLS.items() if v - calls_before.get(k, 0)
        }
    return summary


@dataclass
class RoundRun:
    """What the end of a round needs besides the trainer: where it started and writes to, and what it
    was fed (for its summary)."""

    cfg: TrainConfig
    name: str
    init_dir: Path  # the starting model as the chain names it
    start: Path  # where its weights were loaded from (init_dir, or the merged folder in checkpoints)
    init: ModelInfo
    continued: bool  # the starting adapter is trained on
    tok: object
    out_dir: Path
    checkpoints: Path
    keep_checkpoints: bool
    layout: dict
    spec: object | None  # sparse attention
    train: list
    rows: list
    valid: list
    valid_rows: list


def _measured(trainer) -> dict:
    """What the meters turned on by ``extra["measure"]`` saw in this process (docs/train.md)."""
    out = {}
    if trainer.measure_logits:
        out["largest_logits_rows"] = dict(trainer.largest_logits_rows)
    if trainer.measure_memory:
        out["peak_bytes"] = dict(trainer.peak_bytes)
        out["held_bytes"] = dict(trainer.held_bytes)
    return out


def run_and_save(trainer, args, run: RoundRun, resume: str | None) -> dict:
    """Train (from ``resume`` when given), evaluate, and write the round's output folder from rank 0."""
    cfg, out_dir, checkpoints = run.cfg, run.out_dir, run.checkpoints
    train, rows, valid, valid_rows = run.train, run.rows, run.valid, run.valid_rows
    trainer.train(resume_from_checkpoint=resume)
    if valid_rows:
        trainer.evaluate()
    eval_loss = trainer.eval_loss if valid_rows else None
    # the round's own record of each step (full precision; restored with the state when resumed)
    steps = [
        {
            "step": h["step"],
            "loss": h.get("step_loss", h["loss"]),
            "targets": h.get("step_targets"),
            "grad_norm": h.get("grad_norm"),
            "learning_rate": h["learning_rate"],
        }
        for h in trainer.state.log_history
        if "loss" in h
    ]
    history = [{"step": r["step"], "loss": round(r["loss"], 6), "learning_rate": r["learning_rate"]} for r in steps]

    staging = out_dir.with_name(f".{out_dir.name}.staging")
    if trainer.is_world_process_zero() and staging.exists():
        shutil.rmtree(staging)
    trainer.accelerator.wait_for_everyone()
    with warnings.catch_warnings():
        # peft looks for the base model's config under the scrubbed name to detect vocabulary changes
        warnings.filterwarnings("ignore", message="Could not find a config file")
        trainer.save_model(str(staging))  # every rank: ZeRO-3 gathers the 16-bit weights for the main one
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        # with chain: merge, rank 0 merges the new adapter into the starting weights outside ZeRO-3
        finish_output(staging, run.init_dir, run.init, cfg, run.name, run.continued, run.tok, run.spec, run.start, args)
        replace_dir(staging, out_dir)
        if not run.keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return {
        "round": run.name,
        "method": cfg.method,
        "train_documents": len(train),
        "train_rows": len(rows),
        "valid_documents": len(valid),
        "train_tokens": sum(len(e["input_ids"]) for e in train),
        "steps": trainer.state.global_step,
        "checkpoints": str(checkpoints),
        "resumed_from": Path(resume).name if resume else None,
        "final_loss": history[-1]["loss"] if history else None,
        # token-weighted over the validation rows (each counted once), whatever the layout
        "eval_loss": eval_loss if eval_loss is not None and not math.isnan(eval_loss) else None,
        "eval_targets": trainer.eval_targets if valid_rows else None,
        "history": history,
        "step_records": steps,  # per optimizer step: loss and target tokens over every process, grad norm
        "grad_norms": [r["grad_norm"] for r in steps],
        "rank": int(args.process_index),
        "layout": {
            **run.layout,
            "sequence_parallel": cfg.sequence_parallel,
            "data_parallel": max(int(args.world_size) // cfg.sequence_parallel, 1),
        },
        # what this rank held in each micro-batch: rows, shape, positions, targets, sum of cross-entropies
        "micro_batches": trainer.shards,
        **({"measured": _measured(trainer)} if trainer.measure_logits or trainer.measure_memory else {}),
    }
