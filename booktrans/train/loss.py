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


def chunked_ce_sum(hidden, targets, head, chunk: int = 2048):
    """(sum of cross-entropy over labelled positions, number of labelled positions).

    ``hidden``: (batch, tokens, width) final hidden states aligned with ``targets`` (batch, tokens),
    i.e. already shifted so that ``targets[:, i]`` is the token that position ``i`` predicts.
    ``head``: the output projection (lm_head).
    """
    from torch.utils.checkpoint import checkpoint

    flat_h = hidden.reshape(-1, hidden.shape[-1])
    flat_t = targets.reshape(-1).to(flat_h.device)
    keep = (flat_t != IGNORE).nonzero(as_tuple=True)[0]
    n = int(keep.numel())
    if n == 0:
        return hidden.sum() * 0.0, 0  # keeps the graph connected so every rank runs the same backward
    h = flat_h.index_select(0, keep)
    t = flat_t.index_select(0, keep)
    total = None
    for start in range(0, n, chunk):
        part = checkpoint(_chunk_ce_sum, head, h[start:start + chunk], t[start:start + chunk], use_reentrant=False)
        total = part if total is None else total + part
    return total, n


def shift(hidden, labels):
    """Align hidden states with the token each position predicts."""
    return hidden[:, :-1, :], labels[:, 1:]


def causal_lm_loss(hidden, labels, head, chunk: int = 2048, shift_labels=None):
    """Mean cross-entropy over target tokens, in chunks. ``shift_labels`` (already shifted, as a
    sequence-parallel data loader provides them) replaces ``labels``."""
    if shift_labels is None:
        hidden, targets = shift(hidden, labels)
    else:
        targets = shift_labels
    total, n = chunked_ce_sum(hidden, targets, head, chunk)
    return total / max(n, 1), n


def sequence_parallel_mean(local_sum, local_n: int, group):
    """Token-weighted mean of the loss over the ranks of a sequence-parallel group (each rank holds a
    slice of the same sequences); differentiable through the all-gather."""
    import torch
    import torch.distributed.nn.functional as dist_fn

    sums = dist_fn.all_gather(local_sum.reshape(1), group=group)
    counts = dist_fn.all_gather(torch.tensor([float(local_n)], device=local_sum.device), group=group)
    return torch.cat(sums).sum() / torch.cat(counts).sum().clamp(min=1.0)
