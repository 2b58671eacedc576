"""How the train stage launches a multi-node run: the master address, the environment the workers get
(no credentials, in `.deepspeed_env` or elsewhere) and the git-ignored file accelerate writes."""

import json
import os
import shutil
import subprocess

import yaml
from stagecmd import run_stage

from booktrans.train.launch import first_host, launch_command, launch_env

FAKE_DEEPSPEED = """#!/bin/sh
# stands in for DeepSpeed's multi-node runner: records what accelerate hands it, starts nothing
cp .deepspeed_env "$CAPTURE/deepspeed_env"
echo "$@" > "$CAPTURE/argv"
"""


def test_the_workers_get_no_credentials_and_the_master_is_the_hostfiles_first_host(tiny_base, root, tmp_path):
    """The real accelerate launcher on a 2-node config up to the point where DeepSpeed's runner would
    ssh to the hosts: a stand-in `deepspeed` records the .deepspeed_env file and the arguments."""
    proj = tmp_path / "project"
    (proj / "configs" / "accelerate").mkdir(parents=True)
    (proj / "configs" / "deepspeed").symlink_to(root / "configs" / "deepspeed")
    acc = yaml.safe_load((root / "configs" / "accelerate" / "3x8-h100-zero2.yaml").read_text())
    acc.update(num_machines=2, num_processes=2)
    (proj / "configs" / "accelerate" / "2nodes.yaml").write_text(yaml.safe_dump(acc))
    (proj / "configs" / "hostfile").write_text("# written by the SLURM wrapper\nnode-a17 slots=1\nnode-b03 slots=1\n")
    shutil.copytree(tiny_base, proj / "models" / "r0")
    params = yaml.safe_load((root / "params.yaml").read_text())
    # select: last, as the stand-in trains nothing and so leaves no checkpoints to score
    params["train"].update(launcher="accelerate", accelerate_config="configs/accelerate/2nodes.yaml", select="last")
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    (proj / "bin").mkdir()
    (proj / "bin" / "deepspeed").write_text(FAKE_DEEPSPEED)
    (proj / "bin" / "deepspeed").chmod(0o755)
    capture = tmp_path / "capture"
    capture.mkdir()
    env = dict(
        os.environ,
        PATH=f"{proj / 'bin'}:{os.environ['PATH']}",
        CAPTURE=str(capture),
        HF_TOKEN="hf_do_not_leak",
        AWS_SECRET_ACCESS_KEY="aws_do_not_leak",
        WANDB_API_KEY="wandb_do_not_leak",
        SSH_AUTH_SOCK="/tmp/ssh-agent-test/agent.1",
        TOKENIZERS_PARALLELISM="false",
    )
    res = run_stage("train@r1", proj, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    written = (capture / "deepspeed_env").read_text()
    assert "do_not_leak" not in written and "HF_TOKEN" not in written  # what every node would export
    assert "TOKENIZERS_PARALLELISM=false" in written and "ACCELERATE_USE_DEEPSPEED=true" in written  # the rest goes on
    assert "SSH_AUTH_SOCK=/tmp/ssh-agent-test/agent.1" in written  # pdsh still reaches the ssh agent
    argv = (capture / "argv").read_text().split()
    assert argv[argv.index("--master_addr") + 1] == "node-a17" and "--hostfile" in argv
    assert "HF_TOKEN" in res.stderr and "hf_do_not_leak" not in res.stderr  # names only, in the log
    assert not (proj / ".deepspeed_env").exists()  # removed after the launch
    ignored = subprocess.run(["git", "check-ignore", "-q", ".deepspeed_env"], cwd=root)
    assert ignored.returncode == 0


def test_launch_helpers_name_the_file_and_the_reason(tmp_path):
    import pytest

    from booktrans.errors import ConfigError

    with pytest.raises(ConfigError, match="hostfile not found"):
        first_host(tmp_path / "hostfile")
    (tmp_path / "hostfile").write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="no host"):
        first_host(tmp_path / "hostfile")
    cfg = tmp_path / "one.yaml"
    cfg.write_text(json.dumps({"num_machines": 1, "num_processes": 8}))
    cmd = launch_command(cfg, "stages/train.py", ["--round", "r1"])
    assert "--main_process_ip" not in cmd and cmd[-3:] == ["stages/train.py", "--round", "r1"]
    kept, dropped = launch_env(
        {
            "HF_TOKEN": "x",
            "GITHUB_TOKEN": "x",
            "AWS_SESSION_TOKEN": "x",
            "MY_DB_PASSWORD": "x",
            "OPENAI_API_KEY": "x",
            "TOKENIZERS_PARALLELISM": "false",
            "PATH": "/bin",
            "MASTER_ADDR": "n1",
            "SLURM_JOB_ID": "7",
            # agent sockets stay (pdsh needs the ssh agent); a token named like one does not
            "SSH_AUTH_SOCK": "/tmp/a",
            "SSH_AGENT_PID": "42",
            "GPG_AGENT_INFO": "/run/g",
            "SSH_AUTH_SOCK_TOKEN": "x",
            "PROXY_AUTH": "x",
        }
    )
    assert set(kept) == {
        "TOKENIZERS_PARALLELISM",
        "PATH",
        "MASTER_ADDR",
        "SLURM_JOB_ID",
        "SSH_AUTH_SOCK",
        "SSH_AGENT_PID",
        "GPG_AGENT_INFO",
    }
    assert len(dropped) == 7
