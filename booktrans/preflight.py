"""Checks run before any work: a wrong key, a wrong base-model path or a broken rounds chain fails at once.

The params file itself (unknown keys, types, missing keys) is checked by ``booktrans.params.load``
before these run."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .model.store import resolve_base_path
from .params import Params, check_names


def check_params(params: Params, root: Path) -> list[str]:
    """Validate the knobs that would otherwise fail hours into a run. Returns lines of what was checked.
    ``root``: the folder the launch configs are named from (the project, where the stages run)."""
    src = params.source
    lines = [f"{src}: every key known, every value of its type"]
    base = params.model.base
    if not base:
        raise ConfigError(f"{src}: model.base is empty; set it to tiny or to a local model folder")
    if base == "tiny":
        lines.append("model.base: tiny (random CPU demo model; its scores mean nothing)")
    else:
        resolve_base_path(base)
        lines.append(f"model.base: {base} (found)")
    rounds = params.rounds
    if not rounds:
        raise ConfigError(f"{src}: rounds is empty; define at least r1")
    check_names(params)  # every round named exists; outside systems and decision criteria well formed
    for name, r in rounds.items():
        if r.context <= 0:
            raise ConfigError(f"{src}: rounds.{name}.context must be a positive number of tokens")
    for name in rounds:  # the init chain must not loop
        cur, path = name, []
        while cur != "r0":
            if cur in path:
                raise ConfigError(f"{src}: rounds init chain loops: {' -> '.join(path + [cur])}")
            path.append(cur)
            cur = rounds[cur].init
    chain = ", ".join(f"{n} ({r.context} tokens, from {r.init})" for n, r in rounds.items())
    lines.append(f"rounds: {chain}")
    # training settings of every round against the model's shape (window, heads, method, attention)
    from .train.config import config_for, validate
    from .train.plan import model_config, round_launch

    cfg_json, source = model_config(params, root, planned=False)
    for name in rounds:
        processes = round_launch(params, root, name)[0]  # the sequence-parallel degree must divide them
        validate(config_for(params, name), name, cfg_json, world_size=processes)
    lines.append(f"training settings: checked against {source}")
    return lines
