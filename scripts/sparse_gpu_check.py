"""The first GPU node's checks of sparse attention, before paying for round 5 (docs/train.md, "Sparse attention").

    python scripts/sparse_gpu_check.py --model models/r4 --docs data/sft/r4/valid.jsonl --out build/sparse/check.json
    python scripts/sparse_gpu_check.py --cpu --out build/sparse/check-cpu.json      # dry run: tiny sizes, this machine

1. Kernel agreement: the fused path (flash-attn varlen, booktrans/train/sparse_flash.py) against the torch
   block path in fp32 (itself equal to the dense-mask reference, tests/test_sparse_attention.py), bf16,
   forward and gradients, at 8k, 16k and 32k tokens.
2. Throughput: forward + backward of one attention call, sparse (fused) beside flash_attention_2 (dense,
   causal), at 32k, 64k and 128k tokens: 7 query heads of 128 over 1 key/value head, one rank's share
   of Qwen2.5-7B under Ulysses degree 4.
3. The go/no-go figure: on round 4's model and translation documents (a test book's, or r4's
   validation documents), the share of dense attention from target tokens to their source that falls
   inside the blocks moba would choose, per layer and overall. Dense attention is computed for a sample
   of target queries (every --stride-th target token) in every layer the pattern would make sparse.

--cpu runs the same code at tiny sizes on the CPU (no flash-attn: the torch block path stands in for
the fused one, sdpa for flash_attention_2; a tiny random Qwen2 built from the documents' text stands
in for r4): it proves the script runs, not what a GPU measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from booktrans.train import sparse as S  # noqa: E402

SAMPLE_DOCS = [
    {
        "messages": [
            {"role": "system", "content": "You translate."},
            {
                "role": "user",
                "content": "Translate into English.\n\n" + "岛上没有树。梅从六岁起就住在那里，她的母亲在灯塔工作。" * 3,
            },
            {
                "role": "assistant",
                "content": "The island had no trees. Mei had lived there since she was "
                "six; her mother worked at the lighthouse. " * 3,
            },
        ]
    }
]


def _fused_available(device: str) -> bool:
    import importlib.util

    return device == "cuda" and importlib.util.find_spec("flash_attn") is not None


def _inputs(H, KV, L, D, dtype, device, seed=0):
    g = torch.Generator(device=device).manual_seed(seed)
    q = torch.randn(H, L, D, generator=g, device=device, dtype=torch.float32).to(dtype)
    k = torch.randn(KV, L, D, generator=g, device=device, dtype=torch.float32).to(dtype)
    v = torch.randn(KV, L, D, generator=g, device=device, dtype=torch.float32).to(dtype)
    return [t.requires_grad_() for t in (q, k, v)]


def _sparse_call(spec, q, k, v, fused: bool):
    H, L, D = q.shape
    pos = torch.arange(L, device=q.device)
    doc = S.documents(pos)
    kk, vv = k.repeat_interleave(H // k.shape[0], 0), v.repeat_interleave(H // v.shape[0], 0)
    if fused:
        from booktrans.train.sparse_flash import flash_block_attention

        return flash_block_attention(spec, q, kk, vv, pos, doc, pos, D**-0.5, 0, H)
    return S.block_attention(spec, q, kk, vv, pos, doc, pos, D**-0.5, 0, H)


def kernel_agreement(spec, lengths, device, H, KV, D) -> list[dict]:
    fused = _fused_available(device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    rows = []
    for L in lengths:
        q, k, v = _inputs(H, KV, L, D, dtype, device)
        out = _sparse_call(spec, q, k, v, fused)
        grads = torch.autograd.grad(out.float().square().sum(), [q, k, v])
        q32, k32, v32 = (t.detach().float().requires_grad_() for t in (q, k, v))
        pos = torch.arange(L, device=device)
        # the dense-mask reference (sdpa with the pattern as a mask) up to 16k tokens; beyond, its mask and
        # scores do not fit, and the torch block path in fp32 (equal to it in the CPU tests) stands in
        reference = S.reference_attention if L <= 16384 else S.block_attention
        ref = reference(
            spec,
            q32,
            k32.repeat_interleave(H // KV, 0),
            v32.repeat_interleave(H // KV, 0),
            pos,
            S.documents(pos),
            pos,
            D**-0.5,
            0,
            H,
        )
        ref_grads = torch.autograd.grad(ref.square().sum(), [q32, k32, v32])

        def rel(a, b):
            return float((a.detach().float() - b).abs().max() / b.abs().max().clamp(min=1e-12))

        row = {
            "tokens": L,
            "path": "flash-attn varlen" if fused else "torch block path",
            "dtype": str(dtype),
            "reference": "dense mask (sdpa)" if L <= 16384 else "torch block path, fp32",
            "out_rel_err": rel(out, ref),
            **{f"d{n}_rel_err": rel(a, b) for n, a, b in zip("qkv", grads, ref_grads)},
        }
        row["ok"] = all(
            v < (3e-2 if dtype == torch.bfloat16 else 1e-5) for key, v in row.items() if key.endswith("_err")
        )
        rows.append(row)
        print(
            f"agreement {L:>7} tokens  {row['path']:<18} out {row['out_rel_err']:.2e}  dq {row['dq_rel_err']:.2e}  "
            f"dk {row['dk_rel_err']:.2e}  dv {row['dv_rel_err']:.2e}  {'ok' if row['ok'] else 'FAIL'}"
        )
        del q, k, v, out, grads, ref, ref_grads
    return rows


def throughput(spec, lengths, device, H, KV, D, repeat=3) -> list[dict]:
    fused = _fused_available(device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    rows = []
    for L in lengths:
        row = {"tokens": L}
        for name in ("dense", "sparse"):
            q, k, v = _inputs(H, KV, L, D, dtype, device)

            def call(q, k, v):
                if name == "sparse":
                    out = _sparse_call(spec, q, k, v, fused)
                elif fused:
                    from flash_attn import flash_attn_func

                    out = flash_attn_func(
                        q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], causal=True
                    )
                else:
                    out = torch.nn.functional.scaled_dot_product_attention(
                        q[None],
                        k.repeat_interleave(H // KV, 0)[None],
                        v.repeat_interleave(H // KV, 0)[None],
                        is_causal=True,
                    )
                out.float().square().sum().backward()

            try:
                call(q, k, v)
                if device == "cuda":
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                times = []
                for _ in range(repeat):
                    q.grad = k.grad = v.grad = None
                    t0 = time.perf_counter()
                    call(q, k, v)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    times.append(time.perf_counter() - t0)
                row[f"{name}_seconds"] = min(times)
                row[f"{name}_tokens_per_s"] = L / min(times)
                if device == "cuda":
                    row[f"{name}_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
            except torch.OutOfMemoryError:
                row[f"{name}_seconds"] = None
            del q, k, v
        row["dense_kernel"] = "flash_attention_2" if fused else "sdpa"
        row["sparse_kernel"] = "flash-attn varlen" if fused else "torch block path"
        row["kept_share"] = S.kept_share(spec, L)
        rows.append(row)
        speed = (
            (row["dense_seconds"] / row["sparse_seconds"])
            if row.get("dense_seconds") and row.get("sparse_seconds")
            else None
        )
        print(
            f"throughput {L:>7} tokens  dense {row.get('dense_seconds') or float('nan'):.3f} s  sparse "
            f"{row.get('sparse_seconds') or float('nan'):.3f} s  speed-up {speed or float('nan'):.2f}x  "
            f"(kept {row['kept_share']:.0%})"
        )
    return rows


def coverage(spec, model_dir: Path | None, docs: list[dict], device: str, stride: int, max_docs: int) -> dict:
    """Share of dense attention mass from target queries to source keys inside moba's chosen blocks."""
    from booktrans.model import load_model
    from booktrans.train import encode_example

    dtype = "bfloat16" if device == "cuda" else "float32"
    model, tok = load_model(model_dir, dtype=dtype, attn_implementation="sdpa", sparse="off")
    model.to(device).eval()
    layers = int(model.config.get_text_config().num_hidden_layers)
    sparse_layers = set(range(layers - spec.dense_layers))
    per_layer: dict[int, list[float]] = {i: [] for i in sorted(sparse_layers)}
    state: dict = {}

    def recorder(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kw):
        idx = int(module.layer_idx)
        if idx in sparse_layers and "rows" in state:
            rows, src = state["rows"], state["source"]
            H, L = query.shape[1], query.shape[2]
            k = key[0].repeat_interleave(H // key.shape[1], 0)
            pos = torch.arange(L, device=query.device)
            doc = S.documents(pos)
            q_s = query[0][:, rows]
            [(_, part, sel, _)] = S._selection(spec, q_s.float(), k.float(), pos, doc, rows, slice(0, H), H)
            chosen = torch.gather(sel, 2, part.of[None, None, :].expand(H, len(rows), L))  # [H, S, L]
            for h in range(H):  # dense probabilities, one head at a time
                s = (q_s[h].float() @ k[h].float().T) * (scaling or query.shape[-1] ** -0.5)
                s = s.masked_fill(pos[None, :] > rows[:, None], float("-inf"))
                p = torch.softmax(s, -1)
                on_source = p[:, src[0] : src[1]]
                total = on_source.sum(-1)
                inside = (on_source * chosen[h][:, src[0] : src[1]]).sum(-1)
                keep = total > 0
                per_layer[idx] += (inside[keep] / total[keep]).tolist()
        return S._dense_function("sdpa")(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kw
        )

    from transformers import AttentionInterface

    AttentionInterface.register("booktrans_coverage", recorder)
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionMaskInterface.register("booktrans_coverage", ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    model.set_attn_implementation("booktrans_coverage")
    used = 0
    for d in docs[:max_docs]:
        ex = encode_example(d["messages"], tok, 10**9)
        prompt_sys = len(tok.apply_chat_template(d["messages"][:1], tokenize=True))
        prompt_user = len(tok.apply_chat_template(d["messages"][:2], tokenize=True))
        targets = [i for i, lab in enumerate(ex["labels"]) if lab != -100]
        if not targets or prompt_user <= prompt_sys:
            continue
        state["rows"] = torch.tensor(targets[::stride], device=device)
        state["source"] = (prompt_sys, prompt_user)
        with torch.no_grad():
            model(input_ids=torch.tensor([ex["input_ids"]], device=device), use_cache=False)
        used += 1
    state.clear()
    layer_means = {i: (sum(v) / len(v) if v else None) for i, v in per_layer.items()}
    values = [x for v in per_layer.values() for x in v]
    overall = sum(values) / len(values) if values else None
    print(
        f"coverage: {overall if overall is not None else float('nan'):.3f} of dense target->source attention inside "
        f"the chosen blocks ({used} documents, {len(values)} query-head samples, {len(per_layer)} sparse layers)"
    )
    return {
        "documents": used,
        "samples": len(values),
        "overall": overall,
        "per_layer": layer_means,
        "spec": spec.to_dict(),
    }


def _tiny_model(docs: list[dict], folder: Path) -> Path:
    from booktrans.model import TinyConfig, build_tiny_model, train_tokenizer
    from booktrans.model.store import ModelInfo, write_info

    texts = [m["content"] for d in docs for m in d["messages"]]
    tok = train_tokenizer(texts * 5, 600)
    from dataclasses import replace

    from booktrans.params import load

    P = load(Path(__file__).resolve().parents[1] / "params.yaml")
    shape = replace(TinyConfig.from_params(P.model.tiny, P.seed), vocab_size=600, hidden_size=32, intermediate_size=64)
    model = build_tiny_model(tok, shape)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    write_info(folder, ModelInfo(kind="full", context=4096))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", action="store_true", help="dry run on this machine at tiny sizes")
    ap.add_argument("--model", type=Path, help="round 4's model directory (models/r4)")
    ap.add_argument("--docs", type=Path, help="translation documents (JSON lines with messages), e.g. a test book's")
    ap.add_argument("--block", type=int, help="moba block (default 4096; --cpu: 16)")
    ap.add_argument("--topk", type=int, help="moba top-k, own block included (default 6; --cpu: 2)")
    ap.add_argument("--dense-layers", type=int, help="last layers kept dense (default 3; --cpu: 1)")
    ap.add_argument("--stride", type=int, default=64, help="every n-th target token is a sampled query")
    ap.add_argument("--max-docs", type=int, default=4)
    ap.add_argument("--skip", nargs="*", default=[], choices=["agreement", "throughput", "coverage"])
    ap.add_argument("--out", type=Path, default=Path("build/sparse/check.json"))
    args = ap.parse_args()
    device = "cpu" if args.cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --cpu for the dry run", file=sys.stderr)
        return 2
    defaults = (16, 2, 1) if args.cpu else (4096, 6, 3)
    block, topk, dense = (d if a is None else a for a, d in zip((args.block, args.topk, args.dense_layers), defaults))
    spec = S.SparseAttention("moba", block=block, topk=topk, dense_layers=dense)
    if args.cpu:
        agree_lengths, speed_lengths, shape = [128, 256], [256, 512], (4, 2, 16)
    else:
        agree_lengths, speed_lengths, shape = [8192, 16384, 32768], [32768, 65536, 131072], (7, 1, 128)
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "spec": spec.to_dict(),
        "fused": _fused_available(device),
    }
    if not result["fused"]:
        print("flash-attn is not usable here: the torch block path stands in for the fused kernel")
    if "agreement" not in args.skip:
        result["agreement"] = kernel_agreement(spec, agree_lengths, device, *shape)
    if "throughput" not in args.skip:
        result["throughput"] = throughput(spec, speed_lengths, device, *shape, repeat=1 if args.cpu else 3)
    if "coverage" not in args.skip:
        docs = (
            [json.loads(line) for line in args.docs.read_text(encoding="utf-8").splitlines() if line.strip()]
            if args.docs
            else SAMPLE_DOCS
        )
        with tempfile.TemporaryDirectory() as tmp:
            model = args.model or (_tiny_model(docs, Path(tmp)) if args.cpu else None)
            if model is None:
                print("--model is needed for the coverage figure (round 4's model)", file=sys.stderr)
                return 2
            result["coverage"] = coverage(spec, model, docs, device, 4 if args.cpu else args.stride, args.max_docs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    bad = [r for r in result.get("agreement", []) if not r["ok"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
