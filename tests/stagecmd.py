"""Stages run by tests exactly as DVC runs them: the stage's `cmd` from dvc.yaml, its foreach
variables (${item}, ${key}, ${item.<field>}) filled in from the working folder's params.yaml, run
with the project's Python in that folder (the stage scripts of this checkout)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _lookup(params: dict, dotted: str):
    cur = params
    for part in dotted.split("."):
        cur = cur[part]
    return cur


def stage_command(stage: str, cwd: Path, dvc_yaml: Path = ROOT / "dvc.yaml") -> list[str]:
    """The argv DVC runs for ``stage`` (``name`` or ``name@key``) in ``cwd``."""
    name, _, key = stage.partition("@")
    spec = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"][name]
    if "foreach" in spec:
        params_file = cwd / "params.yaml" if (cwd / "params.yaml").exists() else ROOT / "params.yaml"
        params = yaml.safe_load(params_file.read_text(encoding="utf-8"))
        over = _lookup(params, spec["foreach"].strip()[2:-1])
        if isinstance(over, dict):
            item = over[key]
        else:
            assert key in over, f"{stage}: {key} is not in {spec['foreach']}"
            item = key
        cmd = spec["do"]["cmd"].replace("${key}", key)
        if isinstance(item, dict):
            for field, value in item.items():
                cmd = cmd.replace("${item.%s}" % field, str(value))
        cmd = cmd.replace("${item}", str(item))
    else:
        cmd = spec["cmd"]
    assert "${" not in cmd, f"{stage}: unexpanded variable in {cmd!r}"
    argv = shlex.split(cmd)
    assert argv[0] == "python" and argv[1].startswith("stages/"), cmd
    return [_python(), str(ROOT / argv[1]), *argv[2:]]


def run_stage(
    stage: str, cwd: Path, *extra: str, env: dict | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run ``stage`` as DVC would in ``cwd``; ``extra`` arguments come after the stage's own (argparse: the
    last of a repeated option wins). Returns the finished process (text stdout and stderr)."""
    return subprocess.run(
        [*stage_command(stage, Path(cwd)), *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
