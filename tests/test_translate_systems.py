"""Outside systems in the DVC graph, in a copy of the project: a system without a key and a
translation made elsewhere, scored with the rounds' metrics and shown by `dvc metrics show`,
`dvc exp show` and the report; and an OpenAI-compatible endpoint (the test's own HTTP server)
through the system stage's code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from chat_server import ChatServer  # noqa: E402
from stagecmd import run_stage  # noqa: E402
from test_pipeline import copy_project, dvc, ran, set_param  # noqa: E402

KEY = "sk-test-systems-5555aaaa"
TARGETS = [f"evaluate-system@{s}" for s in ("nokey", "shrunk")]


def shrunk_reference(root: Path, dest: Path) -> None:
    """The English edition of the test book with a third of the paragraphs of its second half left
    out: a translation made elsewhere that shrinks as the book goes on."""
    from project import ingest_file

    paras = ingest_file(root / "data" / "sample" / "night-train.en.pdf", "en").paragraphs
    lines, title = [], None
    for k, p in enumerate(paras):
        if p.title != title:
            title = p.title
            lines.append(title)
        if k > len(paras) // 2 and k % 3 == 0:
            continue
        lines.append(p.text)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def systems_project(root, tmp_path_factory):
    dest = copy_project(root, tmp_path_factory.mktemp("systems"))
    manifest = yaml.safe_load((dest / "data" / "books.yaml").read_text())
    manifest["books"] = [b for b in manifest["books"] if b["split"] == "test"]  # systems need the test books only
    (dest / "data" / "books.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True))
    shrunk_reference(root, dest / "data" / "systems" / "shrunk" / "night-train.en.txt")
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "systems"], cwd=dest, check=True
    )
    set_param(dest, "translate.max_paragraphs", 6)
    set_param(
        dest,
        "translate.systems",
        {
            "nokey": {
                "engine": "openai",
                "base_url": "https://api.example.invalid/v1",
                "model": "m",
                "key_env": ["BOOKTRANS_TEST_NO_SUCH_KEY"],
            },
            "shrunk": {"engine": "files", "directions": ["zh-en"]},
        },
    )
    env = {k: v for k, v in os.environ.items() if k != "BOOKTRANS_TEST_NO_SUCH_KEY"}
    res = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", *TARGETS],
        cwd=dest,
        capture_output=True,
        text=True,
        env={**env, "PATH": str(Path(sys.executable).parent) + os.pathsep + env["PATH"], "DVC_NO_ANALYTICS": "1"},
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return dest, res


def test_an_endpoint_system_translates_the_test_books_with_usage_and_cost(systems_project, monkeypatch):
    """translate-system@NAME's own code, in this process, against the test's endpoint (the DVC wiring
    is the same as for the systems below)."""
    dest, _ = systems_project
    from booktrans.ingest import IngestOptions
    from booktrans.manifest import load_manifest
    from booktrans.translate.run import translate_system
    from booktrans.translate.systems import parse_systems

    monkeypatch.chdir(dest)
    monkeypatch.setenv("STUB_CHAT_KEY", KEY)
    with ChatServer(KEY, faults={2: 429, 4: "cut"}) as srv:
        params = yaml.safe_load((dest / "params.yaml").read_text())
        params["translate"]["systems"]["stub"] = {
            "engine": "openai",
            "base_url": srv.url,
            "model": "stub-chat",
            "key_env": ["STUB_CHAT_KEY"],
            "context": 600,
            "concurrency": 2,
            "price": {"input": 1.0, "output": 4.0},
        }
        t = params["translate"]
        system = parse_systems(t["systems"], t["rounds"])["stub"]
        from booktrans.params import from_dict

        out = dest / "reports" / "translations" / "stub"
        translate_system(
            "stub",
            system,
            load_manifest(params["ingest"]["manifest"]),
            params["ingest"]["manifest"],
            Path("data/text"),
            out,
            from_dict(params).translate,
            params["model"]["dtype"],
            params["seed"],
            ingest=IngestOptions.from_params(from_dict(params).ingest),
        )
    summary = json.loads((out / "summary.json").read_text())
    both = [summary["books"][k] for k in ("night-train.zh-en", "night-train.en-zh")]
    assert (
        sum(u["truncated"] for u in both) == 1 and srv.requests == sum(u["chunks"] for u in both) + 1
    )  # one 429, retried
    usage = both[0]
    assert usage["cost_usd"] == pytest.approx((usage["prompt_tokens"] + 4 * usage["completion_tokens"]) / 1e6)
    rows = [json.loads(x) for x in (out / "night-train.zh-en.jsonl").read_text().splitlines()]
    assert sorted({p for r in rows for p in r["paras"]}) == list(
        range(6)
    )  # translate.max_paragraphs, as for the rounds
    assert all({"truncated", "stop_reason"} <= set(r) for r in rows)
    written = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    written += "".join(p.read_text(errors="replace") for p in (dest / "build").rglob("*.jsonl"))
    assert KEY not in written


def test_a_translation_made_elsewhere_is_scored_with_the_rounds_metrics(systems_project):
    dest, res = systems_project
    assert {
        "translate-system@shrunk",
        "evaluate-system@shrunk",
        "translate-system@nokey",
        "evaluate-system@nokey",
    } <= ran(res)
    round_keys = {
        "bleu",
        "chrf",
        "ter",
        "d_bleu",
        "comet",
        "omission_rate",
        "addition_rate",
        "coverage",
        "length_ratio",
        "length_ratio_late_vs_early",
        "repetition_rate",
        "untranslated_rate",
        "flags",
    }
    shrunk = json.loads((dest / "reports" / "metrics" / "shrunk.json").read_text())["directions"]
    assert set(shrunk) == {"zh-en"} and round_keys <= set(shrunk["zh-en"])
    # it drops paragraphs late in the book: the metrics see it; the rest is the reference itself
    assert shrunk["zh-en"]["omission_rate"] > 0.1 and shrunk["zh-en"]["length_ratio_late_vs_early"] < 0.9
    assert shrunk["zh-en"]["bleu"] > 30
    rows = [
        json.loads(x)
        for x in (dest / "reports" / "translations" / "shrunk" / "night-train.zh-en.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 6 and all(
        r["stop_reason"] == "imported" and not r["truncated"] for r in rows
    )  # one row per chapter


def test_a_system_without_a_key_is_skipped_with_one_line_and_stays_the_same(systems_project):
    dest, res = systems_project
    lines = [x for x in (res.stdout + res.stderr).splitlines() if "nokey" in x and "skipped" in x]
    assert len(lines) == 1 and "BOOKTRANS_TEST_NO_SUCH_KEY" in lines[0]
    metrics = json.loads((dest / "reports" / "metrics" / "nokey.json").read_text())
    assert metrics["skipped"].startswith("no API key")
    again = dvc(dest, "repro", *TARGETS)
    assert ran(again) == set()  # deterministic outputs: nothing to redo


def test_systems_sit_beside_the_rounds_in_dvc_metrics_exp_show_and_the_report(systems_project):
    dest, _ = systems_project
    shown = json.loads(dvc(dest, "metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]
    assert {"reports/metrics/nokey.json", "reports/metrics/shrunk.json"} <= set(files)
    bleu = json.loads((dest / "reports" / "metrics" / "shrunk.json").read_text())["directions"]["zh-en"]["bleu"]
    table = dvc(dest, "exp", "show", "--no-pager", "--md").stdout
    row = next(x for x in table.splitlines() if x.startswith("| workspace"))
    assert "reports/metrics/nokey.json" in table and f"{bleu:.5g}" in row and "no API key" in row
    res = run_stage("report", dest)
    assert res.returncode == 0, res.stderr
    page = (dest / "reports" / "index.html").read_text()
    zh_en = page.split('data-direction="zh-en"')[1].split("</table>")[0]
    assert "shrunk <small>(outside system)" in zh_en
    assert "skipped: no API key" in zh_en


def test_system_settings_are_checked_before_any_work():
    from booktrans.errors import ConfigError
    from booktrans.translate.systems import parse_systems

    ok = parse_systems(
        {
            "ds": {"engine": "openai", "base_url": "https://x/v1", "model": "m", "key_env": "DS_KEY"},
            "elsewhere": {"engine": "files", "directions": "zh-en"},
        },
        ["r0", "r1"],
    )
    assert ok["ds"].key_env == ("DS_KEY",) and ok["elsewhere"].directions == ("zh-en",)
    for bad, says in (
        ({"r1": {"engine": "files"}}, "name of a round"),
        ({"x": {"engine": "gpt"}}, "engine: 'gpt'"),
        ({"x": {"engine": "openai", "model": "m"}}, "needs base_url and model"),
        ({"x": {"engine": "vllm"}}, "needs model"),
        ({"x": {"engine": "files", "pth": "a"}}, "unknown field(s) pth"),
        ({"a b": {"engine": "files"}}, "letters, digits"),
    ):
        with pytest.raises(ConfigError, match=re.escape(says)):
            parse_systems(bad, ["r0", "r1"])
