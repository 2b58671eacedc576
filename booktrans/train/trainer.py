"""transformers' Trainer as a round runs it: the RoundTrainer class (loss, data loader, saving),
the per-step log, the TrainingArguments, and the scope that undoes Ulysses' global changes."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

from .config import TrainConfig
from .loss import IGNORE, chunks_needed, final_norm, round_loss

log = logging.getLogger(__name__)


def make_trainer_class():
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
        measure_logits = False  # TrainConfig.extra["measure"] holds "logits": meter every step and evaluation
        measure_memory = False  # ... holds "memory": peak tensor bytes of training and of evaluation

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.model_accepts_loss_kwargs = True  # compute_loss normalises by the step's tokens itself
            self.shards: list[dict] = []
            self.eval_records: list[dict] = []
            self.eval_loss: float | None = None
            self.eval_targets = 0
            self._announced = False
            self.largest_logits_rows = {"train": 0, "eval": 0}
            self.peak_bytes = {"train": 0, "eval": 0}
            self.held_bytes = {"train": 0, "eval": 0}  # live when the phase began (weights, state, buffers)
            self._memory = None
            self._metering = False
            self.add_callback(_StepRecord(self))

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

        # -- the logits meter -------------------------------------------------------------------
        @contextlib.contextmanager
        def _meter(self, phase: str):
            """The logits meter (booktrans.train.meters.LargestVocabTensor) around one step or one
            evaluation batch, when ``measure_logits``; the largest count goes to ``largest_logits_rows``."""
            if not self.measure_logits:
                yield
                return
            from .meters import LargestVocabTensor

            vocab = self.accelerator.unwrap_model(self.model).config.get_text_config().vocab_size
            with LargestVocabTensor(vocab) as meter:
                try:
                    yield
                finally:
                    seen = self.largest_logits_rows
                    seen[phase] = max(seen[phase], meter.rows)

        # -- the memory meter -------------------------------------------------------------------
        @contextlib.contextmanager
        def _memory_meter(self, phase: str):
            """booktrans.train.meters.PeakTensorMemory around training (its peak restarted at
            on_train_begin, once DeepSpeed's engine, partitions and buffers exist) or evaluation (restarted
            as it begins), when ``measure_memory``: this process's peak of live tensor bytes, the weights,
            ZeRO partitions and optimizer state held counted, goes to ``peak_bytes[phase]``. One meter
            over both phases, so evaluation starts from what training left alive."""
            if not self.measure_memory or self._metering:  # an evaluation inside training: training's peak
                yield
                return
            from .meters import PeakTensorMemory

            if self._memory is None:
                self._memory = PeakTensorMemory()
            meter = self._memory
            if phase == "eval":
                meter.reset(self._held())
                self.held_bytes["eval"] = int(meter.current)
            self._metering = True
            with meter:
                try:
                    yield
                finally:
                    self._metering = False
                    self.peak_bytes[phase] = max(self.peak_bytes[phase], int(meter.peak))

        def _held(self) -> list:
            from .meters import held_tensors

            return held_tensors(self.model_wrapped or self.model, self.optimizer)

        def train(self, *a, **kw):
            with self._memory_meter("train"):
                return super().train(*a, **kw)

        def training_step(self, *a, **kw):
            with self._meter("train"):  # the forward and the backward pass (and the step DeepSpeed runs)
                return super().training_step(*a, **kw)

        def prediction_step(self, *a, **kw):
            with self._meter("eval"):
                return super().prediction_step(*a, **kw)

        # -- loss -------------------------------------------------------------------------------
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            inputs = dict(inputs)
            rows = inputs.pop("row", None)
            sharded = inputs.get("shift_labels") is not None
            if num_items_in_batch is None:
                num_items_in_batch = self._get_num_items_in_batch([inputs], self.args.device)
            labels = inputs.pop("labels", None)
            targets = inputs.pop("shift_labels", None)
            if self.chunked:  # whatever Liger patched: its fused losses are off (training_args)
                unwrapped = self.accelerator.unwrap_model(model)
                everywhere = self._chunks_everywhere(targets if targets is not None else labels[:, 1:])
                local, _, out = round_loss(
                    model,
                    unwrapped.get_output_embeddings(),
                    final_norm(unwrapped),
                    inputs,
                    labels,
                    targets,
                    self.loss_chunk,
                    everywhere,
                )
                if targets is None:
                    targets = labels[:, 1:]
            else:  # transformers' loss (full logits), on this rank's slice under sequence parallelism
                out = model(**inputs, use_cache=False)
                unwrapped = self.accelerator.unwrap_model(model)
                local = unwrapped.loss_function(
                    logits=out.logits,
                    labels=labels if targets is None else None,
                    shift_labels=targets,
                    vocab_size=unwrapped.config.get_text_config().vocab_size,
                    num_items_in_batch=1,
                )  # 1: the sum, normalised below
                if targets is None:
                    targets = labels[:, 1:]
            self._record(model.training, inputs, rows, targets, local)
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

        def _record(self, training: bool, inputs, rows, targets, local):
            """What this rank held in one micro-batch and the sum of its cross-entropies (full
            precision): ``shards`` in training (returned in the round's summary), ``eval_records`` in
            evaluation (``evaluate`` turns them into the token-weighted loss)."""
            rec = {
                "rows": [int(r) for r in rows] if rows is not None else None,
                "loss_sum": float(local.detach()),
                "targets": int((targets != IGNORE).sum()),
            }
            if not training:
                self.eval_records.append(rec)
                return
            if not self.record_shards:
                return
            ids = inputs["input_ids"]
            pos = inputs.get("position_ids")
            rec = {"step": int(self.state.global_step) + 1, "shape": list(ids.shape), **rec}
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

        def step_loss(self, step: int) -> tuple[float, int]:
            """(loss, target tokens) of optimizer step ``step`` over every process, in float64 from the
            per-micro-batch sums: the token-weighted mean over the global batch. Every process must call
            it (an all-reduce over the world)."""
            import torch

            recs = [r for r in self.shards if r["step"] == step]
            total = torch.tensor(
                [sum(r["loss_sum"] for r in recs), sum(r["targets"] for r in recs)],
                dtype=torch.float64,
                device=self.args.device,
            )
            if self.args.world_size > 1:
                import torch.distributed as dist

                dist.all_reduce(total)
            s, n = (float(x) for x in total.cpu())
            return (s / n if n else float("nan")), int(n)

        def eval_loss_of(self, records: list[dict]) -> tuple[float | None, int]:
            """Token-weighted loss over the records of every process; a row read twice (accelerate's
            ``even_batches`` repeats rows to give every process the same number of batches) counts
            once. Every process must call it (an all-gather over the world)."""
            if self.args.world_size > 1:
                import torch.distributed as dist

                gathered = [None] * self.args.world_size
                dist.all_gather_object(gathered, records)
                records = [r for part in gathered for r in part]
            seen = {}
            for r in records:
                seen.setdefault(tuple(r["rows"]) if r["rows"] is not None else id(r), r)
            s = sum(r["loss_sum"] for r in seen.values())
            n = sum(r["targets"] for r in seen.values())
            return (s / n if n else None), n

        # -- evaluation and saving ----------------------------------------------------------------
        def evaluate(self, *a, **kw):
            # Evaluation reads whole rows on every rank (DeepSpeed's Ulysses attention is off in eval).
            collator = self.data_collator
            sharding = getattr(collator, "shard", False)
            if sharding:
                collator.shard = False
            self.eval_records = []
            try:
                with self._memory_meter("eval"):
                    metrics = super().evaluate(*a, **kw)
            finally:
                if sharding:
                    collator.shard = True
            self.eval_loss, self.eval_targets = self.eval_loss_of(self.eval_records)
            return metrics

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

    from transformers import TrainerCallback

    class _StepRecord(TrainerCallback):
        """The round's own record of every optimizer step, kept in ``state.log_history`` (so it is in
        every checkpoint and survives a resume): ``step_loss`` in full precision and ``step_targets``
        from the micro-batches' sums (``RoundTrainer.step_loss``), beside the Trainer's ``loss``, which
        transformers rounds to 4 decimals and averages over the processes."""

        def __init__(self, trainer) -> None:
            self.trainer = trainer
            self.pending = None

        def on_train_begin(self, args, state, control, **kw):
            if self.trainer._memory is not None:  # the training peak starts once the engine is built
                self.trainer._memory.reset(self.trainer._held())
                self.trainer.held_bytes["train"] = int(self.trainer._memory.current)

        def on_step_end(self, args, state, control, **kw):
            self.pending = self.trainer.step_loss(state.global_step)

        def on_log(self, args, state, control, logs=None, **kw):
            if self.pending is not None and logs and "loss" in logs and state.log_history:
                entry = state.log_history[-1]
                entry["step_loss"], entry["step_targets"] = self.pending
                self.pending = None

    return RoundTrainer


def make_callbacks(live_dir: Path | None, round_name: str):
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


def training_args(cfg: TrainConfig, checkpoints: Path, world_size: int = 1):
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
        per_device_eval_batch_size=1,  # one row per record: the evaluation loss is token-weighted per row
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
        # Liger brings its RMSNorm, RoPE and SwiGLU kernels only: its fused linear + cross-entropy reads
        # lm_head.weight by attribute (an empty shard under ZeRO-3), runs only in training with labels
        # passed to the model, and builds the whole rows' logits in evaluation; the round's own chunked
        # loss runs with Liger on or off (docs/train.md, "The loss never builds full logits")
        use_liger_kernel=cfg.use_liger,
        liger_kernel_config={"fused_linear_cross_entropy": False, "cross_entropy": False} if cfg.use_liger else None,
        include_num_input_tokens_seen=True,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
        **extra,
    )


class sequence_parallel_scope:
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
            # DeepSpeed also keeps the Ulysses state module as its model-parallel unit: a later round
            # without sequence parallelism would ask it for groups that no longer exist
            from deepspeed.utils import groups

            if groups.mpu is parallel_state_sp:
                groups.mpu = None
        return False
