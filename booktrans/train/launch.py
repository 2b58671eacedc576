"""How the train stage starts its workers under `accelerate launch`.

- The master address of a multi-node run is the first host of the DeepSpeed hostfile that the
  accelerate config names (configs/slurm/train-3x8.sbatch writes that file from the allocation), so a
  new allocation needs no edit of the config.
- The workers get the stage's environment minus anything that looks like a credential. Agent sockets
  (SSH_AUTH_SOCK and the like) stay: they name a socket, not a secret, and DeepSpeed's runner needs
  the ssh agent to reach the other nodes through pdsh on clusters that use one. On several
  nodes accelerate writes the environment it launches with into `.deepspeed_env` in the working
  directory, and DeepSpeed's runner exports every line of it on every node (on the pdsh command line),
  so a token in the environment would end up in a file and in remote process listings. The file is
  git-ignored, removed before and after each launch, and never holds a credential.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from ..errors import ConfigError

DEEPSPEED_ENV = ".deepspeed_env"
# names of variables that hold credentials (matched case-insensitively, anywhere in the name)
SECRET = re.compile(
    r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|API_?KEY|ACCESS_KEY(_ID)?|PRIVATE_KEY|"
    r"AUTH|COOKIE)(_|$)",
    re.IGNORECASE,
)
# agent sockets and their process ids: the path of a socket only its owner can open, not a credential
AGENT = re.compile(r"(^|_)(AUTH_SOCK|AGENT_SOCK|AGENT_PID|AGENT_INFO)$", re.IGNORECASE)


def read_accelerate_config(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"train.accelerate_config: {path} not found") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not an accelerate config (expected a mapping)")
    return data


def first_host(hostfile: str | Path) -> str:
    """The first host of a DeepSpeed hostfile ("hostname slots=N" per line, # comments)."""
    try:
        lines = Path(hostfile).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(
            f"{hostfile}: hostfile not found; write it from the allocation (configs/slurm/train-3x8.sbatch "
            f"does) or copy configs/hostfile.example"
        ) from None
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            return line.split()[0]
    raise ConfigError(f"{hostfile}: no host in the hostfile")


def launch_command(config_path: str | Path, script: str | Path, script_args: list[str]) -> list[str]:
    """`accelerate launch` of ``script`` with the config file, the master address added for several nodes."""
    cfg = read_accelerate_config(config_path)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_path)]
    if int(cfg.get("num_machines") or 1) > 1:
        ds = cfg.get("deepspeed_config") or {}
        hostfile = ds.get("deepspeed_hostfile")
        if not hostfile:
            raise ConfigError(f"{config_path}: num_machines > 1 needs deepspeed_config.deepspeed_hostfile")
        cmd += ["--main_process_ip", first_host(hostfile)]
    return cmd + [str(script), *script_args]


def launch_env(environ: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(the environment for the workers, the names left out because they look like credentials)."""
    dropped = sorted(k for k in environ if SECRET.search(k) and not AGENT.search(k))
    return {k: v for k, v in environ.items() if k not in dropped}, dropped
