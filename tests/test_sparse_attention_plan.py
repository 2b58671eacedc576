"""The example rounds r5 (sparse) and r5d (dense control) of configs/sparse-r5.yaml, through the planner
and the training configuration, the way `make plan` and `dvc repro` read them."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import yaml

from booktrans.params import from_dict
from booktrans.profile import apply_profile, merged_params
from booktrans.train import config_for, validate
from booktrans.train.plan import Arch, attention_share, model_flops_per_token, plan
from booktrans.train.sparse import SparseAttention, kept_share


def test_the_profile_adds_r5_and_its_dense_control_and_the_planner_shows_both(root, tmp_path):
    params = tmp_path / "params.yaml"
    (tmp_path / "configs").symlink_to(root / "configs")  # the planner reads configs/ beside params.yaml
    params.write_text((root / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    apply_profile(root / "configs/cluster-24xh100.yaml", params)
    changed = apply_profile(root / "configs/sparse-r5.yaml", params)
    assert "rounds.r5" in changed and "rounds.r5d" in changed and "translate.rounds" in changed
    p = yaml.safe_load(params.read_text(encoding="utf-8"))
    r5, r5d = config_for(from_dict(p), "r5"), config_for(from_dict(p), "r5d")
    # same start, data settings and steps; only the attention differs
    same = {k: v for k, v in p["rounds"]["r5"].items() if k != "sparse_attention"}
    assert same == p["rounds"]["r5d"] and r5d.sparse_attention is None and r5.sparse_attention["kind"] == "moba"
    qwen = json.loads((root / "configs/models/qwen2.5-7b.json").read_text())
    # the example is a configuration that can run (flash-attn is a cluster package, so sdpa here)
    validate(dataclasses.replace(r5, attn_implementation="sdpa"), "r5", qwen, world_size=24)
    assert {"r5", "r5d"} <= set(p["translate"]["rounds"])

    res = subprocess.run(
        [sys.executable, "-m", "booktrans.cli", "plan", "--params", str(params), "--tokens", "30000000"],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert res.returncode == 0, res.stderr
    rows = {line.split()[0]: line.split() for line in res.stdout.splitlines() if line.split()[:1] in (["r5"], ["r5d"])}
    assert set(rows) == {"r5", "r5d"}
    assert rows["r5d"][-1] == "dense" and rows["r5"][-2] == "moba"
    share = float(rows["r5"][-1].rstrip("%")) / 100
    assert 0.2 < share < 0.5  # 25 sparse layers keep ~1/5, 3 dense layers keep all
    assert float(rows["r5"][10]) < float(rows["r5d"][10])  # fewer GPU-hours for the same steps
    assert rows["r5"][7] == rows["r5d"][7]  # same steps
    # the same through --profile twice, without touching params.yaml
    res2 = subprocess.run(
        [
            sys.executable,
            "-m",
            "booktrans.cli",
            "plan",
            "--params",
            str(root / "params.yaml"),
            "--profile",
            str(root / "configs/cluster-24xh100.yaml"),
            "--profile",
            str(root / "configs/sparse-r5.yaml"),
            "--tokens",
            "30000000",
        ],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert res2.returncode == 0 and res2.stdout == res.stdout

    # dvc expands r5 and r5d into every per-round stage, like any round
    (tmp_path / "dvc.yaml").write_text((root / "dvc.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=tmp_path, check=True, capture_output=True)
    listed = subprocess.run([dvc, "stage", "list"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    stages = {line.split()[0] for line in listed.splitlines() if line.strip()}
    for stage in ("dataset", "train", "translate", "evaluate", "round-summary"):
        assert {f"{stage}@r4", f"{stage}@r5", f"{stage}@r5d"} <= stages, stage


def test_attention_cost_is_scaled_by_the_share_kept(root):
    arch = Arch.from_config(json.loads((root / "configs/models/qwen2.5-7b.json").read_text()))
    params = merged_params(
        root / "configs/sparse-r5.yaml",
        merged_params(root / "configs/cluster-24xh100.yaml", yaml.safe_load((root / "params.yaml").read_text())),
    )
    r5, r5d = config_for(from_dict(params), "r5"), config_for(from_dict(params), "r5d")
    share = attention_share(arch, r5)
    moba = SparseAttention("moba", block=4096, topk=6, dense_layers=3)
    assert share == (3 + 25 * kept_share(moba, 131072)) / 28
    # at 128k the attention is most of a dense round's FLOPs; the sparse round's difference is all attention
    attn_dense = 3 * 2.0 * arch.layers * arch.hidden * 131072
    assert model_flops_per_token(arch, r5d) - model_flops_per_token(arch, r5) == attn_dense * (1 - share)
    # by hand, in blocks (32 of 4096 tokens): a query of block b keeps min(5, b) earlier blocks and half
    # of its own on average, against 32²/2 causal blocks: (0+1+2+3+4 + 27 x 5 + 32/2) / 512 = 161/512
    assert abs(kept_share(moba, 131072) - 161 / 512) < 1e-4
    # a window of 1024 keeps 1024 keys of nearly every query: 1024 / (131072 / 2)
    assert abs(kept_share(SparseAttention("window", window=1024), 131072) - 1024 / 65536) < 1e-4
    result = plan(from_dict(params), root, tokens=30_000_000)
    assert result["rounds"]["r5"]["attention_share"] == share and result["rounds"]["r5d"]["attention_share"] == 1.0
