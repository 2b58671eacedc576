"""Resuming a round: the fingerprint that keys its checkpoints, the process layout a sharded
checkpoint belongs to, and the newest checkpoint the Trainer finished writing."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

from ..errors import ConfigError
from ..io import tree_digest
from .config import TrainConfig

log = logging.getLogger(__name__)


def fingerprint(cfg: TrainConfig, train_docs: list[dict], init_dir: Path, layout: dict | None = None) -> str:
    """Hash of everything that shapes the run: a checkpoint is resumed only by the same run. ``layout``
    (processes, ZeRO stage) is part of it: a sharded checkpoint belongs to the layout that wrote it."""
    h = hashlib.sha256()
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("save_steps", "select", "extra")}
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for d in train_docs:
        h.update(json.dumps(d["messages"], sort_keys=True, ensure_ascii=False).encode())
    h.update(tree_digest(init_dir))
    if layout is not None:
        h.update(json.dumps(layout, sort_keys=True).encode())
    return h.hexdigest()[:16]


def run_layout(args) -> dict:
    """How the processes of a run are laid out (what a sharded checkpoint depends on)."""
    plugin = getattr(args, "deepspeed_plugin", None)
    return {"world_size": int(args.world_size), "zero_stage": int(plugin.zero_stage) if plugin is not None else None}


def check_restart(scratch: Path, run_id: str, layout: dict, round_name: str) -> None:
    """Stop with one line when this round has checkpoints written by another process layout: a
    ZeRO checkpoint is sharded per process and cannot be resumed by a different number of them."""
    if not scratch.is_dir():
        return
    for meta in sorted(scratch.glob("*/run.json")):
        try:
            other = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        steps = sorted(
            int(p.name.split("-")[1])
            for p in meta.parent.glob("checkpoint-*")
            if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()
        )
        if other.get("run") != run_id or other.get("layout") == layout or not steps:
            continue
        was, now = other["layout"], layout
        raise ConfigError(
            f"round {round_name}: {meta.parent} holds a checkpoint at step {steps[-1]} written by {was['world_size']} "
            f"process(es) (ZeRO stage {was['zero_stage']}), but this run has {now['world_size']} (ZeRO stage "
            f"{now['zero_stage']}); restart with the same layout to resume, or delete that folder to "
            "start the round over"
        )


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint folder the Trainer finished writing, or None. The Trainer writes
    ``trainer_state.json`` last: a folder without it was cut off while saving (a killed process, a
    full disk) and cannot be resumed from, so the one before it is used and the cut one is named."""
    if not checkpoints.is_dir():
        return None
    found = sorted(
        (
            (int(p.name.split("-")[1]), p)
            for p in checkpoints.glob("checkpoint-*")
            if p.is_dir() and p.name.split("-")[1].isdigit()
        ),
        reverse=True,
    )
    for _, folder in found:
        if (folder / "trainer_state.json").is_file():
            return str(folder)
        log.warning("%s was not finished (no trainer_state.json): not resuming from it", folder)
    return None
