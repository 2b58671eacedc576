"""A round's documents: caps, duplicates, leakage, genre mix and exports."""

import json

import pytest
from project import align_book, dataset_config

from booktrans.dataset import build_documents
from booktrans.dataset.card import histogram_svg, render_card
from booktrans.dataset.export import write_exports
from booktrans.dataset.select import LeakageIndex, book_shingles, dedupe, mix, near_duplicates
from booktrans.errors import BooktransError


@pytest.fixture(scope="module")
def tok(tiny_base):
    from booktrans.model import load_tokenizer

    return load_tokenizer(tiny_base)


@pytest.fixture(scope="module")
def docs(sample_paragraphs, tok):
    out = []
    for book, genre in (("lighthouse", "novel"), ("prob-textbook", "textbook"), ("four-seasons", "poetry")):
        beads, _ = align_book(sample_paragraphs[(book, "zh")], sample_paragraphs[(book, "en")])
        d, _ = build_documents(
            {"id": book, "genre": genre, "license": "CC0-1.0", "split": "train"},
            beads,
            tok,
            dataset_config(context=300, min_beads=1),
        )
        for x in d:
            x["meta"]["kind"] = "long"
        out += d
    return out


def test_the_character_cap_holds_on_the_chinese_side(sample_paragraphs, tok):
    beads, _ = align_book(sample_paragraphs[("lighthouse", "zh")], sample_paragraphs[("lighthouse", "en")])
    meta = {"id": "lighthouse", "genre": "novel", "license": "CC0-1.0", "split": "train"}
    docs, _ = build_documents(
        meta, beads, tok, dataset_config(context=100_000, max_chars=200, min_beads=1, en_zh_share=0.0)
    )
    assert len(docs) > 3
    for d in docs:
        zh = d["messages"][1]["content"].split("\n\n", 1)[1]
        assert len(zh.replace("\n", "")) <= 200


def test_duplicates_are_removed(docs):
    kept, dropped = dedupe(docs + docs[:3])
    assert dropped == 3 and kept == docs


def test_held_out_text_in_a_training_document_is_caught(docs):
    index = LeakageIndex(zh_n=12, en_n=8)
    index.add("night-train", "开往海边的末班车十一点四十分发车。The last train to the coast left at eleven forty.")
    assert index.check(docs)["leaks"] == 0
    leaky = json.loads(json.dumps(docs[0]))
    leaky["messages"][2]["content"] += " The last train to the coast left at eleven forty."
    with pytest.raises(BooktransError, match="held-out"):
        index.check(docs + [leaky])


def test_validation_books_are_held_out_too(docs):
    """Text of a validation book in a training document is a leak; in its own validation documents
    it is not; test-book text in a validation document is."""
    index = LeakageIndex(zh_n=12, en_n=8)
    index.add(
        "night-train", "开往海边的末班车十一点四十分发车。The last train to the coast left at eleven forty.", "valid"
    )
    index.add("winter-test", "The snow covered the whole village before the first light of the morning came.", "test")
    leaky = json.loads(json.dumps(docs[0]))
    leaky["messages"][2]["content"] += " The last train to the coast left at eleven forty."
    with pytest.raises(BooktransError, match=r"night-train \(valid\)"):
        index.check(docs + [leaky])
    own = json.loads(json.dumps(leaky))
    own["meta"].update(book="night-train", split="valid")
    got = index.check(docs + [own])
    assert got["leaks"] == 0 and got["held_out_books"] == {"valid": 1, "test": 1}
    valid_leak = json.loads(json.dumps(own))
    valid_leak["messages"][2]["content"] += (
        " The snow covered the whole village before the first light of the morning came."
    )
    with pytest.raises(BooktransError, match=r"winter-test \(test\)"):
        index.check([valid_leak])


def test_near_duplicate_books_across_splits_are_reported(sample_paragraphs):
    """A lightly edited copy of a training book filed under test is found (MinHash LSH, confirmed by
    the exact Jaccard); different books and same-split copies are not reported."""

    def text(book, lang):
        return ("" if lang == "zh" else " ").join(p["text"] for p in sample_paragraphs[(book, lang)])

    books = {b: ("train", book_shingles(text(b, "zh"), text(b, "en"))) for b in ("lighthouse", "prob-textbook")}
    books["night-train"] = ("valid", book_shingles(text("night-train", "zh"), text("night-train", "en")))
    edited_zh = text("lighthouse", "zh").replace("灯塔", "塔灯")[: len(text("lighthouse", "zh")) * 9 // 10]
    books["lighthouse-2nd-ed"] = ("test", book_shingles(edited_zh, text("lighthouse", "en").replace("tower", "spire")))
    books["lighthouse-copy"] = ("train", books["lighthouse"][1])
    found = near_duplicates(books)
    assert [(f["books"], f["splits"]) for f in found] == [
        (["lighthouse", "lighthouse-2nd-ed"], ["train", "test"]),
        (["lighthouse-2nd-ed", "lighthouse-copy"], ["test", "train"]),
    ]
    assert all(0.5 <= f["jaccard"] < 1.0 for f in found)


def test_genre_mix_follows_the_weights_and_is_deterministic(docs):
    picked = mix(docs, {"novel": 2.0, "textbook": 1.0, "poetry": 1.0}, 8, seed=0)
    assert len(picked) == 8 and picked == mix(docs, {"novel": 2.0, "textbook": 1.0, "poetry": 1.0}, 8, seed=0)
    genres = [d["meta"]["genre"] for d in picked]
    assert genres.count("novel") == 4 and genres.count("textbook") == 2 and genres.count("poetry") == 2
    assert [d["meta"]["genre"] for d in mix(docs, {"novel": 1.0, "textbook": 0.0, "poetry": 0.0}, 3, 0)] == [
        "novel"
    ] * 3
    assert mix(docs, {}, 0, 0) == docs  # 0 = every document


def test_exports_load_back_and_card_has_the_numbers(docs, tmp_path):
    import datasets

    write_exports(tmp_path, "r1", {"train": docs, "valid": docs[:2]})
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert (
        info["booktrans_r1_train"]["file_name"] == "train.jsonl"
        and info["booktrans_r1_train"]["formatting"] == "sharegpt"
    )
    dd = datasets.load_from_disk(str(tmp_path / "hf"))
    assert dd["train"].num_rows == len(docs) and dd["train"][0]["messages"] == docs[0]["messages"]
    stats = {
        "context": 300,
        "short_share": 0.0,
        "duplicates_removed": 0,
        "leakage": {"documents_checked": len(docs), "held_out_ngrams": 10, "leaks": 0},
        "near_duplicates": [{"books": ["lighthouse", "lighthouse-2"], "splits": ["train", "test"], "jaccard": 0.9}],
        "train": {"documents": len(docs), "tokens": 1, "max_tokens": 300},
        "valid": {"documents": 0, "tokens": 0, "max_tokens": 0},
    }
    card = render_card("r1", stats, docs, [], "r1-tokens.svg")
    assert "lighthouse / lighthouse-2" in card
    assert (
        "| train | %d |" % len(docs) in card
        and "r1-tokens.svg" in card
        and "| lighthouse | train | novel | CC0-1.0 |" in card
    )
    svg = histogram_svg([d["meta"]["tokens"] for d in docs], 300)
    assert svg.startswith("<svg") and svg.count("<rect") == 21


def test_each_document_counts_the_labels_the_trainers_loss_learns_from(docs, tok):
    """meta.target_tokens is the number of targets the round's loss averages over for that document: the
    trainer's own encoding, collator and chunked loss count them on the real document."""
    import torch

    from booktrans.train.data import Collator, encode_example
    from booktrans.train.loss import IGNORE, causal_lm_loss

    assert {d["meta"]["direction"] for d in docs} == {"zh-en", "en-zh"}  # both directions are checked
    head = torch.nn.Linear(4, len(tok), bias=False)
    for d in docs:
        row = encode_example(d["messages"], tok, 300)
        batch = Collator(0)([row])
        _, counted = causal_lm_loss(torch.zeros(1, batch["input_ids"].shape[1], 4), batch["labels"], head, 64)
        meta = d["meta"]
        assert meta["target_tokens"] == int(counted) and 0 < meta["target_tokens"] < meta["tokens"], meta
        # the labelled tokens are the translation itself (and its end of turn), none of the prompt
        labelled = [t for t, lab in zip(row["input_ids"][1:], row["labels"][1:]) if lab != IGNORE]
        assert tok.decode(labelled, skip_special_tokens=True).strip() == d["messages"][2]["content"].strip()
