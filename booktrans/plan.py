"""Plan the rounds before renting: tokens, steps, peak memory per GPU, GPU-hours and cost.

Every formula is written out in docs/train.md ("Planning a run") and checked against hand
calculations in tests/test_plan.py. The estimates are deliberately simple; they are meant to catch
a plan that cannot fit or cannot be paid for, not to replace the measured table from
bench/train_throughput.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ConfigError
from .train.config import TrainConfig, config_for

GIB = 2**30


@dataclass(frozen=True)
class Arch:
    """The dimensions the estimates need, read from a Hugging Face config.json."""
    hidden: int
    layers: int
    intermediate: int
    vocab: int
    heads: int
    kv_heads: int
    tied: bool = False
    qkv_bias: bool = True
    window: int = 0

    @classmethod
    def from_config(cls, cfg: dict) -> "Arch":
        try:
            return cls(hidden=int(cfg["hidden_size"]), layers=int(cfg["num_hidden_layers"]),
                       intermediate=int(cfg["intermediate_size"]), vocab=int(cfg["vocab_size"]),
                       heads=int(cfg["num_attention_heads"]),
                       kv_heads=int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]),
                       tied=bool(cfg.get("tie_word_embeddings", False)),
                       qkv_bias=cfg.get("model_type") in ("qwen2",) or bool(cfg.get("attention_bias", False)),
                       window=int(cfg.get("max_position_embeddings") or 0))
        except KeyError as exc:
            raise ConfigError(f"model config lacks {exc.args[0]}; the planner needs a Hugging Face config.json") from None

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection in one decoder layer."""
        h, kv = self.hidden, self.kv_heads * self.head_dim
        return {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
                "gate_proj": (h, self.intermediate), "up_proj": (h, self.intermediate),
                "down_proj": (self.intermediate, h)}

    def params(self) -> int:
        """Every weight: embeddings, (untied) output head, layers (projections, q/k/v biases, 2 norms), final norm."""
        h = self.hidden
        per_layer = sum(i * o for i, o in self.linear_shapes().values()) + 2 * h
        if self.qkv_bias:
            per_layer += h + 2 * self.kv_heads * self.head_dim
        return self.vocab * h * (1 if self.tied else 2) + self.layers * per_layer + h

    def matmul_params(self) -> int:
        """Weights used in matrix products per token: the layers' projections and the output head."""
        return self.layers * sum(i * o for i, o in self.linear_shapes().values()) + self.vocab * self.hidden

    def extra_params(self, modules: tuple[str, ...]) -> int:
        """Weights of modules trained in full beside LoRA (peft modules_to_save, matched by name suffix)."""
        total = 0
        for m in modules:
            if m == "embed_tokens":
                total += self.vocab * self.hidden
            elif m == "lm_head":
                total += self.vocab * self.hidden
            elif m == "norm":                      # every *norm: two per layer and the final one
                total += (2 * self.layers + 1) * self.hidden
            elif m.endswith("layernorm"):
                total += self.layers * self.hidden
        return total

    def lora_params(self, rank: int, targets: tuple[str, ...]) -> int:
        shapes = self.linear_shapes()
        return self.layers * sum(rank * (shapes[t][0] + shapes[t][1]) for t in targets if t in shapes)


@dataclass(frozen=True)
class Hardware:
    gpus: int = 24                   # processes training together (one per GPU)
    gpu_memory_gib: float = 80.0
    peak_tflops: float = 989.0       # dense bf16 per GPU (H100 SXM)
    mfu: float = 0.35                # assumed model FLOPs utilisation
    price_per_gpu_hour: float = 1.0  # USD
    overhead_gib: float = 2.0        # CUDA context, NCCL buffers, allocator fragmentation
    zero_stage: int = 3


def memory_per_gpu(arch: Arch, cfg: TrainConfig, hw: Hardware) -> dict:
    """Peak bytes per GPU, by part. See docs/train.md for each line."""
    n = hw.gpus
    stage = hw.zero_stage
    p = arch.params()
    weight_bytes = 0.5 if cfg.method == "qlora" else 2.0          # 4-bit or bf16 weights
    weights = p * weight_bytes / (n if stage >= 3 else 1)
    trainable = p if cfg.method == "full" else arch.lora_params(cfg.lora_r, cfg.target_modules) + arch.extra_params(cfg.trainable)
    if cfg.method != "full":
        weights += 2.0 * arch.extra_params(cfg.trainable) / (n if stage >= 3 else 1)  # peft's trainable copies
    grads = 2.0 * trainable / (n if stage >= 2 else 1)              # bf16 gradients
    optimizer = 12.0 * trainable / (n if stage >= 1 else 1)         # fp32 master copy + Adam m and v
    t = cfg.batch_size * cfg.context / cfg.sequence_parallel        # tokens held by one GPU
    h, i = arch.hidden, arch.intermediate
    kv = arch.kv_heads * arch.head_dim
    layer = 2.0 * t * (6 * h + 2 * kv + 3 * i)                     # saved tensors of one layer, bf16
    if cfg.gradient_checkpointing:
        activations = arch.layers * 2.0 * t * h + layer             # layer inputs + one layer recomputed
    else:
        activations = arch.layers * layer
    if cfg.loss == "chunked":
        logits = 8.0 * min(cfg.loss_chunk, t) * arch.vocab          # fp32 logits and their gradient, one chunk
    else:
        logits = 10.0 * t * arch.vocab                              # bf16 logits, fp32 copy, fp32 gradient
    overhead = hw.overhead_gib * GIB
    parts = {"weights": weights, "gradients": grads, "optimizer": optimizer, "activations": activations,
             "logits": logits, "overhead": overhead}
    parts["total"] = sum(parts.values())
    return parts


def flops_per_token(arch: Arch, cfg: TrainConfig) -> float:
    """Training FLOPs per token actually executed (recomputation included)."""
    fwd_mm = 2.0 * arch.matmul_params()
    fwd_attn = 2.0 * arch.layers * arch.hidden * cfg.context       # causal: on average context/2 keys, QK and AV
    if cfg.method == "full":
        total = 3 * fwd_mm + 3 * fwd_attn                           # forward + gradients of activations and weights
    else:
        total = 2 * fwd_mm + 3 * fwd_attn                           # frozen weights: no weight gradients
    if cfg.gradient_checkpointing:
        total += fwd_mm + fwd_attn                                  # the forward pass again
    return total


def plan_round(arch: Arch, cfg: TrainConfig, hw: Hardware, tokens: int, documents: int) -> dict:
    dp = max(hw.gpus // cfg.sequence_parallel, 1)
    rows = math.ceil(tokens / cfg.context) if cfg.packing else documents
    per_step = cfg.batch_size * cfg.grad_accum * dp
    steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(rows * cfg.epochs / per_step)
    trained_tokens = tokens * cfg.epochs if cfg.max_steps <= 0 else min(tokens * cfg.epochs, steps * per_step * cfg.context)
    flops = trained_tokens * flops_per_token(arch, cfg)
    hours = flops / (hw.gpus * hw.peak_tflops * 1e12 * hw.mfu) / 3600
    mem = memory_per_gpu(arch, cfg, hw)
    return {"tokens": tokens, "documents": documents, "rows": rows, "steps": steps, "memory": mem,
            "fits": mem["total"] <= hw.gpu_memory_gib * GIB, "hours": hours, "gpu_hours": hours * hw.gpus,
            "cost": hours * hw.gpus * hw.price_per_gpu_hour}


def _launch(params: dict, root: Path) -> tuple[int, int]:
    """(processes, ZeRO stage) of the configured launch: one process and no ZeRO for launcher python."""
    t = params.get("train") or {}
    if t.get("launcher", "python") != "accelerate":
        return 1, 0
    acc_path = root / str(t.get("accelerate_config"))
    try:
        acc = yaml.safe_load(acc_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"train.accelerate_config: {acc_path} not found") from None
    processes = int(acc.get("num_processes") or 1)
    ds = acc.get("deepspeed_config") or {}
    if "zero_stage" in ds:
        return processes, int(ds["zero_stage"])
    if ds.get("deepspeed_config_file"):
        data = json.loads((root / ds["deepspeed_config_file"]).read_text(encoding="utf-8"))
        return processes, int((data.get("zero_optimization") or {}).get("stage", 0))
    return processes, 0


def model_config(params: dict, root: Path) -> tuple[dict, str]:
    """The config.json to plan for: plan.model_config, else the base model's, else the tiny demo model's."""
    plan = params.get("plan") or {}
    model = params.get("model") or {}
    if plan.get("model_config"):
        p = root / plan["model_config"]
        if not p.exists():
            raise ConfigError(f"plan.model_config: {p} not found")
        return json.loads(p.read_text(encoding="utf-8")), str(plan["model_config"])
    if str(model.get("base")) == "tiny":
        t = model.get("tiny") or {}
        return {"hidden_size": t["hidden_size"], "num_hidden_layers": t["layers"], "intermediate_size": t["intermediate_size"],
                "vocab_size": t["vocab_size"], "num_attention_heads": t["heads"], "num_key_value_heads": t["kv_heads"],
                "max_position_embeddings": t["max_positions"], "model_type": "qwen2"}, "model.tiny"
    p = Path(str(model.get("base"))) / "config.json"
    if not p.exists():
        raise ConfigError(f"model.base: {p} not found; set plan.model_config (e.g. configs/models/qwen2.5-7b.json) "
                          f"to plan without the weights")
    return json.loads(p.read_text(encoding="utf-8")), str(p)


def dataset_tokens(root: Path, round_name: str) -> tuple[int, int] | None:
    path = root / "data" / "sft" / round_name / "train.jsonl"
    if not path.exists():
        return None
    tokens = docs = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                tokens += int(json.loads(line)["meta"]["tokens"])
                docs += 1
    return tokens, docs


def hardware(params: dict, root: Path) -> Hardware:
    """The allocation: processes and ZeRO stage from the launch config, prices and speeds from plan:."""
    plan = params.get("plan") or {}
    base = Hardware()
    processes, stage = _launch(params, root)
    quoted = int(plan.get("gpus", 24))
    return Hardware(gpus=processes, gpu_memory_gib=float(plan.get("gpu_memory_gib", base.gpu_memory_gib)),
                    peak_tflops=float(plan.get("peak_tflops", base.peak_tflops)), mfu=float(plan.get("mfu", base.mfu)),
                    price_per_gpu_hour=float(plan.get("price_per_hour", 24.0)) / max(quoted, 1),
                    overhead_gib=float(plan.get("overhead_gib", base.overhead_gib)), zero_stage=stage)


def plan(params: dict, root: Path, tokens: int | None = None) -> dict:
    """Every round of params. ``tokens``: plan for this many training tokens per round instead of the
    built datasets (documents of the round's full context)."""
    cfg_json, source = model_config(params, root)
    arch = Arch.from_config(cfg_json)
    hw = hardware(params, root)
    rounds = {}
    for name in params.get("rounds") or {}:
        cfg = config_for(params, name)
        counted = (tokens, math.ceil(tokens / cfg.context)) if tokens else dataset_tokens(root, name)
        if counted is None:
            rounds[name] = {"context": cfg.context, "missing": f"data/sft/{name} not built (dvc repro dataset@{name})",
                            "memory": memory_per_gpu(arch, cfg, hw), "config": cfg}
            continue
        rounds[name] = {**plan_round(arch, cfg, hw, *counted), "context": cfg.context, "config": cfg}
    return {"model": source, "params": arch.params(), "arch": arch, "hardware": hw, "rounds": rounds, "tokens": tokens}


def format_plan(result: dict) -> str:
    hw: Hardware = result["hardware"]
    lines = [f"model: {result['model']} ({result['params'] / 1e9:.2f}B parameters)",
             f"hardware: {hw.gpus} GPU(s) x {hw.gpu_memory_gib:g} GiB, ZeRO-{hw.zero_stage}, {hw.peak_tflops:g} TFLOPS peak at "
             f"{hw.mfu:.0%} MFU, ${hw.price_per_gpu_hour:.2f} per GPU-hour",
             "", f"{'round':<6}{'context':>9}{'method':>8}{'ckpt':>6}{'sp':>4}{'tokens':>13}{'steps':>8}"
                 f"{'mem/GPU GiB':>13}{'fits':>6}{'GPU-h':>10}{'cost $':>11}"]
    total_h = total_cost = 0.0
    for name, r in result["rounds"].items():
        cfg: TrainConfig = r["config"]
        mem = r["memory"]["total"] / GIB
        head = f"{name:<6}{r['context']:>9}{cfg.method:>8}{'on' if cfg.gradient_checkpointing else 'off':>6}{cfg.sequence_parallel:>4}"
        if "missing" in r:
            lines.append(f"{head}{'-':>13}{'-':>8}{mem:>13.1f}{'yes' if mem <= hw.gpu_memory_gib else 'NO':>6}"
                         f"{'-':>10}{'-':>11}   {r['missing']}")
            continue
        total_h += r["gpu_hours"]
        total_cost += r["cost"]
        lines.append(f"{head}{r['tokens']:>13,}{r['steps']:>8,}{mem:>13.1f}{'yes' if r['fits'] else 'NO':>6}"
                     f"{r['gpu_hours']:>10.2f}{r['cost']:>11.2f}")
    source = (f"tokens: {result['tokens']:,} per round, as asked" if result.get("tokens") else
              "tokens are counted in data/sft/<round> with the tokenizer of models/r0")
    lines += ["", f"total: {total_h:.2f} GPU-hours, ${total_cost:,.2f}", f"{source}; memory and time are estimates "
              "(docs/train.md)"]
    return "\n".join(lines)


def plan_summary(result: dict) -> dict:
    """JSON-ready numbers (reports and the comparison page read these)."""
    out = {"model": result["model"], "params": result["params"], "rounds": {}}
    for name, r in result["rounds"].items():
        row = {"context": r["context"], "memory_gib": round(r["memory"]["total"] / GIB, 2)}
        if "missing" not in r:
            row.update(tokens=r["tokens"], steps=r["steps"], gpu_hours=round(r["gpu_hours"], 4), cost=round(r["cost"], 2),
                       fits=r["fits"])
        out["rounds"][name] = row
    return out
