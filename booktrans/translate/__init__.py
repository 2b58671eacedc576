"""Translate whole books.

Source paragraphs are grouped, chapter by chapter, into chunks that fit the model's context; the
chunks of one chapter are translated in order, each with the tail of the previous chunk and its
translation carried as context (``schedule.carry_tail``). Chapters are independent of one another, so
the scheduler fills every batch with chunks of different chapters (``schedule.translate_units``), and
an interrupted run resumes chapter by chapter with exactly the chapters it had finished.

Engines (``engines.py``, ``api.py``): transformers on a CPU or one GPU, vLLM when installed, and any
OpenAI-compatible chat endpoint. Every translated chunk records why generation stopped
(``stop_reason``, ``truncated``) and its token counts.

``book.py`` turns a translated book into EPUB 3 (translated and bilingual) and text; ``systems.py``
handles outside systems (chat endpoints, and translations made elsewhere) for the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..dataset import INSTRUCTIONS, SYSTEM_PROMPT
from .engines import EngineError, HFEngine, Output, Request, VLLMEngine, generate_batch, vllm_available

__all__ = [
    "TranslateConfig",
    "Chunk",
    "chunk_paragraphs",
    "build_prompt",
    "translate_sentences",
    "EngineError",
    "HFEngine",
    "VLLMEngine",
    "Output",
    "Request",
    "generate_batch",
    "vllm_available",
    "Unit",
    "translate_units",
    "carry_tail",
    "pending",
]


@dataclass(frozen=True)
class TranslateConfig:
    """How a book is cut and decoded. No field has a default here (params.yaml's ``translate:`` holds them):
    build it with :meth:`from_params`, change a value with ``dataclasses.replace``."""

    context: int  # tokens the model may see: prompt + carried context + output
    source_share: float  # share of the context for the source chunk (tokens)
    carry_share: float  # share for the tail of the previous chunk and its translation (tokens)
    max_new_factor: float  # output budget per source token (+8)
    max_new_tokens: int  # cap on the output budget of one chunk (0 = none)
    batch_size: int  # chunks decoded together (local engines)
    max_paragraphs: int  # 0 = the whole book
    repetition_penalty: float  # > 1 discourages repeating tokens already generated (1.0 = off)

    @classmethod
    def from_params(cls, t, context: int, max_new_tokens: int = 0) -> "TranslateConfig":
        """From the typed ``translate:`` record (booktrans.params.TranslateParams)."""
        return cls(
            context=context,
            source_share=t.source_share,
            carry_share=t.carry_share,
            max_new_factor=t.max_new_factor,
            max_new_tokens=max_new_tokens,
            batch_size=t.batch_size,
            max_paragraphs=t.max_paragraphs,
            repetition_penalty=t.repetition_penalty,
        )

    def output_budget(self, source_tokens: int) -> int:
        budget = int(source_tokens * self.max_new_factor) + 8
        return min(budget, self.max_new_tokens) if self.max_new_tokens else budget


@dataclass
class Chunk:
    chapter: int
    paras: list[int]
    source: str


def chunk_paragraphs(paragraphs: list[dict], count: Callable[[str], int], budget: int, lang: str) -> list[Chunk]:
    """Group consecutive paragraphs of one chapter into chunks of at most ``budget`` source tokens
    (``count`` gives the tokens of a text). A paragraph longer than the budget is split at sentence
    boundaries."""
    from ..text import split_sentences

    pieces: list[tuple[int, int, str, int]] = []
    for p in paragraphs:
        n = count(p["text"])
        if n <= budget:
            pieces.append((p["chapter"], p["para"], p["text"], n))
            continue
        buf = ""
        for s in split_sentences(p["text"], lang):
            trial = buf + ("" if lang == "zh" or not buf else " ") + s
            if buf and count(trial) > budget:
                pieces.append((p["chapter"], p["para"], buf, count(buf)))
                buf = s
            else:
                buf = trial
        if buf:
            pieces.append((p["chapter"], p["para"], buf, count(buf)))
    chunks: list[Chunk] = []
    cur: Chunk | None = None
    cur_tokens = 0
    for chapter, para, text, n in pieces:
        n += 2
        if cur is None or cur.chapter != chapter or cur_tokens + n > budget:
            cur = Chunk(chapter=chapter, paras=[para], source=text)
            cur_tokens = n
            chunks.append(cur)
        else:
            cur.source += "\n\n" + text
            if para not in cur.paras:
                cur.paras.append(para)
            cur_tokens += n
    return chunks


def build_prompt(direction: str, source: str, previous: tuple[str, str] | None) -> list[dict]:
    """The chat of one chunk, in the words of the training documents; ``previous`` is the carried
    (source, translation) pair, given as a finished turn."""
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
    if previous:
        msgs += [
            {"role": "user", "content": INSTRUCTIONS[direction] + previous[0]},
            {"role": "assistant", "content": previous[1]},
        ]
    msgs.append({"role": "user", "content": INSTRUCTIONS[direction] + source})
    return msgs


def translate_sentences(
    model, tokenizer, sentences: list[str], direction: str, batch_size: int, max_new_tokens: int = 128
) -> list[str]:
    """Translate independent sentences (no carried context), batched, greedy."""
    engine = HFEngine(model, tokenizer, context=10**9)
    out: list[str] = []
    for start in range(0, len(sentences), batch_size):
        reqs = [
            Request(build_prompt(direction, s, None), max_new_tokens) for s in sentences[start : start + batch_size]
        ]
        out += [o.text for o in engine.generate(reqs)]
    return out


from .schedule import Unit, carry_tail, pending, translate_units  # noqa: E402  (schedule uses the names above)
