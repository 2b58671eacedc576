"""Training methods, long-context machinery and configuration checks, on the tiny CPU model."""

import json
import os
from dataclasses import replace

import pytest
import torch
from project import train_config
from stagecmd import run_stage

from booktrans.errors import ConfigError
from booktrans.model import load_model, read_info
from booktrans.model.store import base_config
from booktrans.train import (
    causal_lm_loss,
    check_chain,
    config_for,
    encode_example,
    pack_examples,
    train_round,
    validate,
)


def _docs(n=4):
    pairs = [
        ("岛上没有树。", "The island had no trees."),
        ("梅从六岁起就住在那里。", "Mei had lived there since she was six."),
        ("灯塔每晚都亮着。", "The lighthouse was lit every night."),
        ("船在黎明时到达。", "The boat arrived at dawn."),
        ("她数着海浪。", "She counted the waves."),
        ("风从北方吹来。", "The wind came from the north."),
    ]
    return [
        {
            "messages": [
                {"role": "system", "content": "You translate."},
                {"role": "user", "content": "Translate into English.\n\n" + s},
                {"role": "assistant", "content": t},
            ]
        }
        for s, t in pairs[:n]
    ]


def _batch(tok, docs, context=128):
    exs = [encode_example(d["messages"], tok, context) for d in docs]
    width = max(len(e["input_ids"]) for e in exs)
    ids = torch.tensor([e["input_ids"] + [tok.pad_token_id] * (width - len(e["input_ids"])) for e in exs])
    labels = torch.tensor([e["labels"] + [-100] * (width - len(e["labels"])) for e in exs])
    mask = (torch.arange(width)[None, :] < torch.tensor([len(e["input_ids"]) for e in exs])[:, None]).long()
    return ids, labels, mask


def test_chunked_loss_and_gradients_equal_the_standard_loss(tiny_base):
    model, tok = load_model(tiny_base, dtype="float32")
    ids, labels, mask = _batch(tok, _docs())
    assert int((labels != -100).sum()) > 20  # several chunks of 7 below

    model.zero_grad()
    ref = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    ref.backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters()}

    model.zero_grad()
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, logits_to_keep=1)
    assert out.logits.shape[1] == 1  # the full-vocabulary logits of the sequence were never computed
    loss, n = causal_lm_loss(out.hidden_states[-1], labels, model.get_output_embeddings(), chunk=7)
    loss.backward()
    assert n == int((labels[:, 1:] != -100).sum())
    assert torch.allclose(loss, ref, atol=1e-6, rtol=1e-6)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, ref_grads[name], atol=1e-6, rtol=1e-5), name


def test_packed_documents_do_not_attend_to_each_other(tiny_base):
    model, tok = load_model(tiny_base, dtype="float32")
    exs = [encode_example(d["messages"], tok, 128) for d in _docs(3)]
    rows = pack_examples(exs, context=10_000)
    assert len(rows) == 1 and rows[0]["position_ids"].count(0) == 3
    row = rows[0]
    with torch.no_grad():
        packed = model(
            input_ids=torch.tensor([row["input_ids"]]),
            position_ids=torch.tensor([row["position_ids"]]),
            use_cache=False,
        ).logits[0]
        start = 0
        for ex in exs:
            alone = model(input_ids=torch.tensor([ex["input_ids"]])).logits[0]
            part = packed[start : start + len(ex["input_ids"])]
            assert torch.allclose(part, alone, atol=1e-5), "a packed document saw its neighbour"
            start += len(ex["input_ids"])
    # rows never exceed the budget and keep every token and label
    small = pack_examples(exs, context=max(len(e["input_ids"]) for e in exs))
    assert len(small) == 3 and sum(len(r["labels"]) for r in small) == sum(len(e["labels"]) for e in exs)


def test_gradient_checkpointing_and_packing_train_the_same_way(tiny_base, tmp_path):
    base = dict(context=256, learning_rate=5e-3, max_steps=3, lora_r=4, lora_alpha=8, save_steps=0)
    plain = train_round(
        tiny_base, tmp_path / "a", _docs(), [], train_config(**base, loss="standard"), "r1", tmp_path / "s"
    )
    ckpt = train_round(
        tiny_base, tmp_path / "b", _docs(), [], train_config(**base, gradient_checkpointing=True), "r1", tmp_path / "s"
    )
    # the round's record (full precision): transformers' loss without checkpointing, the chunked loss with it
    a = [r["loss"] for r in plain["step_records"]]
    b = [r["loss"] for r in ckpt["step_records"]]
    assert a == pytest.approx(b, rel=1e-5)
    assert plain["grad_norms"] == pytest.approx(ckpt["grad_norms"], rel=1e-5)
    packed = train_round(
        tiny_base, tmp_path / "c", _docs(), [], train_config(**base, packing=True), "r1", tmp_path / "s"
    )
    assert packed["train_rows"] < packed["train_documents"] == 4
    assert packed["steps"] == 3


def test_full_fine_tuning_and_merge_chaining_write_self_contained_weights(tiny_base, tmp_path):
    r1, r2, r3 = tmp_path / "r1", tmp_path / "r2", tmp_path / "r3"
    lora = train_config(context=128, learning_rate=5e-3, max_steps=2, lora_r=4, lora_alpha=8, save_steps=0)
    train_round(tiny_base, r1, _docs(), [], lora, "r1", tmp_path / "s")
    merged = train_config(**{**lora.__dict__, "chain": "merge"})
    train_round(r1, r2, _docs(), [], merged, "r2", tmp_path / "s")
    info = read_info(r2)
    assert info.kind == "full" and (r2 / "model.safetensors").exists() and (r2 / "tokenizer.json").exists()
    full = train_config(**{**lora.__dict__, "method": "full", "learning_rate": 1e-3})
    train_round(r2, r3, _docs(), [], full, "r3", tmp_path / "s")
    assert read_info(r3).kind == "full" and read_info(r3).extra["method"] == "full"
    ids = torch.tensor([[5, 6, 7, 8]])
    outs = []
    for d in (r1, r2, r3):
        m, _ = load_model(d)
        with torch.no_grad():
            outs.append(m(input_ids=ids).logits)
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])
    # every weight moved under full fine-tuning, not only the attention/MLP projections
    a, _ = load_model(r2)
    b, _ = load_model(r3)
    moved = {n for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()) if not torch.equal(p, q)}
    assert "model.embed_tokens.weight" in moved and "model.norm.weight" in moved


def test_longlora_style_trainable_embeddings_and_norms_are_saved(tiny_base, tmp_path):
    cfg = train_config(
        context=128,
        learning_rate=5e-3,
        max_steps=2,
        lora_r=4,
        lora_alpha=8,
        save_steps=0,
        trainable=("embed_tokens", "norm"),
    )
    chunked = train_round(tiny_base, tmp_path / "r1", _docs(), [], cfg, "r1", tmp_path / "s")
    # the chunked loss reads the trained copy of the final norm (peft's wrapper): after a step has
    # moved the norms, it still gives transformers' loss
    standard = train_round(
        tiny_base, tmp_path / "std", _docs(), [], replace(cfg, loss="standard"), "r1", tmp_path / "s2"
    )
    assert [r["loss"] for r in chunked["step_records"]] == pytest.approx(
        [r["loss"] for r in standard["step_records"]], rel=1e-5
    )
    from safetensors import safe_open

    with safe_open(str(tmp_path / "r1" / "adapter_model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert any("embed_tokens" in k for k in keys) and any("input_layernorm" in k for k in keys)
    assert any("model.norm" in k for k in keys) and any("lora_A" in k for k in keys)


def test_rope_scaling_is_required_beyond_the_window_and_travels_with_the_round(tiny_base, tmp_path):
    window = base_config(tiny_base)["max_position_embeddings"]
    with pytest.raises(
        ConfigError,
        match=rf"context {window * 2} tokens is beyond the model's window of {window} "
        r"tokens; set train.rope_scaling.*factor: 2.0",
    ):
        validate(train_config(context=window * 2), "r3", base_config(tiny_base))
    rope = {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": window}
    validate(train_config(context=window * 2, rope_scaling=rope), "r3", base_config(tiny_base))
    with pytest.raises(ConfigError, match="raise train.rope_scaling.factor"):
        validate(train_config(context=window * 3, rope_scaling=rope), "r3", base_config(tiny_base))
    cfg = train_config(
        context=128, learning_rate=5e-3, max_steps=1, lora_r=4, lora_alpha=8, save_steps=0, rope_scaling=rope
    )
    train_round(tiny_base, tmp_path / "r1", _docs(2), [], cfg, "r1", tmp_path / "s")
    assert read_info(tmp_path / "r1").extra["rope_scaling"] == rope
    model, _ = load_model(tmp_path / "r1")  # translation loads the round with the scaling it was trained with
    assert model.config.rope_scaling["rope_type"] == "yarn" and model.config.rope_scaling["factor"] == 2.0


@pytest.mark.parametrize(
    "cfg, message",
    [
        (
            train_config(context=64, sequence_parallel=3),
            r"sequence_parallel 3 must divide the model's 2 key/value heads .* use one of 1, 2",
        ),
        (train_config(context=64, method="qlora"), r"qlora needs"),
        (train_config(context=64, attn_implementation="flash_attention_2"), r"flash-attn package is not installed"),
        (train_config(context=64, method="adapter"), r"train.method 'adapter' is not one of lora, full, qlora"),
        (train_config(context=64, chain="fold"), r"train.chain 'fold'"),
        (train_config(context=64, liger="on"), r"train.liger: on, but the liger-kernel package is not installed"),
    ],
)
def test_bad_configurations_fail_before_training_with_one_message(tiny_base, cfg, message):
    with pytest.raises(ConfigError, match=message):
        validate(cfg, "r2", base_config(tiny_base), gpu=False)


def test_a_round_whose_previous_round_is_absent_fails_with_the_command_to_run(tmp_path, root):
    with pytest.raises(ConfigError, match=r"round r3: its starting model .*models/r2 is missing.*dvc repro train@r2"):
        check_chain("r3", tmp_path / "models" / "r2")
    env = dict(os.environ, PYTHONHASHSEED="0")
    res = run_stage(
        "train@r3",
        tmp_path,
        "--params",
        str(root / "params.yaml"),
        "--data",
        "nowhere",
        "--init",
        str(tmp_path / "r2"),
        "--out",
        str(tmp_path / "r3"),
        "--log",
        str(tmp_path / "r3.json"),
        env=env,
    )
    assert res.returncode == 2 and "run the previous round first" in res.stderr
    assert not (tmp_path / "r3").exists()


def test_round_params_override_train_defaults(root):
    import yaml

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["rounds"]["r3"]["packing"] = True
    params["rounds"]["r3"]["gradient_checkpointing"] = True
    from booktrans.params import from_dict

    P = from_dict(params)
    cfg = config_for(P, "r3")
    assert cfg.packing and cfg.gradient_checkpointing and cfg.context == params["rounds"]["r3"]["context"]
    assert not config_for(P, "r2").packing
    with pytest.raises(ConfigError, match="no round 'r9'"):
        config_for(P, "r9")


def test_dvclive_logs_loss_learning_rate_throughput_and_memory(tiny_base, tmp_path, caplog):
    import logging

    cfg = train_config(context=128, learning_rate=5e-3, max_steps=3, lora_r=4, lora_alpha=8, save_steps=0)
    with caplog.at_level(logging.INFO, logger="booktrans.train"):
        train_round(tiny_base, tmp_path / "r1", _docs(), [], cfg, "r1", tmp_path / "s", live_dir=tmp_path / "live")
    progress = [r.getMessage() for r in caplog.records if " step " in r.getMessage()]
    assert (
        progress
        and progress[-1].startswith("r1 step 3/3")
        and "tok/s" in progress[-1]
        and "eta 00:00:00" in progress[-1]
    )
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert summary["step"] == 3 and {"loss", "learning_rate", "tokens_per_second", "memory_mb"} <= set(summary)
    assert summary["tokens_per_second"] > 0 and summary["memory_mb"] > 0
    loss_plot = (tmp_path / "live" / "plots" / "metrics" / "loss.tsv").read_text().splitlines()
    assert loss_plot[0].split("\t")[:2] == ["step", "loss"] and len(loss_plot) == 4


# ---- no full-vocabulary logits (issue 25, point 1) ---------------------------------------------

SHORT = dict(learning_rate=5e-3, lora_r=4, lora_alpha=8, save_steps=0)


def _long_docs(sample_paragraphs, tok, n=3, at_least=150):
    """Translation documents of the sample book sky-blue (real text), each ``at_least`` tokens long
    with most of them labelled: consecutive aligned paragraphs until the row is long enough."""
    zh = [p["text"] for p in sample_paragraphs[("sky-blue", "zh")]]
    en = [p["text"] for p in sample_paragraphs[("sky-blue", "en")]]
    docs, i = [], 0
    while len(docs) < n:
        j = i + 1
        while True:
            doc = {
                "messages": [
                    {"role": "system", "content": "You translate."},
                    {"role": "user", "content": "Translate into English.\n\n" + "\n".join(zh[i:j])},
                    {"role": "assistant", "content": "\n".join(en[i:j])},
                ]
            }
            if len(encode_example(doc["messages"], tok, 10**6)["input_ids"]) >= at_least or j >= len(en):
                break
            j += 1
        docs.append(doc)
        i = j
    return docs


def test_no_round_or_evaluation_builds_full_vocabulary_logits_for_a_long_row(tiny_base, sample_paragraphs, tmp_path):
    """The logits meter (booktrans.train.meters.LargestVocabTensor, a dispatch mode that sees every
    tensor an operator creates, forward and backward) on a round and its evaluation: with the
    chunked loss no vocabulary-wide tensor has more rows than ``loss_chunk``, while transformers'
    loss (the control) builds the whole row's logits, so the meter does see them when they exist."""
    from booktrans.model import load_tokenizer

    tok = load_tokenizer(tiny_base)
    docs = _long_docs(sample_paragraphs, tok)
    rows = [encode_example(d["messages"], tok, 256) for d in docs]
    assert min(len(r["input_ids"]) for r in rows) >= 150
    assert min(sum(x != -100 for x in r["labels"]) for r in rows) > 3 * 16  # several chunks per row
    seen = {}
    for loss in ("chunked", "standard"):
        cfg = train_config(**SHORT, context=256, max_steps=2, loss_chunk=16, loss=loss, extra={"measure": ["logits"]})
        s = train_round(tiny_base, tmp_path / loss, docs[:2], docs[2:], cfg, "r1", tmp_path / f"s-{loss}")
        seen[loss] = s["measured"]["largest_logits_rows"]
    shortest = min(len(r["input_ids"]) for r in rows)
    assert 0 < seen["chunked"]["train"] <= 16 and 0 < seen["chunked"]["eval"] <= 16, seen
    assert seen["standard"]["train"] >= shortest - 1 and seen["standard"]["eval"] >= shortest - 1, seen


def test_liger_brings_kernels_only_and_the_chunked_loss_runs_with_it_on_or_off(monkeypatch, tmp_path):
    """With liger-kernel installed (`liger: auto` then turns it on), transformers applies Liger's
    kernels but neither of its losses; the round's loss is the chunked one either way."""
    import importlib.util

    from booktrans.train.trainer import training_args

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "liger_kernel" else real(name, *a)
    )
    on = train_config(**SHORT, liger="auto")
    assert on.use_liger and not train_config(**SHORT, liger="off").use_liger
    args = training_args(on, tmp_path)
    assert args.use_liger_kernel
    assert args.liger_kernel_config == {"fused_linear_cross_entropy": False, "cross_entropy": False}
    assert training_args(train_config(**SHORT, liger="off"), tmp_path).use_liger_kernel is False


# Shapes the planner's EVAL_LAYER table was not counted on (booktrans/train/plan.py), the last one with a
# vocabulary large enough for the loss chunk to be the peak
EVAL_CASES = [
    ((96, 320, 3, 3, 1, 2200), 1280, "lora", "float32", True),
    ((112, 384, 2, 7, 7, 1800), 1536, "full", "bfloat16", True),
    ((80, 288, 4, 5, 5, 2600), 896, "lora", "bfloat16", False),
    ((96, 352, 2, 4, 2, 6000), 1024, "lora", "float32", True),
]


@pytest.mark.parametrize("shape, tokens, method, dtype, checkpointing", EVAL_CASES)
def test_planned_evaluation_memory_is_within_15_percent_of_a_measured_evaluation(
    tmp_path, shape, tokens, method, dtype, checkpointing, record_property
):
    """The round's evaluation as it runs (model in eval mode, no gradient, the chunked loss through
    booktrans.train.loss.round_loss on one whole row, the optimizer's state alive), measured with
    PeakTensorMemory, against the planner's ``eval`` part."""
    from project import P

    from booktrans.train.memory import measure_step

    measured, planned = measure_step(tmp_path, shape, tokens, method, dtype, checkpointing, params=P, phase="eval")
    mib = {"measured_mib": measured / 2**20, "planned_mib": planned["eval"] / 2**20}
    record_property("eval_memory", json.dumps(mib))
    assert 0.85 <= planned["eval"] / measured <= 1.15, (planned["eval"] / 2**20, measured / 2**20)


def test_the_planner_prices_evaluation_on_whole_rows_and_the_loss_that_runs(root):
    """Qwen2.5-7B at 131,072 tokens (round r3 of the cluster profile: LoRA, ZeRO-2 over 24 GPUs): under
    Ulysses a GPU trains on a quarter of each row but evaluates whole rows, so sequence parallelism
    shrinks the training part only; the chunked loss keeps evaluation within an H100, transformers'
    loss (whole-row logits) would not."""
    from project import P

    from booktrans.train.plan import GIB, Arch, Hardware, memory_per_gpu

    arch = Arch.from_config(json.loads((root / "configs/models/qwen2.5-7b.json").read_text()))
    cfg = train_config(
        "r1", context=131072, gradient_checkpointing=True, attn_implementation="flash_attention_2", dtype="bfloat16"
    )
    hw = Hardware.from_plan(P.plan, gpus=24, zero_stage=2, deepspeed=True)
    one, four = (memory_per_gpu(arch, replace(cfg, sequence_parallel=sp), hw, P.plan.label_share) for sp in (1, 4))
    assert four["eval"] == one["eval"] and four["train"] < one["train"] / 2
    assert four["total"] == max(four["train"], four["eval"]) == four["eval"]  # evaluation is the peak here
    assert four["eval"] < 80 * GIB
    standard = memory_per_gpu(arch, replace(cfg, sequence_parallel=4, loss="standard"), hw, P.plan.label_share)
    assert standard["eval"] > 80 * GIB + four["eval"]  # 131,072 x 152,064 fp32 logits and log-softmax
