"""The params layer (booktrans.params): params.yaml read once into typed records; a key no record
declares, a value of the wrong type or a missing key is named with the file and the key's full path,
by `booktrans preflight` and by the stages; the booktrans commands take their defaults from the same
params.yaml."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from stagecmd import ROOT, stage_command

from booktrans.errors import ConfigError
from booktrans.params import DEFAULTS, Params, defaults, from_dict, load, to_dict


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "booktrans.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(os.path.dirname(os.path.dirname(__file__)))),
    )


def _write(path, data):
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_every_section_of_params_yaml_round_trips_through_its_record(root):
    raw = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    p = load(root / "params.yaml")
    # every section of the file has a record, and the record gives back exactly what the file says
    assert set(raw) == set(to_dict(p))
    for section, value in raw.items():
        if section == "seed":
            assert p.seed == value
        elif section == "rounds":
            assert {name: to_dict(r) for name, r in p.rounds.items()} == value
        else:
            assert to_dict(getattr(p, section)) == value, section
    assert from_dict(to_dict(p)) == p
    # the cluster profile and the sparse round-5 experiment are checked the same way, and round-trip
    cluster = load(root / "params.yaml", [root / "configs/cluster-24xh100.yaml", root / "configs/sparse-r5.yaml"])
    assert from_dict(to_dict(cluster)) == cluster
    assert cluster.rounds["r5"].sparse_attention["kind"] == "moba" and cluster.round_train("r3").sequence_parallel == 4
    assert cluster.round_train("r1").sequence_parallel == 1  # train's value where the round gives none


def test_the_package_ships_the_projects_params_yaml(root):
    """One file: the defaults the booktrans command falls back on outside a project are params.yaml."""
    assert DEFAULTS.read_bytes() == (root / "params.yaml").read_bytes()
    assert defaults() == load(root / "params.yaml")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["train"].update(bogus=1), "params.yaml: train.bogus: unknown key"),
        (lambda d: d["rounds"]["r2"].update(bogus=1), "params.yaml: rounds.r2.bogus: unknown key"),
        (lambda d: d["train"]["lora"].update(rank=4), "params.yaml: train.lora.rank: unknown key"),
        (lambda d: d.update(trian={"batch_size": 2}), "params.yaml: trian: unknown key (did you mean train?)"),
        (
            lambda d: d["rounds"]["r1"].update(learning_rate="2e-3x"),
            "params.yaml: rounds.r1.learning_rate: expected a number, got '2e-3x' (str)",
        ),
        (
            lambda d: d["train"].update(liger=True),
            "params.yaml: train.liger: expected text, got True (bool): YAML reads on/off",
        ),
        (
            lambda d: d["train"].update(batch_size=1.5),
            "params.yaml: train.batch_size: expected a whole number, got 1.5",
        ),
        (lambda d: d["translate"].update(rounds="r1"), "params.yaml: translate.rounds: expected a list, got 'r1'"),
        (
            lambda d: d["ingest"].update(on_error="ignore"),
            "params.yaml: ingest.on_error: 'ignore' is not one of fail, skip",
        ),
        (lambda d: d["rounds"]["r3"].pop("epochs"), "params.yaml: rounds.r3.epochs: missing"),
    ],
)
def test_a_wrong_key_or_value_is_named_with_the_file_and_its_full_path(root, edit, message):
    data = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    edit(data)
    with pytest.raises(ConfigError) as err:
        from_dict(data, "params.yaml")
    assert str(err.value).startswith(message), str(err.value)


def test_a_typo_in_a_rounds_key_is_named_by_preflight_with_the_likely_key(root, tmp_path):
    """The real mistake: `lerning_rate` in one round. Before, the round trained with no error at all
    from the typo (the right key was read from elsewhere or its default)."""
    text = (root / "params.yaml").read_text(encoding="utf-8")
    r2 = text.index("  r2:\n")
    bad = text[:r2] + text[r2:].replace("learning_rate: 1.0e-3", "lerning_rate: 1.0e-3", 1)
    (tmp_path / "params.yaml").write_text(bad, encoding="utf-8")
    res = _cli("preflight", "--params", "params.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "params.yaml: 2 problems:" in res.stderr
    assert "rounds.r2.lerning_rate: unknown key (did you mean learning_rate?)" in res.stderr
    assert "rounds.r2.learning_rate: missing" in res.stderr


def _stage_names() -> list[str]:
    """One instance of every dvc.yaml stage that reads params (its command passes --params)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    names = []
    for name, st in spec.items():
        if "--params" not in (st.get("do") or st)["cmd"]:
            continue
        if "foreach" in st:
            over = params
            for part in st["foreach"].strip()[2:-1].split("."):
                over = over[part]
            name = f"{name}@{next(iter(over))}"
        names.append(name)
    return names


def test_preflight_and_every_stage_reject_an_unknown_key(root, tmp_path):
    data = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    data["train"]["bogus"] = 1
    data["rounds"]["r2"]["bogus"] = 2
    _write(tmp_path / "params.yaml", data)
    res = _cli("preflight", "--params", "params.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert (
        "params.yaml: 2 problems:" in res.stderr
        and "train.bogus: unknown key" in res.stderr
        and "rounds.r2.bogus: unknown key" in res.stderr
    )
    # every stage, run as dvc runs it, stops before its first read or write (all started at once)
    names = _stage_names()
    assert {"ingest", "align", "train@r1", "translate@r0", "evaluate@r0", "report"} <= set(names), names
    runs = {
        n: subprocess.Popen(
            stage_command(n, tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for n in names
    }
    for name, proc in runs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2 and "Traceback" not in err, (name, err[-2000:])
        assert "error: params.yaml: 2 problems:" in err and "rounds.r2.bogus: unknown key" in err, (name, err[-2000:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing read, nothing written


def test_a_profile_with_an_unknown_key_leaves_params_yaml_unchanged(root, tmp_path):
    shutil.copy(root / "params.yaml", tmp_path / "params.yaml")
    before = (tmp_path / "params.yaml").read_text(encoding="utf-8")
    _write(tmp_path / "profile.yaml", {"params": {"train": {"grad_acum": 4}}})
    res = _cli("profile", "apply", "profile.yaml", "--params", "params.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "train.grad_acum: unknown key (did you mean grad_accum?)" in res.stderr
    assert (tmp_path / "params.yaml").read_text(encoding="utf-8") == before
    res = _cli("plan", "--params", "params.yaml", "--profile", "profile.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "params.yaml + profile.yaml: train.grad_acum: unknown key" in res.stderr


def test_a_partial_params_file_takes_the_packaged_values(tmp_path):
    p = load(_write(tmp_path / "params.yaml", {"train": {"batch_size": 4}, "translate": {"rounds": ["r0", "r1"]}}))
    d = defaults()
    assert p.train.batch_size == 4 and p.train.lora == d.train.lora and p.translate.rounds == ("r0", "r1")
    assert p.translate.directions == d.translate.directions and p.rounds == d.rounds
    # 1e-4 is text to PyYAML but a number to YAML 1.2 and DVC (and `profile apply` writes 5e-05): a number
    r1 = {**to_dict(d.rounds["r1"]), "learning_rate": "5e-05"}
    p = load(_write(tmp_path / "params.yaml", {"rounds": {"r1": r1}}))
    assert p.rounds["r1"].learning_rate == 5e-05
    # a mapping of names the user chooses is taken whole, never merged with the packaged one
    p = load(_write(tmp_path / "params.yaml", {"rounds": {"r1": to_dict(d.rounds["r1"])}}))
    assert list(p.rounds) == ["r1"]
    assert isinstance(p, Params)


def test_a_default_changed_in_params_yaml_reaches_the_command(root, tmp_path):
    """`booktrans compare` left without --resamples and --seed: the project's compare.resamples and
    compare.seed (./params.yaml), else the packaged ones."""
    text = [
        " ".join(s.split())
        for s in (root / "data/sample/sky-blue.en.txt").read_text(encoding="utf-8").split(".")
        if len(s.split()) > 4
    ]
    ref = text[:40]
    hyp_a = [" ".join(s.split()[: len(s.split()) // 2]) for s in ref]  # half of every sentence dropped
    hyp_b = [s if k % 3 else " ".join(s.split()[1:]) for k, s in enumerate(ref)]
    for name, rows in (("ref", ref), ("a", hyp_a), ("b", hyp_b)):
        (tmp_path / f"{name}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ("compare", "ref.txt", "a.txt", "b.txt", "--src-lang", "zh", "--tgt-lang", "en", "--metric", "chrf")

    def run(*extra, cwd=tmp_path):
        res = _cli(*args[:1], *[str(tmp_path / a) if a.endswith(".txt") else a for a in args[1:]], *extra, cwd=cwd)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    packaged = run(cwd=outside)  # no params.yaml here: the packaged values (1000 resamples, seed 12345)
    assert packaged == run("--resamples", "1000", "--seed", "12345", cwd=outside)
    data = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    data["compare"].update(resamples=9, seed=3)
    _write(tmp_path / "params.yaml", data)
    project = run()
    assert project == run("--resamples", "9", "--seed", "3") and project != packaged
