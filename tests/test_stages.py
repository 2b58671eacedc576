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


def _train_modules_reached(start: Path) -> set[str]:
    """booktrans/train/*.py files that ``start`` imports, directly or through other booktrans modules
    (imports inside functions included: the worker runs them)."""
    import ast

    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        if path.name != "__init__.py" and (path.parent / "__init__.py").is_file():
            todo.append(path.parent / "__init__.py")  # importing a module runs its package's __init__
        package = path.relative_to(ROOT).parent.parts
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = list(package[: len(package) - node.level + 1]) if node.level else []
                names = [base + (node.module.split(".") if node.module else [])]
                names += [n + [a.name] for n in names[:1] for a in node.names]  # `from . import x`: x may be a module
            elif isinstance(node, ast.Import):
                names = [a.name.split(".") for a in node.names]
            else:
                continue
            for parts in names:
                if parts and parts[0] == "booktrans":
                    todo += [ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")]
    return {str(p.relative_to(ROOT)) for p in seen if p.parent == ROOT / "booktrans" / "train"}


def test_the_train_stage_depends_on_every_training_module_but_not_on_the_planner():
    """dvc.yaml lists the training package file by file: a new module is a dependency (or its rounds would
    not retrain when it changes), and the planner is not (a planner change would retrain every round)."""
    deps = set(_stages()["train"]["do"]["deps"])
    train = {f"booktrans/train/{p.name}" for p in (ROOT / "booktrans" / "train").glob("*.py")}
    assert train - deps == {"booktrans/train/plan.py", "booktrans/train/memory.py"}
    assert "booktrans/train" not in deps and not any(d.startswith("booktrans/train/") and d not in train for d in deps)
    reached = _train_modules_reached(ROOT / "stages" / "train.py")
    assert "booktrans/train/rounds.py" in reached and "booktrans/train/trainer.py" in reached
    assert reached <= deps, f"the train stage imports {sorted(reached - deps)}, which dvc.yaml does not list"
