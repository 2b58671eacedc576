"""Time and peak memory of one attention call (forward + backward) at growing lengths: sparse patterns
(booktrans.train.sparse, the block path) beside dense attention, on this machine's CPU.

    .venv/bin/python bench/sparse_attention.py                       # 1k..16k tokens, the table of docs/train.md
    .venv/bin/python bench/sparse_attention.py --lengths 1024 2048 --json build/bench/sparse.json

Each (method, length) runs in a fresh process, so its peak resident memory (ru_maxrss) after the inputs
exist and before the call gives the memory the call itself added. Time: the best of --repeat calls, wall
and CPU (process) time; the growth column uses CPU time, which other load on the machine disturbs less. Shapes: 4 query
heads over 2 key/value heads of 64 (one rank's share of a 7B model under Ulysses is 7 heads of 128: the growth is what
counts, not the absolute numbers). Methods:

- dense      torch sdpa, causal (the fused CPU kernel: memory linear, time quadratic);
- dense-mask sdpa with the causal pattern as a boolean mask (what a dense round with packed rows runs:
             the mask and the scores are tokens² each);
- moba       block top-k, block 256, topk 4 (own block included);
- window     sliding window of 512 with 16 sink tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

METHODS = ("dense", "dense-mask", "moba", "window")


def _one(method: str, length: int, repeat: int) -> dict:
    import torch

    from booktrans.train import sparse as S

    torch.manual_seed(0)
    H, KV, D = 4, 2, 64
    q = torch.randn(1, H, length, D, requires_grad=True)
    k = torch.randn(1, KV, length, D, requires_grad=True)
    v = torch.randn(1, KV, length, D, requires_grad=True)
    pos = torch.arange(length)
    doc = S.documents(pos)
    spec = {
        "moba": S.SparseAttention("moba", block=256, topk=4),
        "window": S.SparseAttention("window", window=512, sinks=16),
    }.get(method)

    def call():
        kk, vv = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
        if method == "dense":
            out = torch.nn.functional.scaled_dot_product_attention(q, kk, vv, is_causal=True)
        elif method == "dense-mask":
            mask = torch.ones(length, length, dtype=torch.bool).tril()
            out = torch.nn.functional.scaled_dot_product_attention(q, kk, vv, attn_mask=mask)
        else:
            out = S.block_attention(spec, q[0], kk[0], vv[0], pos, doc, pos, D**-0.5)[None]
        out.square().sum().backward()

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    call()  # warm-up, and the peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, cpu = [], []
    for _ in range(repeat):
        q.grad = k.grad = v.grad = None
        t0, c0 = time.perf_counter(), time.process_time()
        call()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    kept = 1.0 if spec is None else S.kept_share(spec, length)
    return {
        "method": method,
        "tokens": length,
        "seconds": min(times),
        "cpu_seconds": min(cpu),
        "peak_mib": (peak - base) / 1024,
        "kept_share": round(kept, 4),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "LENGTH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one(args.child[0], int(args.child[1]), args.repeat)))
        return 0
    import torch

    rows = []
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; forward + backward of one attention call, "
        f"4 heads (2 KV) x 64"
    )
    print(
        f"{'method':<11}{'tokens':>8}{'seconds':>10}{'CPU s':>9}{'x prev':>8}{'peak MiB':>10}{'x prev':>8}{'kept':>7}"
    )
    for method in args.methods:
        prev = None
        for n in args.lengths:
            env = dict(os.environ, PYTHONHASHSEED="0")
            res = subprocess.run(
                [sys.executable, __file__, "--child", method, str(n), "--repeat", str(args.repeat)],
                capture_output=True,
                text=True,
                env=env,
            )
            if res.returncode:
                print(f"{method:<11}{n:>8}  failed: {res.stderr.strip().splitlines()[-1]}")
                break
            row = json.loads(res.stdout.strip().splitlines()[-1])
            rows.append(row)
            grow_t = f"{row['cpu_seconds'] / prev['cpu_seconds']:.1f}" if prev else "-"
            grow_m = f"{row['peak_mib'] / prev['peak_mib']:.1f}" if prev and prev["peak_mib"] > 1 else "-"
            print(
                f"{method:<11}{n:>8}{row['seconds']:>10.3f}{row['cpu_seconds']:>9.2f}{grow_t:>8}{row['peak_mib']:>10.1f}{grow_m:>8}"
                f"{row['kept_share']:>7.0%}"
            )
            prev = row
    print(
        "x prev: growth from the previous length (doubling) of the CPU time (less disturbed than wall time on a "
        "shared machine) and of the peak memory: ~2 = linear, ~4 = quadratic"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
