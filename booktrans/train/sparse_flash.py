"""The block path of booktrans.train.sparse with flash-attn's variable-length kernel (GPU, bf16/fp16).

NOT YET VERIFIED ON A GPU: scripts/sparse_gpu_check.py compares it with the torch reference (forward
and gradients, bf16, 8k-32k tokens) on the first node; until it has, docs/train.md lists it as unverified.

- s2: every group of every head is one variable-length sequence, attended causally (flash-attn's own
  autograd).
- moba: two sets of variable-length sequences, heads flattened into the sequence axis (one head each):
  every (head, block) with its own queries, causally; and every (head, chosen earlier block) with the
  queries that chose it, non-causally. The two partial results are merged by their log-sum-exp. The
  backward pass calls flash-attn's backward once per set with the merged output and the merged
  log-sum-exp: the gradient of softmax attention over the union of the blocks, per piece.
- window (and decoding, where queries and keys differ in number): the torch block path.
"""

from __future__ import annotations

import inspect

import torch

from .sparse_blocks import _Partition, _selection, block_attention


def _fa():
    from flash_attn import flash_attn_interface as fa

    return fa


def _varlen_forward(q, k, v, cu_q, cu_k, max_q, max_k, scale, causal):
    """(out, lse [total_q] fp32) of flash-attn's variable-length attention, no autograd."""
    out, lse, _ = _fa().flash_attn_varlen_func(
        q, k, v, cu_q, cu_k, max_q, max_k, dropout_p=0.0, softmax_scale=scale, causal=causal, return_attn_probs=True
    )
    if lse.dim() != 2:
        raise RuntimeError("this flash-attn returns the log-sum-exp padded per batch; sparse attention needs >= 2.4")
    return out, lse[0].to(torch.promote_types(q.dtype, torch.float32))


def _varlen_backward(dout, q, k, v, out, lse, cu_q, cu_k, max_q, max_k, scale, causal):
    """dq, dk, dv of one set of sequences given the merged output and log-sum-exp (keyword names of
    flash-attn's private backward differ between releases: the ones it has are passed)."""
    fn = _fa()._flash_attn_varlen_backward
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    values = dict(
        dout=dout.contiguous(),
        q=q,
        k=k,
        v=v,
        out=out.contiguous(),
        softmax_lse=lse[None].contiguous(),
        dq=dq,
        dk=dk,
        dv=dv,
        cu_seqlens_q=cu_q,
        cu_seqlens_k=cu_k,
        max_seqlen_q=max_q,
        max_seqlen_k=max_k,
        dropout_p=0.0,
        softmax_scale=scale,
        causal=causal,
        window_size=(-1, -1),
        window_size_left=-1,
        window_size_right=-1,
        softcap=0.0,
        alibi_slopes=None,
        deterministic=False,
        rng_state=None,
        zero_tensors=False,
    )
    params = inspect.signature(fn).parameters
    args = {n: values[n] for n in params if n in values}
    missing = [n for n, p in params.items() if n not in args and p.default is inspect.Parameter.empty]
    if missing:
        raise RuntimeError(f"flash-attn's _flash_attn_varlen_backward takes {missing}, unknown to booktrans")
    fn(**args)
    return dq, dk, dv


def _cu(lengths: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.pad(torch.cumsum(lengths, 0), (1, 0)).to(torch.int32)


def _own_blocks(part: _Partition, H: int, L: int, device):
    starts = torch.tensor(part.starts, device=device)
    lens = torch.tensor(part.ends, device=device) - starts
    return _cu(lens.repeat(H)), int(lens.max())


class _Moba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, cu_own, max_own, qidx, kidx, cu_q, cu_k, max_q, max_k, scale):
        qf, kf, vf = (t.reshape(-1, 1, t.shape[-1]).contiguous() for t in (q, k, v))
        out_s, lse_s = _varlen_forward(qf, kf, vf, cu_own, cu_own, max_own, max_own, scale, True)
        ct = torch.promote_types(q.dtype, torch.float32)  # merging in fp32 (bf16 inputs)
        out_s, out_p, lse_p = out_s[:, 0].to(ct), None, None
        if qidx.numel():
            o, lse_p = _varlen_forward(qf[qidx], kf[kidx], vf[kidx], cu_q, cu_k, max_q, max_k, scale, False)
            out_p = o[:, 0].to(ct)
        m = lse_s.clone()
        if lse_p is not None:
            m = m.scatter_reduce(0, qidx, lse_p, reduce="amax")
        z = torch.exp(lse_s - m)
        acc = z[:, None] * out_s
        if lse_p is not None:
            w = torch.exp(lse_p - m[qidx])
            z = z.index_add(0, qidx, w)
            acc = acc.index_add(0, qidx, w[:, None] * out_p)
        lse = m + torch.log(z)
        out = (acc / z[:, None]).to(q.dtype)
        ctx.save_for_backward(qf, kf, vf, out, lse, qidx, kidx, cu_own, cu_q, cu_k)
        ctx.sizes = (max_own, max_q, max_k, scale, q.shape)
        return out.reshape(q.shape)

    @staticmethod
    def backward(ctx, dout):
        qf, kf, vf, out, lse, qidx, kidx, cu_own, cu_q, cu_k = ctx.saved_tensors
        max_own, max_q, max_k, scale, shape = ctx.sizes
        d = dout.reshape(-1, 1, shape[-1]).contiguous()
        o = out.reshape(-1, 1, shape[-1])
        dq, dk, dv = _varlen_backward(d, qf, kf, vf, o, lse, cu_own, cu_own, max_own, max_own, scale, True)
        if qidx.numel():
            pq, pk, pv = _varlen_backward(
                d[qidx], qf[qidx], kf[kidx], vf[kidx], o[qidx], lse[qidx], cu_q, cu_k, max_q, max_k, scale, False
            )
            dq = dq.index_add(0, qidx, pq)
            dk = dk.index_add(0, kidx, pk)
            dv = dv.index_add(0, kidx, pv)
        return (dq.reshape(shape), dk.reshape(shape), dv.reshape(shape)) + (None,) * 9


def _moba(spec, q, k, v, pos, doc, qrow, scale, head_offset, total):
    H, L, _ = q.shape
    with torch.no_grad():
        [(_, part, sel, _)] = _selection(spec, q, k, pos, doc, qrow, slice(head_offset, head_offset + H), total)
        own = part.of[qrow]
        blocks = torch.arange(part.n, device=q.device)
        past = sel & (blocks[None, None, :] < own[None, :, None])
        h, qi, j = torch.nonzero(past, as_tuple=True)
        order = torch.argsort(h * part.n + j, stable=True)  # group the queries by (head, block)
        h, qi, j = h[order], qi[order], j[order]
        qidx = h * L + qi
        pair, counts = torch.unique_consecutive(h * part.n + j, return_counts=True)
        ph, pj = pair // part.n, pair % part.n
        starts = torch.tensor(part.starts, device=q.device)
        lens = torch.tensor(part.ends, device=q.device)[pj] - starts[pj]
        base = ph * L + starts[pj]
        offs = torch.arange(int(lens.sum()), device=q.device) - torch.repeat_interleave(_cu(lens)[:-1].long(), lens)
        kidx = torch.repeat_interleave(base, lens) + offs
        cu_q, cu_k = _cu(counts), _cu(lens)
        max_q = int(counts.max()) if counts.numel() else 0
        max_k = int(lens.max()) if lens.numel() else 0
        cu_own, max_own = _own_blocks(part, H, L, q.device)
    return _Moba.apply(q, k, v, cu_own, max_own, qidx, kidx, cu_q, cu_k, max_q, max_k, scale)


def _s2(spec, q, k, v, pos, doc, qrow, scale, head_offset, total):
    H, L, D = q.shape
    out = torch.empty_like(q)
    pieces = []
    for heads, part, _, _ in _selection(spec, q, k, pos, doc, qrow, slice(head_offset, head_offset + H), total):
        hs = slice(heads.start - head_offset, heads.stop - head_offset)
        n = hs.stop - hs.start
        cu, mx = _own_blocks(part, n, L, q.device)
        qf, kf, vf = (t[hs].reshape(-1, 1, D) for t in (q, k, v))
        o = _fa().flash_attn_varlen_func(qf, kf, vf, cu, cu, mx, mx, dropout_p=0.0, softmax_scale=scale, causal=True)
        pieces.append((hs, o.reshape(n, L, D)))
    for hs, o in pieces:
        out = out.index_copy(0, torch.arange(hs.start, hs.stop, device=q.device), o)
    return out


def flash_block_attention(spec, q, k, v, pos, doc, qrow, scaling, head_offset, total):
    """One batch row: q [H, Lq, D], k/v [H, Lk, D] (key heads repeated); returns [H, Lq, D]."""
    if spec.kind == "window" or q.shape[1] != k.shape[1]:
        return block_attention(spec, q, k, v, pos, doc, qrow, scaling, head_offset, total)
    fn = _moba if spec.kind == "moba" else _s2
    return fn(spec, q.contiguous(), k.contiguous(), v.contiguous(), pos, doc, qrow, scaling, head_offset, total)
