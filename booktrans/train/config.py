"""What one training round is asked to do, and the checks that stop a bad configuration before any
weights are loaded or any GPU time is spent."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..params import Params

CRITERIA = ("last", "chrf", "omission")  # train.select: how a round chooses its checkpoint
METHODS = ("lora", "full", "qlora")
CHAINS = ("continue", "merge")
ATTENTION = ("sdpa", "eager", "flash_attention_2")
LOSSES = ("chunked", "standard")


@dataclass(frozen=True)
class TrainConfig:
    """One round's training settings. Every field but ``extra`` mirrors a params.yaml key and has no default
    here (each default is written once, in params.yaml): build it with :meth:`from_params`, and change a
    value with ``dataclasses.replace``."""

    context: int  # tokens; longer documents are truncated (the dataset never makes them)
    learning_rate: float
    epochs: float
    max_steps: int  # > 0 overrides epochs
    batch_size: int  # rows per device per micro-step
    grad_accum: int
    scheduler: str
    warmup_ratio: float
    method: str  # lora | full | qlora
    chain: str  # continue the previous round's adapter, or merge it into the weights
    lora_r: int
    lora_alpha: int
    lora_dropout: float
    target_modules: tuple[str, ...]
    trainable: tuple[str, ...]  # extra fully trained modules with LoRA (LongLoRA: embed_tokens, norms)
    packing: bool
    gradient_checkpointing: bool
    attn_implementation: str
    loss: str  # chunked = full-vocabulary logits never held at once; standard = HF loss
    loss_chunk: int  # target tokens per chunk of the loss
    liger: str  # auto = Liger kernels when the package is installed; on | off
    rope_scaling: dict | None
    sequence_parallel: int  # Ulysses degree (DeepSpeed, via accelerate's parallelism_config)
    sparse_attention: dict | None  # rounds.rN.sparse_attention (booktrans.train.sparse); None = dense
    save_steps: float  # optimizer steps between resumable checkpoints; < 1: that share of the
    # round's steps (0.1 = every tenth of the round); 0 = none
    select: str  # checkpoint kept as the round's model: last | chrf | omission (booktrans.train.select)
    seed: int
    dtype: str
    extra: dict = field(default_factory=dict)  # a library knob, not a params key

    @classmethod
    def from_params(cls, params: "Params", round_name: str) -> "TrainConfig":
        """Round ``round_name`` of the typed params (booktrans.params.Params); see :func:`config_for`."""
        return config_for(params, round_name)

    @property
    def use_liger(self) -> bool:
        if self.liger == "off":
            return False
        installed = importlib.util.find_spec("liger_kernel") is not None
        if self.liger == "on" and not installed:
            raise ConfigError(
                "train.liger: on, but the liger-kernel package is not installed (pip install liger-kernel)"
            )
        return installed and self.method != "qlora"


def config_for(params: "Params", round_name: str) -> TrainConfig:
    """The TrainConfig of one round from the typed params (booktrans.params.Params): train.* with the
    round's own values (rounds.rN.<key>) in place. Every value comes from params.yaml."""
    t = params.round_train(round_name)
    r = params.rounds[round_name]
    return TrainConfig(
        context=r.context,
        learning_rate=r.learning_rate,
        epochs=r.epochs,
        max_steps=r.max_steps,
        batch_size=t.batch_size,
        grad_accum=t.grad_accum,
        scheduler=t.scheduler,
        warmup_ratio=t.warmup_ratio,
        method=t.method,
        chain=t.chain,
        lora_r=t.lora.r,
        lora_alpha=t.lora.alpha,
        lora_dropout=t.lora.dropout,
        target_modules=tuple(t.lora.target_modules),
        trainable=tuple(t.lora.trainable),
        packing=t.packing,
        gradient_checkpointing=t.gradient_checkpointing,
        attn_implementation=t.attn_implementation,
        loss=t.loss,
        loss_chunk=t.loss_chunk,
        liger=t.liger,
        rope_scaling=t.rope_scaling or None,
        sequence_parallel=t.sequence_parallel,
        sparse_attention=r.sparse_attention or None,
        save_steps=t.save_steps,
        select=t.select,
        seed=params.seed,
        dtype=params.model.dtype,
    )


def native_window(config: dict, rope_scaling: dict | None) -> int:
    """Tokens the model can attend over: its trained window, times the RoPE scaling factor if any."""
    window = int(config.get("max_position_embeddings") or 0)
    rope = rope_scaling or config.get("rope_scaling")
    if rope and rope.get("factor"):
        original = int(rope.get("original_max_position_embeddings") or window)
        window = int(original * float(rope["factor"]))
    return window


def sparse_spec(cfg: TrainConfig, round_name: str, model_config: dict | None = None):
    """The round's checked sparse-attention setting (None for a dense round)."""
    from .sparse import parse

    return parse(cfg.sparse_attention, f"rounds.{round_name}", cfg.context, model_config)


def validate(
    cfg: TrainConfig, round_name: str, model_config: dict, *, world_size: int | None = None, gpu: bool | None = None
) -> None:
    """Raise ConfigError with one clear message for a configuration that cannot train."""
    where = f"round {round_name}"
    sparse = sparse_spec(cfg, round_name, model_config)
    check_select(cfg.select, f"round {round_name}: train")
    if cfg.method not in METHODS:
        raise ConfigError(f"{where}: train.method {cfg.method!r} is not one of {', '.join(METHODS)}")
    if cfg.chain not in CHAINS:
        raise ConfigError(f"{where}: train.chain {cfg.chain!r} is not one of {', '.join(CHAINS)}")
    if cfg.attn_implementation not in ATTENTION:
        raise ConfigError(
            f"{where}: train.attn_implementation {cfg.attn_implementation!r} is not one of {', '.join(ATTENTION)}"
        )
    if cfg.loss not in LOSSES:
        raise ConfigError(f"{where}: train.loss {cfg.loss!r} is not one of {', '.join(LOSSES)}")
    if cfg.liger not in ("auto", "on", "off"):
        raise ConfigError(f"{where}: train.liger {cfg.liger!r} is not auto, on or off")
    try:
        cfg.use_liger
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if cfg.save_steps < 0 or (cfg.save_steps > 1 and cfg.save_steps != int(cfg.save_steps)):
        raise ConfigError(
            f"{where}: train.save_steps {cfg.save_steps:g} must be a whole number of steps, a share "
            f"of the round's steps between 0 and 1 (0.1 = every tenth), or 0 for no checkpoints"
        )
    if cfg.context <= 0 or cfg.batch_size <= 0 or cfg.grad_accum <= 0 or cfg.loss_chunk <= 0:
        raise ConfigError(f"{where}: context, batch_size, grad_accum and loss_chunk must be positive")
    if cfg.attn_implementation == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        raise ConfigError(
            f"{where}: train.attn_implementation is flash_attention_2 but the flash-attn package is "
            f"not installed; install it on the cluster or use sdpa"
        )
    if cfg.rope_scaling is not None:
        if not isinstance(cfg.rope_scaling, dict) or "factor" not in cfg.rope_scaling:
            raise ConfigError(
                f"{where}: train.rope_scaling must be a mapping with rope_type and factor, "
                f"e.g. {{rope_type: yarn, factor: 4.0, original_max_position_embeddings: 32768}}"
            )
        if float(cfg.rope_scaling["factor"]) < 1.0:
            raise ConfigError(f"{where}: train.rope_scaling.factor must be at least 1")
    window = native_window(model_config, cfg.rope_scaling)
    if window and cfg.context > window:
        native = int(model_config.get("max_position_embeddings") or 0)
        hint = (
            (
                f"set train.rope_scaling, e.g. {{rope_type: yarn, factor: {-(-cfg.context // native)}.0, "
                f"original_max_position_embeddings: {native}}}"
            )
            if not cfg.rope_scaling
            else "raise train.rope_scaling.factor"
        )
        raise ConfigError(
            f"{where}: context {cfg.context} tokens is beyond the model's window of {window} tokens; {hint}"
        )
    sp = cfg.sequence_parallel
    if sp < 1:
        raise ConfigError(f"{where}: train.sequence_parallel must be at least 1")
    if sp > 1:
        kv = int(model_config.get("num_key_value_heads") or model_config.get("num_attention_heads") or 0)
        heads = int(model_config.get("num_attention_heads") or 0)
        if kv % sp or heads % sp:
            raise ConfigError(
                f"{where}: train.sequence_parallel {sp} must divide the model's {kv} key/value heads "
                f"and {heads} attention heads; use one of {_divisors(kv, heads)}"
            )
        if cfg.context % sp:
            raise ConfigError(f"{where}: context {cfg.context} must be divisible by train.sequence_parallel {sp}")
        if cfg.attn_implementation == "eager":
            raise ConfigError(
                f"{where}: train.sequence_parallel needs sdpa or flash_attention_2 attention (DeepSpeed's "
                f"Ulysses attention cannot take eager attention's full mask)"
            )
        if cfg.packing and cfg.attn_implementation != "flash_attention_2" and sparse is None:
            raise ConfigError(
                f"{where}: train.packing with train.sequence_parallel needs flash_attention_2 (or a "
                f"sparse_attention round, whose pattern reads the gathered positions): under sdpa the "
                f"gathered rows lose their document boundaries and packed documents would attend to "
                f"each other"
            )
        if world_size is not None and world_size % sp:
            raise ConfigError(f"{where}: train.sequence_parallel {sp} must divide the {world_size} processes")
    if sparse is not None and cfg.attn_implementation == "eager":
        raise ConfigError(
            f"rounds.{round_name}.sparse_attention: needs attn_implementation sdpa or flash_attention_2 "
            f"for its dense layers (eager is not supported)"
        )
    if cfg.method == "qlora":
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(f"{where}: train.method qlora needs the bitsandbytes package")
        if gpu is False:
            raise ConfigError(f"{where}: train.method qlora needs a CUDA GPU; use lora on this machine")


def _divisors(*numbers: int) -> str:
    common = [d for d in range(1, max(numbers) + 1) if all(n % d == 0 for n in numbers)]
    return ", ".join(map(str, common))


def check_chain(round_name: str, init: Path) -> None:
    """The round's starting model must exist (the previous round has run)."""
    if not (Path(init) / "booktrans.json").exists():
        prev = Path(init).name
        hint = "dvc repro base" if prev == "r0" else f"dvc repro train@{prev}"
        raise ConfigError(
            f"round {round_name}: its starting model {init} is missing; run the previous round first ({hint})"
        )


def check_select(criterion: str, where: str, budget: dict | None = None) -> None:
    """A wrong criterion or budget stops the round before any training, naming the key."""
    if criterion not in CRITERIA:
        raise ConfigError(f"{where}.select: {criterion!r} is not one of {', '.join(CRITERIA)}")
    if budget is None:
        return
    if not isinstance(budget, dict) or set(budget) - {"chapters", "tokens"}:
        raise ConfigError(f"train.select_budget: expected a mapping with chapters and/or tokens, got {budget!r}")
    for k, v in budget.items():
        if not isinstance(v, int) or v < 0:
            raise ConfigError(f"train.select_budget.{k}: {v!r} must be a whole number >= 0 (0 = no cap)")
    if criterion != "last" and not any(budget.values()):
        raise ConfigError(
            f"{where}.select: {criterion} scores every checkpoint on the validation books, so "
            f"train.select_budget needs chapters or tokens > 0 (the cost must be fixed)"
        )
