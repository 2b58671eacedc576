"""The round's output folder: what the trainer saved turned into a self-describing model directory
(adapter scrubbed of machine paths, or merged into 16-bit weights)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import BooktransError
from ..io import write_json
from ..model.store import ModelInfo, load_model, relpath, write_info
from .config import TrainConfig


def finish_output(
    staging: Path, init_dir: Path, init: ModelInfo, cfg: TrainConfig, round_name: str, continued: bool, tok, spec=None
) -> None:
    """Turn what the trainer saved into a self-describing model directory."""
    extra = {"method": cfg.method}
    if cfg.rope_scaling:
        extra["rope_scaling"] = dict(cfg.rope_scaling)
    if spec is not None:
        extra["sparse_attention"] = spec.to_dict()
    for name in ("training_args.bin",):
        (staging / name).unlink(missing_ok=True)
    if cfg.method == "full":
        tok.save_pretrained(str(staging))
        write_info(staging, ModelInfo(kind="full", context=cfg.context, round=round_name, extra=extra))
        return
    _scrub_adapter(staging)
    _check_not_empty(staging / "adapter_model.safetensors", round_name)
    if cfg.chain == "merge":
        # fold the new adapter into the (already merged) starting weights: 16-bit weights are the output
        model, _ = load_model(
            init_dir, dtype=cfg.dtype, merge_adapters=True, rope_scaling=cfg.rope_scaling, sparse="off"
        )
        from peft import PeftModel

        merged = PeftModel.from_pretrained(model, str(staging)).merge_and_unload()
        for p in list(staging.iterdir()):
            p.unlink() if p.is_file() else shutil.rmtree(p)
        merged.save_pretrained(str(staging))
        tok.save_pretrained(str(staging))
        write_info(staging, ModelInfo(kind="full", context=cfg.context, round=round_name, extra=extra))
        return
    base = (init_dir / init.base).resolve() if continued else init_dir.resolve()  # type: ignore[operator]
    write_info(
        staging,
        ModelInfo(kind="adapter", context=cfg.context, round=round_name, base=relpath(base, staging), extra=extra),
    )  # staging sits beside the output


def _check_not_empty(path: Path, round_name: str) -> None:
    """A saved adapter must hold every tensor whole; ZeRO-3 shards saved without a gather are empty."""
    from safetensors import safe_open

    if not path.exists():
        raise BooktransError(f"round {round_name}: the trainer wrote no adapter ({path} is missing)")
    with safe_open(str(path), "pt") as f:
        empty = [k for k in f.keys() if f.get_slice(k).get_shape() in ([], [0]) or 0 in f.get_slice(k).get_shape()]
        if empty or not list(f.keys()):
            raise BooktransError(
                f"round {round_name}: the saved adapter {path} has empty tensors ({', '.join(empty[:3])}); "
                f"the weights were not gathered before saving"
            )


def _scrub_adapter(out_dir: Path) -> None:
    """Remove machine-specific paths and hash-seed-dependent orderings from what peft saves, so
    outputs are identical across clones and runs."""
    cfg_path = out_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = "booktrans-base"
    for key, value in cfg.items():  # peft keeps some lists as sets: their order follows the string-hash seed
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            cfg[key] = sorted(value)
    write_json(cfg_path, cfg)
    readme = out_dir / "README.md"
    if readme.exists():
        readme.unlink()
