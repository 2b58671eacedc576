import sys

import pytest

from booktrans.translate import TranslateConfig, chunk_paragraphs, translate_streams


def test_chunks_respect_the_budget_and_keep_paragraph_links(sample_paragraphs, tiny_base):
    from booktrans.model import load_tokenizer

    tok = load_tokenizer(tiny_base)
    paras = sample_paragraphs[("night-train", "zh")]
    chunks = chunk_paragraphs(paras, tok, 60, "zh")
    for c in chunks:
        assert len(tok(c.source, add_special_tokens=False)["input_ids"]) <= 60
    # every paragraph is in some chunk, in order, and no chunk crosses a chapter
    assert sorted({p for c in chunks for p in c.paras}) == [p["para"] for p in paras]
    joined = "".join(c.source.replace("\n\n", "") for c in chunks)
    assert joined == "".join(p["text"] for p in paras)


def test_translate_streams_batches_books_and_is_deterministic(sample_paragraphs, tiny_base):
    from booktrans.model import load_model

    model, tok = load_model(tiny_base)
    cfg = TranslateConfig(context=256, batch_size=2, max_new_factor=0.5)
    streams = {
        "a.zh-en": ("zh-en", chunk_paragraphs(sample_paragraphs[("night-train", "zh")][:3], tok, 70, "zh")),
        "a.en-zh": ("en-zh", chunk_paragraphs(sample_paragraphs[("night-train", "en")][:2], tok, 70, "en")),
    }
    first = translate_streams(model, tok, streams, cfg)
    again = translate_streams(model, tok, streams, cfg)
    assert first == again
    assert len(first["a.zh-en"]) == len(streams["a.zh-en"][1])
    assert first["a.zh-en"][0]["paras"] == streams["a.zh-en"][1][0].paras


def test_a_stopped_translation_resumes_chapter_by_chapter_with_the_same_result(sample_paragraphs, tiny_base):
    from booktrans.model import load_model

    model, tok = load_model(tiny_base)
    cfg = TranslateConfig(context=256, batch_size=2, max_new_factor=0.5)
    paras = sample_paragraphs[("night-train", "zh")]
    chapters = sorted({p["chapter"] for p in paras})[:2]
    streams = {"a.zh-en": ("zh-en", chunk_paragraphs([p for p in paras if p["chapter"] in chapters][:6], tok, 70, "zh"))}
    assert len({c.chapter for c in streams["a.zh-en"][1]}) == 2
    whole = translate_streams(model, tok, streams, cfg)
    saved: dict = {}

    def stop_after_first(key, chapter, rows):
        saved.setdefault(key, []).extend(rows)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        translate_streams(model, tok, streams, cfg, on_chapter=stop_after_first)
    first = [c for c in streams["a.zh-en"][1] if c.chapter == chapters[0]]
    assert len(saved["a.zh-en"]) == len(first)
    calls = []
    resumed = translate_streams(lambda prompts, limits, rp: calls.append(len(prompts)) or
                                [g[:lim] for g, lim in zip(generate_all(model, tok, prompts, limits, rp), limits)],
                                tok, streams, cfg, done=saved)
    assert resumed == whole
    assert sum(calls) == len(streams["a.zh-en"][1]) - len(first)  # finished chapters were not translated again
    # everything finished already: no model is needed at all
    assert translate_streams(None, tok, streams, cfg, done=whole) == whole


def generate_all(model, tok, prompts, limits, rp):
    from booktrans.translate import HFGenerator

    return HFGenerator(model, tok)(prompts, limits, rp)


def test_vllm_engine_decodes_greedily_and_is_refused_when_missing(monkeypatch, tiny_base):
    import types

    from booktrans.errors import BooktransError
    from booktrans.model import load_tokenizer
    from booktrans.translate import VLLMGenerator

    tok = load_tokenizer(tiny_base)
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(BooktransError, match="vllm package is not installed"):
        VLLMGenerator(str(tiny_base), tok, 256)
    seen = {}

    class LLM:
        def __init__(self, **kw):
            seen["init"] = kw

        def generate(self, prompts, params, use_tqdm=True):
            seen["prompts"], seen["params"] = prompts, params
            out = types.SimpleNamespace(token_ids=[5, 6, 7])
            return [types.SimpleNamespace(outputs=[out]) for _ in prompts]

    class SamplingParams:
        def __init__(self, **kw):
            self.kw = kw

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    gen = VLLMGenerator(str(tiny_base), tok, 256, seed=3)
    assert gen([[1, 2], [3]], [4, 9], 1.0) == [[5, 6, 7], [5, 6, 7]]
    assert seen["init"]["max_model_len"] == 256 and seen["init"]["seed"] == 3
    assert seen["prompts"] == [{"prompt_token_ids": [1, 2]}, {"prompt_token_ids": [3]}]
    assert [p.kw["max_tokens"] for p in seen["params"]] == [4, 9]
    assert all(p.kw["temperature"] == 0.0 and p.kw["stop_token_ids"] for p in seen["params"])
