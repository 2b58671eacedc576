"""The stage scripts are named after their DVC stages, one file each, and tests/stagecmd.py builds the
exact command dvc.yaml runs (foreach variables filled in from params.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml
from stagecmd import ROOT, stage_command


def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def test_every_stage_runs_the_script_named_after_it_and_every_script_is_a_stage():
    used = {}
    for name, spec in _stages().items():
        cmd = (spec.get("do") or spec)["cmd"]
        script = cmd.split()[1]
        assert script == f"stages/{name.replace('-', '_')}.py", (name, script)
        assert script in (spec.get("do") or spec)["deps"], f"{name}: its own script is not among its deps"
        used[script] = name
    assert sorted(used) == sorted(f"stages/{p.name}" for p in (ROOT / "stages").glob("*.py"))


def test_the_command_of_a_foreach_stage_is_filled_in_from_params(tmp_path):
    cmd = stage_command("train@r2", ROOT)
    assert cmd[1] == str(ROOT / "stages" / "train.py")
    assert cmd[cmd.index("--init") + 1] == "models/r1" and cmd[cmd.index("--out") + 1] == "models/r2"
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["rounds"]["r2"]["init"] = "r0"  # the working folder's params.yaml decides, as for DVC
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    cmd = stage_command("train@r2", tmp_path)
    assert cmd[cmd.index("--init") + 1] == "models/r0"
    system = next(iter(params["translate"]["systems"]))
    cmd = stage_command(f"evaluate-system@{system}", ROOT)
    assert cmd[cmd.index("--system") + 1] == system and cmd[cmd.index("--out") + 1] == f"reports/evaluation/{system}"
    assert Path(stage_command("review-key", ROOT)[1]).name == "review_key.py"
