"""Plan the rounds before renting: tokens, steps, peak memory per GPU, GPU-hours and cost.

Every formula is written out in docs/train.md ("Planning a run") and checked against hand
calculations in tests/test_plan.py. The estimates are deliberately simple; they are meant to catch
a plan that cannot fit or cannot be paid for, not to replace the measured table from
bench/train_throughput.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import ConfigError
from ..params import Params
from .config import TrainConfig, config_for

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
            return cls(
                hidden=int(cfg["hidden_size"]),
                layers=int(cfg["num_hidden_layers"]),
                intermediate=int(cfg["intermediate_size"]),
                vocab=int(cfg["vocab_size"]),
                heads=int(cfg["num_attention_heads"]),
                kv_heads=int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]),
                tied=bool(cfg.get("tie_word_embeddings", False)),
                qkv_bias=cfg.get("model_type") in ("qwen2",) or bool(cfg.get("attention_bias", False)),
                window=int(cfg.get("max_position_embeddings") or 0),
            )
        except KeyError as exc:
            raise ConfigError(
                f"model config lacks {exc.args[0]}; the planner needs a Hugging Face config.json"
            ) from None

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection in one decoder layer."""
        h, kv = self.hidden, self.kv_heads * self.head_dim
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, self.intermediate),
            "up_proj": (h, self.intermediate),
            "down_proj": (self.intermediate, h),
        }

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
            elif m == "norm":  # every *norm: two per layer and the final one
                total += (2 * self.layers + 1) * self.hidden
            elif m.endswith("layernorm"):
                total += self.layers * self.hidden
        return total

    def layer_params(self) -> int:
        """Weights of one decoder layer (projections, q/k/v biases, two norms)."""
        per_layer = sum(i * o for i, o in self.linear_shapes().values()) + 2 * self.hidden
        if self.qkv_bias:
            per_layer += self.hidden + 2 * self.kv_heads * self.head_dim
        return per_layer

    def lora_params(self, rank: int, targets: tuple[str, ...]) -> int:
        shapes = self.linear_shapes()
        return self.layers * sum(rank * (shapes[t][0] + shapes[t][1]) for t in targets if t in shapes)


@dataclass(frozen=True)
class Hardware:
    """The allocation planned for. The first seven fields come from params ``plan`` (no defaults here: build
    it with :meth:`from_plan`); the DeepSpeed ones from the round's launch config (:func:`hardware`)."""

    gpus: int  # processes training together (one per GPU)
    gpu_memory_gib: float
    peak_tflops: float  # dense bf16 per GPU (H100 SXM)
    mfu: float  # assumed model FLOPs utilisation
    price_per_gpu_hour: float  # USD (plan.price_per_hour over plan.gpus)
    overhead_gib: float  # CUDA context and NCCL's own buffers
    fragmentation: float  # share of the tensors' bytes the caching allocator cannot reuse
    zero_stage: int = 3
    deepspeed: bool = True  # launched with DeepSpeed (launcher accelerate with a DeepSpeed config)
    reduce_bucket: int = 0  # elements; DeepSpeed's reduce_bucket_size (0 = "auto": hidden x hidden)
    allgather_bucket: int = 500_000_000  # elements; ZeRO-1/2's setting (no bucket of it is allocated: measured)
    max_live_parameters: int = 1_000_000_000  # elements; ZeRO-3's stage3_max_live_parameters

    @classmethod
    def from_plan(cls, plan, **launch) -> "Hardware":
        """From the typed ``plan`` record (booktrans.params.PlanParams); ``launch`` sets the process count
        (``gpus``, default plan.gpus) and the DeepSpeed fields."""
        return cls(
            **{
                "gpus": plan.gpus,
                "gpu_memory_gib": plan.gpu_memory_gib,
                "peak_tflops": plan.peak_tflops,
                "mfu": plan.mfu,
                "price_per_gpu_hour": plan.price_per_hour / max(plan.gpus, 1),
                "overhead_gib": plan.overhead_gib,
                "fragmentation": plan.fragmentation,
                **launch,
            }
        )


def _bytes(cfg: TrainConfig) -> int:
    """Bytes of one weight or activation element in the round's dtype."""
    return 4 if cfg.dtype == "float32" else 2


# Tensors alive at the peak of a training step, per token, by tensor width (h: hidden, kv: key/value
# width, i: MLP width, r: LoRA rank) and element size (2: bf16, 4: fp32), for a Qwen2/Llama decoder
# layer in transformers 4.57 with peft 0.21 LoRA (whose adapters compute in fp32) and the chunked
# loss. "layer": what each layer keeps for its backward pass; "work": the extra tensors of the one
# layer being recomputed and back-propagated (under gradient checkpointing), or of the loss (without);
# "fixed": tensors outside the layers (final norm, the target rows gathered for the loss: "ht" is an
# h-wide tensor over the labelled tokens only, h x the round's label share per token).
# Counted with booktrans.train.meters.PeakTensorMemory on real steps (docs/train.md, "Planning a run").
ACTIVATIONS = {
    # (method, dtype bytes, checkpointing): {part: {(width, element bytes): count}}
    ("lora", 4, True): {"layer": {("h", 4): 1}, "work": {("i", 4): 6, ("h", 4): 7, ("kv", 4): 2, ("r", 4): 6}},
    ("full", 4, True): {"layer": {("h", 4): 1}, "work": {("i", 4): 6, ("h", 4): 9, ("kv", 4): 2}},
    ("lora", 2, True): {
        "layer": {("h", 2): 1},
        "work": {("i", 4): 2, ("i", 2): 3, ("h", 4): 9, ("h", 2): 7, ("kv", 2): 2, ("r", 4): 6},
    },
    ("full", 2, True): {"layer": {("h", 2): 1}, "work": {("i", 2): 6, ("h", 4): 2, ("h", 2): 8, ("kv", 2): 2}},
    ("lora", 4, False): {
        "layer": {("i", 4): 4, ("h", 4): 6, ("kv", 4): 2, ("r", 4): 7},
        "fixed": {("h", 4): 2, ("ht", 4): 2},
    },
    ("full", 4, False): {"layer": {("i", 4): 4, ("h", 4): 8, ("kv", 4): 2}, "fixed": {("h", 4): 3, ("ht", 4): 2}},
    ("lora", 2, False): {
        "layer": {("i", 4): 1, ("i", 2): 3, ("h", 4): 8, ("h", 2): 3, ("kv", 2): 2, ("r", 4): 7},
        "fixed": {("h", 2): 1, ("ht", 2): 2},
    },
    ("full", 2, False): {
        "layer": {("i", 2): 4, ("h", 4): 2, ("h", 2): 7, ("kv", 2): 2},
        "fixed": {("h", 4): 1, ("h", 2): 2, ("ht", 2): 2},
    },
}


def activation_bytes(arch: Arch, cfg: TrainConfig, label_share: float) -> dict:
    """Bytes per token of the ACTIVATIONS table for this shape: {"layer", "work", "fixed"}. ``label_share``:
    the share of the tokens that carry a label (the loss's targets)."""
    width = {
        "h": arch.hidden,
        "kv": arch.kv_heads * arch.head_dim,
        "i": arch.intermediate,
        "r": cfg.lora_r * 1.0,
        "ht": arch.hidden * label_share,
    }
    method = "full" if cfg.method == "full" else "lora"
    table = ACTIVATIONS[(method, _bytes(cfg), bool(cfg.gradient_checkpointing))]
    return {
        part: sum(width[w] * size * n for (w, size), n in table.get(part, {}).items())
        for part in ("layer", "work", "fixed")
    }


def memory_per_gpu(arch: Arch, cfg: TrainConfig, hw: Hardware, label_share: float) -> dict:
    """Peak bytes per GPU, by part. Every line is written out in docs/train.md ("Planning a run") and
    measured against real forward and backward passes in tests/test_plan_memory.py, and against whole
    two-process DeepSpeed rounds (ZeRO-2 and ZeRO-3) in tests/test_train_multiprocess.py. ``label_share``: the
    share of the tokens that carry a label, from the data (:attr:`DataCounts.label_share`) or plan.label_share."""
    if not 0 < label_share <= 1:
        raise ConfigError(f"label share {label_share!r}: the share of labelled tokens must be in (0, 1]")
    n = hw.gpus
    stage = hw.zero_stage
    b = _bytes(cfg)
    p = arch.params()
    weight_bytes = 0.5 if cfg.method == "qlora" else b  # 4-bit, bf16 or fp32 weights
    weights = p * weight_bytes / (n if stage >= 3 else 1)
    lora = 0 if cfg.method == "full" else arch.lora_params(cfg.lora_r, cfg.target_modules)
    whole = p if cfg.method == "full" else arch.extra_params(cfg.trainable)  # trained in full, in the dtype
    if hw.deepspeed:
        # DeepSpeed: every trainable weight in the dtype, its gradient in the dtype, and an fp32 master
        # copy of the rank's partition with Adam's two moments in the optimizer (12 bytes). In fp32 too:
        # ZeRO keeps its fp32 partition apart from the weights (measured: test_train_multiprocess.py)
        lora_bytes, grads, optimizer = b, b * (lora + whole), 12.0 * (lora + whole)
    else:
        # plain torch: peft keeps the adapters in fp32; Adam's moments take the weights' dtype
        lora_bytes, grads, optimizer = 4, 4.0 * lora + b * whole, 8.0 * lora + 2.0 * b * whole
    if cfg.method != "full":
        weights += (b * whole + lora_bytes * lora) / (n if stage >= 3 else 1)  # peft's trainable copies, adapters
    whole_model = weights * (n if stage >= 3 else 1)  # every weight, unsharded
    grads /= n if stage >= 2 else 1
    optimizer /= n if stage >= 1 else 1
    t = cfg.batch_size * cfg.context / cfg.sequence_parallel  # tokens held by one GPU
    h, v = arch.hidden, arch.vocab
    # translation documents: the target side, at the end of the row, carries the labels, so under
    # sequence parallelism the last slices hold them all: the GPU priced is the one with the most
    targets = min(t, cfg.batch_size * cfg.context * label_share)
    per_token = activation_bytes(arch, cfg, targets / t)
    activations = (arch.layers * per_token["layer"] + per_token["fixed"]) * t
    rows = min(cfg.loss_chunk, targets) if cfg.loss == "chunked" else t
    # one chunk's logits: fp32 logits, softmax and gradient (12 bytes an entry), + the bf16 logits (14)
    logits = rows * v * (12 + (b if b < 4 else 0))
    # the larger of: one layer recomputed and back-propagated, the loss's chunk (they never coexist)
    working = max(per_token["work"] * t, logits)
    # ZeRO-3: a gathered weight stays until its reuse is further away than stage3_max_reuse_distance; with
    # the project's configs (both bounds 1e9) every weight stays gathered, up to stage3_max_live_parameters
    # (measured with two processes, test_train_multiprocess.py)
    gather = min(whole_model, b * hw.max_live_parameters) if stage >= 3 else 0.0
    bucket = hw.reduce_bucket or h * h
    # two reduce buckets; ZeRO-1/2 gather the updated partitions straight into the weights (no
    # all-gather bucket stays allocated, measured with two processes)
    comm = 0.0 if n == 1 else b * 2 * bucket
    tensors = weights + grads + optimizer + activations + working + gather + comm
    parts = {
        "weights": weights,
        "gradients": grads,
        "optimizer": optimizer,
        "activations": activations,
        "working": working,
        "gather": gather,
        "communication": comm,
        "fragmentation": hw.fragmentation * tensors,
        "overhead": hw.overhead_gib * GIB,
    }
    parts["total"] = sum(parts.values())
    parts["train"] = parts["total"]
    parts["eval"] = eval_memory(arch, cfg, hw, parts, label_share)
    parts["total"] = max(parts["train"], parts["eval"])  # the round's peak: training or its evaluation
    return parts


# Tensors alive at the peak of one decoder layer's no-grad forward (evaluation), per token, by width
# (h: hidden, i: MLP, d: head dimension, for RoPE's cos and sin) and element size: the peak is in the
# MLP (with LoRA, whose adapters compute in fp32, while an adapter's output is scaled). Counted with
# booktrans.train.meters.PeakTensorMemory (measure_step(phase="eval")) on hidden 128/MLP 448,
# hidden 160/MLP 576 and hidden 64/MLP 256; tests/test_train_long.py checks other shapes.
EVAL_LAYER = {
    # (method, dtype bytes): {(width, element bytes): count}
    ("lora", 4): {("i", 4): 4, ("h", 4): 4, ("d", 4): 2},
    ("lora", 2): {("i", 4): 2, ("i", 2): 2, ("h", 4): 1, ("h", 2): 4, ("d", 2): 2},
    ("full", 4): {("i", 4): 3, ("h", 4): 4, ("d", 4): 2},
    ("full", 2): {("i", 2): 3, ("h", 2): 4, ("d", 2): 2},
}


def eval_memory(arch: Arch, cfg: TrainConfig, hw: Hardware, parts: dict, label_share: float) -> float:
    """Peak bytes per GPU of the round's evaluation (run after training, before the round is saved):
    the resident state of training (weights, optimizer, gathered layers, communication buffers, and
    under DeepSpeed the gradients), plus a no-grad forward of one whole row. Rows are not split in
    evaluation (accelerate turns Ulysses off there, and the round's collator stops slicing), so a
    GPU reads ``context`` tokens whatever ``sequence_parallel`` is. The larger of: one layer's
    forward (EVAL_LAYER), and the loss: the final hidden state, the labelled rows gathered for it and
    one chunk's fp32 logits and log-softmax (8 bytes an entry; the standard loss: the whole row's).
    ``label_share``: as for :func:`memory_per_gpu`."""
    b = _bytes(cfg)
    t = cfg.context  # batch 1 (the round evaluates one row per batch), the whole row
    width = {"h": arch.hidden, "i": arch.intermediate, "d": arch.head_dim}
    table = EVAL_LAYER[("full" if cfg.method == "full" else "lora", b)]
    layer = sum(width[w] * size * n for (w, size), n in table.items()) * t
    targets = t * label_share  # translation documents: the target side carries the labels
    rows = min(cfg.loss_chunk, targets) if cfg.loss == "chunked" else t
    loss = rows * arch.vocab * 8 + arch.hidden * b * (t + targets)
    # plain torch: the Trainer sets the gradients to None after every step; so does ZeRO-1/2 (its
    # gradient partitions are freed after the step); ZeRO-3 keeps its flat gradient buffer and its
    # gathered weights (``gather``): measured with two processes (test_train_multiprocess.py)
    stage3 = hw.deepspeed and hw.zero_stage >= 3
    kept = ("weights", "optimizer", "gather", "communication") + (("gradients",) if stage3 else ())
    tensors = sum(parts[k] for k in kept) + max(layer, loss)
    return tensors * (1 + hw.fragmentation) + hw.overhead_gib * GIB


def attention_share(arch: Arch, cfg: TrainConfig) -> float:
    """Share of dense causal attention's (query, key) pairs a round computes, over all layers: 1 for a
    dense round; for ``sparse_attention`` the pattern's kept share (booktrans.train.sparse.kept_share)
    in the sparse layers and 1 in the ``dense_layers``."""
    if not cfg.sparse_attention:
        return 1.0
    from .sparse import kept_share, parse

    spec = parse(cfg.sparse_attention, "rounds.<round>", cfg.context, {"num_hidden_layers": arch.layers})
    dense = min(spec.dense_layers, arch.layers)
    return (dense + (arch.layers - dense) * kept_share(spec, cfg.context)) / arch.layers


def model_flops_per_token(arch: Arch, cfg: TrainConfig) -> float:
    """Model FLOPs per trained token: what MFU counts, in the benchmark, the smoke test and the planner's
    hours alike. Matrix products 2·(weights used per token); causal attention 2·L·h·context (QKᵀ and AV
    over context/2 keys on average), times the share of it a sparse round keeps (``attention_share``).
    Forward + backward: full fine-tuning 3x forward; LoRA 2x forward for the frozen weights (gradients
    of activations only) and 3x for attention. Recomputation under gradient checkpointing is not
    counted (that is hardware FLOPs, not model FLOPs)."""
    fwd_mm = 2.0 * arch.matmul_params()
    fwd_attn = 2.0 * arch.layers * arch.hidden * cfg.context * attention_share(arch, cfg)
    if cfg.method == "full":
        return 3 * fwd_mm + 3 * fwd_attn
    return 2 * fwd_mm + 3 * fwd_attn


def plan_round(arch: Arch, cfg: TrainConfig, hw: Hardware, tokens: int, documents: int, label_share: float) -> dict:
    dp = max(hw.gpus // cfg.sequence_parallel, 1)
    rows = math.ceil(tokens / cfg.context) if cfg.packing else documents
    per_step = cfg.batch_size * cfg.grad_accum * dp
    steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(rows * cfg.epochs / per_step)
    trained_tokens = (
        tokens * cfg.epochs if cfg.max_steps <= 0 else min(tokens * cfg.epochs, steps * per_step * cfg.context)
    )
    flops = trained_tokens * model_flops_per_token(arch, cfg)
    hours = flops / (hw.gpus * hw.peak_tflops * 1e12 * hw.mfu) / 3600
    mem = memory_per_gpu(arch, cfg, hw, label_share)
    return {
        "tokens": tokens,
        "documents": documents,
        "label_share": label_share,
        "rows": rows,
        "steps": steps,
        "memory": mem,
        "attention_share": attention_share(arch, cfg),
        "fits": mem["total"] <= hw.gpu_memory_gib * GIB,
        "hours": hours,
        "gpu_hours": hours * hw.gpus,
        "cost": hours * hw.gpus * hw.price_per_gpu_hour,
    }


def launch_layout(accelerate_config: str | Path, root: Path | None = None) -> tuple[int, int, dict]:
    """(processes, ZeRO stage, DeepSpeed's zero_optimization settings) of an accelerate config file."""
    root = Path(root) if root is not None else Path(".")
    acc_path = Path(accelerate_config) if Path(accelerate_config).is_absolute() else root / str(accelerate_config)
    try:
        acc = yaml.safe_load(acc_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"train.accelerate_config: {acc_path} not found") from None
    processes = int(acc.get("num_processes") or 1)
    if str(acc.get("distributed_type", "")).upper() != "DEEPSPEED":
        return processes, 0, {"deepspeed": False}
    ds = acc.get("deepspeed_config") or {}
    if "zero_stage" in ds:
        return processes, int(ds["zero_stage"]), {}
    if ds.get("deepspeed_config_file"):
        ds_path = Path(ds["deepspeed_config_file"])
        if not ds_path.is_absolute():
            ds_path = (root / ds_path) if (root / ds_path).exists() else acc_path.parents[2] / ds_path
        zero = json.loads(ds_path.read_text(encoding="utf-8")).get("zero_optimization") or {}
        return processes, int(zero.get("stage", 0)), zero
    return processes, 0, {}


def round_launch(params: Params, root: Path, round_name: str | None = None) -> tuple[int, int, dict]:
    """(processes, ZeRO stage, zero settings) of a round's launch: one process, no ZeRO for launcher python."""
    if params.train.launcher != "accelerate":
        return 1, 0, {"deepspeed": False}
    t = params.round_train(round_name) if round_name else params.train
    return launch_layout(str(t.accelerate_config), root)


def model_config(params: Params, root: Path, planned: bool = True) -> tuple[dict, str]:
    """The config.json to plan for: plan.model_config (unless ``planned`` is false: preflight checks the
    model that will train), else the base model's, else the tiny demo model's."""
    if planned and params.plan.model_config:
        p = root / params.plan.model_config
        if not p.exists():
            raise ConfigError(f"plan.model_config: {p} not found")
        return json.loads(p.read_text(encoding="utf-8")), str(params.plan.model_config)
    if params.model.base == "tiny":
        t = params.model.tiny
        return {
            "hidden_size": t.hidden_size,
            "num_hidden_layers": t.layers,
            "intermediate_size": t.intermediate_size,
            "vocab_size": t.vocab_size,
            "num_attention_heads": t.heads,
            "num_key_value_heads": t.kv_heads,
            "max_position_embeddings": t.max_positions,
            "model_type": "qwen2",
        }, "model.tiny"
    p = Path(params.model.base) / "config.json"
    if not p.exists():
        raise ConfigError(
            f"model.base: {p} not found; set plan.model_config (e.g. configs/models/qwen2.5-7b.json) "
            f"to plan without the weights"
        )
    return json.loads(p.read_text(encoding="utf-8")), str(p)


@dataclass(frozen=True)
class DataCounts:
    """What the planner needs of a round's training data: the dataset stage's counts (the ``train`` part
    of data/sft/<round>/stats.json). The caller reads them, from wherever its stage declares them."""

    tokens: int
    documents: int
    target_tokens: int  # tokens that carry a label: the next-token targets the loss counts

    @property
    def label_share(self) -> float:
        return self.target_tokens / self.tokens

    @classmethod
    def from_stats(cls, train: dict, source: str = "stats") -> "DataCounts":
        """From the ``train`` part of a round's stats.json; ``source`` names the file in errors."""
        if isinstance(train, dict) and "tokens" in train and "target_tokens" not in train:
            raise ConfigError(
                f"{source}: no target_tokens (a dataset built before labelled tokens were counted); rebuild "
                f"the round's dataset (dvc repro dataset@<round>)"
            )
        try:
            counts = cls(int(train["tokens"]), int(train["documents"]), int(train["target_tokens"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: no training token and document counts ({exc!r})") from None
        if counts.tokens <= 0:
            raise ConfigError(f"{source}: no training tokens (an empty dataset)")
        if not 0 < counts.target_tokens <= counts.tokens:
            raise ConfigError(f"{source}: {counts.target_tokens} labelled tokens of {counts.tokens}: out of range")
        return counts

    @classmethod
    def read(cls, path: Path, *keys: str) -> "DataCounts | None":
        """The counts in the JSON file ``path`` under ``keys`` (e.g. "train" in a stats.json); None when the
        file does not exist (the round's data is not built yet)."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{path}: not JSON ({exc})") from None
        for key in keys:
            doc = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: no {'.'.join(keys) or 'object'} with the training counts")
        return cls.from_stats(doc, f"{path} ({'.'.join(keys)})")


def hardware(params: Params, root: Path, round_name: str | None = None) -> Hardware:
    """The allocation of a round: processes, ZeRO stage and buckets from its launch config, prices and
    speeds from plan:."""
    return launch_hardware(params.plan, *round_launch(params, root, round_name))


def launch_hardware(plan, processes: int, stage: int, zero: dict) -> Hardware:
    """Hardware of a launch: ``plan`` (params ``plan``) with the processes, ZeRO stage and DeepSpeed
    buckets of :func:`launch_layout`."""

    def bucket(key: str, default: int) -> int:
        value = zero.get(key, default)
        return 0 if value == "auto" else int(value)

    return Hardware.from_plan(
        plan,
        gpus=processes,
        zero_stage=stage,
        deepspeed=bool(zero.get("deepspeed", True)),
        reduce_bucket=bucket("reduce_bucket_size", 0),
        allgather_bucket=bucket("allgather_bucket_size", Hardware.allgather_bucket),
        max_live_parameters=bucket("stage3_max_live_parameters", Hardware.max_live_parameters),
    )


def plan(
    params: Params,
    root: Path,
    data: Mapping[str, DataCounts | None] | None = None,
    manifest: Path | None = None,
    tokens: int | None = None,
) -> dict:
    """Every round of params. ``data``: each round's training-data counts, read by the caller (None or
    absent: not built yet); their share of labelled tokens prices the loss. ``tokens``: plan for this
    many training tokens per round instead (documents of the round's full context, plan.label_share of
    them labelled). ``manifest``: the book manifest, to count the validation books a selecting round
    scores (None: none counted). ``root`` resolves plan.model_config and the launch configs."""
    if not 0 < params.plan.label_share <= 1:
        raise ConfigError(f"{params.source}: plan.label_share is {params.plan.label_share}; a share is in (0, 1]")
    cfg_json, source = model_config(params, root)
    arch = Arch.from_config(cfg_json)
    data = data or {}
    rounds = {}
    for name in params.rounds:
        cfg = config_for(params, name)
        hw = hardware(params, root, name)
        built = data.get(name)
        if tokens:
            counted = (tokens, math.ceil(tokens / cfg.context), params.plan.label_share)
        elif built:
            counted = (built.tokens, built.documents, built.label_share)
        else:
            counted = None
        if counted is None:
            rounds[name] = {
                "context": cfg.context,
                "missing": f"no training data counted for {name} (dvc repro dataset@{name})",
                "memory": memory_per_gpu(arch, cfg, hw, params.plan.label_share),
                "label_share": params.plan.label_share,
                "config": cfg,
                "hardware": hw,
                "attention_share": attention_share(arch, cfg),
            }
            continue
        rounds[name] = {**plan_round(arch, cfg, hw, *counted), "context": cfg.context, "config": cfg, "hardware": hw}
        rounds[name]["select"] = selection_cost(params, manifest, cfg, rounds[name]["steps"])
    first = next(iter(rounds.values()))["hardware"] if rounds else hardware(params, root)
    return {
        "model": source,
        "params": arch.params(),
        "arch": arch,
        "hardware": first,
        "rounds": rounds,
        "tokens": tokens,
    }


def selection_cost(params: Params, manifest: Path | None, cfg: TrainConfig, steps: int) -> dict | None:
    """What scoring a selecting round's checkpoints costs (train.select, booktrans.train.select): the
    checkpoints (every save_steps, plus the final weights) x validation books x directions x the
    budget (train.select_budget). A token budget gives the source tokens exactly (an upper bound: whole
    paragraphs are kept under it); a chapter budget alone is counted as that many chapters, unmeasured.
    ``manifest``: the book manifest the caller found (None or missing: no validation book counted)."""
    if cfg.select == "last":
        return None
    budget = params.train.select_budget
    if cfg.save_steps <= 0:
        checkpoints = 1  # the final weights only
    else:
        every = max(int(steps * cfg.save_steps), 1) if cfg.save_steps < 1 else int(cfg.save_steps)
        checkpoints = steps // every + (1 if steps % every else 0)  # + the final weights when not on a save step
    from ..manifest import load_manifest

    found = Path(manifest) if manifest is not None and Path(manifest).is_file() else None
    books = sum(1 for b in load_manifest(found) if b.split == "valid") if found else 0
    directions = len(params.translate.directions)
    tokens = budget.tokens
    factor = params.translate.max_new_factor
    per = f"{tokens:,} tokens" if tokens else f"{budget.chapters} chapter(s)"
    src = checkpoints * books * directions * tokens
    return {
        "manifest": str(found) if found else None,
        "checkpoints": checkpoints,
        "books": books,
        "directions": directions,
        "budget": per,
        "source_tokens": src,
        "generated_tokens": int(src * factor),
    }


def format_plan(result: dict) -> str:
    hw: Hardware = result["hardware"]
    lines = [
        f"model: {result['model']} ({result['params'] / 1e9:.2f}B parameters)",
        f"hardware: {hw.gpus} GPU(s) x {hw.gpu_memory_gib:g} GiB, {hw.peak_tflops:g} TFLOPS peak at "
        f"{hw.mfu:.0%} MFU, ${hw.price_per_gpu_hour:.2f} per GPU-hour",
        "",
        f"{'round':<6}{'context':>9}{'method':>8}{'ZeRO':>5}{'ckpt':>6}{'sp':>4}{'tokens':>13}{'steps':>8}"
        f"{'mem/GPU GiB':>13}{'fits':>6}{'GPU-h':>10}{'cost $':>11}{'attention':>16}",
    ]
    total_h = total_cost = 0.0
    notes = []
    for name, r in result["rounds"].items():
        cfg: TrainConfig = r["config"]
        mem = r["memory"]["total"] / GIB
        kind = (cfg.sparse_attention or {}).get("kind", "dense")
        attn = f"{kind} {r['attention_share']:.0%}" if kind != "dense" else "dense"
        head = (
            f"{name:<6}{r['context']:>9}{cfg.method:>8}{r['hardware'].zero_stage:>5}"
            f"{'on' if cfg.gradient_checkpointing else 'off':>6}{cfg.sequence_parallel:>4}"
        )
        if "missing" in r:
            lines.append(
                f"{head}{'-':>13}{'-':>8}{mem:>13.1f}{'yes' if mem <= hw.gpu_memory_gib else 'NO':>6}"
                f"{'-':>10}{'-':>11}{attn:>16}   {r['missing']}"
            )
            continue
        total_h += r["gpu_hours"]
        total_cost += r["cost"]
        lines.append(
            f"{head}{r['tokens']:>13,}{r['steps']:>8,}{mem:>13.1f}{'yes' if r['fits'] else 'NO':>6}"
            f"{r['gpu_hours']:>10.2f}{r['cost']:>11.2f}{attn:>16}"
        )
        if r["memory"]["eval"] > r["memory"]["train"]:
            notes.append(
                f"memory, {name}: its evaluation is the peak ({r['memory']['eval'] / GIB:.1f} GiB against "
                f"{r['memory']['train'] / GIB:.1f} in training): whole {r['context']:,}-token rows, no sequence "
                "parallelism"
            )
        if r.get("select"):
            sel = r["select"]
            if not sel["manifest"]:
                notes.append(f"checkpoint scoring, {name}: the manifest is not here, so no validation book is counted")
            notes.append(
                f"checkpoint scoring, {name} (select {cfg.select}): {sel['checkpoints']} checkpoint(s) x "
                f"{sel['books']} validation "
                f"book(s) x {sel['directions']} direction(s) x {sel['budget']} = {sel['source_tokens']:,} source "
                f"tokens translated, up to {sel['generated_tokens']:,} generated (one process, after training)"
            )
        if cfg.save_steps >= 1 and cfg.save_steps >= r["steps"]:
            notes.append(
                f"warning: {name} has {r['steps']} steps and train.save_steps is {cfg.save_steps:g}: it would "
                f"never checkpoint; use a share of the round (save_steps: 0.1)"
            )
    source = (
        f"tokens: {result['tokens']:,} per round, as asked"
        if result.get("tokens")
        else "tokens and documents: the dataset stage's counts (data/sft/<round>/stats.json)"
    )
    shares = ", ".join(f"{n} {r['label_share']:.0%}" for n, r in result["rounds"].items())
    lines += [
        "",
        f"total: {total_h:.2f} GPU-hours, ${total_cost:,.2f}",
        f"{source}; memory and time are estimates (docs/train.md)",
        f"labelled tokens (the loss's share, priced in memory): {shares}; from the data where built, else "
        f"plan.label_share",
        *notes,
    ]
    if any((r["config"].sparse_attention or {}) for r in result["rounds"].values()):
        lines.append(
            "attention: the share of dense causal attention's work a round keeps (sparse_attention); "
            "time scales its attention FLOPs by it, memory is not scaled"
        )
    return "\n".join(lines)


def plan_summary(result: dict) -> dict:
    """JSON-ready numbers (reports and the comparison page read these)."""
    out = {"model": result["model"], "params": result["params"], "rounds": {}}
    for name, r in result["rounds"].items():
        row = {
            "context": r["context"],
            "memory_gib": round(r["memory"]["total"] / GIB, 2),
            "attention_share": round(r["attention_share"], 4),
        }
        if "missing" not in r:
            row.update(
                tokens=r["tokens"],
                steps=r["steps"],
                gpu_hours=round(r["gpu_hours"], 4),
                cost=round(r["cost"], 2),
                fits=r["fits"],
            )
        out["rounds"][name] = row
    return out
