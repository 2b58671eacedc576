"""COMET through unbabel-comet, from a local checkpoint only (there is no model hub here).

On the cluster ``evaluate.comet.checkpoint`` points at e.g. a copy of wmt22-comet-da
(``.../checkpoints/model.ckpt`` with ``hparams.yaml`` one folder up, and its encoder's
``pretrained_model`` available locally). COMET reads segments of at most 512 tokens, so callers pass
sentence-sized (src, mt, ref) segments — the hypothesis re-aligned to the reference sentences —
never whole chapters.

``build_tiny_comet`` writes a small random-initialised COMET regression model (a two-layer BERT
encoder with a word-piece vocabulary taken from the given texts) in exactly that layout, so the
whole scoring path runs on a CPU in tests and in the demo. Its scores mean nothing.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from pathlib import Path

from ..errors import BooktransError

log = logging.getLogger(__name__)


def resolve_checkpoint(path: str | Path) -> Path:
    """The model.ckpt of a COMET checkpoint given as the .ckpt file or the model's folder."""
    p = Path(path)
    if p.is_dir():
        p = p / "checkpoints" / "model.ckpt"
    if not p.is_file():
        raise BooktransError(
            f"{path}: no COMET checkpoint (expected <dir>/checkpoints/model.ckpt with <dir>/hparams.yaml)"
        )
    if not (p.parents[1] / "hparams.yaml").is_file():
        raise BooktransError(f"{p.parents[1] / 'hparams.yaml'}: missing beside the COMET checkpoint {p}")
    return p


def load_comet(path: str | Path):
    """Load a COMET model from a local checkpoint (files only: nothing is downloaded)."""
    ckpt = resolve_checkpoint(path)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from comet import load_from_checkpoint
        except ImportError as exc:  # pragma: no cover - the package is a dependency
            raise BooktransError(f"COMET needs unbabel-comet ({exc})") from None
        logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
        try:
            return load_from_checkpoint(str(ckpt), local_files_only=True)
        except OSError as exc:
            raise BooktransError(f"{ckpt}: cannot load the COMET model or its encoder locally ({exc})") from None


def score_segments(model, segments: list[dict], batch_size: int, gpus: int | None = None) -> list[float]:
    """COMET score of each {"src", "mt", "ref"} segment, in order."""
    import torch

    if not segments:
        return []
    if gpus is None:
        gpus = 1 if torch.cuda.is_available() else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.predict(
            segments,
            batch_size=batch_size,
            gpus=gpus,
            progress_bar=False,
            accelerator="gpu" if gpus else "cpu",
            num_workers=1,
        )
    return [float(s) for s in out.scores]


def build_tiny_comet(out: Path, texts: list[str], seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Write a tiny random COMET regression model under ``out``; returns its checkpoint path."""
    import torch
    import yaml
    from transformers import BertConfig, BertTokenizerFast

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from comet.models import RegressionMetric
    import pytorch_lightning as pl

    out = Path(out)
    encoder = out / "encoder"
    encoder.mkdir(parents=True, exist_ok=True)
    words: Counter = Counter()
    for t in texts:
        for tok in _basic_tokens(t):
            words[tok] += 1
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(w for w, _ in words.most_common(2000))
    (encoder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(encoder / "vocab.txt"), do_lower_case=True).save_pretrained(encoder)
    BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=514,
    ).save_pretrained(encoder)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RegressionMetric(
            encoder_model="BERT",
            pretrained_model=str(encoder),
            load_pretrained_weights=False,
            hidden_sizes=[hidden],
            layer="mix",
            layer_transformation="softmax",
            local_files_only=True,
        )
    ckpt = out / "checkpoints" / "model.ckpt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    hparams = {k: (list(v) if isinstance(v, tuple) else v) for k, v in dict(model.hparams).items()}
    hparams["class_identifier"] = "regression_metric"
    torch.save(
        {"state_dict": model.state_dict(), "hyper_parameters": hparams, "pytorch-lightning_version": pl.__version__},
        ckpt,
    )
    (out / "hparams.yaml").write_text(yaml.safe_dump(hparams, sort_keys=True), encoding="utf-8")
    return ckpt


def _basic_tokens(text: str) -> list[str]:
    """Lower-cased words and single CJK characters, as BERT's basic tokenizer splits them."""
    import re

    return re.findall(r"[\u3400-\u9fff]|[a-z]+|\d", text.lower())
