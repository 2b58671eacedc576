"""The runs that check the planner's memory per GPU against DeepSpeed (tests/test_train_multiprocess.py):
a random Qwen2 large enough that DeepSpeed's fixed costs do not dominate (hidden 128, MLP 448, 4 layers,
vocabulary 3000 of a tokenizer trained on the sample books), fed documents of real text from the sample
books (so the share of labelled tokens is the data's), one row of ``CONTEXT`` tokens a step."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = 1024
SHAPE = {"vocab_size": 3000, "hidden_size": 128, "intermediate_size": 448, "num_hidden_layers": 4}
JOBS = {  # name: TrainConfig changes (each job: 2 optimizer steps, then one validation row)
    "mem-lora": {},
    "mem-full": {"method": "full", "learning_rate": 1e-4},
    "mem-lora-sp2": {"sequence_parallel": 2},
}


def smoke_module():
    """bench/smoke_cluster.py as a module (its sample-text documents are shared with the check)."""
    spec = importlib.util.spec_from_file_location("smoke_cluster", ROOT / "bench" / "smoke_cluster.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def memory_base(work: Path, seed: int) -> tuple[Path, Path, Path]:
    """(base model folder, training documents file, validation documents file) in ``work``."""
    from booktrans.model import TinyConfig, build_tiny_model, train_tokenizer
    from booktrans.model.store import ModelInfo, write_info
    from booktrans.params import load as load_params

    smoke = smoke_module()
    zh, en = smoke._sample_text()
    params = load_params(ROOT / "params.yaml")
    base = work / "mem-base"
    tok = train_tokenizer(zh + en, SHAPE["vocab_size"])
    shape = replace(TinyConfig.from_params(params.model.tiny, seed), **SHAPE, max_position_embeddings=4096)
    model = build_tiny_model(tok, shape)
    model.save_pretrained(str(base))
    tok.save_pretrained(str(base))
    write_info(base, ModelInfo(kind="full", context=CONTEXT))
    # four training documents (2 steps x 2 processes) and one for validation, each from other paragraphs
    from booktrans.train import encode_example

    docs = []
    for k in range(5):
        at, want = 30 * k % len(zh), CONTEXT - 24
        while True:  # whole documents only: a row cut at the context would lose its target side
            doc = smoke._fill(tok, zh[at:] + zh[:at], en[at:] + en[:at], want)
            if len(encode_example(doc["messages"], tok, 10**9)["input_ids"]) <= CONTEXT:
                break
            want -= 16
        docs.append(doc)
    train, valid = work / "mem-docs.json", work / "mem-valid.json"
    train.write_text(json.dumps(docs[:4], ensure_ascii=False), encoding="utf-8")
    valid.write_text(json.dumps(docs[4:], ensure_ascii=False), encoding="utf-8")
    return base, train, valid


def memory_jobs(work: Path, data: tuple[Path, Path, Path], base_config: dict) -> dict:
    """The launch jobs (tests/mp_round.py) of :data:`JOBS` on ``data`` = :func:`memory_base`'s, with the
    memory meter on (``extra.measure``), ``base_config``: the test module's TrainConfig keywords."""
    base, train, valid = data
    return {
        name: {
            "base": str(base),
            "out": str(work / name),
            "scratch": str(work / f"scratch-{name}"),
            "docs": str(train),
            "valid": str(valid),
            "config": {**base_config, "context": CONTEXT, "max_steps": 2, "extra": {"measure": ["memory"]}, **changes},
        }
        for name, changes in JOBS.items()
    }


def label_share(base: Path, docs: Path) -> float:
    """The documents' share of labelled tokens, counted as the dataset stage counts it for the planner."""
    from booktrans.dataset import target_tokens
    from booktrans.model.store import load_tokenizer
    from booktrans.train import encode_example

    tok = load_tokenizer(base)
    rows = json.loads(docs.read_text(encoding="utf-8"))
    labelled = sum(target_tokens(d["messages"], tok, CONTEXT) for d in rows)
    return labelled / sum(len(encode_example(d["messages"], tok, CONTEXT)["input_ids"]) for d in rows)
