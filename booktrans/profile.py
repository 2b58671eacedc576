"""Cluster profiles: a versioned YAML file whose `params:` mapping is merged into params.yaml
(comments in params.yaml are kept). The merged params are checked by booktrans.params (unknown keys,
types) before params.yaml is written."""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import ConfigError
from .io import atomic_write_text


def _merge(dst, src, prefix: str, changed: list[str]) -> None:
    for key, value in src.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(dst.get(key), dict):
            _merge(dst[key], value, dotted + ".", changed)
        else:
            if dst.get(key) != value:
                changed.append(dotted)
            dst[key] = value


def _profile_params(profile: Path) -> dict:
    try:
        data = yaml.safe_load(Path(profile).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{profile}: profile not found") from None
    if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
        raise ConfigError(f"{profile}: expected a top-level 'params:' mapping to merge into params.yaml")
    return data["params"]


def merged_params(profile: Path, params: dict) -> dict:
    """params with the profile's `params:` merged in, in memory (params.yaml is not touched)."""
    import copy

    out = copy.deepcopy(params)
    _merge(out, _profile_params(profile), "", [])
    return out


def apply_profile(profile: Path, params: Path) -> list[str]:
    """Merge ``profile``'s `params:` into ``params``; returns the dotted keys that changed."""
    from ruamel.yaml import YAML

    profile_params = _profile_params(profile)
    ry = YAML()
    ry.preserve_quotes = True
    ry.width = 4096
    doc = ry.load(params.read_text(encoding="utf-8"))
    changed: list[str] = []
    _merge(doc, profile_params, "", changed)
    from .params import from_dict

    from_dict(doc, f"{params} + {profile}")  # a wrong key in the profile stops here, before params.yaml changes
    import io

    buf = io.StringIO()
    ry.dump(doc, buf)
    atomic_write_text(params, buf.getvalue())
    return changed
