"""One training round: LoRA (peft) on top of the previous round, loss on the assistant tokens only."""

from __future__ import annotations

import logging
import math
import shutil
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..model.store import ModelInfo, load_model, read_info, relpath, write_info

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    context: int                     # tokens; longer documents are truncated (the dataset never makes them)
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = -1              # > 0 overrides epochs
    batch_size: int = 1              # documents per device per step
    grad_accum: int = 1
    scheduler: str = "cosine"
    warmup_ratio: float = 0.0
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    seed: int = 0
    dtype: str = "float32"


def encode_example(messages: list[dict], tokenizer, context: int) -> dict:
    """input_ids and labels with every non-assistant token masked (-100)."""
    full = tokenizer.apply_chat_template(messages, tokenize=True)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True)
    if full[: len(prompt)] != prompt:
        raise ValueError("chat template renders the prompt differently inside the full conversation")
    labels = [-100] * len(prompt) + full[len(prompt):]
    # whatever the template puts after the end-of-turn token (ChatML: a newline) is not the model's to emit
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tokenizer.get_vocab() else tokenizer.eos_token_id
    if eos in full[len(prompt):]:
        end = len(prompt) + full[len(prompt):].index(eos) + 1
        labels[end:] = [-100] * (len(labels) - end)
    return {"input_ids": full[:context], "labels": labels[:context]}


class _Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        ids, labels, mask = [], [], []
        for b in batch:
            pad = width - len(b["input_ids"])
            ids.append(b["input_ids"] + [self.pad_id] * pad)
            labels.append(b["labels"] + [-100] * pad)
            mask.append([1] * len(b["input_ids"]) + [0] * pad)
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels), "attention_mask": torch.tensor(mask)}


def train_round(init_dir: Path, out_dir: Path, train_docs: list[dict], valid_docs: list[dict], cfg: TrainConfig,
                round_name: str, scratch_dir: Path) -> dict:
    """Train one round starting from ``init_dir`` (base model or previous round's adapter) and write the
    adapter to ``out_dir``. Returns a summary with the loss history (deterministic values only)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Trainer, TrainingArguments, set_seed

    if not train_docs:
        raise ValueError(f"{round_name}: the training set is empty")
    set_seed(cfg.seed)
    init = read_info(init_dir)
    model, tok = load_model(init_dir, dtype=cfg.dtype, trainable=True)
    if init.kind == "adapter":
        base_model_dir = (Path(init_dir) / init.base).resolve()  # type: ignore[operator]
    else:
        base_model_dir = Path(init_dir).resolve()
        lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=list(cfg.target_modules), task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    train = [encode_example(d["messages"], tok, cfg.context) for d in train_docs]
    valid = [encode_example(d["messages"], tok, cfg.context) for d in valid_docs]
    use_cpu = not torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(scratch_dir),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        lr_scheduler_type=cfg.scheduler,
        warmup_ratio=cfg.warmup_ratio,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=use_cpu,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        disable_tqdm=False,
    )
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=valid or None,
                      data_collator=_Collator(tok.pad_token_id))
    trainer.train()
    eval_loss = trainer.evaluate()["eval_loss"] if valid else None
    history = [{"step": h["step"], "loss": round(h["loss"], 6), "learning_rate": h["learning_rate"]}
               for h in trainer.state.log_history if "loss" in h]
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # peft looks for the base model's config under the scrubbed name to detect vocabulary changes
        warnings.filterwarnings("ignore", message="Could not find a config file")
        model.save_pretrained(str(out_dir))
    _scrub_adapter(out_dir)
    write_info(out_dir, ModelInfo(kind="adapter", context=cfg.context, round=round_name,
                                  base=relpath(base_model_dir, out_dir)))
    shutil.rmtree(scratch_dir, ignore_errors=True)
    return {
        "round": round_name,
        "train_documents": len(train),
        "valid_documents": len(valid),
        "train_tokens": sum(len(e["input_ids"]) for e in train),
        "steps": trainer.state.global_step,
        "final_loss": history[-1]["loss"] if history else None,
        "eval_loss": round(eval_loss, 6) if eval_loss is not None and not math.isnan(eval_loss) else None,
        "history": history,
    }


def _scrub_adapter(out_dir: Path) -> None:
    """Remove machine-specific paths and hash-seed-dependent orderings from what peft saves, so
    outputs are identical across clones and runs."""
    cfg_path = out_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = "booktrans-base"
    for key, value in cfg.items():  # peft keeps some lists as sets: their order follows the string-hash seed
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            cfg[key] = sorted(value)
    from ..io import write_json

    write_json(cfg_path, cfg)
    readme = out_dir / "README.md"
    if readme.exists():
        readme.unlink()
