"""CI runs every test: there a skipped test (a missing tool, missing data) is a failure that names
its reason, so a test cannot silently stop testing anything."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/test_makefile.py::test_make_help_lists_every_target_with_its_comment"  # skips without `make`


def _run_without_make(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    bare = tmp_path / "bin"
    bare.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if k != "BOOKTRANS_NO_SKIPS"} | {"PATH": str(bare)} | env
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, TEST],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_for_a_missing_tool_is_listed_and_fails_where_ci_forbids_skips(tmp_path):
    here = _run_without_make(tmp_path)
    assert here.returncode == 0, here.stdout + here.stderr
    assert re.search(r"SKIPPED \[1\] tests/test_makefile.py:\d+: no make on this machine", here.stdout)
    ci = _run_without_make(tmp_path, BOOKTRANS_NO_SKIPS="1")
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert f"{TEST}: Skipped: no make on this machine" in ci.stdout
    assert "1 error" in ci.stdout and "skipped" not in ci.stdout.splitlines()[-1]


def test_under_xdist_as_make_test_runs_a_skip_still_fails_and_is_listed(tmp_path):
    """`make test` runs two xdist workers: the skip is counted in a worker and must still fail the run
    and appear in the summary the controller prints."""
    ci = _run_without_make(tmp_path, "-n", "2", "--dist", "loadfile", BOOKTRANS_NO_SKIPS="1")
    assert ci.returncode == 1, ci.stdout + ci.stderr
    summary = ci.stdout.split("skips failed by BOOKTRANS_NO_SKIPS=1", 1)
    assert len(summary) == 2, ci.stdout
    assert f"{TEST}: Skipped: no make on this machine" in summary[1]


def test_ci_lints_forbids_skips_and_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^export BOOKTRANS_NO_SKIPS=1$", ci, re.M)
    assert re.search(r"^make test$", ci, re.M) and "make test" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert ci.index("\nmake lint\n") < ci.index("\nmake test\n"), "CI lints before it tests"
