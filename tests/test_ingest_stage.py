"""The ingest stage: failures are listed and accounted for, `on_error: skip` goes on, and adding or
changing one book re-reads only that book."""

import json
import shutil

import yaml
from stagecmd import run_stage


def _project(root, tmp_path, books):
    (tmp_path / "data" / "raw").mkdir(parents=True)
    entries = []
    for book_id, zh, en in books:
        for src, lang in ((zh, "zh"), (en, "en")):
            if isinstance(src, bytes):
                (tmp_path / "data" / "raw" / f"{book_id}.{lang}.txt").write_bytes(src)
            elif src is not None:
                shutil.copy(root / "data" / "sample" / src, tmp_path / "data" / "raw" / src)
        entries.append(
            {
                "id": book_id,
                "title": book_id,
                "genre": "novel",
                "source": "test",
                "license": "CC0-1.0",
                "split": "train",
                "zh": f"data/raw/{zh if isinstance(zh, str) else book_id + '.zh.txt'}",
                "en": f"data/raw/{en if isinstance(en, str) else book_id + '.en.txt'}",
            }
        )
    (tmp_path / "data" / "books.yaml").write_text(yaml.safe_dump({"books": entries}, allow_unicode=True))
    params = {
        "ingest": {
            "manifest": "data/books.yaml",
            "roots": ["data/raw"],
            "on_error": "fail",
            "simplify": False,
            "cache_dir": "build/cache/ingest",
        }
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _run(root, project):
    return run_stage("ingest", project)


def _set(project, key, value):
    p = yaml.safe_load((project / "params.yaml").read_text())
    p["ingest"][key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(p))


def test_failures_stop_the_stage_with_one_line_each_and_are_in_the_report(root, tmp_path):
    project = _project(
        root,
        tmp_path,
        [
            ("lighthouse", "lighthouse.zh.epub", "lighthouse.en.epub"),
            ("binary", b"\x00\x01\x02\x03" * 500, b"\x00\x01\x02\x03" * 500),
        ],
    )
    res = _run(root, project)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = [line.split("\r")[-1] for line in res.stderr.splitlines() if line.split("\r")[-1].startswith("error:")]
    assert len(lines) == 2 and all("binary.zh.txt" in line or "binary.en.txt" in line for line in lines)
    report = json.loads((project / "reports" / "ingest.json").read_text())
    assert report["summary"] == {"books": 2, "ok": 1, "failed": 1}
    assert report["books"]["binary"]["editions"]["zh"]["status"] == "binary file"
    assert not (project / "data" / "text").exists()  # nothing half-written

    _set(project, "on_error", "skip")
    res = _run(root, project)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (project / "data" / "text").iterdir()) == [
        "lighthouse.en.jsonl",
        "lighthouse.zh.jsonl",
    ]


def test_a_manifest_path_outside_the_data_folders_is_refused(root, tmp_path):
    project = _project(root, tmp_path, [("lighthouse", "lighthouse.zh.epub", "lighthouse.en.epub")])
    m = yaml.safe_load((project / "data" / "books.yaml").read_text())
    m["books"][0]["en"] = "../../etc/hosts"
    (project / "data" / "books.yaml").write_text(yaml.safe_dump(m))
    res = _run(root, project)
    assert res.returncode == 2 and "outside the data folders" in res.stderr and "/etc/hosts" in res.stderr


def test_only_a_new_or_changed_book_is_read_again(root, tmp_path):
    project = _project(
        root,
        tmp_path,
        [
            ("lighthouse", "lighthouse.zh.epub", "lighthouse.en.epub"),
            ("sky", "sky-blue.zh.txt", "sky-blue.en.txt"),
        ],
    )
    first = _run(root, project)
    assert first.returncode == 0 and "4 editions read, 0 unchanged from cache" in first.stderr
    before = (project / "data" / "text" / "lighthouse.zh.jsonl").read_bytes()
    report_before = (project / "reports" / "ingest.json").read_bytes()
    again = _run(root, project)
    assert "0 editions read, 4 unchanged from cache" in again.stderr
    assert (project / "reports" / "ingest.json").read_bytes() == report_before  # same bytes either way
    # change one edition: only that one is parsed again
    p = project / "data" / "raw" / "sky-blue.en.txt"
    p.write_text(p.read_text() + "\nOne more paragraph at the end.\n")
    third = _run(root, project)
    assert "1 editions read, 3 unchanged from cache" in third.stderr
    assert (project / "data" / "text" / "lighthouse.zh.jsonl").read_bytes() == before
    assert "One more paragraph" in (project / "data" / "text" / "sky.en.jsonl").read_text()
