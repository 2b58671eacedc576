"""Causal-LM loss computed in chunks of target tokens.

At 128k tokens the full-vocabulary logits of one sequence are 128k x 152k floats (about 78 GB in
fp32). Here only positions that carry a label are projected at all (the source text of a
translation document carries none), and they are projected ``chunk`` at a time under activation
checkpointing: each chunk's logits exist only while its cross-entropy is computed, in the forward
pass and again in the backward pass. The result equals the standard mean cross-entropy over the
target tokens, and so do its gradients (tests/test_train_long.py).
"""

from __future__ import annotations

IGNORE = -100


def _chunk_ce_sum(head, hidden, targets):
    import torch.nn.functional as F

    logits = head(hidden).float()
    return F.cross_entropy(logits, targets, reduction="sum")


def chunked_ce_sum(hidden, targets, head, chunk: int = 2048, min_chunks: int = 0):
    """(sum of cross-entropy over labelled positions, number of labelled positions).

    ``hidden``: (batch, tokens, width) final hidden states aligned with ``targets`` (batch, tokens),
    i.e. already shifted so that ``targets[:, i]`` is the token that position ``i`` predicts.
    ``head``: the output projection (lm_head).
    ``min_chunks``: call the head at least this many times (empty chunks add nothing). Under ZeRO-3
    every call of the head gathers its weights from all processes, forward and backward, so every
    process must make the same number of calls, however many labelled positions it holds: the caller
    passes the largest count over the processes.
    """
    from torch.utils.checkpoint import checkpoint

    flat_h = hidden.reshape(-1, hidden.shape[-1])
    flat_t = targets.reshape(-1).to(flat_h.device)
    keep = (flat_t != IGNORE).nonzero(as_tuple=True)[0]
    n = int(keep.numel())
    chunks = max(-(-n // chunk), min_chunks)
    if chunks == 0:
        return hidden.sum() * 0.0, 0  # keeps the graph connected so every rank runs the same backward
    h = flat_h.index_select(0, keep)
    t = flat_t.index_select(0, keep)
    total = hidden.sum() * 0.0 if n == 0 else None
    for start in range(0, chunks * chunk, chunk):
        # determinism_check off: under ZeRO-3 the head's weight is released after the recomputation
        # (and gathered again by DeepSpeed's backward hook), so its recorded shape differs in between
        part = checkpoint(
            _chunk_ce_sum,
            head,
            h[start : start + chunk],
            t[start : start + chunk],
            use_reentrant=False,
            determinism_check="none",
        )
        total = part if total is None else total + part
    return total, n


def chunks_needed(n_targets: int, chunk: int) -> int:
    return -(-int(n_targets) // chunk)


def shift(hidden, labels):
    """Align hidden states with the token each position predicts."""
    return hidden[:, :-1, :], labels[:, 1:]


def final_norm(model):
    """The decoder's final norm module of ``model`` (a transformers causal LM, or peft's wrapper of
    one: with LongLoRA's trained norms this is peft's ModulesToSaveWrapper, whose output is the
    trained copy's)."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    norm = getattr(decoder, "norm", None)
    if norm is None:
        raise ValueError(
            f"{type(model).__name__}: no final norm at get_decoder().norm, so the chunked loss cannot "
            "read the final hidden state; use train.loss: standard for this architecture"
        )
    return norm


def final_hidden(model, norm, inputs: dict):
    """(the final hidden state, the model's output) of ``model(**inputs)``, asking the model for the
    logits of the last position only. The hidden state is taken from a forward hook on the decoder's
    final ``norm``: ``output_hidden_states`` would keep every layer's hidden state alive (in a
    no-grad evaluation of a 128k row, 29 x 128k x 3584 x 2 bytes = 27 GB for Qwen2.5-7B)."""
    seen = []
    handle = norm.register_forward_hook(lambda _m, _a, out: seen.append(out))
    try:
        out = model(**inputs, logits_to_keep=1, use_cache=False)
    finally:
        handle.remove()
    if len(seen) != 1:
        raise RuntimeError(f"the final norm ran {len(seen)} times in one forward pass (expected once)")
    return seen[0], out


def round_loss(model, head, norm, inputs: dict, labels=None, targets=None, chunk: int = 2048, min_chunks: int = 0):
    """(sum of cross-entropies over the labelled positions, their number, the model's output) of one
    micro-batch, through the chunked loss: no full-vocabulary logits. ``targets`` (already shifted, a
    sequence-parallel slice's) or ``labels`` (whole rows, shifted here). Used by the round's trainer
    and by booktrans.train.memory.measure_step."""
    hidden, out = final_hidden(model, norm, inputs)
    if targets is None:
        hidden, targets = shift(hidden, labels)
    total, n = chunked_ce_sum(hidden, targets, head, chunk, min_chunks)
    return total, n, out


def causal_lm_loss(hidden, labels, head, chunk: int = 2048, shift_labels=None):
    """Mean cross-entropy over target tokens, in chunks. ``shift_labels`` (already shifted, as a
    sequence-parallel data loader provides them) replaces ``labels``."""
    if shift_labels is None:
        hidden, targets = shift(hidden, labels)
    else:
        targets = shift_labels
    total, n = chunked_ce_sum(hidden, targets, head, chunk)
    return total / max(n, 1), n
