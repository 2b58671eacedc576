"""Checks run before any work: a wrong base-model path or a broken rounds chain fails at once."""

from __future__ import annotations

from .errors import ConfigError
from .model.store import resolve_base_path


def check_params(params: dict) -> list[str]:
    """Validate the knobs that would otherwise fail hours into a run. Returns lines of what was checked."""
    lines = []
    base = str(params.get("model", {}).get("base", ""))
    if not base:
        raise ConfigError("params.yaml: model.base is empty; set it to tiny or to a local model folder")
    if base == "tiny":
        lines.append("model.base: tiny (random CPU demo model; its scores mean nothing)")
    else:
        resolve_base_path(base)
        lines.append(f"model.base: {base} (found)")
    rounds = params.get("rounds") or {}
    if not rounds:
        raise ConfigError("params.yaml: rounds is empty; define at least r1")
    for name, r in rounds.items():
        for key in ("context", "init", "learning_rate"):
            if key not in r:
                raise ConfigError(f"params.yaml: rounds.{name}.{key} is missing")
        if r["init"] != "r0" and r["init"] not in rounds:
            raise ConfigError(f"params.yaml: rounds.{name}.init is {r['init']!r}, which is neither r0 nor a round")
        if int(r["context"]) <= 0:
            raise ConfigError(f"params.yaml: rounds.{name}.context must be a positive number of tokens")
    seen = set()
    for name in rounds:  # the init chain must not loop
        cur, path = name, []
        while cur != "r0":
            if cur in path:
                raise ConfigError(f"params.yaml: rounds init chain loops: {' -> '.join(path + [cur])}")
            path.append(cur)
            cur = rounds[cur]["init"]
        seen.update(path)
    for r in params.get("translate", {}).get("rounds", []):
        if r != "r0" and r not in rounds:
            raise ConfigError(f"params.yaml: translate.rounds names {r!r}, which is not in rounds")
    chain = ", ".join(f"{n} ({r['context']} tokens, from {r['init']})" for n, r in rounds.items())
    lines.append(f"rounds: {chain}")
    # training settings of every round against the model's shape (window, heads, method, attention)
    from pathlib import Path

    from .plan import _launch, model_config
    from .train.config import config_for, validate

    cfg_json, source = model_config({**params, "plan": {}}, Path("."))
    for name in rounds:
        processes = _launch(params, Path("."), name)[0]  # the sequence-parallel degree must divide them
        validate(config_for(params, name), name, cfg_json, world_size=processes)
    lines.append(f"training settings: checked against {source}")
    return lines
