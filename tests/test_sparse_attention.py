"""Sparse attention as a round option (booktrans/train/sparse.py), on the tiny Qwen2 model (hidden 32,
2 layers, 4 heads over 2 key/value heads) and on random tensors. The two-process Ulysses check is in
tests/test_sparse_attention_mp.py."""

import json

import pytest
import torch
import yaml
from project import train_config

from booktrans.errors import ConfigError
from booktrans.model import load_model, read_info
from booktrans.model.store import base_config
from booktrans.params import from_dict
from booktrans.train import config_for, encode_example, pack_examples, train_round, validate
from booktrans.train import sparse as S

PAIRS = [
    ("岛上没有树。", "The island had no trees."),
    (
        "梅从六岁起就住在那里，她的母亲在灯塔工作。",
        "Mei had lived there since she was six; her mother worked at the lighthouse.",
    ),
    ("灯塔每晚都亮着。", "The lighthouse was lit every night."),
    ("船在黎明时到达，带来了信件和面粉。", "The boat arrived at dawn, bringing letters and flour."),
]
MOBA = {"kind": "moba", "block": 8, "topk": 2}
BASE = dict(context=128, learning_rate=5e-3, max_steps=3, lora_r=4, lora_alpha=8, save_steps=0)


def _docs(n=4):
    return [
        {
            "messages": [
                {"role": "system", "content": "You translate."},
                {"role": "user", "content": "Translate into English.\n\n" + s},
                {"role": "assistant", "content": t},
            ]
        }
        for s, t in PAIRS[:n]
    ]


def _sparse_model(tiny_base, spec: dict | None, core="sdpa"):
    """The tiny model loaded for training with a pattern installed (what train_round does)."""
    model, tok = load_model(
        tiny_base, dtype="float32", attn_implementation=S.register() if spec else core, sparse="off"
    )
    if spec:
        S.install(model, S.parse(spec, "rounds.t", 128, base_config(tiny_base)), core=core)
    return model.eval(), tok


def _ids(tok, n=1):
    return torch.tensor([encode_example(d["messages"], tok, 128)["input_ids"] for d in _docs(n)][:1])


# ---------------------------------------------------------------------------------------------------
# the setting
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, message",
    [
        ({"kind": "nsa"}, "rounds.r5.sparse_attention.kind: 'nsa' is not one of moba, s2, window"),
        ({"kind": "moba", "block": 8, "topk": 0}, "rounds.r5.sparse_attention.topk: must be >= 1"),
        (
            {"kind": "moba", "block": 512, "topk": 2},
            "rounds.r5.sparse_attention.block: 512 tokens is larger than the context (128 tokens)",
        ),
        ({"kind": "moba", "topk": 2}, "rounds.r5.sparse_attention.block: missing"),
        (
            {"kind": "moba", "block": 8, "topk": 2, "dense_layers": 3},
            "rounds.r5.sparse_attention.dense_layers: 3 is more than the model's 2 layers",
        ),
        (
            {"kind": "moba", "block": 8, "topk": 2, "window": 4},
            "rounds.r5.sparse_attention.window: not a setting of kind moba",
        ),
        ({"kind": "s2", "group_ratio": 0.3}, "rounds.r5.sparse_attention.group_ratio: 0.3 x context 128"),
        ({"kind": "s2", "group_ratio": 0}, "rounds.r5.sparse_attention.group_ratio: 0 must be a share"),
        ({"kind": "window", "window": 0}, "rounds.r5.sparse_attention.window: must be >= 1"),
        (
            {"kind": "window", "window": 16, "inference": "fast"},
            "rounds.r5.sparse_attention.inference: 'fast' is not dense or sparse",
        ),
        ("moba", "rounds.r5.sparse_attention: must be a mapping"),
    ],
)
def test_a_setting_that_cannot_work_stops_the_round_with_one_line_naming_the_key(tiny_base, tmp_path, value, message):
    params = yaml.safe_load((__import__("pathlib").Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    params["rounds"] = {
        "r5": {**params["rounds"]["r1"], "context": 128, "init": "r0", "learning_rate": 1e-3, "sparse_attention": value}
    }
    cfg = config_for(from_dict(params), "r5")
    with pytest.raises(ConfigError) as err:
        validate(cfg, "r5", base_config(tiny_base))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    # and the round itself stops before loading anything or writing its output
    with pytest.raises(ConfigError):
        train_round(tiny_base, tmp_path / "out", _docs(), [], cfg, "r5", tmp_path / "s")
    assert not (tmp_path / "out").exists()


def test_good_settings_are_read_with_their_defaults(tiny_base):
    s = S.parse({"kind": "s2", "group_ratio": 0.25}, "rounds.r5", 128, base_config(tiny_base))
    assert (s.group, s.inference, s.dense_layers) == (32, "dense", 0)
    w = S.parse({"kind": "window", "window": 16, "inference": "sparse"}, "rounds.r5", 128)
    assert w.to_dict() == {"kind": "window", "window": 16, "sinks": 0, "inference": "sparse", "dense_layers": 0}


# ---------------------------------------------------------------------------------------------------
# the attention itself
# ---------------------------------------------------------------------------------------------------


def _qkv(H=4, L=150, D=8, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(H, L, D, generator=g, dtype=dtype, requires_grad=True) for _ in range(3)]


SPECS = [
    S.SparseAttention("moba", block=16, topk=3),
    S.SparseAttention("moba", block=7, topk=1),
    S.SparseAttention("window", window=20, sinks=4),
    S.SparseAttention("window", window=9, sinks=0),
    S.SparseAttention("s2", group=32, group_ratio=0.25),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.block or s.window or s.group}")
def test_the_block_path_equals_the_dense_mask_reference_forward_and_backward(spec):
    """Packed row of three documents (positions restart), fp64: outputs and the gradients of q, k, v."""
    q, k, v = _qkv()
    pos = torch.cat([torch.arange(40), torch.arange(73), torch.arange(37)])
    doc, qrow = S.documents(pos), torch.arange(150)
    a = S.block_attention(spec, q, k, v, pos, doc, qrow, 0.3)
    b = S.reference_attention(spec, q, k, v, pos, doc, qrow, 0.3)
    assert torch.allclose(a, b, atol=1e-12, rtol=0)
    ga, gb = torch.autograd.grad(a.square().sum(), [q, k, v]), torch.autograd.grad(b.square().sum(), [q, k, v])
    for x, y in zip(ga, gb):
        assert torch.allclose(x, y, atol=1e-11, rtol=0)
    mask = S.pattern_mask(spec, q, k, pos, doc, qrow)
    assert 0.02 < float(mask.float().mean()) < 0.5  # sparse, and not empty: a real pattern was compared
    assert not mask[:, doc[:, None] != doc[None, :]].any()  # never across documents
    # the window and the groups, written out from their definitions
    same, causal = doc[:, None] == doc[None, :], pos.new_ones(150, 150, dtype=torch.bool).tril()
    pi, pj = pos[:, None], pos[None, :]
    if spec.kind == "window":
        assert torch.equal(
            mask, (same & causal & ((pi - pj < spec.window) | (pj < spec.sinks)))[None].expand(4, -1, -1)
        )
    if spec.kind == "s2":
        g, half = spec.group, spec.group // 2
        assert torch.equal(mask[:2], (same & causal & (pi // g == pj // g))[None].expand(2, -1, -1))
        assert torch.equal(mask[2:], (same & causal & ((pi + half) // g == (pj + half) // g))[None].expand(2, -1, -1))


def test_block_top_k_keeps_the_own_block_and_never_a_future_one():
    spec = S.SparseAttention("moba", block=8, topk=3)
    for seed in range(5):
        q, k, v = _qkv(L=120, seed=seed, dtype=torch.float32)
        pos = torch.cat([torch.arange(50), torch.arange(70)])
        doc, qrow = S.documents(pos), torch.arange(120)
        [(_, part, sel, _)] = S._selection(spec, q.detach(), k.detach(), pos, doc, qrow, slice(0, 4), 4)
        own = part.of[qrow]
        assert sel[:, qrow, own].all()  # its own block, always
        blocks = torch.arange(part.n)
        assert not (sel & (blocks[None, None, :] > own[None, :, None])).any()  # no future block
        assert not (sel & (part.doc[None, None, :] != doc[None, :, None])).any()  # no other document
        count = sel.sum(-1)
        assert (count == torch.clamp(own - torch.tensor([part.of[doc == d].min() for d in doc]) + 1, max=3)).all()


def test_a_full_pattern_equals_sdpa_exactly(tiny_base):
    """topk covering every block (or a window as long as the row) runs the dense kernel: the logits are
    bit-identical to the stock sdpa model's; the block path with everything selected agrees to 1e-6."""
    dense, tok = _sparse_model(tiny_base, None)
    ids = _ids(tok)
    with torch.no_grad():
        ref = dense(input_ids=ids).logits
        for spec in ({"kind": "moba", "block": 8, "topk": 16}, {"kind": "window", "window": 128}):
            model, _ = _sparse_model(tiny_base, spec)
            before = sum(S.CALLS.values())
            assert torch.equal(model(input_ids=ids).logits, ref)
            assert S.CALLS["dense (pattern keeps every key)"] and sum(S.CALLS.values()) == before + 2  # both layers
    q, k, v = _qkv(L=100, dtype=torch.float32)
    pos = torch.arange(100)
    full = S.block_attention(S.SparseAttention("moba", block=8, topk=13), q, k, v, pos, S.documents(pos), pos, 8**-0.5)
    sdpa = torch.nn.functional.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
    assert torch.allclose(full, sdpa, atol=1e-6)


def test_changing_token_j_moves_only_the_logits_the_pattern_allows(tiny_base):
    """Window 6, no sinks, 2 layers: token j reaches positions j .. j + 2 x (6 - 1) and no others."""
    model, tok = _sparse_model(tiny_base, {"kind": "window", "window": 6})
    ids = _ids(tok)
    n, j = ids.shape[1], 20
    other = ids.clone()
    other[0, j] = (ids[0, j] + 7) % model.config.vocab_size
    with torch.no_grad():
        moved = (model(input_ids=ids).logits - model(input_ids=other).logits).abs().amax(-1)[0] > 1e-6
    assert n > j + 12
    assert torch.nonzero(moved).squeeze(1).tolist() == list(range(j, j + 11))
    # a sink is seen by every later query
    model, _ = _sparse_model(tiny_base, {"kind": "window", "window": 6, "sinks": 2})
    other = ids.clone()
    other[0, 1] = (ids[0, 1] + 7) % model.config.vocab_size
    with torch.no_grad():
        moved = (model(input_ids=ids).logits - model(input_ids=other).logits).abs().amax(-1)[0] > 1e-6
    assert moved[1:].all() and not moved[0]


def test_changing_a_value_moves_only_the_queries_that_chose_its_block():
    spec = S.SparseAttention("moba", block=8, topk=2)
    q, k, v = _qkv(L=64, dtype=torch.float64)
    pos = torch.arange(64)
    doc = S.documents(pos)
    j = 12  # block 1
    v2 = v.detach().clone()
    v2[:, j] += 1.0
    with torch.no_grad():
        a = S.block_attention(spec, q, k, v, pos, doc, pos, 0.3)
        b = S.block_attention(spec, q, k, v2, pos, doc, pos, 0.3)
        mask = S.pattern_mask(spec, q, k, pos, doc, pos)
    moved = (a - b).abs().amax(-1) > 1e-12
    assert torch.equal(moved, mask[:, :, j]) and 0 < int(moved.sum()) < int((pos >= j).sum()) * 4


def test_a_packed_document_equals_the_document_alone(tiny_base):
    model, tok = _sparse_model(tiny_base, MOBA)
    exs = [encode_example(d["messages"], tok, 128) for d in _docs(3)]
    [row] = pack_examples(exs, context=10_000)
    with torch.no_grad():
        packed = model(
            input_ids=torch.tensor([row["input_ids"]]), position_ids=torch.tensor([row["position_ids"]])
        ).logits[0]
        start = 0
        for ex in exs:
            alone = model(input_ids=torch.tensor([ex["input_ids"]])).logits[0]
            assert torch.allclose(packed[start : start + len(ex["input_ids"])], alone, atol=1e-5)
            start += len(ex["input_ids"])
    assert max(len(e["input_ids"]) for e in exs) > 3 * 8  # more blocks than topk: the pattern cut something


# ---------------------------------------------------------------------------------------------------
# rounds
# ---------------------------------------------------------------------------------------------------


class _FirstGrads:
    @staticmethod
    def make():
        from transformers import TrainerCallback

        class Grads(TrainerCallback):
            def __init__(self):
                self.grads = []

            def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
                self.grads.append(
                    {n: p.grad.detach().abs().sum().item() for n, p in model.named_parameters() if p.grad is not None}
                )

        return Grads()


def test_dense_layers_on_every_layer_reproduce_the_dense_round(tiny_base, tmp_path):
    dense = train_round(tiny_base, tmp_path / "d", _docs(), [], train_config(**BASE), "r5d", tmp_path / "sd")
    all_dense = train_round(
        tiny_base,
        tmp_path / "a",
        _docs(),
        [],
        train_config(**BASE, sparse_attention={**MOBA, "dense_layers": 2}),
        "r5",
        tmp_path / "sa",
    )
    sparse = train_round(
        tiny_base, tmp_path / "s", _docs(), [], train_config(**BASE, sparse_attention=MOBA), "r5", tmp_path / "ss"
    )
    runs = {"dense": dense, "all": all_dense, "sparse": sparse}
    losses = {k: [r["loss"] for r in v["step_records"]] for k, v in runs.items()}
    assert losses["all"] == pytest.approx(losses["dense"], rel=1e-6)
    # the pattern mattered: already at step 1, far beyond float noise (full precision, not the 4-decimal log)
    assert losses["sparse"][0] != pytest.approx(losses["dense"][0], rel=1e-4)
    assert sparse["sparse_attention_calls"].get("moba", 0) > 0


def test_lora_and_full_rounds_train_through_the_pattern_with_yarn_and_packing(tiny_base, tmp_path):
    """LoRA (packing, YaRN) and full fine-tuning with moba: gradients reach the sparse layer's LoRA
    weights, the losses fall, booktrans.json records the setting, and loading the round for translation
    runs the pattern when it asks for sparse inference and dense attention otherwise."""
    yarn = {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 4096}
    spec = {**MOBA, "dense_layers": 1, "inference": "sparse"}
    grads = _FirstGrads.make()
    lora = train_round(
        tiny_base,
        tmp_path / "lora",
        _docs(),
        [],
        train_config(
            **{
                **BASE,
                "max_steps": 4,
                "packing": True,
                "batch_size": 1,
                "context": 256,
                "rope_scaling": yarn,
                "sparse_attention": spec,
            }
        ),
        "r5",
        tmp_path / "s1",
        callbacks=[grads],
    )
    first = grads.grads[0]
    sparse_b = [v for n, v in first.items() if "layers.0.self_attn.q_proj.lora_B" in n]
    sparse_a = [v for n, v in grads.grads[1].items() if "layers.0.self_attn.k_proj.lora_A" in n]
    assert sparse_b and sparse_b[0] > 0 and sparse_a and sparse_a[0] > 0
    assert lora["history"][-1]["loss"] < lora["history"][0]["loss"]
    assert lora["sparse_attention_calls"].get("moba", 0) > 0
    info = read_info(tmp_path / "lora")
    assert info.extra["sparse_attention"] == {
        "kind": "moba",
        "block": 8,
        "topk": 2,
        "dense_layers": 1,
        "inference": "sparse",
    }
    assert info.extra["rope_scaling"] == yarn

    full = train_round(
        tiny_base,
        tmp_path / "full",
        _docs(),
        [],
        train_config(
            **{**BASE, "method": "full", "learning_rate": 1e-3, "sparse_attention": {**MOBA, "inference": "dense"}}
        ),
        "r5",
        tmp_path / "s2",
    )
    assert full["history"][-1]["loss"] < full["history"][0]["loss"]
    saved = json.loads((tmp_path / "full" / "config.json").read_text())
    assert S.NAME not in json.dumps(saved)  # the stock checkpoint format: nothing sparse in the weights' config

    # translation loads each round as its setting asks; vLLM cannot run the pattern and says so
    from booktrans.translate.engines import EngineError, generate_batch, open_local_engine

    with pytest.raises(EngineError, match="sparse_attention.inference: sparse"):
        open_local_engine(tmp_path / "lora", "vllm", None, 256, "float32", 1.0, 0)

    for out, expect in (("lora", True), ("full", False)):
        model, tok = load_model(tmp_path / out, dtype="float32")
        sparse_layers = [m for _, m in S.attention_modules(model) if getattr(m, "booktrans_sparse", None)]
        assert bool(sparse_layers) is expect
        before = S.CALLS.copy()
        prompts = [encode_example(d["messages"], tok, 256)["input_ids"][:40] for d in _docs(2)]
        gen = generate_batch(model, tok, prompts, max_new_tokens=4)
        assert len(gen) == 2 and all(len(g) == 4 for g in gen)
        assert (S.CALLS != before) is expect


# ---------------------------------------------------------------------------------------------------
# the fused path's bookkeeping, with flash-attn's variable-length contract played by torch
# ---------------------------------------------------------------------------------------------------


class _TorchVarlen:
    """flash-attn's varlen forward (out, log-sum-exp per row) and private backward (given the output
    and log-sum-exp, write dq, dk, dv), one head, written out in torch; the kernel itself is checked on
    a GPU by scripts/sparse_gpu_check.py."""

    @staticmethod
    def _seqs(cu_q, cu_k):
        return [(int(cu_q[i]), int(cu_q[i + 1]), int(cu_k[i]), int(cu_k[i + 1])) for i in range(len(cu_q) - 1)]

    @classmethod
    def _probs(cls, q, k, a, b, c, d, scale, causal, lse=None):
        s = (q[a:b, 0] @ k[c:d, 0].T) * scale
        if causal:
            s = s.masked_fill(torch.ones(b - a, d - c, dtype=torch.bool).triu(1 + (d - c) - (b - a)), float("-inf"))
        if lse is None:
            lse = torch.logsumexp(s, -1)
        return torch.exp(s - lse[:, None]), lse

    @classmethod
    def flash_attn_varlen_func(
        cls, q, k, v, cu_q, cu_k, max_q, max_k, dropout_p=0.0, softmax_scale=None, causal=False, return_attn_probs=False
    ):
        out, lses = torch.zeros_like(q), torch.zeros(q.shape[0], dtype=torch.float64)
        for a, b, c, d in cls._seqs(cu_q, cu_k):
            p, lse = cls._probs(q, k, a, b, c, d, softmax_scale, causal)
            out[a:b, 0] = p @ v[c:d, 0]
            lses[a:b] = lse
        return (out, lses[None], None) if return_attn_probs else out

    @classmethod
    def _flash_attn_varlen_backward(
        cls,
        dout,
        q,
        k,
        v,
        out,
        softmax_lse,
        dq,
        dk,
        dv,
        cu_seqlens_q,
        cu_seqlens_k,
        max_seqlen_q,
        max_seqlen_k,
        dropout_p,
        softmax_scale,
        causal,
        window_size_left,
        window_size_right,
        softcap,
        alibi_slopes,
        deterministic,
        rng_state=None,
    ):
        dq.zero_(), dk.zero_(), dv.zero_()
        for a, b, c, d in cls._seqs(cu_seqlens_q, cu_seqlens_k):
            p, _ = cls._probs(q, k, a, b, c, d, softmax_scale, causal, softmax_lse[0, a:b])
            do, o = dout[a:b, 0], out[a:b, 0]
            dv[c:d, 0] = p.T @ do
            ds = p * (do @ v[c:d, 0].T - (do * o).sum(-1, keepdim=True))
            dq[a:b, 0] = ds @ k[c:d, 0] * softmax_scale
            dk[c:d, 0] = ds.T @ q[a:b, 0] * softmax_scale


@pytest.mark.parametrize("spec", [SPECS[0], SPECS[1], SPECS[4]], ids=["moba-16", "moba-7", "s2"])
def test_the_fused_path_bookkeeping_equals_the_reference(monkeypatch, spec):
    from booktrans.train import sparse_flash

    monkeypatch.setattr(sparse_flash, "_fa", lambda: _TorchVarlen)
    q, k, v = _qkv()
    pos = torch.cat([torch.arange(40), torch.arange(73), torch.arange(37)])
    doc, qrow = S.documents(pos), torch.arange(150)
    a = sparse_flash.flash_block_attention(spec, q, k, v, pos, doc, qrow, 0.3, 0, 4)
    b = S.reference_attention(spec, q, k, v, pos, doc, qrow, 0.3)
    assert torch.allclose(a, b, atol=1e-12)
    ga, gb = torch.autograd.grad(a.square().sum(), [q, k, v]), torch.autograd.grad(b.square().sum(), [q, k, v])
    for x, y in zip(ga, gb):
        assert torch.allclose(x, y, atol=1e-11)


def test_the_gpu_node_script_runs_its_dry_mode_on_the_cpu(tmp_path):
    """scripts/sparse_gpu_check.py --cpu: the agreement check against the dense-mask reference passes, and
    the coverage figure is a share, exactly 1 when top-k keeps every block (nothing can fall outside)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = {}
    for name, extra in (("sparse", []), ("all", ["--topk", "64", "--skip", "agreement"])):
        res = subprocess.run(
            [
                sys.executable,
                "scripts/sparse_gpu_check.py",
                "--cpu",
                "--skip",
                "throughput",
                *extra,
                "--out",
                str(tmp_path / f"{name}.json"),
            ],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        out[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert [r["ok"] for r in out["sparse"]["agreement"]] == [True, True]
    assert out["sparse"]["agreement"][0]["reference"] == "dense mask (sdpa)"
    assert 0 < out["sparse"]["coverage"]["overall"] < 1 and out["sparse"]["coverage"]["samples"] > 10
    assert out["all"]["coverage"]["overall"] == pytest.approx(1.0, abs=1e-6)
