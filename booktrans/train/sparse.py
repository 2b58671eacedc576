"""Sparse attention as a round option (``rounds.rN.sparse_attention``), with no new weights: the stock
checkpoint format, LoRA and every loader stay as they are.

Three patterns, all causal and all confined to a query's own document (documents are read from the
position ids: a position that does not continue the previous one starts a document, so packed rows
keep their boundaries):

- ``moba`` (block top-k, after MoBA): the document is cut into blocks of ``block`` tokens (counted
  from the document's start); a query attends to its own block (causally) and to the ``topk - 1``
  earlier blocks whose mean key has the highest dot product with the query (``topk`` counts the own
  block). The last ``dense_layers`` layers stay dense.
- ``s2`` (shifted sparse attention, after LongLoRA's S²-Attn): groups of ``group_ratio x context``
  tokens; half of the heads use groups shifted by half a group. A query attends causally within its
  group only. This is the non-leaking form: the shifted groups start at position 0 with a half group
  instead of rolling the row (the rolled form lets the first group see the end of the row).
- ``window`` (sliding window with sink tokens): the last ``window`` positions, plus the first
  ``sinks`` positions of the document.

``inference: dense`` (default) translates the round with dense attention (as LongLoRA does);
``sparse`` with the pattern.

How it is computed: the block path (booktrans/train/sparse_blocks.py) works block by block (a key block against the
queries that chose it, partial results merged by their log-sum-exp), so time and memory grow with
``tokens x kept keys``, not ``tokens²``. ``reference_attention`` builds the same pattern as a dense
boolean mask for sdpa; tests and scripts/sparse_gpu_check.py compare the two. On a GPU with the
flash-attn package the per-block products run through flash-attn's variable-length kernel
(``_flash_blocks``); without it the block path runs in plain torch (said once in the log).

Under Ulysses sequence parallelism the function sits in the core attention that DeepSpeed's
sequence-parallel wrapper calls (``swap_core``): it receives the whole row, this rank's heads and
the gathered position ids.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass

from ..errors import ConfigError
from .sparse_blocks import (  # noqa: F401
    _attend,
    _Partition,
    _row_inputs,
    _selection,
    block_attention,
    documents,
    keeps_everything,
    pattern_mask,
    reference_attention,
)

log = logging.getLogger(__name__)

NAME = "booktrans_sparse"  # the attention implementation name registered with transformers
KINDS = ("moba", "s2", "window")
KEYS = {"moba": ("block", "topk", "dense_layers"), "s2": ("group_ratio",), "window": ("window", "sinks")}
COMMON = ("kind", "inference", "dense_layers")
CALLS: Counter = Counter()  # sparse calls per path in this process (the tests read it: proof it ran)


@dataclass(frozen=True)
class SparseAttention:
    kind: str
    block: int = 0  # moba: tokens per key block
    topk: int = 0  # moba: blocks a query attends to, its own included
    dense_layers: int = 0  # every kind: the last N decoder layers stay dense
    group_ratio: float = 0.0  # s2: group size as a share of the round's context
    window: int = 0  # window: tokens a query sees back (itself included)
    sinks: int = 0  # window: first tokens of the document every query also sees
    inference: str = "dense"  # dense | sparse: how translate@rN runs the round
    group: int = 0  # s2: group size in tokens (group_ratio x context, filled in by parse)

    def to_dict(self) -> dict:
        keep = ("kind", "inference", "dense_layers") + KEYS[self.kind] + (("group",) if self.kind == "s2" else ())
        return {k: v for k, v in asdict(self).items() if k in keep}

    @classmethod
    def from_dict(cls, d: dict) -> "SparseAttention":
        return cls(**{k: d[k] for k in d if k in cls.__dataclass_fields__})


def parse(raw, where: str, context: int, model_config: dict | None = None) -> SparseAttention | None:
    """Check ``sparse_attention`` of a round and return it (None when absent). ``where`` is the
    round's key (``rounds.r5``): every error is one line naming the full key."""
    if raw is None or raw is False:
        return None
    key = f"{where}.sparse_attention"
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: must be a mapping with kind: {' | '.join(KINDS)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{key}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    allowed = set(COMMON) | set(KEYS[kind])
    for k in raw:
        if k not in allowed:
            raise ConfigError(f"{key}.{k}: not a setting of kind {kind} (it takes {', '.join(sorted(allowed))})")
    inference = raw.get("inference", "dense")
    if inference not in ("dense", "sparse"):
        raise ConfigError(f"{key}.inference: {inference!r} is not dense or sparse")

    def integer(name, default=None, low=0):
        value = raw.get(name, default)
        if value is None:
            raise ConfigError(f"{key}.{name}: missing (kind {kind} needs {', '.join(KEYS[kind])})")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}.{name}: {value!r} is not a whole number")
        if value < low:
            raise ConfigError(f"{key}.{name}: must be >= {low}")
        return value

    layers = int((model_config or {}).get("num_hidden_layers") or 0)
    dense_layers = integer("dense_layers", 0)
    if layers and dense_layers > layers:
        raise ConfigError(f"{key}.dense_layers: {dense_layers} is more than the model's {layers} layers")
    out = {"kind": kind, "inference": inference, "dense_layers": dense_layers}
    if kind == "moba":
        block, topk = integer("block", low=1), integer("topk", low=1)
        if block > context:
            raise ConfigError(f"{key}.block: {block} tokens is larger than the context ({context} tokens)")
        out.update(block=block, topk=topk)
    elif kind == "window":
        window, sinks = integer("window", low=1), integer("sinks", 0)
        if window > context:
            raise ConfigError(f"{key}.window: {window} tokens is larger than the context ({context} tokens)")
        if sinks >= context:
            raise ConfigError(f"{key}.sinks: {sinks} tokens leaves no room in the context ({context} tokens)")
        out.update(window=window, sinks=sinks)
    else:
        ratio = raw.get("group_ratio")
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ConfigError(f"{key}.group_ratio: {ratio!r} must be a share of the context in (0, 1], e.g. 0.25")
        group = context * ratio
        if group != int(group) or int(group) % 2 or context % int(group):
            raise ConfigError(
                f"{key}.group_ratio: {ratio} x context {context} = {group:g} tokens; a group must be an "
                f"even whole number of tokens that divides the context"
            )
        heads = int((model_config or {}).get("num_attention_heads") or 0)
        if heads and heads % 2:
            raise ConfigError(f"{key}.kind: s2 shifts half of the heads, but the model has {heads} (odd)")
        out.update(group_ratio=float(ratio), group=int(group))
    return SparseAttention(**out)


# ---------------------------------------------------------------------------------------------------
# The pattern
# ---------------------------------------------------------------------------------------------------

_DENSE = {}
_SAID = set()


def _dense_function(name: str):
    if not _DENSE:
        from transformers.integrations.flash_attention import flash_attention_forward
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        _DENSE.update(sdpa=sdpa_attention_forward, flash_attention_2=flash_attention_forward)
    return _DENSE.get(name, _DENSE["sdpa"])


def _once(key: str, msg: str, *args) -> None:
    if key not in _SAID:
        _SAID.add(key)
        log.info(msg, *args)


def _key_validity(attention_mask, b: int, lq: int, lk: int):
    """Which keys of row b are real tokens, from the mask transformers passed (None: all of them).
    A mask of another shape (under Ulysses: this rank's slice) is ignored."""
    if attention_mask is None:
        return None
    if attention_mask.dim() == 2 and attention_mask.shape[-1] == lk:
        return attention_mask[b].bool()
    if (
        attention_mask.dim() == 4
        and tuple(attention_mask.shape[-2:]) == (lq, lk)
        and not attention_mask.is_floating_point()
    ):
        return attention_mask[b, 0, -1].bool()
    return None


def _dense(module, query, key, value, attention_mask, scaling, dropout, position_ids, core: str, **kwargs):
    """Dense attention for dense layers and full patterns: the round's own kernel, with the document
    and padding boundaries the position ids and mask carry."""
    import torch

    fn = _dense_function(core)
    if core == "flash_attention_2":
        return fn(
            module, query, key, value, None, dropout=dropout, scaling=scaling, position_ids=position_ids, **kwargs
        )
    B, _, lq, _ = query.shape
    lk = key.shape[2]
    masks, need = [], False
    for b in range(B):
        kvalid = _key_validity(attention_mask, b, lq, lk)
        pos_row = position_ids[b] if position_ids is not None else None
        pos, doc, qrow = _row_inputs(pos_row, kvalid, lq, lk, query.device)
        need |= bool(doc.max() > 0) or bool((doc < 0).any()) or (lq != lk and lq > 1)
        kr = torch.arange(lk, device=query.device)
        masks.append((doc[qrow][:, None] == doc[None, :]) & (kr[None, :] <= qrow[:, None]))
    mask = torch.stack(masks)[:, None] if need else None
    return fn(module, query, key, value, mask, dropout=dropout, scaling=scaling, is_causal=mask is None, **kwargs)


def sparse_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """transformers' attention-function interface: query [B, H, Lq, D], key/value [B, Hkv, Lk, D];
    returns ([B, Lq, H, D], None). Layers without a pattern (dense_layers, other models) run dense."""
    import torch

    spec = getattr(module, "booktrans_sparse", None)
    core = getattr(module, "booktrans_core", "sdpa")
    position_ids = kwargs.pop("position_ids", None)
    scaling = scaling if scaling is not None else query.shape[-1] ** -0.5
    if spec is None:
        return _dense(module, query, key, value, attention_mask, scaling, dropout, position_ids, core, **kwargs)
    B, H, lq, D = query.shape
    lk = key.shape[2]
    total = int(module.config.num_attention_heads)
    head_offset = 0
    if H < total:  # Ulysses: this rank holds heads [rank x H, (rank + 1) x H)
        from deepspeed.runtime.sequence_parallel import parallel_state_sp

        head_offset = parallel_state_sp.get_sequence_parallel_rank() * H
    groups = H // key.shape[1]
    k = key.repeat_interleave(groups, dim=1) if groups > 1 else key
    v = value.repeat_interleave(groups, dim=1) if groups > 1 else value
    outs, full = [], True
    rows = []
    for b in range(B):
        kvalid = _key_validity(attention_mask, b, lq, lk)
        pos_row = position_ids[b] if position_ids is not None and position_ids.shape[-1] == lk else None
        rows.append(_row_inputs(pos_row, kvalid, lq, lk, query.device))
        full &= keeps_everything(spec, rows[-1][0], rows[-1][1])
    if full:
        CALLS["dense (pattern keeps every key)"] += 1
        return _dense(module, query, key, value, attention_mask, scaling, dropout, position_ids, core, **kwargs)
    fused = _flash_ready(query)
    if not fused:
        _once(
            "torch",
            "sparse attention (%s): block path in plain torch%s",
            spec.kind,
            "" if not query.is_cuda else " (flash-attn is not installed: no fused kernel)",
        )
    for b, (pos, doc, qrow) in enumerate(rows):
        if fused:
            outs.append(_flash_blocks(spec, query[b], k[b], v[b], pos, doc, qrow, scaling, head_offset, total))
        else:
            outs.append(block_attention(spec, query[b], k[b], v[b], pos, doc, qrow, scaling, head_offset, total))
    CALLS[f"{spec.kind}{' fused' if fused else ''}"] += 1
    return torch.stack(outs).transpose(1, 2).contiguous(), None


def _flash_ready(query) -> bool:
    import torch

    if not query.is_cuda or query.dtype not in (torch.float16, torch.bfloat16):
        return False
    import importlib.util

    if importlib.util.find_spec("flash_attn") is None:
        return False
    _once("flash", "sparse attention: per-block products through flash-attn's variable-length kernel")
    return True


def _flash_blocks(spec, q, k, v, pos, doc, qrow, scaling, head_offset, total):
    """The block path with flash-attn's variable-length kernel for every block's product (GPU)."""
    from .sparse_flash import flash_block_attention

    return flash_block_attention(spec, q, k, v, pos, doc, qrow, scaling, head_offset, total)


def sparse_mask(batch_size, cache_position, kv_length, kv_offset=0, mask_function=None, attention_mask=None, **kw):
    """The mask transformers builds for this implementation: only the padding (a [B, kv_length] bool
    mask, or None when every token is real); the pattern and the documents come from the positions."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return attention_mask[:, -kv_length:].bool()


def register() -> str:
    """Register the attention function and its mask with transformers (idempotent); returns its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, sparse_attention_forward)
    AttentionMaskInterface.register(NAME, sparse_mask)
    return NAME


def attention_modules(model):
    """(layer index, attention module) of every decoder layer."""
    for m in model.modules():
        if hasattr(m, "layer_idx") and hasattr(m, "o_proj") and hasattr(m, "config"):
            yield int(m.layer_idx), m


def install(model, spec: SparseAttention | None, core: str = "sdpa") -> int:
    """Give every sparse layer its pattern (the last ``dense_layers`` stay dense); returns how many
    layers are sparse. ``core`` is the dense kernel used where a layer or a pattern is dense."""
    layers = int(model.config.get_text_config().num_hidden_layers)
    n = 0
    for idx, m in attention_modules(model):
        m.booktrans_core = core
        if spec is not None and idx < layers - spec.dense_layers:
            m.booktrans_sparse = spec
            n += 1
        elif hasattr(m, "booktrans_sparse"):
            del m.booktrans_sparse
    return n


class swap_core:
    """Under Ulysses: put the sparse function where DeepSpeed's wrapper will find the core attention
    (``ALL_ATTENTION_FUNCTIONS[core]``) for the length of the round, and put the original back."""

    def __init__(self, core: str, active: bool) -> None:
        self.core, self.active = core, active

    def __enter__(self):
        if self.active:
            from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

            self.saved = ALL_ATTENTION_FUNCTIONS[self.core]
            ALL_ATTENTION_FUNCTIONS[self.core] = sparse_attention_forward
        return self

    def __exit__(self, *exc):
        if self.active:
            from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

            ALL_ATTENTION_FUNCTIONS[self.core] = self.saved
        return False


def kept_share(spec: SparseAttention | None, context: int) -> float:
    """Share of the causal (query, key) pairs of a row of ``context`` tokens (one document) that the
    pattern keeps: what the planner scales the attention's cost by. moba counts ``topk`` whole blocks
    per query (its own block causally), the most it can keep."""
    import numpy as np

    if spec is None:
        return 1.0
    i = np.arange(context, dtype=np.float64)
    if spec.kind == "moba":
        kept = np.minimum(spec.topk - 1, i // spec.block) * spec.block + i % spec.block + 1
    elif spec.kind == "window":
        kept = np.minimum(i + 1, spec.window) + np.minimum(spec.sinks, np.maximum(0, i + 1 - spec.window))
    else:
        g = spec.group
        kept = (i % g + 1 + np.minimum(i + 1, (i + g // 2) % g + 1)) / 2  # plain and shifted halves of the heads
    return float(min(1.0, kept.sum() / (context * (context + 1) / 2)))
