from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent (evaluation data is only beside a developer checkout)")
    return SHARED


@pytest.fixture(scope="session")
def sample_paragraphs():
    """Ingested paragraphs of every sample edition: {(book, lang): [dict]}."""
    from booktrans.ingest import ingest_file
    from booktrans.manifest import load_manifest

    out = {}
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        for lang in ("zh", "en"):
            out[(book.id, lang)] = [p.to_json() for p in ingest_file(ROOT / book.file(lang), lang).paragraphs]
    return out


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, sample_paragraphs):
    """A tiny base model directory (kind full) built like stages/base.py does."""
    from booktrans.model import TinyConfig, build_tiny_model, train_tokenizer
    from booktrans.model.store import ModelInfo, write_info

    d = tmp_path_factory.mktemp("r0")
    texts = [p["text"] for paras in sample_paragraphs.values() for p in paras]
    tok = train_tokenizer(texts, 2000)
    model = build_tiny_model(tok, TinyConfig(vocab_size=2000, hidden_size=32, intermediate_size=64))
    model.save_pretrained(str(d))
    tok.save_pretrained(str(d))
    write_info(d, ModelInfo(kind="full", context=256))
    return d
