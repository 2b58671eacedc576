"""The DVC pipeline on the embedded sample, end to end, in a copy of the project.

One module-scoped run (about a minute and a half on 2 cores) backs every test here: the full graph
runs, a second `dvc repro` runs nothing, and a change to one round-3 param re-runs only round 3,
round 4 and what depends on them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROUND_STAGES = {"dataset", "train", "translate", "evaluate"}


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(DVC_NO_ANALYTICS="1", TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", PYTHONHASHSEED="0")
    return env


def dvc(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=_env(), capture_output=True, text=True)
    if check and res.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def ran(res: subprocess.CompletedProcess) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", res.stdout))


def set_param(project: Path, dotted: str, value) -> None:
    p = project / "params.yaml"
    data = yaml.safe_load(p.read_text())
    cur = data
    *parents, last = dotted.split(".")
    for k in parents:
        cur = cur[k]
    cur[last] = value
    p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def copy_project(root: Path, dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    for f in files:
        src = root / f
        if src.is_file() and not f.startswith(("dvc.lock", "reports/", "models/")):
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest


@pytest.fixture(scope="module")
def project(root, tmp_path_factory):
    dest = copy_project(root, tmp_path_factory.mktemp("project"))
    # the same graph, made quicker: a few paragraphs of the test book, one epoch per round
    set_param(dest, "translate.max_paragraphs", 3)
    for r in ("r1", "r2", "r3", "r4"):
        set_param(dest, f"rounds.{r}.epochs", 1)
    first = dvc(dest, "repro")
    return dest, first


def test_first_repro_runs_every_stage_and_writes_every_output(project):
    dest, first = project
    stages = ran(first)
    expected = {"ingest", "align", "base", "report"}
    expected |= {f"{s}@r{i}" for s in ("dataset", "train") for i in range(1, 5)}
    expected |= {f"{s}@r{i}" for s in ("translate", "evaluate") for i in range(0, 5)}
    assert stages == expected
    for r in ("r0", "r1", "r2", "r3", "r4"):
        m = json.loads((dest / "reports" / "metrics" / f"{r}.json").read_text())
        for d in ("zh-en", "en-zh"):
            assert {"bleu", "chrf", "length_ratio", "signatures"} <= set(m["directions"][d])
    page = (dest / "reports" / "index.html").read_text()
    assert len(re.findall(r"<tr><th>r\d", page)) == 5 and "say nothing about translation quality" in page
    ingest = json.loads((dest / "reports" / "ingest.json").read_text())
    assert ingest["summary"] == {"books": 5, "ok": 5, "failed": 0}
    # round N starts from round N-1: the adapter of r2 was trained from r1's output
    lock = yaml.safe_load((dest / "dvc.lock").read_text())
    deps = {d["path"] for d in lock["stages"]["train@r2"]["deps"]}
    assert "models/r1" in deps
    for doc in map(json.loads, (dest / "data" / "sft" / "r1" / "train.jsonl").read_text().splitlines()):
        assert doc["meta"]["tokens"] <= 256 and doc["meta"]["split"] == "train"


def test_second_repro_runs_nothing(project):
    dest, _ = project
    again = dvc(dest, "repro")
    assert ran(again) == set()
    assert "didn't change" in again.stdout or "Data and pipelines are up to date" in again.stdout


def test_changing_a_round3_param_reruns_only_round3_round4_and_their_dependants(project):
    dest, _ = project
    set_param(dest, "rounds.r3.learning_rate", 3.0e-3)
    res = dvc(dest, "repro")
    stages = ran(res)
    allowed = {"train@r3", "train@r4", "translate@r3", "translate@r4", "evaluate@r3", "evaluate@r4", "report"}
    assert {"train@r3", "train@r4", "translate@r3", "translate@r4"} <= stages <= allowed
    assert ran(dvc(dest, "repro")) == set()


def test_metrics_diff_and_show_cover_every_round(project):
    dest, _ = project
    shown = dvc(dest, "metrics", "show", "--json")
    data = json.loads(shown.stdout)
    files = next(iter(data.values()))["data"]
    assert {Path(f).stem for f in files} >= {"r0", "r1", "r2", "r3", "r4"}
