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

from ..errors import ConfigError
from ..io import replace_dir, tree_digest, write_json
from ..model.store import ModelInfo, base_config, load_model, read_info, relpath, write_info
from .config import TrainConfig, check_chain, config_for, native_window, validate
from .loss import IGNORE, causal_lm_loss, chunked_ce_sum, sequence_parallel_mean, shift

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "config_for", "validate", "check_chain", "native_window", "encode_example",
           "pack_examples", "train_round", "causal_lm_loss", "chunked_ce_sum", "fingerprint"]


def encode_example(messages: list[dict], tokenizer, context: int) -> dict:
    """input_ids and labels with every non-assistant token masked (-100)."""
    full = tokenizer.apply_chat_template(messages, tokenize=True)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True)
    if full[: len(prompt)] != prompt:
        raise ValueError("chat template renders the prompt differently inside the full conversation")
    labels = [IGNORE] * len(prompt) + full[len(prompt):]
    # whatever the template puts after the end-of-turn token (ChatML: a newline) is not the model's to emit
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tokenizer.get_vocab() else tokenizer.eos_token_id
    if eos in full[len(prompt):]:
        end = len(prompt) + full[len(prompt):].index(eos) + 1
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
    """Pads a batch. Packed rows get position ids and no attention mask (padding is its own
    'document' of masked labels); unpacked rows get an attention mask."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        packed = "position_ids" in batch[0]
        ids, labels, mask, pos = [], [], [], []
        for b in batch:
            pad = width - len(b["input_ids"])
            ids.append(b["input_ids"] + [self.pad_id] * pad)
            labels.append(b["labels"] + [IGNORE] * pad)
            if packed:
                pos.append(b["position_ids"] + list(range(pad)))
            else:
                mask.append([1] * len(b["input_ids"]) + [0] * pad)
        out = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)}
        if packed:
            out["position_ids"] = torch.tensor(pos)
        else:
            out["attention_mask"] = torch.tensor(mask)
        return out


def fingerprint(cfg: TrainConfig, train_docs: list[dict], init_dir: Path) -> str:
    """Hash of everything that shapes the run: a checkpoint is resumed only by the same run."""
    h = hashlib.sha256()
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("save_steps", "extra")}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for d in train_docs:
        h.update(json.dumps(d["messages"], sort_keys=True, ensure_ascii=False).encode())
    h.update(tree_digest(init_dir))
    return h.hexdigest()[:16]


def _make_trainer_class():
    from transformers import Trainer

    class RoundTrainer(Trainer):
        """Trainer whose loss never holds the full-vocabulary logits of a long row at once."""

        chunked = True
        loss_chunk = 2048
        sequence_parallel = 1

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if not self.chunked:
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            inputs = dict(inputs)
            labels = inputs.pop("labels", None)
            shift_labels = inputs.pop("shift_labels", None)
            out = model(**inputs, output_hidden_states=True, logits_to_keep=1, use_cache=False)
            hidden = out.hidden_states[-1]
            head = self.accelerator.unwrap_model(model).get_output_embeddings()
            if shift_labels is None:
                hidden, targets = shift(hidden, labels)
            else:
                targets = shift_labels
            total, n = chunked_ce_sum(hidden, targets, head, self.loss_chunk)
            if self.sequence_parallel > 1:
                from deepspeed.utils import groups  # only present where sequence parallelism runs

                loss = sequence_parallel_mean(total, n, groups._get_sequence_parallel_group())
            else:
                loss = total / max(n, 1)
            return (loss, out) if return_outputs else loss

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

                self.live = Live(str(live_dir), resume=state.global_step > 0, save_dvc_exp=False, dvcyaml=None,
                                 report=None)

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
                log.info("%s step %d/%d  loss %.4f  lr %.3g  %.0f tok/s  mem %.0f MB  eta %s", round_name,
                         state.global_step, state.max_steps, logs["loss"], logs.get("learning_rate", 0.0), tps, mem,
                         time.strftime("%H:%M:%S", time.gmtime(eta)))

        def on_train_end(self, args, state, control, **kw):
            if self.live is not None:
                self.live.end()

    return [StepLog()]


def _build_model(init_dir: Path, cfg: TrainConfig):
    import torch

    init = read_info(init_dir)
    load = dict(dtype=cfg.dtype, attn_implementation=cfg.attn_implementation, rope_scaling=cfg.rope_scaling)
    quant = None
    if cfg.method == "qlora":
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                   bnb_4bit_compute_dtype=torch.bfloat16)
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

        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=list(cfg.target_modules), modules_to_save=list(cfg.trainable) or None,
                          task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    if cfg.gradient_checkpointing and cfg.method != "full":
        model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
    model.config.use_cache = False  # a cache in training would also hide packed rows from the mask builder
    return model, tok, init, continue_adapter


def _training_args(cfg: TrainConfig, checkpoints: Path):
    import torch
    from transformers import TrainingArguments

    gpu = torch.cuda.is_available()
    extra = {}
    if cfg.sequence_parallel > 1:
        from accelerate.utils import ParallelismConfig
        from accelerate.utils.dataclasses import DeepSpeedSequenceParallelConfig

        extra["parallelism_config"] = ParallelismConfig(
            sp_backend="deepspeed", sp_size=cfg.sequence_parallel,
            sp_handler=DeepSpeedSequenceParallelConfig(sp_seq_length_is_variable=True,
                                                       sp_attn_implementation=cfg.attn_implementation))
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
        save_steps=max(cfg.save_steps, 1),
        save_total_limit=2,
        eval_strategy="no",
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


def train_round(init_dir: Path, out_dir: Path, train_docs: list[dict], valid_docs: list[dict], cfg: TrainConfig,
                round_name: str, scratch_dir: Path, live_dir: Path | None = None, callbacks: list | None = None,
                keep_checkpoints: bool = False) -> dict:
    """Train one round starting from ``init_dir`` and write the result to ``out_dir`` (replaced whole,
    by the main process only). Returns a summary with the loss history (deterministic values only)."""
    import torch
    from transformers import set_seed
    from transformers.trainer_utils import get_last_checkpoint

    if not train_docs:
        raise ConfigError(f"round {round_name}: the training set is empty")
    init_dir, out_dir = Path(init_dir), Path(out_dir)
    check_chain(round_name, init_dir)
    validate(cfg, round_name, base_config(init_dir), gpu=torch.cuda.is_available(),
             world_size=int(os.environ.get("WORLD_SIZE", "1")))
    set_seed(cfg.seed)
    checkpoints = Path(scratch_dir) / fingerprint(cfg, train_docs, init_dir)
    args = _training_args(cfg, checkpoints)  # before the model: ZeRO-3 must see it to shard at load time
    model, tok, init, continued = _build_model(init_dir, cfg)
    train = [encode_example(d["messages"], tok, cfg.context) for d in train_docs]
    valid = [encode_example(d["messages"], tok, cfg.context) for d in valid_docs]
    rows = pack_examples(train, cfg.context) if cfg.packing else train
    valid_rows = pack_examples(valid, cfg.context) if cfg.packing else valid
    trainer_cls = _make_trainer_class()
    trainer = trainer_cls(model=model, args=args, train_dataset=rows, eval_dataset=valid_rows or None,
                          data_collator=_Collator(tok.pad_token_id),
                          callbacks=_make_callbacks(live_dir, round_name) + list(callbacks or []))
    trainer.chunked = cfg.loss == "chunked" and not cfg.use_liger
    trainer.loss_chunk = cfg.loss_chunk
    trainer.sequence_parallel = cfg.sequence_parallel
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    if resume:
        log.info("%s: resuming from %s", round_name, resume)
    trainer.train(resume_from_checkpoint=resume)
    eval_loss = trainer.evaluate()["eval_loss"] if valid_rows else None
    history = [{"step": h["step"], "loss": round(h["loss"], 6), "learning_rate": h["learning_rate"]}
               for h in trainer.state.log_history if "loss" in h]

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
        _finish_output(staging, init_dir, init, cfg, round_name, continued, tok)
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
        "resumed_from": Path(resume).name if resume else None,
        "final_loss": history[-1]["loss"] if history else None,
        "eval_loss": round(eval_loss, 6) if eval_loss is not None and not math.isnan(eval_loss) else None,
        "history": history,
    }


def _finish_output(staging: Path, init_dir: Path, init: ModelInfo, cfg: TrainConfig, round_name: str,
                   continued: bool, tok) -> None:
    """Turn what the trainer saved into a self-describing model directory."""
    extra = {"method": cfg.method}
    if cfg.rope_scaling:
        extra["rope_scaling"] = dict(cfg.rope_scaling)
    for name in ("training_args.bin",):
        (staging / name).unlink(missing_ok=True)
    if cfg.method == "full":
        tok.save_pretrained(str(staging))
        write_info(staging, ModelInfo(kind="full", context=cfg.context, round=round_name, extra=extra))
        return
    _scrub_adapter(staging)
    if cfg.chain == "merge":
        # fold the new adapter into the (already merged) starting weights: 16-bit weights are the output
        model, _ = load_model(init_dir, dtype=cfg.dtype, merge_adapters=True, rope_scaling=cfg.rope_scaling)
        from peft import PeftModel

        merged = PeftModel.from_pretrained(model, str(staging)).merge_and_unload()
        for p in list(staging.iterdir()):
            p.unlink() if p.is_file() else shutil.rmtree(p)
        merged.save_pretrained(str(staging))
        tok.save_pretrained(str(staging))
        write_info(staging, ModelInfo(kind="full", context=cfg.context, round=round_name, extra=extra))
        return
    base = (init_dir / init.base).resolve() if continued else init_dir.resolve()  # type: ignore[operator]
    write_info(staging, ModelInfo(kind="adapter", context=cfg.context, round=round_name,
                                  base=relpath(base, staging), extra=extra))  # staging sits beside the output


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
