import pytest

from booktrans.evaluate import score_documents
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


def test_scores_have_signatures_and_length_ratio_in_target_units():
    ref = "The island had no trees, only grey rock."
    m = score_documents([ref], [ref], "en")
    assert m["bleu"] == pytest.approx(100.0) and m["chrf"] == pytest.approx(100.0) and m["length_ratio"] == 1.0
    assert "tok:13a" in m["signatures"]["bleu"] and m["signatures"]["chrf"].startswith("nrefs:1")
    half = score_documents(["The island had"], [ref], "en")
    assert half["length_ratio"] == pytest.approx(3 / 8, abs=1e-3) and half["bleu"] < 50
    zh = score_documents(["岛上没有树"], ["岛上没有树，只有灰色的岩石"], "zh")
    assert "tok:zh" in zh["signatures"]["bleu"] and zh["length_ratio"] == pytest.approx(5 / 13, abs=1e-3)  # characters, punctuation included
    assert score_documents([""], [ref], "en")["empty_translations"] == 1
