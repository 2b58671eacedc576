"""Peak tensor memory of real training steps, measured on any device, the CPU included.

``PeakTensorMemory`` is a torch dispatch mode: every tensor an operator returns is counted by its
storage until the storage is freed, so the peak is the largest sum of live tensor bytes during the
step: what a GPU's caching allocator reports as ``max_memory_allocated`` minus fragmentation. The
planner (booktrans.train.plan.memory_per_gpu) is checked against it in tests/test_plan_memory.py.
"""

from __future__ import annotations


def _mode():
    import torch
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class PeakTensorMemory(TorchDispatchMode):
        """Largest sum of live tensor bytes while active, the storages of ``held`` included."""

        def __init__(self, held=()) -> None:
            super().__init__()
            self.live: dict[int, tuple] = {}
            self.current = 0
            for t in held:  # tensors alive before the step (weights, optimizer state): counted once
                self._add(t)
            self.peak = self.current

        def _add(self, t) -> bool:
            # Storages are keyed by their StorageImpl address. The weak reference kept in ``live`` pins
            # that address until a sweep drops it, so a freed storage's address is never taken by a new
            # one while its entry is here (tests/test_plan_memory.py). A storage already here may have
            # grown in place (``resize_``, an ``out=`` operator): its entry takes the new size.
            st = t.untyped_storage()
            ref = StorageWeakRef(st)
            size = st.nbytes()
            before = self.live.get(ref.cdata, (None, 0))[1]
            if size == before:  # counted already (or empty)
                return False
            self.live[ref.cdata] = (ref, size)
            self.current += size - before
            if size < before:
                return False
            # ``current`` also holds storages freed since the last sweep, so it can only be too high;
            # it needs the (costly) exact count only when it would raise the peak
            if self.current > getattr(self, "peak", 0):
                self._sweep()
            return True

        def _sweep(self) -> None:
            for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
                self.current -= self.live.pop(key)[1]

        def reset(self, held=()) -> None:
            """Start a new peak from what is alive now, the storages of ``held`` added (tensors made
            before the mode was entered, or outside it: weights loaded before, ZeRO-3's partitions)."""
            self._sweep()
            for t in held:
                self._add(t)
            self._sweep()
            self.peak = self.current

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            grew = False
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor) and not t.is_meta:
                    grew = self._add(t) or grew
            if grew and self.current > self.peak:
                self.peak = self.current
            return out

    return PeakTensorMemory


def PeakTensorMemory(held=()):  # noqa: N802 - a class made on first use (torch is imported lazily)
    """Count the peak of live tensor bytes inside ``with PeakTensorMemory(held) as m:`` (``m.peak``)."""
    return _mode()(held)


def held_tensors(model, optimizer=None) -> list:
    """The tensors a training process holds between steps: the model's parameters and buffers, each
    ZeRO-3 parameter's partition (``ds_tensor``), and the optimizer's state (every wrapper's, DeepSpeed's
    included). A meter entered after they were made counts them from :meth:`PeakTensorMemory.reset`;
    a storage reached twice (a parameter that is a view of DeepSpeed's flat buffer) is counted once."""
    import torch

    out = []
    for p in list(model.parameters()) + list(model.buffers()):
        out.append(p)
        if isinstance(getattr(p, "ds_tensor", None), torch.Tensor):
            out.append(p.ds_tensor)
    seen, opt = set(), optimizer
    while opt is not None and id(opt) not in seen:  # accelerate's wrapper, DeepSpeed's, torch's
        seen.add(id(opt))
        state = getattr(opt, "state", None)
        for entry in state.values() if isinstance(state, dict) else ():
            if isinstance(entry, dict):
                out.extend(v for v in entry.values() if isinstance(v, torch.Tensor))
        opt = getattr(opt, "optimizer", None)
    return [t for t in out if isinstance(t, torch.Tensor) and not t.is_meta]


def _vocab_mode():
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class LargestVocabTensor(TorchDispatchMode):
        """The largest vocabulary-wide tensor any operator creates while active: ``rows`` is its
        number of elements over the vocabulary (rows of logits, of their fp32 copy, softmax or
        gradient), ``shape`` its shape. Views are skipped (the head's transposed weight is one);
        so is anything whose last dimension is not the vocabulary. A dispatch mode sees what a
        forward hook on the head would miss: the upcast, the softmax, the logits' gradient in the
        backward pass (autograd runs under the mode that was active in the forward pass) and any
        kernel that reads the head's weight directly."""

        def __init__(self, vocab: int) -> None:
            super().__init__()
            self.vocab = int(vocab)
            self.rows = 0
            self.shape: list[int] | None = None

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not func.is_view:
                for t in tree_flatten(out)[0]:
                    if isinstance(t, torch.Tensor) and t.dim() >= 2 and t.shape[-1] == self.vocab:
                        rows = t.numel() // self.vocab
                        if rows > self.rows:
                            self.rows, self.shape = rows, list(t.shape)
            return out

    return LargestVocabTensor


def LargestVocabTensor(vocab: int):  # noqa: N802 - a class made on first use (torch is imported lazily)
    """``with LargestVocabTensor(V) as m:`` ... ``m.rows``: the most rows of any vocabulary-wide tensor
    created inside (a training round turns it on with ``TrainConfig.extra["measure"]`` holding
    ``"logits"``; the summary reports ``measured.largest_logits_rows`` for training and evaluation)."""
    return _vocab_mode()(vocab)


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
