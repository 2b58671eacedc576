import pytest
from project import align_book, dataset_config

from booktrans.dataset import build_documents, join_beads


@pytest.fixture(scope="module")
def tok(tiny_base):
    from booktrans.model import load_tokenizer

    return load_tokenizer(tiny_base)


@pytest.mark.parametrize("book", ["lighthouse", "prob-textbook", "four-seasons", "sky-blue", "night-train"])
@pytest.mark.parametrize("context", [160, 400, 2000])
def test_budget_is_never_exceeded_and_documents_reproduce_the_book(sample_paragraphs, tok, book, context):
    beads, _ = align_book(sample_paragraphs[(book, "zh")], sample_paragraphs[(book, "en")])
    meta = {"id": book, "genre": "novel", "license": "CC0-1.0", "split": "train"}
    docs, stats = build_documents(meta, beads, tok, dataset_config(context=context, min_beads=1))
    assert docs
    for d in docs:
        rendered = tok.apply_chat_template(d["messages"], tokenize=True)
        assert len(rendered) == d["meta"]["tokens"] <= context
        assert d["meta"]["book"] == book and d["meta"]["license"] == "CC0-1.0"
    # consecutive documents tile the bead sequence: nothing lost, nothing duplicated
    ranges = [d["meta"]["beads"] for d in docs]
    covered = [i for a, b in ranges for i in range(a, b)]
    assert covered == sorted(set(covered))
    assert len(covered) + stats["oversized_beads"] == len(beads)
    # the sources of the documents, concatenated, are the aligned source text
    for lang in ("zh", "en"):
        if stats["oversized_beads"] == 0:
            parts = []
            for d in docs:
                a, b = d["meta"]["beads"]
                parts.append(join_beads(beads[a:b], lang))
            whole = join_beads(beads, lang)
            sep = "" if lang == "zh" else " "
            assert sep.join(parts).replace("\n\n", sep) == whole.replace("\n\n", sep)


def test_directions_follow_the_share_and_instructions_match(sample_paragraphs, tok):
    beads, _ = align_book(sample_paragraphs[("lighthouse", "zh")], sample_paragraphs[("lighthouse", "en")])
    meta = {"id": "lighthouse", "genre": "novel", "license": "CC0-1.0", "split": "train"}
    only_zh_en, _ = build_documents(meta, beads, tok, dataset_config(context=400, en_zh_share=0.0, min_beads=1))
    only_en_zh, _ = build_documents(meta, beads, tok, dataset_config(context=400, en_zh_share=1.0, min_beads=1))
    assert {d["meta"]["direction"] for d in only_zh_en} == {"zh-en"}
    assert {d["meta"]["direction"] for d in only_en_zh} == {"en-zh"}
    d = only_en_zh[0]
    assert [m["role"] for m in d["messages"]] == ["system", "user", "assistant"]
    assert "翻译成中文" in d["messages"][1]["content"] and "岛上没有树" in d["messages"][2]["content"]


def test_null_beads_never_enter_a_document(tok):
    beads = [
        {"zh": ["一。"], "en": ["One."], "zh_chapter": 1, "en_chapter": 1, "zh_para": [0], "en_para": [0]},
        {"zh": ["二。"], "en": [], "zh_chapter": 1, "en_chapter": 1, "zh_para": [0], "en_para": []},
        {"zh": ["三。"], "en": ["Three."], "zh_chapter": 1, "en_chapter": 1, "zh_para": [0], "en_para": [0]},
    ]
    docs, stats = build_documents(
        {"id": "x", "genre": "novel", "license": "CC0-1.0", "split": "train"},
        beads,
        tok,
        dataset_config(context=500, min_beads=1, en_zh_share=0.0),
    )
    assert stats["null_beads"] == 1
    assert all("二" not in d["messages"][1]["content"] for d in docs)


def test_beads_the_aligner_dropped_never_enter_a_document(tok):
    beads = [
        {
            "zh": ["一。"],
            "en": ["One."],
            "zh_chapter": 1,
            "en_chapter": 1,
            "zh_para": [0],
            "en_para": [0],
            "keep": True,
        },
        {
            "zh": ["二。"],
            "en": ["Twenty-two."],
            "zh_chapter": 1,
            "en_chapter": 1,
            "zh_para": [0],
            "en_para": [0],
            "keep": False,
            "drop": "low_score",
        },
        {
            "zh": ["三。"],
            "en": ["Three."],
            "zh_chapter": 1,
            "en_chapter": 1,
            "zh_para": [0],
            "en_para": [0],
            "keep": True,
        },
    ]
    docs, stats = build_documents(
        {"id": "x", "genre": "novel", "license": "CC0-1.0", "split": "train"},
        beads,
        tok,
        dataset_config(context=500, min_beads=1, en_zh_share=0.0),
    )
    assert stats["dropped_beads"] == 1
    assert all("Twenty-two" not in d["messages"][2]["content"] for d in docs)
    assert [d["meta"]["beads"] for d in docs] == [[0, 1], [2, 3]]
