"""Whole-book translation on the real code paths: the tiny model through transformers' generate,
chunking and carried context on the sample books with the model's own tokenizer."""

import sys

import pytest
from project import translate_config

from booktrans.translate import HFEngine, carry_tail, chunk_paragraphs, translate_units
from booktrans.translate.engines import token_counter


@pytest.fixture(scope="module")
def tiny(tiny_base):
    import torch

    from booktrans.model import load_model

    model, tok = load_model(tiny_base)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the translate stage does for a model this small (engines.SMALL_MODEL)
    yield model, tok
    torch.set_num_threads(threads)


class Recording:
    """An engine that records the size of every batch it is given."""

    def __init__(self, engine):
        self.engine, self.batches = engine, []
        self.parallel = False

    def prompt_length(self, messages):
        return self.engine.prompt_length(messages)

    def generate(self, requests):
        self.batches.append(len(requests))
        return self.engine.generate(requests)


def units_of(paragraphs, tok, cfg, key="nt.zh-en", direction="zh-en"):
    from booktrans.translate.parts import chapter_units

    return chapter_units(key, direction, paragraphs, token_counter(tok), cfg)


def test_chunks_respect_the_budget_and_keep_paragraph_links(sample_paragraphs, tiny):
    _, tok = tiny
    paras = sample_paragraphs[("night-train", "zh")]
    chunks = chunk_paragraphs(paras, token_counter(tok), 60, "zh")
    for c in chunks:
        assert len(tok(c.source, add_special_tokens=False)["input_ids"]) <= 60
    # every paragraph is in some chunk, in order, and no chunk crosses a chapter
    assert sorted({p for c in chunks for p in c.paras}) == [p["para"] for p in paras]
    joined = "".join(c.source.replace("\n\n", "") for c in chunks)
    assert joined == "".join(p["text"] for p in paras)


def test_a_previous_chunk_larger_than_the_carry_budget_is_trimmed_to_its_tail(sample_paragraphs, tiny):
    _, tok = tiny
    count = token_counter(tok)
    zh = "\n\n".join(p["text"] for p in sample_paragraphs[("night-train", "zh")][:4])
    en = "\n\n".join(p["text"] for p in sample_paragraphs[("night-train", "en")][:4])
    whole = count(zh) + count(en)
    assert carry_tail(zh, en, whole, count, "zh", "en") == (zh, en)
    for budget in (whole // 2, whole // 5, 40):
        src, tgt = carry_tail(zh, en, budget, count, "zh", "en")
        assert zh.endswith(src) and en.endswith(tgt)  # the ends, not the beginnings
        assert count(src) + count(tgt) <= budget and src and tgt
        assert count(src) + count(tgt) >= budget // 3  # most of the budget is used
    # whole sentences when they fit: what is cut away ends where a sentence ends
    src, tgt = carry_tail(zh, en, whole // 2, count, "zh", "en")
    assert en[: len(en) - len(tgt)].rstrip()[-1] in '.!?"”' and zh[: len(zh) - len(src)].rstrip()[-1] in "。！？”」"


def test_batches_are_filled_with_independent_chapters_and_stop_reasons_are_recorded(sample_paragraphs, tiny):
    model, tok = tiny
    cfg = translate_config(512, max_new_tokens=6, batch_size=3, max_new_factor=0.5, carry_share=0.3)
    paras = [p for p in sample_paragraphs[("night-train", "zh")] if 1 <= p["chapter"] <= 5]
    units = units_of(paras, tok, cfg)
    sizes = sorted((len(u.chunks) for u in units), reverse=True)
    assert len(units) >= 4 and sizes[0] > 1
    engine = Recording(HFEngine(model, tok, cfg.context))
    rows = translate_units(engine, units, cfg, token_counter(tok))
    chunks = sum(sizes)
    # a batch is full while at least 3 chapters are left; in lock-step streams it would hold one chunk
    assert sum(engine.batches) == chunks
    assert engine.batches[0] == 3 and len(engine.batches) < chunks / 2
    flat = [r for u in units for r in rows[u.id]]
    assert [r["paras"] for r in flat] == [c.paras for u in units for c in u.chunks]
    # the tiny model never ends its turn: every chunk is cut by the cap, and says so
    assert all(r["truncated"] and r["stop_reason"] == "length" and r["completion_tokens"] == 6 for r in flat)
    # a chapter's later chunks carry the tail of the one before
    assert any(r["carried"] > 0 for r in flat)
    assert all(r["carried"] == 0 for u in units for r in rows[u.id][:1])
    # deterministic: the same rows again
    assert translate_units(HFEngine(model, tok, cfg.context), units, cfg, token_counter(tok)) == rows


def test_a_model_that_ends_its_turn_is_recorded_as_stopped(tiny_base):
    import torch

    from booktrans.model import load_model
    from booktrans.translate import Request, build_prompt

    model, tok = load_model(tiny_base)
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    head = torch.nn.Linear(model.lm_head.in_features, model.lm_head.out_features, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[eot] = 1.0  # every step prefers the end of the turn
    model.lm_head = head
    out = HFEngine(model, tok, 256).generate([Request(build_prompt("zh-en", "夜车来了。", None), 20)])[0]
    assert out.stop_reason == "stop" and not out.truncated and out.text == "" and out.completion_tokens == 1


def test_a_stopped_translation_resumes_chapter_by_chapter_with_the_same_result(sample_paragraphs, tiny):
    model, tok = tiny
    cfg = translate_config(256, max_new_tokens=6, batch_size=2, max_new_factor=0.5)
    paras = [p for p in sample_paragraphs[("night-train", "zh")] if p["chapter"] in (1, 2, 3)]
    units = units_of(paras, tok, cfg)
    assert len(units) == 3
    whole = translate_units(HFEngine(model, tok, cfg.context), units, cfg, token_counter(tok))
    saved: dict = {}

    def stop_after_first(unit, rows):
        saved[unit.id] = rows
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        translate_units(HFEngine(model, tok, cfg.context), units, cfg, token_counter(tok), on_unit=stop_after_first)
    assert len(saved) == 1
    engine = Recording(HFEngine(model, tok, cfg.context))
    resumed = translate_units(engine, units, cfg, token_counter(tok), done=saved)
    assert resumed == whole
    first = next(iter(saved))
    assert sum(engine.batches) == sum(
        len(u.chunks) for u in units if u.id != first
    )  # finished chapters were not translated again
    # everything finished already: no engine is needed at all
    assert translate_units(None, units, cfg, token_counter(tok), done=whole) == whole


def test_translating_a_round_writes_stop_reasons_and_usage_and_resumes(tmp_path, tiny_base, root, sample_paragraphs):
    import json
    import shutil

    import yaml

    from booktrans.io import write_jsonl
    from booktrans.manifest import load_manifest
    from booktrans.translate.run import translate_round

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["translate"].update(max_paragraphs=8, tiny_max_new_tokens=5, directions=["zh-en"])
    params["ingest"]["manifest"] = str(root / "data" / "books.yaml")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    text = tmp_path / "text"
    write_jsonl(text / "night-train.zh.jsonl", sample_paragraphs[("night-train", "zh")])
    model = tmp_path / "r0"
    shutil.copytree(tiny_base, model)
    info = json.loads((model / "booktrans.json").read_text())
    info["extra"] = {"tiny": True}  # as the base stage writes it: the tiny model's output is capped
    (model / "booktrans.json").write_text(json.dumps(info))
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    books, manifest = load_manifest(root / "data" / "books.yaml"), str(root / "data" / "books.yaml")
    from booktrans.params import from_dict

    args = (
        "r0",
        model,
        books,
        manifest,
        text,
        out,
        from_dict(params).translate,
        params["model"]["dtype"],
        params["seed"],
        scratch,
    )
    with pytest.raises(KeyboardInterrupt):
        translate_round(*args, stop_after_chapters=1)
    assert not out.exists() and len(list(scratch.rglob("chapter-*.jsonl"))) == 1
    translate_round(*args)
    rows = [json.loads(x) for x in (out / "night-train.zh-en.jsonl").read_text().splitlines()]
    assert sorted({p for r in rows for p in r["paras"]}) == list(range(8))
    assert all(r["truncated"] and r["stop_reason"] == "length" and r["completion_tokens"] == 5 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    book = summary["books"]["night-train.zh-en"]
    assert (
        book["chunks"] == len(rows) and book["truncated"] == len(rows) and book["stop_reasons"] == {"length": len(rows)}
    )
    assert summary["max_new_tokens"] == 5
    first = (out / "night-train.zh-en.jsonl").read_bytes()
    translate_round(*args)
    assert (out / "night-train.zh-en.jsonl").read_bytes() == first


def test_vllm_engine_decodes_greedily_and_is_refused_when_missing(monkeypatch, tiny):
    import types

    from booktrans.translate import EngineError, Request, VLLMEngine, build_prompt

    _, tok = tiny
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(EngineError, match="needs the vllm package"):
        VLLMEngine("weights", tok, 256, seed=0, repetition_penalty=1.0)
    seen = {}

    class LLM:
        def __init__(self, **kw):
            seen["init"] = kw

        def generate(self, prompts, params, use_tqdm=True):
            seen["prompts"], seen["params"] = prompts, params
            return [
                types.SimpleNamespace(outputs=[types.SimpleNamespace(token_ids=[5, 6, 7], finish_reason=r)])
                for r in ("stop", "length")
            ]

    class SamplingParams:
        def __init__(self, **kw):
            self.kw = kw

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    engine = VLLMEngine("weights", tok, 256, seed=3, repetition_penalty=1.0)
    reqs = [
        Request(build_prompt("zh-en", "夜车。", None), 4),
        Request(build_prompt("en-zh", "The night train.", None), 9),
    ]
    outs = engine.generate(reqs)
    assert [o.stop_reason for o in outs] == ["stop", "length"] and outs[1].truncated and not outs[0].truncated
    assert seen["init"]["max_model_len"] == 256 and seen["init"]["seed"] == 3
    assert [p["prompt_token_ids"] for p in seen["prompts"]] == [
        engine.tokenizer.apply_chat_template(r.messages, tokenize=True, add_generation_prompt=True) for r in reqs
    ]
    assert [p.kw["max_tokens"] for p in seen["params"]] == [4, 9]
    assert all(p.kw["temperature"] == 0.0 and p.kw["stop_token_ids"] for p in seen["params"])
