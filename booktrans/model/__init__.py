"""Models: the tiny random stand-in, the pointer to a real local checkpoint, LoRA adapters of a round,
and one loader that resolves any of them.

The tiny-model builder (torch and transformers) is imported on first use, so code that only reads
model metadata — the planner, the report — starts without loading the deep-learning stack."""

from .store import ModelInfo, load_model, load_tokenizer, read_info, resolve_base_path, write_pointer

__all__ = [
    "ModelInfo",
    "load_model",
    "load_tokenizer",
    "read_info",
    "resolve_base_path",
    "write_pointer",
    "TinyConfig",
    "build_tiny_model",
    "train_tokenizer",
]

_LAZY = {"TinyConfig", "build_tiny_model", "train_tokenizer"}


def __getattr__(name: str):
    if name in _LAZY:
        from . import tiny

        return getattr(tiny, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
