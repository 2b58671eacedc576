"""The block path of sparse attention (booktrans.train.sparse): documents from position ids, key
blocks, the blocks each query keeps, attention block by block with log-sum-exp merging, and the same
pattern as a dense boolean mask for reference. ``spec`` is a ``booktrans.train.sparse.SparseAttention``.
Kept apart from the attention function so that the flash-attn path (sparse_flash) and the function
(sparse) both build on it without importing each other."""

from __future__ import annotations


def documents(pos):
    """Document index of every token of one row: a position that does not continue the previous
    one starts a new document (packed rows restart at 0; padding of packed rows too)."""
    import torch

    start = torch.ones_like(pos, dtype=torch.bool)
    start[1:] = pos[1:] != pos[:-1] + 1
    return torch.cumsum(start.long(), 0) - 1


class _Partition:
    """Blocks of ``size`` tokens counted from each document's start (``offset`` shifts the cut, for
    s2's shifted heads). Each block is a contiguous run of key rows."""

    def __init__(self, pos, doc, size: int, offset: int = 0, head: int = 0) -> None:
        import torch

        self.size, self.offset = size, offset
        blk = torch.div(pos + offset, size, rounding_mode="floor")
        if head:  # the first ``head`` tokens of a document are a block of their own (window's sinks)
            blk = torch.where(pos < head, torch.full_like(blk, -1), torch.div(pos - head, size, rounding_mode="floor"))
        new = torch.ones_like(pos, dtype=torch.bool)
        new[1:] = (doc[1:] != doc[:-1]) | (blk[1:] != blk[:-1])
        self.of = torch.cumsum(new.long(), 0) - 1  # block of every key row
        starts = torch.nonzero(new).squeeze(1)
        self.n = int(starts.numel())
        ends = torch.cat([starts[1:], starts.new_tensor([pos.numel()])])
        self.starts, self.ends = starts.tolist(), ends.tolist()
        self.doc = doc[starts]  # document of every block
        self.index = blk[starts]  # block number within its document
        self.first = pos[starts]  # first position of every block


def _selection(spec, q, k, pos, doc, qrow, heads: slice, total: int):
    """[(head slice, partition, selected blocks [h, Lq, n] bool, keep(qrows, krows) -> extra mask)]:
    what each query may attend to, as blocks chosen plus an element-wise rule inside them (causality
    is added by the caller)."""
    import torch

    qdoc = doc[qrow]
    if spec.kind == "moba":
        part = _Partition(pos, doc, spec.block)
        own = part.of[qrow]  # [Lq]
        # mean key of every block, per key head
        counts = torch.bincount(part.of, minlength=part.n).clamp(min=1).to(k.dtype)
        mean = torch.zeros(k.shape[0], part.n, k.shape[-1], dtype=k.dtype, device=k.device)
        mean = mean.index_add(1, part.of, k) / counts[None, :, None]
        gate = torch.einsum("hqd,hnd->hqn", q.float(), mean.float()).detach()  # the choice carries no gradient
        ids = torch.arange(part.n, device=q.device)
        earlier = (part.doc[None, :] == qdoc[:, None]) & (ids[None, :] < own[:, None])  # [Lq, n]
        gate = gate.masked_fill(~earlier[None], float("-inf"))
        gate[:, torch.arange(len(qrow), device=q.device), own] = float("inf")  # the own block always
        kk = min(spec.topk, part.n)
        top = gate.topk(kk, dim=-1)
        sel = torch.zeros(gate.shape, dtype=torch.bool, device=q.device)
        sel.scatter_(-1, top.indices, top.values > float("-inf"))
        return [(heads, part, sel, None)]
    if spec.kind == "window":
        part = _Partition(pos, doc, spec.window, head=spec.sinks)  # sinks apart: queries read only them
        own = part.of[qrow]
        ids = torch.arange(part.n, device=q.device)
        same = part.doc[None, :] == qdoc[:, None]
        sel = same & (
            (ids[None, :] == own[:, None]) | (ids[None, :] == own[:, None] - 1) | (part.first[None, :] < spec.sinks)
        )
        sel &= ids[None, :] <= own[:, None]
        window, sinks = spec.window, spec.sinks

        def keep(qr, kr):
            return (pos[qr][:, None] - pos[kr][None, :] < window) | (pos[kr][None, :] < sinks)

        return [(heads, part, sel[None].expand(heads.stop - heads.start, -1, -1), keep)]
    # s2: the first half of the model's heads in plain groups, the second half in shifted groups
    out = []
    for h0, h1, offset in ((0, total // 2, 0), (total // 2, total, spec.group // 2)):
        lo, hi = max(h0, heads.start), min(h1, heads.stop)
        if lo >= hi:
            continue
        part = _Partition(pos, doc, spec.group, offset)
        sel = torch.zeros(len(qrow), part.n, dtype=torch.bool, device=q.device)
        sel[torch.arange(len(qrow), device=q.device), part.of[qrow]] = True
        out.append((slice(lo, hi), part, sel[None].expand(hi - lo, -1, -1), None))
    return out


# ---------------------------------------------------------------------------------------------------
# The block path and the dense-mask reference
# ---------------------------------------------------------------------------------------------------


def _row_inputs(pos_row, kvalid, lq: int, lk: int, device=None):
    """(key positions, key documents, query rows) of one batch row. Padding keys get document -1."""
    import torch

    if kvalid is not None and not bool(kvalid.all()):
        pos = torch.cumsum(kvalid.long(), 0) - 1
        doc = documents(pos.clamp(min=0))
        doc = torch.where(kvalid, doc, torch.full_like(doc, -1))
        pos = pos.clamp(min=0)
    elif pos_row is not None and pos_row.numel() == lk:
        pos = pos_row
        doc = documents(pos)
    else:
        pos = torch.arange(lk, device=device)
        doc = torch.zeros_like(pos)
    if pos_row is not None and pos_row.device != pos.device:
        pos, doc = pos.to(pos_row.device), doc.to(pos_row.device)
    qrow = torch.arange(lk - lq, lk, device=pos.device)
    return pos, doc, qrow


def block_attention(spec, q, k, v, pos, doc, qrow, scaling: float, head_offset: int = 0, total: int | None = None):
    """One batch row. q [H, Lq, D]; k, v [H, Lk, D] (key heads already repeated); returns [H, Lq, D].
    Each selected key block is attended by the queries that chose it; the partial softmaxes are
    merged by their log-sum-exp. A selection that differs between heads (moba) is taken one head at
    a time, so no head computes the blocks only another head chose."""
    import torch

    H, lq, D = q.shape
    ct = torch.promote_types(q.dtype, torch.float32)  # bf16 inputs: products and merging in fp32
    out = q.new_zeros(H, lq, D, dtype=ct)
    for heads, part, sel, keep in _selection(
        spec, q, k, pos, doc, qrow, slice(head_offset, head_offset + H), total or H
    ):
        hs = slice(heads.start - head_offset, heads.stop - head_offset)
        if sel.stride(0) == 0 or sel.shape[0] == 1:  # one selection for every head of the slice
            piece = _attend(q[hs], k[hs], v[hs], part, sel[:1], keep, qrow, scaling, ct)
        else:
            piece = torch.cat(
                [
                    _attend(
                        q[h : h + 1],
                        k[h : h + 1],
                        v[h : h + 1],
                        part,
                        sel[h - hs.start : h - hs.start + 1],
                        keep,
                        qrow,
                        scaling,
                        ct,
                    )
                    for h in range(hs.start, hs.stop)
                ]
            )
        out = out.index_copy(0, torch.arange(hs.start, hs.stop, device=q.device), piece)
    return out.to(q.dtype)


def _attend(qh, kh, vh, part, sel, keep, qrow, scaling, ct):
    """Heads qh [h, Lq, D] sharing one selection sel [1, Lq, blocks]: [h, Lq, D] in ``ct``.

    The queries of every block are gathered once and the keys split once, so the backward pass
    scatters each gradient once (indexing inside the loop would allocate a full-size gradient per
    block: quadratic). A block entirely in the past of its queries needs no mask."""
    import torch

    lq, D = qh.shape[1], qh.shape[2]
    chosen = [(j, torch.nonzero(sel[0, :, j]).squeeze(1)) for j in range(part.n)]
    chosen = [(j, qi) for j, qi in chosen if qi.numel()]
    R = torch.cat([qi for _, qi in chosen])
    queries = qh[:, R].to(ct).split([qi.numel() for _, qi in chosen], dim=1)
    lens = [e - s for s, e in zip(part.starts, part.ends)]
    keys, values = kh.to(ct).split(lens, dim=1), vh.to(ct).split(lens, dim=1)
    o, lse, valid = [], [], []
    for (j, qi), qj in zip(chosen, queries):
        s, e = part.starts[j], part.ends[j]
        scores = torch.matmul(qj, keys[j].transpose(-1, -2)) * scaling
        if keep is not None or int(qrow[qi[0]]) < e - 1:  # some query sits inside the block: mask
            kr = torch.arange(s, e, device=qh.device)
            allow = kr[None, :] <= qrow[qi][:, None]
            if keep is not None:
                allow = allow & keep(qrow[qi], kr)
            scores = scores.masked_fill(~allow[None], float("-inf"))
            valid.append(allow.any(-1))
        else:
            valid.append(torch.ones(qi.numel(), dtype=torch.bool, device=qh.device))
        m = scores.amax(-1, keepdim=True).detach()
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        p = torch.exp(scores - m)
        z = p.sum(-1, keepdim=True)
        z = torch.where(z > 0, z, torch.ones_like(z))
        o.append(torch.matmul(p, values[j]) / z)
        lse.append((torch.log(z) + m).squeeze(-1))
    out, L, V = torch.cat(o, 1), torch.cat(lse, 1), torch.cat(valid)[None]
    Lm = L.masked_fill(~V, float("-inf"))
    top = torch.full((Lm.shape[0], lq), float("-inf"), device=qh.device, dtype=ct).scatter_reduce(
        1, R[None].expand_as(Lm), Lm.detach(), reduce="amax"
    )
    w = torch.exp(Lm - top[:, R]) * V
    z = torch.zeros(Lm.shape[0], lq, device=qh.device, dtype=ct).index_add(1, R, w)
    acc = torch.zeros(Lm.shape[0], lq, D, device=qh.device, dtype=ct).index_add(1, R, w[..., None] * out)
    return acc / z[..., None]


def pattern_mask(spec, q, k, pos, doc, qrow, head_offset: int = 0, total: int | None = None):
    """The pattern as a dense boolean mask [H, Lq, Lk] (True = attend), from the same selection."""
    import torch

    H, lq, _ = q.shape
    lk = k.shape[1]
    mask = torch.zeros(H, lq, lk, dtype=torch.bool, device=q.device)
    kr = torch.arange(lk, device=q.device)
    for heads, part, sel, keep in _selection(
        spec, q, k, pos, doc, qrow, slice(head_offset, head_offset + H), total or H
    ):
        hs = slice(heads.start - head_offset, heads.stop - head_offset)
        allow = torch.gather(sel, 2, part.of[None, None, :].expand(sel.shape[0], lq, lk))
        allow = allow & (kr[None, :] <= qrow[:, None])[None]
        if keep is not None:
            allow = allow & keep(qrow, kr)[None]
        mask[hs] = allow
    return mask


def reference_attention(spec, q, k, v, pos, doc, qrow, scaling: float, head_offset: int = 0, total: int | None = None):
    """The same attention through sdpa with the pattern as a dense mask (quadratic; for checks)."""
    import torch

    mask = pattern_mask(spec, q, k, pos, doc, qrow, head_offset, total)
    return torch.nn.functional.scaled_dot_product_attention(
        q[None], k[None], v[None], attn_mask=mask[None], scale=scaling
    )[0]


def keeps_everything(spec, pos, doc) -> bool:
    """True when the pattern keeps every causal key of every query (then the dense kernel runs)."""
    import torch

    longest = int(torch.bincount(doc[doc >= 0]).max()) if bool((doc >= 0).any()) else 0
    if spec.kind == "moba":
        return spec.topk >= -(-longest // spec.block)
    if spec.kind == "window":
        return spec.window >= longest
    return spec.group // 2 >= longest  # the shifted heads' first group (half a group) holds every document


# ---------------------------------------------------------------------------------------------------
# The attention function transformers calls
# ---------------------------------------------------------------------------------------------------
