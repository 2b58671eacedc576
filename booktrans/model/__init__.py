"""Models: the tiny random stand-in, the pointer to a real local checkpoint, LoRA adapters of a round,
and one loader that resolves any of them."""

from .store import ModelInfo, load_model, load_tokenizer, read_info, resolve_base_path, write_pointer
from .tiny import TinyConfig, build_tiny_model, train_tokenizer

__all__ = [
    "ModelInfo", "load_model", "load_tokenizer", "read_info", "resolve_base_path", "write_pointer",
    "TinyConfig", "build_tiny_model", "train_tokenizer",
]
