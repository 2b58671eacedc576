"""The DVC pipeline on the embedded sample, end to end, in copies of the project.

One module-scoped run backs most tests here: the full graph runs, a second `dvc repro` runs
nothing, a second clean run elsewhere gives the same hash for every output, a reviewer pulls one
round's outputs from a local remote and re-scores without retraining, an expert reviewer's
`dvc pull review` brings the packet but never its key, a change to one round-3 param re-runs only
round 3, round 4 and what depends on them (tagged as round releases and compared with
`dvc metrics diff`), and a fifth round added to params.yaml alone runs and reaches the report. The params are trimmed (a
few paragraphs of the test book, one epoch, a few documents per round) so the two full runs fit the suite's time budget.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
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


def git(cwd: Path, *args: str) -> str:
    res = subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, capture_output=True, text=True
    )
    if res.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {res.stderr}")
    return res.stdout


def trim(project: Path) -> None:
    """The same graph, made quicker."""
    set_param(project, "translate.max_paragraphs", 2)
    for r in ("r1", "r2", "r3", "r4"):
        set_param(project, f"rounds.{r}.epochs", 1)
        set_param(project, f"rounds.{r}.max_docs", 8)


def out_hashes(project: Path) -> dict[str, str]:
    """Every output of every stage in dvc.lock: path -> md5 (folders: the hash of their listing)."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for st in lock["stages"].values() for o in st.get("outs", [])}


def copy_project(root: Path, dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for f in files:
        src = root / f
        if src.is_file() and not f.startswith(("dvc.lock", "reports/", "models/")):
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "copy"],
    ):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest


_STARTED: dict = {}
RUNS = ("project", "twin")
RUN_TIMEOUT = 1800  # seconds ``runs`` waits for the runs' exit status before it gives up


def _runs_dir(factory) -> Path:
    """Where the two runs live. Under pytest-xdist each worker has its own base temp folder inside
    the session's, so the runs go in the session's: every worker finds them."""
    base = factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "pipeline-runs"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    return True


def _finish(proc: subprocess.Popen, rc_file: Path) -> None:
    """Write the run's exit status next to its logs once it ends (atomically: a reader sees all or nothing)."""
    code = proc.wait()
    tmp = rc_file.with_suffix(".tmp")
    tmp.write_text(str(code))
    os.replace(tmp, rc_file)


def start_runs(root: Path, factory) -> None:
    """Start the two `dvc repro` runs (each mostly one core of single-threaded start-up work) in the
    background, lowered in priority. tests/conftest.py calls this as soon as the tests are collected,
    so the runs go on beside the rest of the suite; ``runs`` waits for them. Under pytest-xdist every
    worker calls it and the first to create the runs' folder starts them: the worker that gets this
    module may be another one, and reads their exit status and logs from that folder."""
    if _STARTED:
        return
    where = _runs_dir(factory)
    try:
        where.mkdir(parents=True)
    except FileExistsError:
        _STARTED["owner"] = False  # another worker started them
        return
    (where / "owner.pid").write_text(str(os.getpid()))
    env = {**_env(), "OMP_NUM_THREADS": "1"}
    started = []
    _STARTED.update(owner=True, runs=started)
    try:
        for name in RUNS:
            (where / name).mkdir()
            d = trim_copy(root, where / name)
            with open(where / f"{name}.out", "w") as out, open(where / f"{name}.err", "w") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "dvc", "repro"],
                    cwd=d,
                    env=env,
                    stdout=out,
                    stderr=err,
                    text=True,
                    preexec_fn=lambda: os.nice(5),
                )
            watch = threading.Thread(target=_finish, args=(proc, where / f"{name}.rc"), daemon=True)
            watch.start()
            started.append((proc, watch))
    except Exception as exc:  # the readers must not wait for runs that never started
        (where / "start.error").write_text(f"{type(exc).__name__}: {exc}")
        raise


def stop_runs(wait: bool) -> None:
    """At the end of the session of the process that started the runs: wait for them when another
    worker may still need them (``wait``), else kill them (a session cut short must not leave them)."""
    for proc, watch in _STARTED.get("runs", []):
        if proc.poll() is None and not wait:
            proc.kill()
        proc.wait()
        watch.join()


@pytest.fixture(scope="module")
def runs(root, tmp_path_factory):
    """Two copies of the project run `dvc repro` side by side from a clean state. The first backs
    most tests; the second is the determinism twin."""
    start_runs(root, tmp_path_factory)
    where = _runs_dir(tmp_path_factory)
    results = []
    for name in RUNS:
        rc_file, waited = where / f"{name}.rc", 0.0
        while not rc_file.exists():
            if (where / "start.error").exists():
                raise AssertionError(f"{where}: the runs did not start: {(where / 'start.error').read_text()}")
            owner = (where / "owner.pid").read_text() if (where / "owner.pid").exists() else ""
            if waited > RUN_TIMEOUT or (owner and not _alive(int(owner)) and not rc_file.exists()):
                raise AssertionError(f"{where / name}: `dvc repro` gave no exit status (waited {waited:.0f} s)")
            time.sleep(0.5)
            waited += 0.5
        out, err = (where / f"{name}.out").read_text(), (where / f"{name}.err").read_text()
        res = subprocess.CompletedProcess([sys.executable, "-m", "dvc", "repro"], int(rc_file.read_text()), out, err)
        if res.returncode != 0:
            raise AssertionError(f"dvc repro in {where / name} failed:\n{out[-3000:]}\n{err[-3000:]}")
        results.append((where / name, res))
    return results


@pytest.fixture(scope="module")
def project(runs):
    return runs[0]


def trim_copy(root: Path, dest: Path) -> Path:
    copy_project(root, dest)
    trim(dest)
    return dest


HEADLINE = (
    "bleu",
    "chrf",
    "ter",
    "d_bleu",
    "omission_rate",
    "addition_rate",
    "coverage",
    "length_ratio",
    "repetition_rate",
    "untranslated_rate",
    "empty_translations",
    "wrong_language_chunks",
)


def test_first_repro_runs_every_stage_and_writes_every_output(project):
    dest, first = project
    stages = ran(first)
    expected = {
        "ingest",
        "corrections",
        "align",
        "proofread",
        "base",
        "review",
        "review-key",
        "review-scores",
        "compare",
        "report",
    }
    expected |= {f"{s}@r{i}" for s in ("dataset", "train", "round-summary") for i in range(1, 5)}
    expected |= {f"{s}@r{i}" for s in ("translate", "evaluate") for i in range(0, 5)}
    expected |= {"translate-system@deepseek", "evaluate-system@deepseek"}  # skipped without a key, never failed
    assert stages == expected
    for r in ("r0", "r1", "r2", "r3", "r4"):
        m = json.loads((dest / "reports" / "metrics" / f"{r}.json").read_text())
        for d in ("zh-en", "en-zh"):
            assert set(HEADLINE) <= set(m["directions"][d]) and "absent" in m["directions"][d]["comet_absent"]
        details = json.loads((dest / "reports" / "evaluation" / r / "details.json").read_text())
        assert "tok:13a" in details["directions"]["zh-en"]["signatures"]["bleu"]
        assert "tok:zh" in details["directions"]["en-zh"]["signatures"]["bleu"]
        curve = json.loads((dest / "reports" / "evaluation" / r / "position.json").read_text())["position"]
        assert len(curve) == 10 and all("zh-en_length_ratio" in row for row in curve)
        assert (dest / "reports" / "evaluation" / r / "segments" / "night-train.zh-en.jsonl").exists()
    # the random base model's output is not English: flagged, never a silent low score
    r0 = json.loads((dest / "reports" / "metrics" / "r0.json").read_text())["directions"]["zh-en"]
    assert r0["flags"] >= 1 and r0["wrong_language_chunks"] + r0["empty_translations"] >= 1
    page = (dest / "reports" / "index.html").read_text()
    for d in ("zh-en", "en-zh"):
        table = page.split(f'data-direction="{d}"')[1].split("</table>")[0]
        assert len(re.findall(r"<tr><th>r\d", table)) == 5
    assert "say nothing about translation quality" in page
    # significance of every round against the one before and r0, per genre and book, and the verdicts
    cmp = json.loads((dest / "reports" / "compare.json").read_text())
    for d in ("zh-en", "en-zh"):
        assert {"r1 vs r0", "r4 vs r3", "r4 vs r0"} <= set(cmp["directions"][d]["comparisons"])
        assert set(cmp["directions"][d]["breakdown"]["genre"]) == {"novel"}
    assert set(cmp["decision"]) == {"r0", "r1", "r2", "r3", "r4"}
    assert 'id="decision-table"' in page and 'class="significance"' in page and 'class="breakdown"' in page
    human = json.loads((dest / "reports" / "review" / "human.json").read_text())
    assert human["ratings"] == 0 and human["status"].startswith("absent")
    assert {"form.html", "sheet.csv", "sheet.xlsx", "README.txt"} <= {
        p.name for p in (dest / "reports" / "review" / "packet").iterdir()
    }
    # proofreading: sheets per book, the sample's figures in the align report, the report and the card
    for book in ("lighthouse", "night-train", "prob-textbook", "sky-blue"):
        assert {"form.html", "sheet.csv", "sheet.xlsx"} <= {
            p.name for p in (dest / "reports" / "proofread" / book).iterdir()
        }
    exported = json.loads((dest / "reports" / "proofread" / "summary.json").read_text())
    assert exported["four-seasons"]["exported"] == 0 and exported["four-seasons"]["checked_before"] >= 20  # all decided
    align = json.loads((dest / "reports" / "align.json").read_text())
    assert align["lighthouse"]["proofreading"]["sample"]["size"] == 20
    # the committed completed sheet of the poems (saved from the form) is applied and measured
    poems = align["four-seasons"]["proofreading"]
    assert (
        poems["checked"] >= 20 and poems["corrected"] >= 2 and poems["stale"] == [] and poems["sample"]["judged"] >= 10
    )
    assert f"{poems['sample']['precision']:.1%}" in (dest / "reports" / "dataset" / "r1.md").read_text()
    assert (
        'id="proofreading"' in page
        and "Alignment quality (proofreading)" in (dest / "reports" / "dataset" / "r1.md").read_text()
    )
    ingest = json.loads((dest / "reports" / "ingest.json").read_text())
    assert ingest["summary"] == {"books": 5, "ok": 5, "failed": 0}
    # round N starts from round N-1: the adapter of r2 was trained from r1's output
    lock = yaml.safe_load((dest / "dvc.lock").read_text())
    deps = {d["path"] for d in lock["stages"]["train@r2"]["deps"]}
    assert "models/r1" in deps
    for doc in map(json.loads, (dest / "data" / "sft" / "r1" / "train.jsonl").read_text().splitlines()):
        assert doc["meta"]["tokens"] <= 256 and doc["meta"]["split"] == "train"
    # DVCLive logged every round's steps beside the hashed outputs
    live = json.loads((dest / "reports" / "train" / "live" / "r2" / "metrics.json").read_text())
    assert {"loss", "learning_rate", "tokens_per_second", "memory_mb"} <= set(live)


def test_second_repro_runs_nothing(project):
    dest, _ = project
    again = dvc(dest, "repro")
    assert ran(again) == set()
    assert "didn't change" in again.stdout or "Data and pipelines are up to date" in again.stdout


def test_two_clean_runs_give_identical_hashes_for_every_output(runs):
    """A second copy, fresh caches and all, run from scratch: the same hash for every output of
    every stage (texts, alignments, documents, models, translations, metrics, report)."""
    (dest, _), (twin, _) = runs
    first, second = out_hashes(dest), out_hashes(twin)
    assert len(first) >= 30 and {"models/r4", "data/sft/r1", "reports/translations/r3", "reports/index.html"} <= set(
        first
    )
    differing = {p for p in first if first[p] != second.get(p)}
    assert differing == set(), f"outputs that differ between two clean runs: {sorted(differing)}"
    assert (dest / "dvc.lock").read_text() == (twin / "dvc.lock").read_text()


def test_reviewer_pulls_one_round_from_a_remote_and_rescores_without_retraining(project, tmp_path):
    dest, _ = project
    remote = tmp_path / "remote"
    dvc(dest, "remote", "add", "-d", "store", str(remote))
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "round 2 results")
    git(dest, "tag", "-a", "round-2", "-m", "round 2")
    dvc(dest, "push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "round-2", str(dest), str(clone))
    assert not (clone / "models").exists()
    dvc(clone, "pull", "train@r2")
    assert (clone / "models" / "r2" / "adapter_model.safetensors").exists()
    assert not (clone / "models" / "r1").exists() and not (clone / "data").joinpath("sft").exists()
    pulled = [f for f in (clone / ".dvc" / "cache").rglob("*") if f.is_file()]
    listed = [f for f in (dest / "models" / "r2").rglob("*") if f.is_file()]
    assert len(pulled) <= len(listed) + 1  # the round's files and its folder listing, nothing else
    assert json.loads((clone / "models" / "r2" / "booktrans.json").read_text()) == json.loads(
        (dest / "models" / "r2" / "booktrans.json").read_text()
    )

    # the reviewer changes the evaluation code: only evaluation re-runs, from pulled translations
    ev = clone / "stages" / "evaluate.py"
    ev.write_text(ev.read_text() + "\n# reviewer's change\n")
    res = dvc(clone, "repro", "--pull", "--allow-missing")
    stages = ran(res)
    assert (
        {f"evaluate@r{i}" for i in range(5)}
        <= stages
        <= {f"evaluate@r{i}" for i in range(5)}
        | {"review", "review-key", "review-scores", "compare", "report", "evaluate-system@deepseek"}
    )
    assert not (clone / "models" / "r1").exists() and not (clone / "models" / "r4").exists()
    for i in range(5):
        assert (clone / "reports" / "metrics" / f"r{i}.json").read_text() == (
            dest / "reports" / "metrics" / f"r{i}.json"
        ).read_text()


def test_changing_a_round3_param_reruns_only_round3_round4_and_their_dependants(project):
    """...and the two states, tagged as round releases, compare with `dvc metrics diff`."""
    dest, _ = project
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "before", "--allow-empty")
    git(dest, "tag", "-a", "round-3", "-m", "round 3, first learning rate")
    set_param(dest, "rounds.r3.learning_rate", 3.0e-3)
    res = dvc(dest, "repro")
    stages = ran(res)
    allowed = {
        "train@r3",
        "train@r4",
        "translate@r3",
        "translate@r4",
        "evaluate@r3",
        "evaluate@r4",
        "round-summary@r3",
        "round-summary@r4",
        "review",
        "review-key",
        "review-scores",
        "compare",
        "report",
    }
    assert {"train@r3", "train@r4", "translate@r3", "translate@r4"} <= stages <= allowed
    assert ran(dvc(dest, "repro")) == set()
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "after")
    git(dest, "tag", "-a", "round-4", "-m", "round 3 and 4 retrained")
    diff = json.loads(dvc(dest, "metrics", "diff", "round-3", "round-4", "--all", "--json").stdout)
    files = {Path(f).stem for f in diff}
    assert files == {"r0", "r1", "r2", "r3", "r4", "human", "deepseek", "compare"}
    r3 = diff["reports/metrics/r3.json"]
    for d in ("zh-en", "en-zh"):
        for key in HEADLINE:
            assert f"directions.{d}.{key}" in r3 and {"old", "new"} <= set(r3[f"directions.{d}.{key}"]), key
            assert f"books.night-train.{d}.{key}" in r3, key
    trained = yaml.safe_load(git(dest, "show", "round-4:dvc.lock"))["stages"]["train@r3"]["outs"][0]["md5"]
    before = yaml.safe_load(git(dest, "show", "round-3:dvc.lock"))["stages"]["train@r3"]["outs"][0]["md5"]
    assert trained != before  # the tags pin different round-3 models


def test_round_models_register_in_the_model_registry(project):
    """dvc.yaml declares each round's model as an artifact; gto (installed with DVC) versions them."""
    dest, _ = project
    gto = str(Path(sys.executable).parent / "gto")
    res = subprocess.run(
        [gto, "register", "translator-r3", "--version", "v1.0.0"], cwd=dest, capture_output=True, text=True, env=_env()
    )
    assert res.returncode == 0, res.stderr
    assert "translator-r3@v1.0.0" in git(dest, "tag")
    shown = subprocess.run([gto, "show", "--json"], cwd=dest, capture_output=True, text=True, env=_env())
    assert "translator-r3" in shown.stdout and "v1.0.0" in shown.stdout


def test_metrics_diff_and_show_cover_every_round(project):
    dest, _ = project
    shown = dvc(dest, "metrics", "show", "--json")
    data = json.loads(shown.stdout)
    files = next(iter(data.values()))["data"]
    assert {Path(f).stem for f in files} >= {"r0", "r1", "r2", "r3", "r4"}
    # every metric over the rounds, and length ratio / omissions over position, one line per round
    plots = json.loads(dvc(dest, "plots", "show", "--json").stdout)["data"]
    assert {
        "quality over rounds",
        "omissions and length over rounds",
        "length ratio over position",
        "omission rate over position",
    } <= set(plots)
    rounds = json.loads((dest / "reports" / "plots" / "rounds.json").read_text())["rounds"]
    assert [r["round"] for r in rounds] == ["r0", "r1", "r2", "r3", "r4"] and "en-zh_omission_rate" in rounds[0]
    # one line per round over position: the template colours by round
    pos = plots["length ratio over position"][0]
    points = pos["datapoints"]["workspace"] if "datapoints" in pos else pos["content"]["data"]["values"]
    assert {p["round"] for p in points} == {"r0", "r1", "r2", "r3", "r4"} and {p["field"] for p in points} == {
        "zh-en_length_ratio",
        "en-zh_length_ratio",
    }
    assert '"field": "round"' in json.dumps(pos)


def test_an_expert_reviewer_pulls_the_packet_but_never_the_key(project, tmp_path):
    """The key is another stage's output: `dvc pull review` from the team's remote does not fetch it,
    not into the workspace nor into the reviewer's cache; whoever unblinds pulls `review-key`."""
    dest, _ = project
    remote = tmp_path / "remote"
    dvc(dest, "remote", "add", "-f", "keytest", str(remote))
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "review packet", "--allow-empty")
    dvc(dest, "push", "-r", "keytest")
    clone = tmp_path / "reviewer"
    git(tmp_path, "clone", "-q", str(dest), str(clone))
    dvc(clone, "pull", "-r", "keytest", "review")
    packet = clone / "reports" / "review" / "packet"
    assert (packet / "form.html").read_bytes() == (dest / "reports" / "review" / "packet" / "form.html").read_bytes()
    assert not (clone / "reports" / "review" / "key.json").exists()
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    key_md5 = lock["stages"]["review-key"]["outs"][0]["md5"]
    cached = {f.parent.name + f.name for f in (clone / ".dvc" / "cache").rglob("*") if f.is_file()}
    assert key_md5 not in cached and len(key_md5) == 32
    assert key_md5 in {f.parent.name + f.name for f in remote.rglob("*") if f.is_file()}  # the team's copy is there
    dvc(clone, "pull", "-r", "keytest", "review-key")
    assert (
        json.loads((clone / "reports" / "review" / "key.json").read_text())["packet"]
        in (packet / "README.txt").read_text()
    )


def test_a_round_added_to_params_alone_runs_and_reaches_the_report(runs):
    """dvc.yaml names no round in review-scores, report or the plots: r5 in params.yaml is enough.
    Its dataset, training and summary run and reach the report (kept cheap: r5 is not translated);
    added to translate.rounds, its evaluation feeds review-scores and the report in the graph. Runs
    in the determinism twin, after its hashes were compared."""
    (twin, _) = runs[1]
    spec = yaml.safe_load((twin / "dvc.yaml").read_text())

    def named(x) -> list[str]:
        return re.findall(r"\br\d+\b", json.dumps(x))

    for stage in ("review", "review-key", "review-scores", "report"):
        assert named({k: spec["stages"][stage].get(k) for k in ("cmd", "deps", "outs", "metrics")}) == [], stage
    assert named(spec["plots"]) == []
    data = yaml.safe_load((twin / "params.yaml").read_text())
    data["rounds"]["r5"] = {**data["rounds"]["r4"], "init": "r4", "max_steps": 2}
    (twin / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    stages = ran(dvc(twin, "repro"))
    assert {"dataset@r5", "train@r5", "round-summary@r5", "report"} <= stages
    assert not stages & {f"train@r{i}" for i in range(1, 5)}
    summary = json.loads((twin / "reports" / "rounds" / "r5.json").read_text())
    assert summary["loss"] and summary["data"]["round"] == "r5"
    page = (twin / "reports" / "index.html").read_text()
    loss = page.split('id="loss"')[1].split("</section>")[0]
    data_table = page.split('id="data"')[1].split("</section>")[0]
    assert '"round": "r5"' in loss and "<th>r5</th>" in data_table  # r5's points in the loss chart's data
    # translated and scored too: only params change, and the graph carries r5's metrics onwards
    data["translate"]["rounds"].append("r5")
    (twin / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    dot = dvc(twin, "dag", "--dot").stdout
    for target in ("review-scores", "compare", "report", "review", "review-key"):
        assert re.search(rf'"evaluate@r5"\s*->\s*"{target}"', dot), target
    assert re.search(r'"translate@r5"\s*->\s*"evaluate@r5"', dot) and re.search(
        r'"train@r5"\s*->\s*"translate@r5"', dot
    )
    changed = set(json.loads(dvc(twin, "status", "--json").stdout))
    assert {"translate@r5", "evaluate@r5", "review-scores", "compare", "report"} <= changed
