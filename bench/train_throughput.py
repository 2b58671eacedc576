"""Training throughput on one GPU at long contexts, with a random model of a real architecture.

    python bench/train_throughput.py                               # Qwen2.5-7B dims, LoRA and full, 8k..128k
    python bench/train_throughput.py --layers 8 --contexts 8192 32768
    python bench/train_throughput.py --smoke                       # CPU: tiny dims, proves the script runs

No weights are needed: the model is built from configs/models/qwen2.5-7b.json with random
initialisation, in bf16, with the project's training settings (gradient checkpointing, chunked
loss, YaRN beyond the native window, the chosen attention). For each method and context it runs
warm-up steps, then timed optimizer steps, and prints tokens/s per GPU, MFU (model FLOPs of
forward + backward as the method runs them (no weight
gradients under LoRA), recomputation not counted: booktrans.train.plan.model_flops_per_token, the planner's
own definition, over the GPU's dense bf16 peak) and peak memory,
next to the planner's prediction for one GPU without ZeRO. A cell that runs out of memory is
reported as OOM. Record the table in docs/train.md with the command and the GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from booktrans.params import load  # noqa: E402
from booktrans.train import TrainConfig  # noqa: E402
from booktrans.train.loss import causal_lm_loss  # noqa: E402
from booktrans.train.plan import GIB, Arch, Hardware, memory_per_gpu, model_flops_per_token  # noqa: E402


def build(config: dict, method: str, context: int, attn: str, device: str, dtype, lora_r: int):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(**config)
    window = int(config.get("max_position_embeddings", context))
    if context > window:
        cfg.rope_scaling = {
            "rope_type": "yarn",
            "factor": float(2 ** math.ceil(math.log2(context / window))),
            "original_max_position_embeddings": window,
        }
    cfg.use_cache = False
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype, attn_implementation=attn)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model.enable_input_require_grads()
        model = get_peft_model(
            model,
            LoraConfig(
                r=lora_r,
                lora_alpha=2 * lora_r,
                task_type="CAUSAL_LM",
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            ),
        )
    return model


def measure(model, context: int, steps: int, warmup: int, device: str, vocab: int, chunk: int) -> tuple[float, float]:
    """(seconds per step, peak GiB)."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, fused=device == "cuda")
    gen = torch.Generator(device="cpu").manual_seed(0)
    ids = torch.randint(0, vocab, (1, context), generator=gen).to(device)
    labels = ids.clone()
    labels[:, : context // 2] = -100  # translation documents: loss on the target half
    head = model.get_output_embeddings()

    def step():
        out = model(input_ids=ids, output_hidden_states=True, logits_to_keep=1)
        loss, _ = causal_lm_loss(out.hidden_states[-1], labels, head, chunk)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / GIB
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return (time.perf_counter() - t0) / steps, peak


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "configs/models/qwen2.5-7b.json"))
    ap.add_argument("--layers", type=int, help="keep only this many decoder layers (the rest of the shape is real)")
    ap.add_argument("--contexts", type=int, nargs="+", default=[8192, 32768, 65536, 131072])
    ap.add_argument("--methods", nargs="+", default=["lora", "full"], choices=["lora", "full"])
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "flash_attention_2", "eager"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--lora-r", type=int, default=64)
    ap.add_argument("--loss-chunk", type=int, default=4096)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100 SXM: 989)")
    ap.add_argument("--smoke", action="store_true", help="tiny dims on CPU, contexts 128 and 256")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()

    import torch

    config = json.loads(Path(args.config).read_text())
    if args.smoke:
        config.update(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=1000,
            max_position_embeddings=128,
        )
        args.contexts, args.steps, args.lora_r = [128, 256], 2, 8
    if args.layers:
        config["num_hidden_layers"] = args.layers
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (smoke run: numbers mean nothing)"
    arch = Arch.from_config(config)
    print(
        f"device: {gpu}; model: {Path(args.config).name}, {config['num_hidden_layers']} layers, "
        f"{arch.params() / 1e9:.2f}B parameters; attention {args.attn}; gradient checkpointing; chunked loss"
    )
    print(f"{'method':<7}{'context':>9}{'tok/s/GPU':>11}{'MFU':>7}{'peak GiB':>10}{'planned GiB':>13}")
    P = load(ROOT / "params.yaml")  # the project's defaults for every setting the command line leaves
    rows = []
    for method in args.methods:
        for context in args.contexts:
            cfg = replace(
                TrainConfig.from_params(P, "r1"),
                context=context,
                method=method,
                gradient_checkpointing=True,
                lora_r=args.lora_r,
                loss_chunk=args.loss_chunk,
                dtype="bfloat16" if device == "cuda" else "float32",
            )
            share = (context - context // 2) / context  # measure()'s rows: the second half carries labels
            hw = Hardware.from_plan(P.plan, gpus=1, zero_stage=0, deepspeed=False)
            planned = memory_per_gpu(arch, cfg, hw, share)["total"] / GIB
            row = {"method": method, "context": context, "planned_gib": round(planned, 1)}
            try:
                model = build(config, method, context, args.attn, device, dtype, args.lora_r)
                secs, peak = measure(
                    model, context, args.steps, args.warmup, device, config["vocab_size"], args.loss_chunk
                )
                tps = context / secs
                useful = model_flops_per_token(arch, cfg)  # the planner's definition: recomputation not counted
                mfu = tps * useful / (args.peak_tflops * 1e12) if device == "cuda" else float("nan")
                row.update(tokens_per_second=round(tps, 1), mfu=round(mfu, 4), peak_gib=round(peak, 2))
                print(f"{method:<7}{context:>9}{tps:>11.0f}{mfu:>7.1%}{peak:>10.1f}{planned:>13.1f}")
            except torch.OutOfMemoryError:
                row.update(tokens_per_second=None, mfu=None, peak_gib="OOM")
                print(f"{method:<7}{context:>9}{'OOM':>11}{'':>7}{'OOM':>10}{planned:>13.1f}")
            finally:
                model = None
                if device == "cuda":
                    torch.cuda.empty_cache()
            rows.append(row)
    if args.json:
        args.json.write_text(json.dumps({"device": gpu, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
