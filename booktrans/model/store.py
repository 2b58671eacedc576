"""Model directories and how to load them.

Every model directory written by the pipeline holds ``booktrans.json``:

- ``kind: full``    weights and tokenizer in the directory (the tiny base model, or merged weights);
- ``kind: pointer`` the base model is a local checkout elsewhere (``path``); nothing is copied;
- ``kind: adapter`` a LoRA adapter in the directory, on top of ``base`` (a path relative to this one).

``context`` is the round's context length in tokens; translation reads it from here, so a model
directory is self-describing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ModelError
from ..io import write_json

INFO = "booktrans.json"


@dataclass
class ModelInfo:
    kind: str  # full | pointer | adapter
    context: int  # tokens
    round: str = "r0"
    path: str | None = None  # pointer: absolute or project-relative path of the base checkout
    base: str | None = None  # adapter: base model directory, relative to this directory
    extra: dict = field(default_factory=dict)


def write_info(directory: str | Path, info: ModelInfo) -> None:
    write_json(Path(directory) / INFO, asdict(info))


def read_info(directory: str | Path) -> ModelInfo:
    p = Path(directory) / INFO
    if not p.exists():
        raise ModelError(f"{directory}: not a booktrans model directory (no {INFO}); run the stage that builds it")
    data = json.loads(p.read_text(encoding="utf-8"))
    return ModelInfo(**data)


def resolve_base_path(path: str | Path) -> Path:
    """Check a local base-model checkout before any work is done."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelError(
            f"model.base: {path} does not exist. Point model.base in params.yaml at a local checkout of the "
            f"base model (a folder with config.json, tokenizer files and weights), or set model.base: tiny "
            f"for the CPU demo model."
        )
    if not (p / "config.json").exists():
        raise ModelError(f"model.base: {path} has no config.json; it must be a Hugging Face model folder")
    return p


def write_pointer(directory: str | Path, base_path: str | Path, context: int) -> None:
    base = resolve_base_path(base_path)
    cfg = json.loads((base / "config.json").read_text(encoding="utf-8"))
    write_info(
        directory,
        ModelInfo(
            kind="pointer",
            context=context,
            path=str(base),
            extra={"model_type": cfg.get("model_type"), "architectures": cfg.get("architectures")},
        ),
    )


def _weights_dir(directory: Path) -> Path:
    info = read_info(directory)
    if info.kind == "full":
        return directory
    if info.kind == "pointer":
        return resolve_base_path(info.path)  # type: ignore[arg-type]
    if info.kind == "adapter":
        return _weights_dir((directory / info.base).resolve())  # type: ignore[operator]
    raise ModelError(f"{directory}: unknown model kind {info.kind!r}")


def load_tokenizer(directory: str | Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(_weights_dir(Path(directory))))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def adapter_chain(directory: str | Path) -> tuple[Path, list[Path]]:
    """(base weights directory, [adapter directories from oldest to newest])."""
    directory = Path(directory)
    info = read_info(directory)
    if info.kind != "adapter":
        return _weights_dir(directory), []
    base, chain = adapter_chain((directory / info.base).resolve())  # type: ignore[operator]
    return base, chain + [directory]


def model_settings(directory: str | Path) -> dict:
    """Settings a round recorded for the model it wrote (``extra.rope_scaling``): the newest of the
    chain wins, so a round trained with RoPE scaling is also translated with it."""
    directory = Path(directory)
    info = read_info(directory)
    found = {}
    if info.kind == "adapter":
        found = model_settings((directory / info.base).resolve())  # type: ignore[operator]
    if info.extra.get("rope_scaling"):
        found["rope_scaling"] = info.extra["rope_scaling"]
    return found


def sparse_setting(directory: str | Path) -> dict | None:
    """The sparse-attention setting the round that wrote ``directory`` trained with (``extra.sparse_attention``),
    or None. Only the directory's own round counts: a dense round trained after a sparse one is dense."""
    return read_info(directory).extra.get("sparse_attention") or None


def base_config(directory: str | Path) -> dict:
    """config.json of the weights under any model directory."""
    return json.loads((_weights_dir(Path(directory)) / "config.json").read_text(encoding="utf-8"))


def load_model(
    directory: str | Path,
    dtype: str = "auto",
    trainable: bool = False,
    device: str | None = None,
    attn_implementation: str | None = None,
    rope_scaling: dict | None = None,
    merge_adapters: bool = False,
    quantization_config=None,
    sparse: str = "auto",
):
    """Load any model directory as (model, tokenizer).

    For an adapter directory the base is loaded and the adapter applied; with ``trainable`` the
    newest adapter stays trainable (a round that continues the previous round's adapter); with
    ``merge_adapters`` every adapter is folded into the weights (a plain model comes back).
    ``rope_scaling`` overrides the RoPE scaling of the config (default: what the chain recorded).
    ``sparse``: ``auto`` runs the round with the sparse attention it recorded when its setting says
    ``inference: sparse`` (dense otherwise, as the round's setting asks); ``off`` always dense.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    directory = Path(directory)
    base_dir, adapters = adapter_chain(directory)
    torch_dtype = {"auto": "auto", "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
        dtype
    ]
    config = AutoConfig.from_pretrained(str(base_dir))
    rope = rope_scaling if rope_scaling is not None else model_settings(directory).get("rope_scaling")
    if rope:
        config.rope_scaling = dict(rope)
    kwargs = {"config": config, "dtype": torch_dtype}
    spec = None
    if sparse == "auto" and (sparse_setting(directory) or {}).get("inference") == "sparse":
        from ..train import sparse as sparse_mod

        spec = sparse_mod.SparseAttention.from_dict(sparse_setting(directory))
        core = attn_implementation if attn_implementation in ("sdpa", "flash_attention_2") else "sdpa"
        attn_implementation = sparse_mod.register()
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), **kwargs)
    if adapters:
        from peft import PeftModel

        # Older adapters of the chain are merged; the newest stays a PEFT module unless merged too.
        for older in adapters[:-1]:
            model = PeftModel.from_pretrained(model, str(older)).merge_and_unload()
        model = PeftModel.from_pretrained(model, str(adapters[-1]), is_trainable=trainable and not merge_adapters)
        if merge_adapters:
            model = model.merge_and_unload()
    if spec is not None:
        sparse_mod.install(model, spec, core=core)
    if device:
        model.to(device)
    tok = load_tokenizer(directory)
    return model, tok


def relpath(target: str | Path, start: str | Path) -> str:
    return os.path.relpath(Path(target).resolve(), Path(start).resolve())


def build_base(base: str, context: int, books: list, text, out, tiny=None) -> None:
    """Round r0 in ``out`` (atomically): with ``base`` "tiny", a byte-level BPE tokenizer trained on the
    training books' text (text/<book>.<lang>.jsonl; no held-out text) and a small random-initialised
    Qwen2 model (``tiny``: its TinyConfig); otherwise a pointer to the local checkout ``base`` (nothing copied)."""
    import logging
    from pathlib import Path

    from ..io import atomic_dir, read_jsonl

    log = logging.getLogger("base")
    with atomic_dir(Path(out)) as tmp:
        if base != "tiny":
            write_pointer(tmp, base, context)
            log.info("r0 points at %s", base)
            return
        texts = []
        for book in books:
            if book.split != "train":
                continue  # the tokenizer sees no held-out text
            for lang in ("zh", "en"):
                f = Path(text) / f"{book.id}.{lang}.jsonl"
                if f.exists():
                    texts += [p["text"] for p in read_jsonl(f)]
        from .tiny import build_tiny_model, train_tokenizer

        tok = train_tokenizer(texts, tiny.vocab_size)
        model = build_tiny_model(tok, tiny)
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        write_info(tmp, ModelInfo(kind="full", context=context, round="r0", extra={"tiny": True}))
        log.info(
            "built tiny Qwen2 (%d parameters, vocabulary %d) in %s",
            sum(p.numel() for p in model.parameters()),
            len(tok),
            out,
        )
