"""Smoke test of a long sequence-parallel round on ONE node, before renting the whole cluster.

    make smoke-cluster        # = python bench/smoke_cluster.py --profile configs/cluster-24xh100.yaml
    python bench/smoke_cluster.py --round r3 --steps 4 --json build/smoke/smoke.json

On the first rented node (8 GPUs) it takes the profile's round (by default the first round with
sequence parallelism, r3: 131,072 tokens, Ulysses degree 4), the real base model (``model.base``)
and the round's accelerate config scaled to one node, and checks, in order:

One `accelerate launch` over the node's GPUs runs three jobs in the same processes, with the round's
engine (DeepSpeed), ZeRO stage and dtype:

1. the degree-1 reference: ``--steps`` steps on a short document (identical rows, so the global batch
   size does not change the loss) with sequence parallelism off;
2. the same short rows at the profile's degree: every step's loss and gradient norm (the round's own
   full-precision record) must match step 1's within ``--tolerance`` (relative);
3. ``--steps`` steps of the real round: documents of the round's full context
   (``data/sft/<round>/train.jsonl`` when built, else the sample books' text repeated to that length);
   the saved adapter must hold no empty tensor; each rank's peak memory must be at most 15% above the
   planner's (booktrans.train.plan.memory_per_gpu): on a GPU ``max_memory_reserved`` since training
   began against the planned training peak less ``plan.overhead_gib`` (the CUDA context and NCCL sit
   outside the allocator); on the CPU the peak of live tensor bytes (``extra.measure: [memory]``)
   against the plan with no overhead or fragmentation. Tokens/s per GPU and MFU are printed.

Exit status 0 only when the loss, adapter and memory checks pass. On a machine without a GPU the same logic
runs with the tiny model, two CPU processes over gloo (configs/accelerate/cpu-2x-zero3.yaml) and
degree 2 (tests/test_smoke_cluster.py runs it in CI); its speed figures mean nothing there.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GIB = 2**30


def _messages(src: str, tgt: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "You translate Chinese books into English."},
            {"role": "user", "content": "Translate into English.\n\n" + src},
            {"role": "assistant", "content": tgt},
        ]
    }


def _sample_text() -> tuple[list[str], list[str]]:
    from booktrans.ingest import IngestOptions, ingest_file
    from booktrans.manifest import load_manifest
    from booktrans.params import load as load_params

    opts = IngestOptions.from_params(load_params(ROOT / "params.yaml").ingest)
    zh, en = [], []
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        if book.split != "train":
            continue
        zh += [p.text for p in ingest_file(ROOT / book.file("zh"), "zh", opts).paragraphs]
        en += [p.text for p in ingest_file(ROOT / book.file("en"), "en", opts).paragraphs]
    return zh, en


def _fill(tok, zh: list[str], en: list[str], tokens: int) -> dict:
    """One translation document of about ``tokens`` tokens (source and target halves), from real text."""
    from booktrans.train import encode_example

    n = 1
    while True:
        doc = _messages("\n".join((zh * (n // len(zh) + 1))[:n]), "\n".join((en * (n // len(en) + 1))[:n]))
        have = len(encode_example(doc["messages"], tok, 10**9)["input_ids"])
        if have >= tokens:
            return doc
        n = max(n + 1, int(n * tokens / have * 0.98))


class _Clock:
    """Seconds per optimizer step and peak memory (a transformers TrainerCallback, made on demand)."""

    @staticmethod
    def make():
        import torch
        from transformers import TrainerCallback

        class Clock(TrainerCallback):
            def __init__(self):
                self.times, self.t = [], None

            def on_step_begin(self, args, state, control, **kw):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.t = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                self.times.append(time.perf_counter() - self.t)

            def on_train_begin(self, args, state, control, **kw):
                if torch.cuda.is_available():
                    torch.cuda.reset_peak_memory_stats()

            def peak(self) -> dict | None:
                """Bytes the caching allocator reserved and handed out at most since training began."""
                if not torch.cuda.is_available():
                    return None
                return {"reserved": torch.cuda.max_memory_reserved(), "allocated": torch.cuda.max_memory_allocated()}

        return Clock()


def worker(spec_path: Path) -> int:
    """One rank: the degree-1 reference and the short rows at the profile's degree, then the long round;
    then it leaves the process group with the other ranks, as the stage's workers do (``job.leave_process_group``:
    a group left to the interpreter's exit once aborted a rank of a finished rehearsal with SIGABRT)."""
    from booktrans.train import TrainConfig, train_round
    from booktrans.train.job import leave_process_group

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    rank = int(os.environ.get("RANK", "0"))
    for name in ("ref", "short", "long"):
        job = spec[name]
        clock = _Clock.make()
        docs = json.loads(Path(job["docs"]).read_text(encoding="utf-8"))
        summary = train_round(
            Path(spec["base"]),
            Path(job["out"]),
            docs,
            [],
            TrainConfig(**job["config"]),
            spec["round"],
            Path(job["scratch"]),
            callbacks=[clock],
        )
        summary.update(step_seconds=clock.times, cuda_peak=clock.peak(), micro_batches=summary["micro_batches"][:4])
        (Path(spec["work"]) / f"{name}.rank{rank}.json").write_text(json.dumps(summary), encoding="utf-8")
    leave_process_group()
    return 0


def _tiny_base(work: Path, zh: list[str], en: list[str], params) -> Path:
    from booktrans.model import TinyConfig, build_tiny_model, train_tokenizer
    from booktrans.model.store import ModelInfo, write_info

    base = work / "tiny-base"
    if not (base / "booktrans.json").exists():
        tok = train_tokenizer(zh + en, 2000)
        model = build_tiny_model(
            tok,
            replace(
                TinyConfig.from_params(params.model.tiny, params.seed),
                vocab_size=2000,
                hidden_size=32,
                intermediate_size=64,
            ),
        )
        model.save_pretrained(str(base))
        tok.save_pretrained(str(base))
        write_info(base, ModelInfo(kind="full", context=4096))
    return base


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", type=Path, default=ROOT / "configs" / "cluster-24xh100.yaml")
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("--round", help="round of the profile (default: the first with sequence_parallel > 1)")
    ap.add_argument("--steps", type=int, default=3, help="optimizer steps of each run")
    ap.add_argument("--short", type=int, default=0, help="tokens of the short rows (default: context / 8)")
    ap.add_argument(
        "--tolerance",
        type=float,
        default=0.0,
        help="relative loss difference allowed (default 1e-5 in fp32 on the CPU, 2e-2 in bf16 on GPUs)",
    )
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "smoke")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--cpu", action="store_true", help="the CPU rehearsal (default when no GPU is present)")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker)

    import torch
    import yaml

    from booktrans.model.store import base_config, load_tokenizer
    from booktrans.params import from_dict
    from booktrans.profile import merged_params
    from booktrans.train import config_for
    from booktrans.train.plan import Arch, launch_hardware, launch_layout, memory_per_gpu, model_flops_per_token

    cpu = args.cpu or not torch.cuda.is_available()
    params = from_dict(
        merged_params(args.profile, yaml.safe_load(args.params.read_text(encoding="utf-8"))),
        f"{args.params} + {args.profile}",
    )
    rounds = params.rounds
    name = args.round or next((r for r in rounds if config_for(params, r).sequence_parallel > 1), None)
    if name is None or name not in rounds:
        print(f"error: {args.profile}: no round {args.round or 'with sequence_parallel > 1'}", file=sys.stderr)
        return 2
    cfg = config_for(params, name)
    hardware = yaml.safe_load(args.profile.read_text(encoding="utf-8")).get("hardware") or {}
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    zh, en = _sample_text()
    if cpu:
        base = _tiny_base(work, zh, en, params)
        cfg = replace(
            cfg,
            context=256,
            sequence_parallel=2,
            lora_r=4,
            lora_alpha=8,
            dtype="float32",
            attn_implementation="sdpa",
            loss_chunk=64,
            rope_scaling=None,
            learning_rate=5e-3,
            gradient_checkpointing=True,
            trainable=(),
        )
        accelerate_config, processes, peak_tflops = ROOT / "configs/accelerate/cpu-2x-zero3.yaml", 2, None
        tolerance = args.tolerance or 1e-5
    else:
        base = Path(params.model.base)
        accelerate_config = ROOT / params.round_train(name).accelerate_config
        processes = int(hardware.get("gpus_per_node", torch.cuda.device_count()))
        peak_tflops = params.plan.peak_tflops
        tolerance = args.tolerance or 2e-2
    cfg = replace(
        cfg,
        max_steps=args.steps,
        save_steps=0,
        warmup_ratio=0.0,
        grad_accum=1,
        batch_size=1,
        lora_dropout=0.0,
        epochs=1,
    )
    from booktrans.model import load_model  # noqa: F401  (the tokenizer of the base)

    tok = load_tokenizer(base)
    short_tokens = args.short or cfg.context // 8 + 1  # odd: the rows are padded to the degree
    short = [_fill(tok, zh[3:], en[3:], short_tokens)] * (args.steps * processes)
    long = [_fill(tok, zh, en, cfg.context)] * (args.steps * processes)
    sft = ROOT / "data" / "sft" / name / "train.jsonl"
    if sft.exists() and not cpu:
        long = [json.loads(line) for line in sft.read_text(encoding="utf-8").splitlines()[: args.steps * processes]]
    for label, docs in (("short", short), ("long", long)):
        (work / f"{label}-docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")

    # the long round's memory is measured: on the CPU by the dispatch-mode meter (on a GPU by the allocator)
    long_cfg = replace(cfg, extra={**cfg.extra, "measure": ["memory"]}) if cpu else cfg
    # one launch: the degree-1 reference with the same engine, ZeRO stage and dtype, the profile's degree
    spec = {
        "base": str(base),
        "round": name,
        "work": str(work),
        "ref": {
            "docs": str(work / "short-docs.json"),
            "out": str(work / "ref"),
            "scratch": str(work / "scratch-r"),
            "config": asdict(replace(cfg, sequence_parallel=1)),
        },
        "short": {
            "docs": str(work / "short-docs.json"),
            "out": str(work / "short"),
            "scratch": str(work / "scratch-s"),
            "config": asdict(cfg),
        },
        "long": {
            "docs": str(work / "long-docs.json"),
            "out": str(work / "long"),
            "scratch": str(work / "scratch-l"),
            "config": asdict(long_cfg),
        },
    }
    (work / "spec.json").write_text(json.dumps(spec, default=list), encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(accelerate_config),
        "--num_machines",
        "1",
        "--num_processes",
        str(processes),
        "--machine_rank",
        "0",
        str(Path(__file__).resolve()),
        "--worker",
        str(work / "spec.json"),
    ]
    env = dict(os.environ, PYTHONHASHSEED="0")
    res = subprocess.run(cmd, cwd=ROOT, env=env)
    if res.returncode != 0:
        print(f"error: the {processes}-process launch failed (exit {res.returncode})", file=sys.stderr)
        return 1
    ranks = {
        k: [json.loads((work / f"{k}.rank{r}.json").read_text()) for r in range(processes)]
        for k in ("ref", "short", "long")
    }
    one = ranks["ref"][0]

    # the checks
    def worst_of(a: list, b: list) -> float:
        return max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b)) if a and len(a) == len(b) else math.inf

    ref = [r["loss"] for r in one["step_records"]]  # the round's own record, full precision
    got = [r["loss"] for r in ranks["short"][0]["step_records"]]
    worst = worst_of(ref, got)
    # the gradient norm too: the optimizer hides a constant factor on the gradients (Adam), the norm does not
    grad_worst = worst_of(one["grad_norms"], ranks["short"][0]["grad_norms"])
    loss_ok = worst <= tolerance and grad_worst <= tolerance
    from safetensors import safe_open

    with safe_open(str(work / "long" / "adapter_model.safetensors"), "pt") as f:
        shapes = {k: f.get_slice(k).get_shape() for k in f.keys()}
    adapter_ok = bool(shapes) and all(0 not in s and s for s in shapes.values())
    arch = Arch.from_config(base_config(base))
    stage = launch_layout(accelerate_config, ROOT)[1]
    hw = launch_hardware(params.plan, *launch_layout(accelerate_config, ROOT))
    hw = replace(hw, gpus=processes, **({"overhead_gib": 0, "fragmentation": 0} if cpu else {}))
    from booktrans.dataset import target_tokens
    from booktrans.train import encode_example

    # the long document's share of labelled tokens, as the dataset stage counts it for the planner
    share = target_tokens(long[0]["messages"], tok, cfg.context) / len(
        encode_example(long[0]["messages"], tok, cfg.context)["input_ids"]
    )
    planned_parts = memory_per_gpu(arch, cfg, hw, share)
    # the long round has no evaluation: its training peak; on a GPU the reserved bytes exclude the CUDA
    # context and NCCL's buffers (plan.overhead_gib), which the planner adds
    planned_bytes = planned_parts["train"] - planned_parts["overhead"]
    if cpu:
        peaks = [r["measured"]["peak_bytes"]["train"] for r in ranks["long"]]
    else:
        peaks = [r["cuda_peak"]["reserved"] for r in ranks["long"]]
        allocated = [r["cuda_peak"]["allocated"] for r in ranks["long"]]
    memory_ratio = max(peaks) / planned_bytes
    memory_ok = memory_ratio <= 1.15
    long0 = ranks["long"][0]
    timed = long0["step_seconds"][1:] or long0["step_seconds"]
    dp = processes // cfg.sequence_parallel
    tps_gpu = cfg.context * dp / (sum(timed) / len(timed)) / processes
    mfu = tps_gpu * model_flops_per_token(arch, cfg) / (peak_tflops * 1e12) if peak_tflops else None
    shards = ranks["long"][0]["micro_batches"][0]["shape"]

    print(
        f"\nsmoke of round {name}: {base} ({arch.params() / 1e9:.2f}B parameters), {processes} processes on one node, "
        f"ZeRO-{stage}, sequence parallel {cfg.sequence_parallel}, {cfg.context:,} tokens per row"
        + (" [CPU rehearsal: tiny model, figures mean nothing]" if cpu else "")
    )
    print(
        f"loss, degree {cfg.sequence_parallel} vs degree 1 on a {short_tokens}-token row: "
        + "  ".join(f"{a:.5f}/{b:.5f}" for a, b in zip(got, ref))
        + f"   max relative difference {worst:.2e}"
    )
    print(
        f"gradient norm, degree {cfg.sequence_parallel} vs degree 1: "
        + "  ".join(f"{a:.5g}/{b:.5g}" for a, b in zip(ranks["short"][0]["grad_norms"], one["grad_norms"]))
        + f"   max relative difference {grad_worst:.2e} (tolerance {tolerance:g}): {'ok' if loss_ok else 'FAILED'}"
    )
    print(f"each rank holds {shards[1]:,} of every {cfg.context:,}-token row")
    print(
        f"adapter: {len(shapes)} tensors, {'none empty' if adapter_ok else 'EMPTY TENSORS'}: "
        f"{'ok' if adapter_ok else 'FAILED'}"
    )
    print(f"tokens/s per GPU: {tps_gpu:,.1f}   MFU: {'n/a on the CPU' if mfu is None else f'{mfu:.1%}'}")
    kind = "live tensor bytes" if cpu else "reserved by the allocator"
    print(
        f"peak memory per GPU ({kind}): "
        + "  ".join(f"rank {r} {b / GIB:.4g} GiB" for r, b in enumerate(peaks))
        + f"   planned: {planned_bytes / GIB:.4g} GiB"
        + ("" if cpu else f" (+ {hw.overhead_gib:g} GiB overhead)")
        + f"   measured/planned {memory_ratio:.3f} (at most 1.15): {'ok' if memory_ok else 'FAILED'}"
    )
    if not cpu:
        print(f"allocated at most: {max(allocated) / GIB:.4g} GiB (fragmentation: reserved beyond it)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "round": name,
                    "processes": processes,
                    "zero_stage": stage,
                    "sequence_parallel": cfg.sequence_parallel,
                    "context": cfg.context,
                    "loss_degree1": ref,
                    "loss_degreeN": got,
                    "max_relative_difference": worst,
                    "grad_norm_degree1": one["grad_norms"],
                    "grad_norm_degreeN": ranks["short"][0]["grad_norms"],
                    "grad_norm_max_relative_difference": grad_worst,
                    "adapter_tensors": len(shapes),
                    "adapter_ok": adapter_ok,
                    "tokens_per_second_per_gpu": tps_gpu,
                    "mfu": mfu,
                    "peak_bytes_per_rank": peaks,
                    "planned_bytes": planned_bytes,
                    "memory_ratio": memory_ratio,
                    "memory_ok": memory_ok,
                    "reference": {
                        "engine": "deepspeed" if hw.deepspeed else "torch",
                        "zero_stage": stage,
                        "dtype": cfg.dtype,
                        "sequence_parallel": 1,
                        "processes": processes,
                    },
                    "engine": "deepspeed" if hw.deepspeed else "torch",
                    "dtype": cfg.dtype,
                    "cpu": cpu,
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0 if loss_ok and adapter_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
