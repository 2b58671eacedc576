"""Translate whole books: source paragraphs are grouped into chunks that fit the model's context,
each chunk is translated with the previous chunk and its translation carried over as context, and
several books/directions advance together in one batch. Decoding is greedy (deterministic), with
transformers on a CPU or one GPU, or with vLLM when it is installed and asked for. Finished chapters
can be handed to a callback, so an interrupted run resumes chapter by chapter."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..dataset import INSTRUCTIONS, SYSTEM_PROMPT
from ..errors import BooktransError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranslateConfig:
    context: int                 # tokens the model may see: prompt + carried context + output
    source_share: float = 0.3    # share of the context for the source chunk (tokens)
    carry_share: float = 0.2     # share for the previous chunk and its translation (tokens)
    max_new_factor: float = 2.0  # output budget per source token
    batch_size: int = 8
    max_paragraphs: int = 0      # 0 = the whole book
    repetition_penalty: float = 1.0  # > 1 discourages repeating tokens already generated (1.0 = off)


@dataclass
class Chunk:
    chapter: int
    paras: list[int]
    source: str


def chunk_paragraphs(paragraphs: list[dict], tokenizer, budget: int, lang: str) -> list[Chunk]:
    """Group consecutive paragraphs of one chapter into chunks of at most ``budget`` source tokens.
    A paragraph longer than the budget is split at sentence boundaries."""
    from ..text import split_sentences

    pieces: list[tuple[int, int, str]] = []
    for p in paragraphs:
        n = len(tokenizer(p["text"], add_special_tokens=False)["input_ids"])
        if n <= budget:
            pieces.append((p["chapter"], p["para"], p["text"]))
            continue
        buf = ""
        for s in split_sentences(p["text"], lang):
            trial = buf + ("" if lang == "zh" or not buf else " ") + s
            if buf and len(tokenizer(trial, add_special_tokens=False)["input_ids"]) > budget:
                pieces.append((p["chapter"], p["para"], buf))
                buf = s
            else:
                buf = trial
        if buf:
            pieces.append((p["chapter"], p["para"], buf))
    counts = tokenizer([t for _, _, t in pieces], add_special_tokens=False)["input_ids"] if pieces else []
    chunks: list[Chunk] = []
    cur: Chunk | None = None
    cur_tokens = 0
    for (chapter, para, text), ids in zip(pieces, counts):
        n = len(ids) + 2
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
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
    if previous:
        msgs += [{"role": "user", "content": INSTRUCTIONS[direction] + previous[0]},
                 {"role": "assistant", "content": previous[1]}]
    msgs.append({"role": "user", "content": INSTRUCTIONS[direction] + source})
    return msgs


def _end_of_turn(tokenizer) -> int:
    vocab = tokenizer.get_vocab()
    return vocab["<|im_end|>"] if "<|im_end|>" in vocab else tokenizer.eos_token_id


def generate_batch(model, tokenizer, prompts: list[list[int]], max_new_tokens: int,
                   repetition_penalty: float = 1.0) -> list[list[int]]:
    """Greedy decoding of left-padded prompts; returns the new tokens of each."""
    import torch

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                             num_beams=1, pad_token_id=pad, eos_token_id=_end_of_turn(tokenizer),
                             repetition_penalty=repetition_penalty)
    return [row[width:].tolist() for row in out]


class HFGenerator:
    """Greedy decoding with transformers' ``generate`` (CPU or one GPU)."""

    def __init__(self, model, tokenizer) -> None:
        self.model, self.tokenizer = model, tokenizer
        model.eval()

    def __call__(self, prompts: list[list[int]], limits: list[int], repetition_penalty: float) -> list[list[int]]:
        out = generate_batch(self.model, self.tokenizer, prompts, max(limits), repetition_penalty)
        return [row[:limit] for row, limit in zip(out, limits)]


class VLLMGenerator:
    """Greedy decoding with vLLM (temperature 0, one request per prompt, batched by the engine).
    ``weights`` must be a folder of full weights (an adapter round is merged first, see the stage)."""

    def __init__(self, weights: str, tokenizer, context: int, seed: int = 0, gpu_memory_utilization: float = 0.9) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise BooktransError("translate.engine is vllm but the vllm package is not installed "
                                 "(pip install vllm on the GPU machine, or set translate.engine: transformers)") from None
        self._params = SamplingParams
        self.tokenizer = tokenizer
        self.llm = LLM(model=str(weights), tokenizer=str(weights), max_model_len=context, seed=seed,
                       gpu_memory_utilization=gpu_memory_utilization)

    def __call__(self, prompts: list[list[int]], limits: list[int], repetition_penalty: float) -> list[list[int]]:
        stop = [_end_of_turn(self.tokenizer)]
        params = [self._params(temperature=0.0, max_tokens=limit, repetition_penalty=repetition_penalty, stop_token_ids=stop)
                  for limit in limits]
        outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outs]


def vllm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def translate_streams(generate, tokenizer, streams: dict[str, tuple[str, list[Chunk]]], cfg: TranslateConfig,
                      progress=None, done: dict[str, list[dict]] | None = None, on_chapter=None) -> dict[str, list[dict]]:
    """Translate several chunk sequences ("streams": one per book and direction) in lock-step batches.

    ``generate`` is an ``HFGenerator``/``VLLMGenerator`` (or a model, wrapped in an HFGenerator); it
    may be None when ``done`` already holds every chunk.
    ``streams`` maps a key to (direction, chunks). ``done`` holds rows already translated for a key
    (whole chapters from an interrupted run): those chunks are not translated again, and the last of
    them is carried as context. ``on_chapter(key, chapter, rows)`` is called when a stream finishes
    a chapter. Returns key -> [{"chapter", "paras", "source", "translation"}] in order.
    """
    if hasattr(generate, "generate"):  # a transformers model
        generate = HFGenerator(generate, tokenizer)
    done = done or {}
    results: dict[str, list[dict]] = {k: list(done.get(k, [])) for k in streams}
    longest = max((len(c) for _, c in streams.values()), default=0)
    carry_budget = int(cfg.context * cfg.carry_share)
    if progress is not None:
        progress.update(sum(len(r) for r in results.values()))
    for k in range(longest):
        active = [key for key, (_, chunks) in streams.items() if len(results[key]) <= k < len(chunks)]
        for start in range(0, len(active), cfg.batch_size):
            keys = active[start:start + cfg.batch_size]
            prompts, limits = [], []
            for key in keys:
                direction, chunks = streams[key]
                chunk = chunks[k]
                prev = results[key][-1] if results[key] else None
                previous = (prev["source"], prev["translation"]) if prev else None
                if previous and len(tokenizer(previous[0] + previous[1], add_special_tokens=False)["input_ids"]) > carry_budget:
                    previous = None
                msgs = build_prompt(direction, chunk.source, previous)
                ids = tokenizer.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)
                src_tokens = len(tokenizer(chunk.source, add_special_tokens=False)["input_ids"])
                room = cfg.context - len(ids)
                limits.append(max(1, min(room, int(src_tokens * cfg.max_new_factor) + 8)))
                prompts.append(ids)
            out = generate(prompts, limits, cfg.repetition_penalty)
            for gen, key in zip(out, keys):
                text = tokenizer.decode(gen, skip_special_tokens=True).strip()
                chunks = streams[key][1]
                chunk = chunks[k]
                results[key].append({"chapter": chunk.chapter, "paras": chunk.paras, "source": chunk.source, "translation": text})
                if on_chapter is not None and (k + 1 == len(chunks) or chunks[k + 1].chapter != chunk.chapter):
                    on_chapter(key, chunk.chapter, [r for r in results[key] if r["chapter"] == chunk.chapter])
            if progress is not None:
                progress.update(len(keys))
    return results


def translate_sentences(model, tokenizer, sentences: list[str], direction: str, batch_size: int = 16,
                        max_new_tokens: int = 128) -> list[str]:
    """Translate independent sentences (no carried context), batched, greedy."""
    model.eval()
    out: list[str] = []
    for start in range(0, len(sentences), batch_size):
        prompts = [tokenizer.apply_chat_template(build_prompt(direction, s, None), tokenize=True, add_generation_prompt=True)
                   for s in sentences[start:start + batch_size]]
        out += [tokenizer.decode(g, skip_special_tokens=True).strip()
                for g in generate_batch(model, tokenizer, prompts, max_new_tokens)]
    return out
