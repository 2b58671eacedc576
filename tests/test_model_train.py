import json

import pytest
import torch
from project import train_config, train_keywords

from booktrans.errors import ModelError
from booktrans.model import load_model, read_info
from booktrans.model.store import resolve_base_path
from booktrans.train import encode_example, train_round


def _docs():
    def msgs(s, t):
        return [
            {"role": "system", "content": "You translate."},
            {"role": "user", "content": "Translate into English.\n\n" + s},
            {"role": "assistant", "content": t},
        ]

    return [
        {"messages": msgs("岛上没有树。", "The island had no trees.")},
        {"messages": msgs("梅从六岁起就住在那里。", "Mei had lived there since she was six.")},
    ]


def test_loss_is_on_the_assistant_tokens_only(tiny_base):
    from booktrans.model import load_tokenizer

    tok = load_tokenizer(tiny_base)
    ex = encode_example(_docs()[0]["messages"], tok, 512)
    learned = [t for t in ex["labels"] if t != -100]
    assert tok.decode(learned) == "The island had no trees.<|im_end|>"
    assert len(ex["labels"]) == len(ex["input_ids"])


def test_rounds_chain_adapters_and_change_the_model(tiny_base, tmp_path):
    cfg = train_config(context=128, learning_rate=5e-3, max_steps=3, lora_r=4, lora_alpha=8)
    r1, r2 = tmp_path / "r1", tmp_path / "r2"
    s1 = train_round(tiny_base, r1, _docs(), [], cfg, "r1", tmp_path / "scratch1")
    assert s1["steps"] == 3 and len(s1["history"]) == 3
    assert (r1 / "adapter_model.safetensors").exists()
    info = read_info(r1)
    assert info.kind == "adapter" and info.round == "r1" and (r1 / info.base).resolve() == tiny_base.resolve()
    # nothing machine-specific in what peft saved
    assert json.loads((r1 / "adapter_config.json").read_text())["base_model_name_or_path"] == "booktrans-base"
    s2 = train_round(r1, r2, _docs(), _docs()[:1], cfg, "r2", tmp_path / "scratch2")
    assert s2["eval_loss"] is not None
    assert (r2 / read_info(r2).base).resolve() == tiny_base.resolve()  # r2 continues r1's adapter on the same base
    ids = torch.tensor([[5, 6, 7, 8]])
    outs = []
    for d in (tiny_base, r1, r2):
        m, _ = load_model(d)
        with torch.no_grad():
            outs.append(m(input_ids=ids).logits)
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])


def test_missing_base_model_path_names_the_path_and_what_to_do(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError) as exc:
        resolve_base_path(missing)
    assert str(missing) in str(exc.value) and "model.base" in str(exc.value) and "tiny" in str(exc.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="config.json"):
        resolve_base_path(tmp_path / "empty")


def test_saved_adapter_does_not_depend_on_the_string_hash_seed(tiny_base, tmp_path, root):
    """peft stores target_modules as a set; two processes with different PYTHONHASHSEED must still
    write byte-identical adapters (DVC's caching depends on it)."""
    import os
    import subprocess
    import sys

    script = (
        "import json, sys; from pathlib import Path; from booktrans.train import TrainConfig, train_round\n"
        "docs=[{'messages':[{'role':'user','content':'岛上没有树。'},{'role':'assistant','content':'No trees.'}]}]\n"
        "train_round(Path(sys.argv[1]), Path(sys.argv[2]), docs, [], "
        "TrainConfig(**json.loads(sys.argv[4])), 'r1', Path(sys.argv[3]))\n"
    )
    config = json.dumps(train_keywords(context=64, max_steps=1))
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run(
            [sys.executable, "-c", script, str(tiny_base), str(out), str(tmp_path / f"s{seed}"), config],
            env=env,
            check=True,
            capture_output=True,
        )
        outs.append({f.name: f.read_bytes() for f in sorted(out.iterdir())})
    assert outs[0] == outs[1]
