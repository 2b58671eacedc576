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

The modules, by job: ``config`` (settings and checks), ``data`` (encoding, packing, the collator),
``resume`` (checkpoint fingerprint and restart checks), ``trainer`` (the Trainer subclass, the step log,
TrainingArguments), ``output`` (the finished model folder), ``rounds`` (one round, end to end), ``loss``,
``sparse*``, ``select``, ``meters`` (what a step allocates), ``job`` and ``launch``; beside them, not
imported by a round (and so not a code dependency of the train stage): ``plan`` (the planner) and
``memory`` (single steps measured against it). This file only re-exports the public names.
"""

from .config import TrainConfig, check_chain, config_for, native_window, validate
from .data import encode_example, pack_examples
from .loss import causal_lm_loss, chunked_ce_sum
from .resume import fingerprint
from .rounds import train_round

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
