"""Peak tensor memory of real training steps, measured on any device, the CPU included.

``measure_step`` runs one real step under ``PeakTensorMemory`` (booktrans.train.meters: a torch dispatch
mode that counts every storage until it is freed, the quantity a GPU reports as
``max_memory_allocated`` minus fragmentation) and asks the planner (booktrans.train.plan.memory_per_gpu)
for the same step; tests/test_plan_memory.py checks one against the other.
"""

from __future__ import annotations

from .meters import PeakTensorMemory


def measure_step(
    workdir,
    shape: tuple,
    tokens: int,
    method: str,
    dtype: str,
    checkpointing: bool,
    loss_chunk: int = 256,
    *,
    params,
    phase: str = "train",
) -> tuple[int, dict]:
    """(measured peak bytes, the planner's memory_per_gpu parts) of one forward + backward step of a
    random Qwen2-architecture model of ``shape`` = (hidden, MLP, layers, heads, KV heads, vocabulary),
    built and fed by the training code itself (``rounds.build_model``, the collator, ``loss.round_loss``) on
    one row of ``tokens`` whose second half carries labels (a translation document). The optimizer's
    state exists (one step ran before); the planner is asked for one process without DeepSpeed. The
    other training settings are round r1's of ``params`` (booktrans.params.Params), LoRA rank 8.
    ``phase="eval"``: the peak of the round's evaluation of that row instead (model in eval mode, no
    gradient, the same loss; the gradients set to None as the Trainer leaves them), against the
    planner's ``eval`` part."""
    from dataclasses import replace
    from pathlib import Path

    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from ..model.store import ModelInfo, write_info
    from ..model.tiny import SPECIAL_TOKENS, train_tokenizer
    from .config import TrainConfig
    from .data import Collator
    from .loss import final_norm, round_loss
    from .plan import Arch, Hardware, memory_per_gpu
    from .rounds import build_model

    h, i, layers, heads, kv, vocab = shape
    base = Path(workdir) / "base"
    tok = train_tokenizer(["placeholder text"], 300)
    cfg_json = Qwen2Config(
        vocab_size=vocab,
        hidden_size=h,
        intermediate_size=i,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=max(8192, tokens),
        tie_word_embeddings=False,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(cfg_json).save_pretrained(str(base))
    tok.save_pretrained(str(base))
    write_info(base, ModelInfo(kind="full", context=tokens))
    cfg = replace(
        TrainConfig.from_params(params, "r1"),
        context=tokens,
        method=method,
        dtype=dtype,
        gradient_checkpointing=checkpointing,
        lora_r=8,
        loss_chunk=loss_chunk,
        learning_rate=1e-4,
    )
    model, _, _, _ = build_model(base, cfg)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(len(SPECIAL_TOKENS), vocab, (tokens,), generator=gen).tolist()
    labels = [-100] * (tokens // 2) + ids[tokens // 2 :]
    batch = Collator(0)([{"input_ids": ids, "labels": labels}])
    head, norm = model.get_output_embeddings(), final_norm(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def forward_backward():
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")}
        total, n, _ = round_loss(model, head, norm, inputs, labels=batch["labels"], chunk=cfg.loss_chunk)
        (total / n).backward()

    forward_backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    held = list(model.parameters()) + [v for st in opt.state.values() for v in st.values() if v.dim()]
    if phase == "eval":
        model.eval()
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")}
        with torch.no_grad(), PeakTensorMemory(held) as meter:
            round_loss(model, head, norm, inputs, labels=batch["labels"], chunk=cfg.loss_chunk)
    else:
        with PeakTensorMemory(held) as meter:
            forward_backward()
    planned = memory_per_gpu(
        Arch.from_config(cfg_json.to_dict()),
        cfg,
        Hardware.from_plan(params.plan, gpus=1, zero_stage=0, deepspeed=False, overhead_gib=0, fragmentation=0),
        sum(1 for label in labels[1:] if label != -100) / tokens,  # the row's share of labelled tokens
    )
    return meter.peak, planned
