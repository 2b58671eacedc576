"""One training round with transformers + peft (+ accelerate/DeepSpeed when launched that way).

- methods: LoRA (optionally with fully trained embeddings and norms, as in LongLoRA), full
  fine-tuning, QLoRA (bitsandbytes, GPU only); loss on the assistant tokens only;
- long context: gradient checkpointing, a chosen attention implementation, RoPE scaling, the loss
  in chunks (booktrans.train.loss), Liger kernels when installed, Ulysses sequence parallelism;
- packing: several documents per row, each attending only to itself (position ids restart per
  document, which transformers turns into a block-diagonal mask, or varlen flash attention);
- chaining: continue the previous round's adapter, or merge it into the weights and write merged
  16-bit weights;
- resume: checkpoints under a scratch folder keyed by a fingerprint of everything that shapes the
  run; a killed run picks up from its last checkpoint and ends with the same weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
import warnings
from dataclasses import asdict
from pathlib import Path

from ..errors import BooktransError, ConfigError
from ..io import replace_dir, tree_digest, write_json
from ..model.store import ModelInfo, base_config, load_model, read_info, relpath, write_info
from . import sparse as _sparse
from .config import TrainConfig, check_chain, config_for, native_window, sparse_spec, validate
from .loss import IGNORE, causal_lm_loss, chunked_ce_sum, chunks_needed, shift

log = logging.getLogger(__name__)

__all__ = [
    "TrainConfig",
    "config_for",
    "validate",
    "check_chain",
    "native_window",
    "encode_example",
    "pack_examples",
    "train_round",
    "causal_lm_loss",
    "chunked_ce_sum",
    "fingerprint",
]


def encode_example(messages: list[dict], tokenizer, context: int) -> dict:
    """input_ids and labels with every non-assistant token masked (-100)."""
    full = tokenizer.apply_chat_template(messages, tokenize=True)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True)
    if full[: len(prompt)] != prompt:
        raise ValueError("chat template renders the prompt differently inside the full conversation")
    labels = [IGNORE] * len(prompt) + full[len(prompt) :]
    # whatever the template puts after the end-of-turn token (ChatML: a newline) is not the model's to emit
    eos = (
        tokenizer.convert_tokens_to_ids("<|im_end|>")
        if "<|im_end|>" in tokenizer.get_vocab()
        else tokenizer.eos_token_id
    )
    if eos in full[len(prompt) :]:
        end = len(prompt) + full[len(prompt) :].index(eos) + 1
        labels[end:] = [IGNORE] * (len(labels) - end)
    return {"input_ids": full[:context], "labels": labels[:context]}


def pack_examples(examples: list[dict], context: int) -> list[dict]:
    """Concatenate encoded examples, in order, into rows of at most ``context`` tokens. Each row
    carries position ids that restart at 0 for every document: attention never crosses a document
    boundary, and no label is predicted across one (each document starts with masked prompt tokens)."""
    rows, cur = [], {"input_ids": [], "labels": [], "position_ids": []}
    for ex in examples:
        n = len(ex["input_ids"])
        if cur["input_ids"] and len(cur["input_ids"]) + n > context:
            rows.append(cur)
            cur = {"input_ids": [], "labels": [], "position_ids": []}
        cur["input_ids"] += ex["input_ids"]
        cur["labels"] += ex["labels"]
        cur["position_ids"] += list(range(n))
    if cur["input_ids"]:
        rows.append(cur)
    return rows


class _Collator:
    """Pads a batch to one width and gives every row position ids.

    - The width is rounded up to a multiple of the sequence-parallel degree, so every rank of a
      group gets a slice of the same length; padding carries no label.
    - Unpacked rows: positions 0..width-1 (continuing through the padding) and an attention mask.
      Packed rows: each document's positions restart at 0 (the padding is one more "document").
    - Sequence parallelism (``sp`` > 1, ``shard`` on): every rank of a group receives the same rows
      (the loader shards over data-parallel groups only) and keeps its contiguous slice
      ``[sp_rank * width / sp, (sp_rank + 1) * width / sp)`` of the input ids, the positions (which
      therefore continue across slices: RoPE sees the true position of every token) and the targets,
      shifted *before* slicing (``shift_labels``) so the last position of a slice predicts the first
      token of the next one. DeepSpeed's attention ignores the mask (padding sits at the end of a row,
      where causal attention never lets a real token see it); it is still passed for unpacked rows, as
      without it transformers takes the position ids for packed rows and builds a tokens x tokens mask.
    """

    def __init__(self, pad_id: int, sp: int = 1, sp_rank: int = 0) -> None:
        self.pad_id, self.sp, self.sp_rank = pad_id, sp, sp_rank
        self.shard = sp > 1

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        width = -(-width // self.sp) * self.sp
        packed = "position_ids" in batch[0]
        ids, labels, mask, pos = [], [], [], []
        for b in batch:
            n = len(b["input_ids"])
            pad = width - n
            ids.append(b["input_ids"] + [self.pad_id] * pad)
            labels.append(b["labels"] + [IGNORE] * pad)
            pos.append(b["position_ids"] + list(range(pad)) if packed else list(range(width)))
            mask.append([1] * n + [0] * pad)
        out = {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(pos)}
        if not self.shard:
            out["labels"] = torch.tensor(labels)
            if not packed:
                out["attention_mask"] = torch.tensor(mask)
            return out
        targets = torch.tensor(labels)
        targets = torch.cat([targets[:, 1:], torch.full((len(batch), 1), IGNORE)], dim=1)
        lo, hi = self.sp_rank * width // self.sp, (self.sp_rank + 1) * width // self.sp
        shard = {
            "input_ids": out["input_ids"][:, lo:hi].contiguous(),
            "position_ids": out["position_ids"][:, lo:hi].contiguous(),
            "shift_labels": targets[:, lo:hi].contiguous(),
        }
        if not packed:
            shard["attention_mask"] = torch.tensor(mask)[:, lo:hi].contiguous()
        return shard


def fingerprint(cfg: TrainConfig, train_docs: list[dict], init_dir: Path, layout: dict | None = None) -> str:
    """Hash of everything that shapes the run: a checkpoint is resumed only by the same run. ``layout``
    (processes, ZeRO stage) is part of it: a sharded checkpoint belongs to the layout that wrote it."""
    h = hashlib.sha256()
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("save_steps", "select", "extra")}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for d in train_docs:
        h.update(json.dumps(d["messages"], sort_keys=True, ensure_ascii=False).encode())
    h.update(tree_digest(init_dir))
    if layout is not None:
        h.update(json.dumps(layout, sort_keys=True).encode())
    return h.hexdigest()[:16]


def run_layout(args) -> dict:
    """How the processes of a run are laid out (what a sharded checkpoint depends on)."""
    plugin = getattr(args, "deepspeed_plugin", None)
    return {"world_size": int(args.world_size), "zero_stage": int(plugin.zero_stage) if plugin is not None else None}


def check_restart(scratch: Path, run_id: str, layout: dict, round_name: str) -> None:
    """Stop with one line when this round has checkpoints written by another process layout: a
    ZeRO checkpoint is sharded per process and cannot be resumed by a different number of them."""
    if not scratch.is_dir():
        return
    for meta in sorted(scratch.glob("*/run.json")):
        try:
            other = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        steps = sorted(
            int(p.name.split("-")[1])
            for p in meta.parent.glob("checkpoint-*")
            if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()
        )
        if other.get("run") != run_id or other.get("layout") == layout or not steps:
            continue
        was, now = other["layout"], layout
        raise ConfigError(
            f"round {round_name}: {meta.parent} holds a checkpoint at step {steps[-1]} written by {was['world_size']} "
            f"process(es) (ZeRO stage {was['zero_stage']}), but this run has {now['world_size']} (ZeRO stage "
            f"{now['zero_stage']}); restart with the same layout to resume, or delete that folder to "
            "start the round over"
        )


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint folder the Trainer finished writing, or None. The Trainer writes
    ``trainer_state.json`` last: a folder without it was cut off while saving (a killed process, a
    full disk) and cannot be resumed from, so the one before it is used and the cut one is named."""
    if not checkpoints.is_dir():
        return None
    found = sorted(
        (
            (int(p.name.split("-")[1]), p)
            for p in checkpoints.glob("checkpoint-*")
            if p.is_dir() and p.name.split("-")[1].isdigit()
        ),
        reverse=True,
    )
    for _, folder in found:
        if (folder / "trainer_state.json").is_file():
            return str(folder)
        log.warning("%s was not finished (no trainer_state.json): not resuming from it", folder)
    return None


def _make_trainer_class():
    from transformers import Trainer

    class RoundTrainer(Trainer):
        """transformers' Trainer with the loss, data and saving this project's rounds need.

        Loss: each micro-batch contributes (sum of its target-token cross-entropies) x D / N, where N
        counts the target tokens of the whole optimizer step (every micro-batch of the accumulation,
        every process; a sequence slice counts its own targets) and D is what the engine divides the
        summed gradients by (``_gradient_divisor``). The step's gradient is then that of the
        token-weighted mean over the global batch, whatever the split into micro-batches, processes
        or sequence slices (docs/train.md, "How a sequence-parallel round is fed").
        ``chunked`` projects only labelled positions to the vocabulary, ``loss_chunk`` at a time;
        otherwise transformers' own loss runs (on the local slice under sequence parallelism).
        """

        chunked = True
        loss_chunk = 2048
        sequence_parallel = 1
        record_shards = True

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.model_accepts_loss_kwargs = True  # compute_loss normalises by the step's tokens itself
            self.shards: list[dict] = []
            self._announced = False

        # -- optimizer --------------------------------------------------------------------------
        def create_optimizer(self):
            opt = super().create_optimizer()
            # an empty weight-decay group (LoRA trains no bias or norm) would be dropped by DeepSpeed,
            # leaving the scheduler with one learning rate too many
            opt.param_groups[:] = [g for g in opt.param_groups if g["params"]]
            return opt

        # -- data -------------------------------------------------------------------------------
        def get_train_dataloader(self):
            if self.sequence_parallel == 1:
                return super().get_train_dataloader()
            # Every rank of a sequence-parallel group must read the same rows (the collator keeps the
            # rank's slice), so the loader is sharded over the data-parallel groups, not the processes.
            from accelerate.data_loader import prepare_data_loader
            from torch.utils.data import DataLoader

            acc, sp = self.accelerator, self.sequence_parallel
            loader = DataLoader(
                self.train_dataset,
                batch_size=self._train_batch_size,
                collate_fn=self.data_collator,
                sampler=self._get_train_sampler(self.train_dataset),
                drop_last=self.args.dataloader_drop_last,
                num_workers=0,
            )
            loader = prepare_data_loader(
                loader,
                acc.device,
                num_processes=acc.num_processes // sp,
                process_index=acc.process_index // sp,
                split_batches=acc.split_batches,
                put_on_device=True,
                rng_types=acc.rng_types.copy(),
                dispatch_batches=acc.dispatch_batches,
                even_batches=acc.even_batches,
                use_seedable_sampler=acc.use_seedable_sampler,
                data_seed=acc.dataloader_config.data_seed,
                non_blocking=acc.non_blocking,
            )
            acc._dataloaders.append(loader)
            return loader

        def _get_num_items_in_batch(self, batch_samples, device):
            """Target tokens of the optimizer step, summed over every micro-batch and process (each
            rank of a sequence-parallel group counts its own slice, so a row is counted once)."""
            import torch

            n = 0
            for b in batch_samples:
                if b.get("shift_labels") is not None:
                    n += int((b["shift_labels"] != IGNORE).sum())
                elif b.get("labels") is not None:
                    n += int((b["labels"][:, 1:] != IGNORE).sum())
            n = torch.tensor(n, device=device, dtype=torch.long)
            if self.args.world_size > 1:
                n = self.accelerator.gather(n.reshape(1)).sum()
            return n

        # -- loss -------------------------------------------------------------------------------
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            inputs = dict(inputs)
            sharded = inputs.get("shift_labels") is not None
            if num_items_in_batch is None:
                num_items_in_batch = self._get_num_items_in_batch([inputs], self.args.device)
            if model.training and self.record_shards:
                self._record(inputs, inputs["shift_labels"] if sharded else inputs["labels"][:, 1:])
            if not self.chunked and not sharded:
                return super().compute_loss(
                    model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
                )
            labels = inputs.pop("labels", None)
            targets = inputs.pop("shift_labels", None)
            if self.chunked:
                head = self.accelerator.unwrap_model(model).get_output_embeddings()
                out = model(**inputs, output_hidden_states=True, logits_to_keep=1, use_cache=False)
                hidden = out.hidden_states[-1]
                if targets is None:
                    hidden, targets = shift(hidden, labels)
                local, _ = chunked_ce_sum(hidden, targets, head, self.loss_chunk, self._chunks_everywhere(targets))
            else:  # transformers' loss on this rank's slice
                out = model(**inputs, use_cache=False)
                unwrapped = self.accelerator.unwrap_model(model)
                local = unwrapped.loss_function(
                    logits=out.logits,
                    labels=None,
                    shift_labels=targets,
                    vocab_size=unwrapped.config.get_text_config().vocab_size,
                    num_items_in_batch=1,
                )  # 1: the sum, normalised below
            n = (
                num_items_in_batch.clamp(min=1)
                if torch.is_tensor(num_items_in_batch)
                else max(int(num_items_in_batch), 1)
            )
            loss = local * self._gradient_divisor(sharded) / n
            if sharded and self.sequence_parallel > 1:
                # The value reported is the whole rows' loss (the Trainer averages the processes' values,
                # so each reports its group's sum x dp / N); the gradient stays this slice's share.
                import torch.distributed as dist
                from deepspeed.runtime.sequence_parallel import parallel_state_sp

                whole = local.detach().clone()
                dist.all_reduce(whole, group=parallel_state_sp.get_sequence_parallel_group())
                whole = whole * (self.args.world_size // self.sequence_parallel) / n
                loss = loss + (whole - loss.detach())
            return (loss, out) if return_outputs else loss

        def _gradient_divisor(self, sharded: bool) -> int:
            """What the engine divides the sum of the processes' gradients by.

            Without sequence parallelism: the number of processes (DDP and every ZeRO stage average).
            Under it (``sharded``: each rank holds a slice of the same rows, so the slices' gradients
            must be summed within a group and averaged over the dp groups), DeepSpeed 0.18-0.19 differs
            by stage: ZeRO-1/2 divide by dp (stage_1_and_2.py: world / sp), while ZeRO-3's default
            reduce-scatter path (reduce_scatter: true) averages over every process (world), ignoring
            the groups; its contiguous all-reduce path divides by world / sp. Measured in
            tests/test_train_multiprocess.py and by `make smoke-cluster` (gradient norm against one
            process)."""
            world = self.args.world_size
            if not sharded or self.sequence_parallel == 1:
                return world
            plugin = getattr(self.accelerator.state, "deepspeed_plugin", None)
            zero = (plugin.deepspeed_config.get("zero_optimization") or {}) if plugin is not None else {}
            if int(zero.get("stage", 0)) == 3 and zero.get("reduce_scatter", True):
                return world
            return world // self.sequence_parallel

        def _chunks_everywhere(self, targets) -> int:
            """The largest number of loss chunks any process needs for this micro-batch (see chunked_ce_sum)."""
            if self.args.world_size == 1:
                return 0
            import torch
            import torch.distributed as dist

            n = torch.tensor([chunks_needed(int((targets != IGNORE).sum()), self.loss_chunk)], device=targets.device)
            dist.all_reduce(n, op=dist.ReduceOp.MAX)
            return int(n.item())

        def _record(self, inputs, targets):
            """What this rank held in one micro-batch (returned in the round's summary)."""
            ids = inputs["input_ids"]
            pos = inputs.get("position_ids")
            rec = {
                "step": int(self.state.global_step) + 1,
                "shape": list(ids.shape),
                "targets": int((targets != IGNORE).sum()),
            }
            if pos is not None:
                rec["positions"] = [int(pos[0, 0]), int(pos[0, -1])]
            self.shards.append(rec)
            if not self._announced and self.sequence_parallel > 1:
                self._announced = True
                r = self.args.process_index
                log.info(
                    "sequence parallel %d: rank %d holds %d of every row's tokens (positions %s..%s of the first row)",
                    self.sequence_parallel,
                    r,
                    ids.shape[1],
                    rec.get("positions", ["?"])[0],
                    rec.get("positions", [None, "?"])[1],
                )

        # -- evaluation and saving ----------------------------------------------------------------
        def evaluate(self, *a, **kw):
            # Evaluation reads whole rows on every rank (DeepSpeed's Ulysses attention is off in eval).
            collator = self.data_collator
            sharding = getattr(collator, "shard", False)
            if sharding:
                collator.shard = False
            try:
                return super().evaluate(*a, **kw)
            finally:
                if sharding:
                    collator.shard = True

        def save_model(self, output_dir=None, _internal_call=False):
            """Under DeepSpeed every rank joins the gather of the 16-bit weights (ZeRO-3 holds a shard of
            each tensor) and only the main process writes. transformers' N-D branch (taken whenever a
            parallelism config is set, i.e. under sequence parallelism) would skip the gather and let
            every rank write its empty shards into one folder."""
            if not self.is_deepspeed_enabled:
                return super().save_model(output_dir, _internal_call)
            output_dir = output_dir or self.args.output_dir
            state_dict = self.accelerator.get_state_dict(self.deepspeed)
            if self.args.should_save:
                self._save(output_dir, state_dict=state_dict)

    return RoundTrainer


def _make_callbacks(live_dir: Path | None, round_name: str):
    import resource

    import torch
    from transformers import TrainerCallback

    class StepLog(TrainerCallback):
        """Per step: loss, learning rate, tokens/s and peak memory, to DVCLive and the console (with ETA)."""

        def __init__(self) -> None:
            self.live = None
            self.t_prev = self.t0 = None
            self.tokens_prev = 0
            self.start_step = 0

        def on_train_begin(self, args, state, control, **kw):
            self.t_prev = self.t0 = time.monotonic()
            self.tokens_prev = state.num_input_tokens_seen or 0
            self.start_step = state.global_step
            if live_dir is not None and state.is_world_process_zero:
                from dvclive import Live

                self.live = Live(
                    str(live_dir), resume=state.global_step > 0, save_dvc_exp=False, dvcyaml=None, report=None
                )

        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs or "loss" not in logs:
                return
            now = time.monotonic()
            tokens = state.num_input_tokens_seen or 0
            tps = (tokens - self.tokens_prev) / max(now - self.t_prev, 1e-9)
            self.t_prev, self.tokens_prev = now, tokens
            if torch.cuda.is_available():
                mem = torch.cuda.max_memory_allocated() / 2**20
            else:
                mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            done = state.global_step - self.start_step
            left = max(state.max_steps - state.global_step, 0)
            eta = (now - self.t0) / max(done, 1) * left
            if self.live is not None:
                self.live.step = state.global_step
                self.live.log_metric("loss", logs["loss"])
                self.live.log_metric("learning_rate", logs.get("learning_rate", 0.0))
                self.live.log_metric("tokens_per_second", round(tps, 1))
                self.live.log_metric("memory_mb", round(mem, 1))
                self.live.make_summary()
            every = max(1, state.max_steps // 20)
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                log.info(
                    "%s step %d/%d  loss %.4f  lr %.3g  %.0f tok/s  mem %.0f MB  eta %s",
                    round_name,
                    state.global_step,
                    state.max_steps,
                    logs["loss"],
                    logs.get("learning_rate", 0.0),
                    tps,
                    mem,
                    time.strftime("%H:%M:%S", time.gmtime(eta)),
                )

        def on_train_end(self, args, state, control, **kw):
            if self.live is not None:
                self.live.end()

    return [StepLog()]


def _build_model(init_dir: Path, cfg: TrainConfig, spec=None):
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
        model, tok = load_model(init_dir, merge_adapters=True, quantization_config=quant, **load)
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


def _training_args(cfg: TrainConfig, checkpoints: Path, world_size: int = 1):
    import torch
    from transformers import TrainingArguments

    gpu = torch.cuda.is_available()
    extra = {}
    if cfg.sequence_parallel > 1:
        from accelerate.utils import ParallelismConfig
        from accelerate.utils.dataclasses import DeepSpeedSequenceParallelConfig

        # dp x sp = processes: DeepSpeed's batch size and the token count are per data-parallel group
        extra["parallelism_config"] = ParallelismConfig(
            sp_backend="deepspeed",
            sp_size=cfg.sequence_parallel,
            dp_replicate_size=max(world_size // cfg.sequence_parallel, 1),
            sp_handler=DeepSpeedSequenceParallelConfig(
                sp_seq_length_is_variable=True, sp_attn_implementation=cfg.attn_implementation
            ),
        )
    return TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        lr_scheduler_type=cfg.scheduler,
        warmup_ratio=cfg.warmup_ratio,
        logging_steps=1,
        save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=cfg.save_steps if 0 < cfg.save_steps < 1 else max(int(cfg.save_steps), 1),  # < 1: share of the steps
        save_total_limit=2 if cfg.select == "last" else None,  # a selecting round scores every checkpoint
        eval_strategy="no",
        prediction_loss_only=True,
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=not gpu,
        bf16=gpu and cfg.dtype == "bfloat16",
        gradient_checkpointing=cfg.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        use_liger_kernel=cfg.use_liger,
        include_num_input_tokens_seen=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
        **extra,
    )


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
    args = _training_args(cfg, Path(scratch_dir), world)  # before the model: ZeRO-3 must see it to shard at load time
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
    model, tok, init, continued = _build_model(init_dir, cfg, spec)
    train = [encode_example(d["messages"], tok, cfg.context) for d in train_docs]
    valid = [encode_example(d["messages"], tok, cfg.context) for d in valid_docs]
    rows = pack_examples(train, cfg.context) if cfg.packing else train
    valid_rows = pack_examples(valid, cfg.context) if cfg.packing else valid
    trainer_cls = _make_trainer_class()
    collator = _Collator(tok.pad_token_id, sp=cfg.sequence_parallel, sp_rank=args.process_index % cfg.sequence_parallel)
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=rows,
        eval_dataset=valid_rows or None,
        data_collator=collator,
        callbacks=_make_callbacks(live_dir, round_name) + list(callbacks or []),
    )
    trainer.chunked = cfg.loss == "chunked" and not cfg.use_liger
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
        _sequence_parallel_scope(cfg),
    ):
        summary = _train_and_save(
            trainer,
            args,
            cfg,
            resume,
            init_dir,
            out_dir,
            init,
            continued,
            tok,
            round_name,
            checkpoints,
            keep_checkpoints,
            layout,
            train,
            rows,
            valid,
            valid_rows,
            spec,
        )
    if spec is not None:  # what ran in this process (proof the pattern was used, per rank)
        summary["sparse_attention_calls"] = {
            k: v - calls_before.get(k, 0) for k, v in _sparse.CALLS.items() if v - calls_before.get(k, 0)
        }
    return summary


class _sequence_parallel_scope:
    """DeepSpeed's Ulysses registration replaces the attention function globally and creates process
    groups once per process; undo both when the round ends, so a process can train another round."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.key = cfg.attn_implementation if cfg.sequence_parallel > 1 else None

    def __enter__(self):
        if self.key:
            from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

            self.saved = ALL_ATTENTION_FUNCTIONS[self.key]
        return self

    def __exit__(self, *exc):
        if self.key:
            from deepspeed.runtime.sequence_parallel import parallel_state_sp
            from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

            ALL_ATTENTION_FUNCTIONS[self.key] = self.saved
            parallel_state_sp._release_sequence_parallel_groups()
        return False


def _train_and_save(
    trainer,
    args,
    cfg,
    resume,
    init_dir,
    out_dir,
    init,
    continued,
    tok,
    round_name,
    checkpoints,
    keep_checkpoints,
    layout,
    train,
    rows,
    valid,
    valid_rows,
    spec=None,
) -> dict:
    trainer.train(resume_from_checkpoint=resume)
    eval_loss = trainer.evaluate()["eval_loss"] if valid_rows else None
    history = [
        {"step": h["step"], "loss": round(h["loss"], 6), "learning_rate": h["learning_rate"]}
        for h in trainer.state.log_history
        if "loss" in h
    ]

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
        _finish_output(staging, init_dir, init, cfg, round_name, continued, tok, spec)
        replace_dir(staging, out_dir)
        if not keep_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return {
        "round": round_name,
        "method": cfg.method,
        "train_documents": len(train),
        "train_rows": len(rows),
        "valid_documents": len(valid),
        "train_tokens": sum(len(e["input_ids"]) for e in train),
        "steps": trainer.state.global_step,
        "checkpoints": str(checkpoints),
        "resumed_from": Path(resume).name if resume else None,
        "final_loss": history[-1]["loss"] if history else None,
        "eval_loss": round(eval_loss, 6) if eval_loss is not None and not math.isnan(eval_loss) else None,
        "history": history,
        "grad_norms": [h.get("grad_norm") for h in trainer.state.log_history if "loss" in h],
        "rank": int(args.process_index),
        "layout": {
            **layout,
            "sequence_parallel": cfg.sequence_parallel,
            "data_parallel": max(int(args.world_size) // cfg.sequence_parallel, 1),
        },
        "micro_batches": trainer.shards,  # what this rank held in each micro-batch (shapes, positions, targets)
    }


def _finish_output(
    staging: Path, init_dir: Path, init: ModelInfo, cfg: TrainConfig, round_name: str, continued: bool, tok, spec=None
) -> None:
    """Turn what the trainer saved into a self-describing model directory."""
    extra = {"method": cfg.method}
    if cfg.rope_scaling:
        extra["rope_scaling"] = dict(cfg.rope_scaling)
    if spec is not None:
        extra["sparse_attention"] = spec.to_dict()
    for name in ("training_args.bin",):
        (staging / name).unlink(missing_ok=True)
    if cfg.method == "full":
        tok.save_pretrained(str(staging))
        write_info(staging, ModelInfo(kind="full", context=cfg.context, round=round_name, extra=extra))
        return
    _scrub_adapter(staging)
    _check_not_empty(staging / "adapter_model.safetensors", round_name)
    if cfg.chain == "merge":
        # fold the new adapter into the (already merged) starting weights: 16-bit weights are the output
        model, _ = load_model(
            init_dir, dtype=cfg.dtype, merge_adapters=True, rope_scaling=cfg.rope_scaling, sparse="off"
        )
        from peft import PeftModel

        merged = PeftModel.from_pretrained(model, str(staging)).merge_and_unload()
        for p in list(staging.iterdir()):
            p.unlink() if p.is_file() else shutil.rmtree(p)
        merged.save_pretrained(str(staging))
        tok.save_pretrained(str(staging))
        write_info(staging, ModelInfo(kind="full", context=cfg.context, round=round_name, extra=extra))
        return
    base = (init_dir / init.base).resolve() if continued else init_dir.resolve()  # type: ignore[operator]
    write_info(
        staging,
        ModelInfo(kind="adapter", context=cfg.context, round=round_name, base=relpath(base, staging), extra=extra),
    )  # staging sits beside the output


def _check_not_empty(path: Path, round_name: str) -> None:
    """A saved adapter must hold every tensor whole; ZeRO-3 shards saved without a gather are empty."""
    from safetensors import safe_open

    if not path.exists():
        raise BooktransError(f"round {round_name}: the trainer wrote no adapter ({path} is missing)")
    with safe_open(str(path), "pt") as f:
        empty = [k for k in f.keys() if f.get_slice(k).get_shape() in ([], [0]) or 0 in f.get_slice(k).get_shape()]
        if empty or not list(f.keys()):
            raise BooktransError(
                f"round {round_name}: the saved adapter {path} has empty tensors ({', '.join(empty[:3])}); "
                f"the weights were not gathered before saving"
            )


def _scrub_adapter(out_dir: Path) -> None:
    """Remove machine-specific paths and hash-seed-dependent orderings from what peft saves, so
    outputs are identical across clones and runs."""
    cfg_path = out_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = "booktrans-base"
    for key, value in cfg.items():  # peft keeps some lists as sets: their order follows the string-hash seed
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            cfg[key] = sorted(value)
    write_json(cfg_path, cfg)
    readme = out_dir / "README.md"
    if readme.exists():
        readme.unlink()
