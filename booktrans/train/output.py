"""The round's model folders: the merged weights a round starts from when it does not continue the
previous round's adapter, and its output (what the trainer saved turned into a self-describing model
directory: adapter scrubbed of machine paths, or merged into 16-bit weights).

Under ZeRO-3 every merge is done by rank 0 alone on whole weights, outside ZeRO-3's partitioned
loading (``zero3_off``), and written once; the ranks then load the written folder. Merging into
partitioned weights adds into empty shards, and a ZeRO-3 load on one rank waits forever for the
ranks that are not loading.
"""

from __future__ import annotations

import json
import logging
import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import BooktransError
from ..io import atomic_dir, write_json
from ..model.store import INFO, ModelInfo, load_model, model_settings, read_info, relpath, write_info
from .config import TrainConfig

log = logging.getLogger(__name__)


@contextmanager
def zero3_off(args=None):
    """Inside the block transformers sees no ZeRO-3 configuration, so ``from_pretrained`` and peft load
    whole weights in this process alone. Under ZeRO-3 the load would otherwise run in ``zero.Init``,
    which partitions every weight with collectives the other ranks never join (a hang), and which
    accelerate's ``zero3_init_context_manager(enable=False)`` does not switch off. ``args``: the round's
    TrainingArguments (its DeepSpeed plugin holds the live configuration, put back on exit); without
    DeepSpeed the block changes nothing."""
    from transformers.integrations import (
        is_deepspeed_zero3_enabled,
        set_hf_deepspeed_config,
        unset_hf_deepspeed_config,
    )

    live = getattr(getattr(args, "deepspeed_plugin", None), "dschf", None)
    if live is None or not is_deepspeed_zero3_enabled():
        yield
        return
    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        set_hf_deepspeed_config(live)


def needs_merged_start(init: ModelInfo, cfg: TrainConfig) -> bool:
    """A round starting from an adapter that it does not keep training (full fine-tuning, or LoRA with
    ``chain: merge``) starts from the adapter merged into the weights."""
    return init.kind == "adapter" and not (cfg.method in ("lora", "qlora") and cfg.chain == "continue")


def merged_start(init_dir: Path, cfg: TrainConfig, checkpoints: Path, args) -> Path:
    """The model folder the round loads its weights from: ``init_dir`` itself, or, when the round merges
    the previous round's adapters (``needs_merged_start``), ``<checkpoints>/start``, written by rank 0
    while the other ranks wait: the adapters merged on whole weights (``zero3_off``) and saved with the
    tokenizer as a full model folder (atomically; a resumed run reuses it, and it goes with the
    checkpoints). One process takes the same path, so one and several processes start from the same
    bits. The merge leaves the random state as it found it (peft initialises the adapter's layers before
    loading them): the new adapter's initialisation does not depend on whether the folder was reused."""
    import torch

    init = read_info(init_dir)
    if not needs_merged_start(init, cfg):
        return init_dir
    start = Path(checkpoints) / "start"
    with args.main_process_first(local=False, desc="merging the starting weights"):
        if args.process_index == 0 and not (start / INFO).is_file():
            with torch.random.fork_rng(devices=[]), zero3_off(args):
                model, tok = load_model(
                    init_dir, dtype=cfg.dtype, merge_adapters=True, rope_scaling=cfg.rope_scaling, sparse="off"
                )
            extra = dict(model_settings(init_dir))  # rope_scaling recorded along the chain
            with atomic_dir(start) as tmp:
                model.save_pretrained(str(tmp))
                tok.save_pretrained(str(tmp))
                write_info(tmp, ModelInfo(kind="full", context=init.context, round=init.round, extra=extra))
            del model
            log.info("%s merged into %s", init_dir, start)
    return start


def finish_output(
    staging: Path,
    init_dir: Path,
    init: ModelInfo,
    cfg: TrainConfig,
    round_name: str,
    continued: bool,
    tok,
    spec=None,
    start: Path | None = None,
    args=None,
) -> None:
    """Turn what the trainer saved into a self-describing model directory. ``start``: the weights the
    round started from (``merged_start``; default ``init_dir``); ``args``: the round's TrainingArguments
    when it runs under DeepSpeed (one process calls this while the others wait)."""
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
        from peft import PeftModel

        with zero3_off(args):
            model, _ = load_model(
                start or init_dir, dtype=cfg.dtype, merge_adapters=True, rope_scaling=cfg.rope_scaling, sparse="off"
            )
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
