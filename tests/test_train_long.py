"""Training methods, long-context machinery and configuration checks, on the tiny CPU model."""

import json
import os

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
    a = [h["loss"] for h in plain["history"]]
    b = [h["loss"] for h in ckpt["history"]]
    assert a == pytest.approx(b, abs=1e-4)
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
    train_round(tiny_base, tmp_path / "r1", _docs(), [], cfg, "r1", tmp_path / "s")
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
