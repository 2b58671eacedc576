import json
import shutil
import subprocess
import sys

import pytest
import yaml

from booktrans.errors import ConfigError, ManifestError, ModelError
from booktrans.manifest import load_manifest
from booktrans.params import from_dict
from booktrans.preflight import check_params
from booktrans.profile import apply_profile


def test_manifest_has_every_field_and_a_held_out_book(root):
    books = load_manifest(root / "data" / "books.yaml")
    assert {b.genre for b in books} == {"textbook", "novel", "popsci", "poetry"}
    assert any(b.split == "test" for b in books)
    assert all(b.source and b.license for b in books)
    exts = {(root / b.file(lang)).suffix for b in books for lang in ("zh", "en")}
    assert exts == {".pdf", ".epub", ".txt"}


def test_manifest_errors_name_the_entry(tmp_path):
    p = tmp_path / "books.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "books": [
                    {
                        "id": "a",
                        "title": "A",
                        "genre": "cookbook",
                        "zh": "x",
                        "en": "y",
                        "source": "s",
                        "license": "l",
                        "split": "train",
                    }
                ]
            }
        )
    )
    with pytest.raises(ManifestError, match="books\\[0\\] \\(a\\): genre 'cookbook'"):
        load_manifest(p)
    p.write_text(yaml.safe_dump({"books": [{"id": "a", "title": "A"}]}))
    with pytest.raises(ManifestError, match="missing genre, zh, en, source, license, split"):
        load_manifest(p)


def test_preflight_accepts_the_demo_and_rejects_a_broken_chain(root):
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert any("tiny" in line for line in check_params(from_dict(params), root))
    params["rounds"]["r3"]["init"] = "r9"
    with pytest.raises(ConfigError, match="rounds.r3.init: 'r9' is neither r0 nor a round"):
        check_params(from_dict(params), root)


def test_cluster_profile_has_the_plans_schedule_and_its_placeholder_path_fails_at_once(root, tmp_path):
    shutil.copy(root / "params.yaml", tmp_path / "params.yaml")
    changed = apply_profile(root / "configs" / "cluster-24xh100.yaml", tmp_path / "params.yaml")
    assert "model.base" in changed
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert [params["rounds"][r]["context"] for r in ("r1", "r2", "r3", "r4")] == [8192, 65536, 131072, 131072]
    assert params["train"]["launcher"] == "accelerate"
    # comments in params.yaml survive the merge
    assert "# tokens per training document" in (tmp_path / "params.yaml").read_text()
    with pytest.raises(ModelError) as exc:
        check_params(from_dict(params), root)
    assert params["model"]["base"] in str(exc.value)
    # the CLI says the same in one line and exits 2, before any work
    res = subprocess.run(
        [sys.executable, "-m", "booktrans.cli", "preflight", "--params", str(tmp_path / "params.yaml")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and params["model"]["base"] in res.stderr and "Traceback" not in res.stderr


def test_launcher_configs_reference_files_that_exist(root):
    prof = yaml.safe_load((root / "configs" / "cluster-24xh100.yaml").read_text())
    acc = yaml.safe_load((root / prof["params"]["train"]["accelerate_config"]).read_text())
    assert acc["num_machines"] * 8 == acc["num_processes"] == 24
    ds = json.loads((root / acc["deepspeed_config"]["deepspeed_config_file"]).read_text())
    assert ds["zero_optimization"]["stage"] == 2  # LoRA rounds: ZeRO-2 (make plan-cluster: it fits)
    for cfg in (root / "configs" / "accelerate").glob("*.yaml"):  # accelerate refuses both at once
        data = yaml.safe_load(cfg.read_text())
        if data.get("distributed_type") == "DEEPSPEED":
            assert "mixed_precision" not in data and (root / data["deepspeed_config"]["deepspeed_config_file"]).exists()
            assert "main_process_ip" not in data, cfg  # the train stage takes it from the hostfile
    assert (root / "configs" / "hostfile.example").read_text().count("slots=8") == 3


def test_cli_help_lists_the_subcommands():
    res = subprocess.run([sys.executable, "-m", "booktrans.cli", "--help"], capture_output=True, text=True, check=True)
    for word in ("ingest", "preflight", "profile"):
        assert word in res.stdout


def test_sample_corpus_is_rebuilt_byte_for_byte(root, tmp_path, monkeypatch):
    """scripts/make_sample.py reproduces the committed sample files exactly."""
    from tools import load_tool

    mod = load_tool("scripts/make_sample.py")
    monkeypatch.setattr(mod, "OUT", tmp_path)
    mod.main()
    for f in tmp_path.iterdir():
        assert f.read_bytes() == (root / "data" / "sample" / f.name).read_bytes(), f.name
    assert len(list(tmp_path.iterdir())) == 10


def test_preflight_checks_every_rounds_training_settings_against_the_model(root, tmp_path):
    """The cluster schedule against a stand-in base folder with Qwen2.5-7B's config: each bad setting
    is named before anything is loaded."""
    shutil.copy(root / "params.yaml", tmp_path / "params.yaml")
    apply_profile(root / "configs" / "cluster-24xh100.yaml", tmp_path / "params.yaml")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    base = tmp_path / "Qwen2.5-7B-Instruct"
    base.mkdir()
    shutil.copy(root / "configs/models/qwen2.5-7b.json", base / "config.json")
    params["model"]["base"] = str(base)
    params["train"]["attn_implementation"] = "sdpa"  # flash-attn is a cluster-only install
    assert any("training settings" in line for line in check_params(from_dict(params), root))
    bad = yaml.safe_load(yaml.safe_dump(params))
    del bad["rounds"]["r3"]["rope_scaling"]
    with pytest.raises(ConfigError, match=r"round r3: context 131072 tokens is beyond the model's window of 32768"):
        check_params(from_dict(bad), root)
    bad = yaml.safe_load(yaml.safe_dump(params))
    bad["rounds"]["r4"]["sequence_parallel"] = 8
    with pytest.raises(
        ConfigError, match=r"round r4: train.sequence_parallel 8 must divide the model's 4 key/value heads"
    ):
        check_params(from_dict(bad), root)
