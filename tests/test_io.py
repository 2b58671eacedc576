import os
import stat

import pytest

from booktrans.io import atomic_dir, atomic_write_text, read_jsonl, write_json, write_jsonl


def test_a_failed_write_leaves_the_previous_output_and_no_temporary_files(tmp_path):
    out = tmp_path / "data"
    with atomic_dir(out) as d:
        (d / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as d:
            (d / "a.txt").write_text("half")
            raise RuntimeError("killed")
    assert (out / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_json_is_deterministic_and_readable_by_others(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1, "a": "中文"})
    assert (tmp_path / "m.json").read_text(encoding="utf-8") == '{\n  "a": "中文",\n  "b": 1\n}\n'
    mode = stat.S_IMODE(os.stat(tmp_path / "m.json").st_mode)
    assert mode & stat.S_IRGRP  # not the 0600 of a bare temporary file
    write_jsonl(tmp_path / "x.jsonl", [{"z": 1, "y": 2}])
    assert read_jsonl(tmp_path / "x.jsonl") == [{"y": 2, "z": 1}]
    atomic_write_text(tmp_path / "t.txt", "x")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
