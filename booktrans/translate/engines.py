"""Translation engines: one interface over transformers, vLLM and any OpenAI-compatible chat endpoint.

An engine takes chat requests (messages and an output budget in tokens) and gives back outputs with
the text, the reason generation stopped (``stop`` = the model ended its turn, ``length`` = the output
budget or the context ran out, anything else an endpoint reports is passed on) and token counts.

- ``HFEngine`` and ``VLLMEngine`` decode a whole batch at once (``parallel = False``): the scheduler
  hands them ``batch_size`` requests together.
- ``OpenAIEngine`` (in ``api.py``) sends requests one by one from several threads (``parallel = True``).

``count_tokens`` sizes chunks, carried context and output budgets: exact with a local tokenizer, an
estimate for a remote model whose tokenizer is not here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from ..errors import BooktransError


class EngineError(BooktransError):
    """An engine cannot go on: endpoint unreachable, key refused, model missing, retries used up."""


@dataclass(frozen=True)
class Request:
    messages: list[dict]
    max_new_tokens: int


@dataclass(frozen=True)
class Output:
    text: str
    stop_reason: str  # stop | length | what the endpoint said (content_filter, ...)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens an endpoint served from its cache (billed lower)

    @property
    def truncated(self) -> bool:
        return self.stop_reason == "length"


def end_tokens(tokenizer) -> list[int]:
    """Tokens that end an answer: the chat turn's end, and the end of text (Qwen models stop on
    either, as their generation config says)."""
    vocab = tokenizer.get_vocab()
    ids = [vocab[t] for t in ("<|im_end|>", "<|endoftext|>") if t in vocab]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def generate_batch(
    model, tokenizer, prompts: list[list[int]], max_new_tokens: int, repetition_penalty: float = 1.0
) -> list[list[int]]:
    """Greedy decoding of left-padded prompts; returns the new tokens of each (padded after its end)."""
    import torch

    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=pad,
            eos_token_id=end_tokens(tokenizer),
            repetition_penalty=repetition_penalty,
        )
    return [row[width:].tolist() for row in out]


def token_counter(tokenizer):
    """Tokens of a text under ``tokenizer`` (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


class _LocalEngine:
    """What transformers and vLLM share: the chat template, exact token counts, the context limit."""

    parallel = False

    def __init__(self, tokenizer, context: int, repetition_penalty: float = 1.0) -> None:
        self.tokenizer, self.context = tokenizer, context
        self.repetition_penalty = repetition_penalty
        self._ends = end_tokens(tokenizer)

    def count_tokens(self, text: str) -> int:
        return token_counter(self.tokenizer)(text)

    def prompt_length(self, messages: list[dict]) -> int:
        return len(self.tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))

    def _prompts(self, requests: list[Request]) -> tuple[list[list[int]], list[int]]:
        prompts, limits = [], []
        for r in requests:
            ids = self.tokenizer.apply_chat_template(r.messages, tokenize=True, add_generation_prompt=True)
            prompts.append(list(ids))
            limits.append(max(1, min(r.max_new_tokens, self.context - len(ids))))
        return prompts, limits

    def _output(self, prompt: list[int], gen: list[int], limit: int) -> Output:
        gen = gen[:limit]
        end = next((i for i, t in enumerate(gen) if t in self._ends), None)
        if end is not None:
            gen, reason = gen[:end], "stop"
        else:
            reason = "length"
        text = self.tokenizer.decode(gen, skip_special_tokens=True).strip()
        return Output(text, reason, len(prompt), len(gen) + (reason == "stop"))


class HFEngine(_LocalEngine):
    """Greedy decoding with transformers' ``generate`` (CPU or one GPU), a batch at a time."""

    name = "transformers"

    def __init__(self, model, tokenizer, context: int, repetition_penalty: float = 1.0) -> None:
        super().__init__(tokenizer, context, repetition_penalty)
        self.model = model
        model.eval()

    def generate(self, requests: list[Request]) -> list[Output]:
        prompts, limits = self._prompts(requests)
        out = generate_batch(self.model, self.tokenizer, prompts, max(limits), self.repetition_penalty)
        return [self._output(p, g, lim) for p, g, lim in zip(prompts, out, limits)]


class VLLMEngine(_LocalEngine):
    """Greedy decoding with vLLM (temperature 0, the chat end token as stop token, batched by the
    engine). ``weights`` must be a folder of full weights (an adapter round is merged first)."""

    name = "vllm"

    def __init__(
        self,
        weights: str,
        tokenizer,
        context: int,
        seed: int,
        repetition_penalty: float,
        gpu_memory_utilization: float = 0.9,
    ) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise EngineError(
                "the vllm engine needs the vllm package (pip install vllm on the GPU machine, "
                "or use the transformers engine)"
            ) from None
        super().__init__(tokenizer, context, repetition_penalty)
        self._params = SamplingParams
        self.llm = LLM(
            model=str(weights),
            tokenizer=str(weights),
            max_model_len=context,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
        )

    def generate(self, requests: list[Request]) -> list[Output]:
        prompts, limits = self._prompts(requests)
        params = [
            self._params(
                temperature=0.0, max_tokens=limit, repetition_penalty=self.repetition_penalty, stop_token_ids=self._ends
            )
            for limit in limits
        ]
        outs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        results = []
        for p, o in zip(prompts, outs):
            c = o.outputs[0]
            text = self.tokenizer.decode(list(c.token_ids), skip_special_tokens=True).strip()
            results.append(Output(text, str(c.finish_reason or "stop"), len(p), len(c.token_ids)))
        return results


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def choose_engine(name: str) -> str:
    """transformers | vllm | auto (vLLM when it is installed and a GPU is present)."""
    if name == "auto":
        import torch

        return "vllm" if vllm_available() and torch.cuda.is_available() else "transformers"
    if name not in ("transformers", "vllm"):
        raise EngineError(f"engine {name!r}: use transformers, vllm, auto (or openai with a base URL)")
    if name == "vllm" and not vllm_available():
        raise EngineError(
            "the vllm engine needs the vllm package (pip install vllm on the GPU machine, "
            "or use the transformers engine)"
        )
    return name


def check_model_dir(model_dir) -> str:
    """``booktrans`` for a pipeline model folder (models/rN), ``hf`` for a plain Hugging Face folder."""
    from pathlib import Path

    from ..errors import ModelError
    from ..model.store import INFO

    p = Path(model_dir)
    if not p.exists():
        raise ModelError(
            f"{model_dir}: no such model folder (give a round's folder such as models/r4, or a local "
            f"Hugging Face checkout)"
        )
    if (p / INFO).exists():
        return "booktrans"
    if (p / "config.json").exists():
        return "hf"
    raise ModelError(f"{model_dir}: not a model folder (no {INFO} and no config.json)")


def local_tokenizer(model_dir):
    if check_model_dir(model_dir) == "booktrans":
        from ..model import load_tokenizer

        return load_tokenizer(model_dir)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def local_context(model_dir) -> int:
    """The context a round recorded (booktrans.json), or the model's own window."""
    import json
    from pathlib import Path

    if check_model_dir(model_dir) == "booktrans":
        from ..model import read_info

        return read_info(model_dir).context
    cfg = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    return int(cfg.get("max_position_embeddings") or 4096)


def open_local_engine(
    model_dir,
    engine: str,
    tokenizer,
    context: int,
    dtype: str,
    repetition_penalty: float,
    seed: int,
    merged_dir=None,
):
    """An ``HFEngine`` or ``VLLMEngine`` over any model folder. vLLM loads plain weights: an adapter
    round is merged into its base once, into ``merged_dir``."""
    import torch

    kind = check_model_dir(model_dir)
    if engine == "vllm" and kind == "booktrans":
        from ..model.store import sparse_setting

        if (sparse_setting(model_dir) or {}).get("inference") == "sparse":
            raise EngineError(
                f"{model_dir}: the round was trained with sparse attention and asks for it at inference "
                f"(sparse_attention.inference: sparse); vLLM cannot run that pattern: use translate.engine "
                f"transformers, or inference: dense"
            )
        return VLLMEngine(
            str(_full_weights(model_dir, kind, merged_dir, dtype)),
            tokenizer,
            context,
            seed=seed,
            repetition_penalty=repetition_penalty,
        )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "booktrans":
        from ..model import load_model

        model, _ = load_model(model_dir, dtype=dtype, device=device)
    else:
        from transformers import AutoModelForCausalLM

        torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
            dtype
        ]
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch_dtype).to(device)
    if device == "cpu" and sum(p.numel() for p in model.parameters()) < SMALL_MODEL:
        torch.set_num_threads(1)
    return HFEngine(model, tokenizer, context, repetition_penalty)


# parameters; on a CPU a model this small decodes fastest on one thread: its matrices are too small to
# share out, and on a busy 2-core machine a second thread made the tiny demo model 10-14x slower (docs/translate.md)
SMALL_MODEL = 50_000_000


def _full_weights(model_dir, kind: str, merged_dir, dtype: str):
    from pathlib import Path

    from ..io import atomic_dir
    from ..model import load_model, read_info

    if kind == "hf":
        return Path(model_dir)
    info = read_info(model_dir)
    if info.kind == "full":
        return Path(model_dir)
    if info.kind == "pointer" and info.path:
        return Path(info.path)
    if merged_dir is None:
        raise EngineError(f"{model_dir}: an adapter round needs a folder to merge its weights into for vLLM")
    merged = Path(merged_dir)
    if not (merged / "config.json").exists():
        model, tok = load_model(model_dir, dtype=dtype, merge_adapters=True)
        with atomic_dir(merged) as tmp:
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
    return merged


def is_tiny(model_dir) -> bool:
    """A round of the tiny random demo model (its base was built by the base stage with model.base: tiny)."""
    if check_model_dir(model_dir) != "booktrans":
        return False
    from ..model import read_info
    from ..model.store import adapter_chain

    base, _ = adapter_chain(model_dir)
    try:
        return bool(read_info(base).extra.get("tiny"))
    except BooktransError:
        return False
