"""The ``model`` translator for alignment: Chinese sentences translated into English by a local LLM
(any model directory the pipeline can load: a base checkout, or a round's adapter), then matched
against the English edition word by word like the dictionary glosses."""

from __future__ import annotations

from pathlib import Path

from .lexicon import ZhBag, english_bag


class ModelGlosser:
    def __init__(
        self, model_dir: str | Path, batch_size: int, max_new_tokens: int = 128, device: str | None = None
    ) -> None:
        from ..model import load_model

        self.model, self.tok = load_model(model_dir, device=device)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens

    def translate(self, sentences: list[str]) -> list[str]:
        from ..translate import translate_sentences

        return translate_sentences(self.model, self.tok, sentences, "zh-en", self.batch_size, self.max_new_tokens)

    def bags(self, sentences: list[str]) -> list[ZhBag]:
        out = []
        for text in self.translate(sentences):
            stems, names = english_bag(text)
            bag = ZhBag(stems={w: 1 << k for k, w in enumerate(sorted(stems))}, names=set(names), words=len(stems))
            out.append(bag)
        return out
