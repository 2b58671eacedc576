"""The docs against the code: every command and path quoted in README.md, docs/*.md and the
READMEs of the folders people fill (reviews/completed/, proofread/completed/) is checked against
what runs — `booktrans` subcommands and options against the CLI's own parser, `dvc` commands and
options against DVC's parser and stage names against dvc.yaml (foreach expanded by DVC itself),
`make` targets against the Makefile, `python` scripts and their options against the scripts,
paths against the repository and the outputs dvc.yaml declares — so new commands, options and
scripts are checked as they are documented, and the docs cannot drift from the code unnoticed.
A few figures the docs quote from the demo's tracked outputs are read back from them."""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shlex
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *ROOT.glob("reviews/**/README.md"),
        *ROOT.glob("proofread/**/README.md"),
        *ROOT.glob("booktrans/**/README.md"),
    ]
)
TOP = {p.name for p in ROOT.iterdir()} - {".git", ".venv"}
SCRATCH = ("build/", "../", "/", "~", "http", "DIR")  # places the docs name as scratch or outside the repo


# ---- what the docs quote ---------------------------------------------------------------------


def _snippets(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code, fenced) for every fenced line and inline code span."""
    out, fence = [], False
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            out.append((n, line, True))
        else:
            out += [(n, m, False) for m in re.findall(r"`([^`]+)`", line)]
    return out


def _commands(code: str) -> list[list[str]]:
    """The simple commands in a line of shell: comments cut, split at && ; | and (, env and
    .venv/bin/ prefixes removed."""
    code = re.sub(r"(^|\s)#.*$", "", code).strip()
    code = re.sub(r"^\$\s+", "", code)
    cmds = []
    for part in re.split(r"&&|\|\||;|\||\(|\)| / ", code):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
            words = words[1:]
        for w in ("nice", "time", "timeout"):
            if words and words[0] == w:
                words = [x for x in words[1:] if not re.fullmatch(r"-n|\d+[sm]?", x)] if w != "time" else words[1:]
        if words:
            words[0] = re.sub(r"^(\./)?\.venv/bin/", "", words[0])
            words[0] = "python" if words[0] in ("python3", "python3.11") else words[0]
            cmds.append(words)
    return cmds


def _quoted() -> list[tuple[str, list[str], bool]]:
    """(where, words, fenced) of every command the docs quote that this test can check."""
    out = []
    for doc in DOCS:
        for n, code, fenced in _snippets(doc.read_text(encoding="utf-8")):
            for words in _commands(code):
                if words[0] in ("booktrans", "make", "python", "dvc"):
                    out.append((f"{doc.relative_to(ROOT)}:{n}", words, fenced))
    return out


# ---- what runs -------------------------------------------------------------------------------


def _walk(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """Problems with ``words`` as arguments to ``parser``: an unknown subcommand or option."""
    problems = []
    subs = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    options = {s for a in parser._actions for s in a.option_strings}
    takes_value = {s for a in parser._actions for s in a.option_strings if a.nargs != 0}
    k = 0
    while k < len(words):
        w = words[k].strip("[]")
        if w.startswith("--") or re.fullmatch(r"-[a-zA-Z]", w):
            name = w.split("=", 1)[0]
            if name not in options:
                problems.append(f"{parser.prog}: no option {name}")
            k += 2 if name in takes_value and "=" not in w else 1
            continue
        if subs is not None and not w.startswith(("<", "…")):
            if w in subs.choices:
                return problems + _walk(subs.choices[w], words[k + 1 :])
            if subs.required or parser.prog in ("booktrans", "dvc") or not _is_positional_ok(parser):
                problems.append(f"{parser.prog}: no subcommand {w!r} (has {', '.join(sorted(subs.choices))})")
                return problems
        k += 1
    return problems


def _is_positional_ok(parser) -> bool:
    return any(not a.option_strings and not isinstance(a, argparse._SubParsersAction) for a in parser._actions)


@lru_cache(maxsize=1)
def _booktrans():
    from booktrans.cli import build_parser

    return build_parser()


@lru_cache(maxsize=1)
def _dvc():
    from dvc.cli.parser import get_main_parser

    return get_main_parser()


@lru_cache(maxsize=1)
def _stages() -> tuple[set[str], list[str], list[str]]:
    """Stage names (foreach expanded by DVC: train@r2), every path a stage writes (and the plots),
    every path a stage reads."""
    import yaml
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        stages = list(repo.index.stages)
        names = {s.addressing for s in stages} | {s.addressing.split("@")[0] for s in stages}
        outs = sorted({str(o.def_path) for s in stages for o in s.outs})
        deps = sorted({str(d.def_path) for s in stages for d in s.deps})
    for p in (yaml.safe_load((ROOT / "dvc.yaml").read_text()) or {}).get("plots", []) or []:
        outs += list(p) if isinstance(p, dict) else [p]
    return names, outs, deps


@lru_cache(maxsize=1)
def _code_text() -> str:
    """The tracked files other than docs and tests: a path written there is one the code reads or writes."""
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    texts = []
    for f in files:
        if (
            not f.endswith(".md")
            and not f.startswith("tests/")
            and (ROOT / f).is_file()
            and (ROOT / f).stat().st_size < 2_000_000
        ):
            try:
                texts.append((ROOT / f).read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                pass
    return "\n".join(texts)


@lru_cache(maxsize=1)
def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {t for line in re.findall(r"^([A-Za-z0-9_. -]+?)\s*:(?!=)", text, re.M) for t in line.split()}


def _path_problem(path: str) -> str | None:
    """None when ``path`` is in the repository or declared by dvc.yaml (a placeholder such as
    <book>, rN or {a,b} matches anything there)."""
    path, _, test = path.rstrip(".,:;").partition("::")
    if (
        test
        and (ROOT / path).is_file()
        and not re.search(rf"^def {re.escape(test)}\(", (ROOT / path).read_text(encoding="utf-8"), re.M)
    ):
        return f"{path}::{test}: no such test"
    if any(path.startswith(s) for s in SCRATCH) or "…" in path or "..." in path or path.split("/")[0] not in TOP:
        return None
    options = [path]
    m = re.search(r"\{([^{}]+)\}", path)
    if m:
        options = [path[: m.start()] + alt + path[m.end() :] for alt in m.group(1).split(",")]
    for p in options:
        pattern = re.sub(r"<[^>]+>", "*", p)
        pattern = re.sub(r"(?<![A-Za-z])r[NK](?![A-Za-z])", "r*", pattern)
        pattern = re.sub(r"(?<![A-Za-z])[A-Z]{3,}(?![a-z])", "*", pattern)  # NAME, BOOK: placeholders
        pattern = re.sub(r"\w+\.\.\w+", "*", pattern)  # r0..r4
        bare = pattern.rstrip("/")
        if any(ROOT.glob(bare)) if "*" in bare else (ROOT / bare).exists():
            continue
        _names, outs, deps = _stages()
        if any(fnmatch.fnmatch(d, bare) for d in outs + deps):  # a declared output or input
            continue
        segs = bare.split("/")  # inside a declared output folder
        if any(len(segs) > len(o.split("/")) and fnmatch.fnmatch(o, "/".join(segs[: len(o.split("/"))])) for o in outs):
            continue
        user = [d for d in deps if not any(o.startswith(d.rstrip("/") + "/") for o in outs)]  # folders people fill
        if any(len(segs) > len(d.split("/")) and fnmatch.fnmatch(d, "/".join(segs[: len(d.split("/"))])) for d in user):
            continue
        if "*" not in bare and re.search(rf"(?<![\w/.]){re.escape(bare)}(?![\w/])", _code_text()):  # named by the code
            continue
        return f"{p}: neither in the repository nor an output or input dvc.yaml declares"
    return None


def _looks_like_path(code: str) -> bool:
    return bool(
        re.fullmatch(r"[\w.<>{},*@-]+(/[\w.<>{},*@-]*)+(::\w+)?|[\w-]+\.(yaml|lock|toml|md|py|json|jsonl|html)", code)
    ) and not code.startswith(("booktrans.", "http"))


# ---- the checks ------------------------------------------------------------------------------


def test_every_quoted_command_exists_with_its_options():
    problems = []
    quoted = _quoted()
    assert len(quoted) > 60  # the docs quote many commands: the extraction works
    names = _stages()[0]
    for where, words, _fenced in quoted:
        cmd, args = words[0], words[1:]
        if cmd == "booktrans":
            problems += [f"{where}: {p}" for p in _walk(_booktrans(), args)]
        elif cmd == "dvc":
            problems += [f"{where}: {p}" for p in _walk(_dvc(), args)]
            if args and args[0] in ("repro", "pull", "push", "status", "checkout"):
                for t in args[1:]:
                    if not t.startswith("-") and not t.startswith("<") and "/" not in t and t not in names:
                        problems.append(f"{where}: dvc {args[0]} {t}: no stage {t!r} in dvc.yaml")
        elif cmd == "make":
            for t in args:
                if "=" not in t and not t.startswith("-") and t not in _make_targets():
                    problems.append(f"{where}: make {t}: no such target in the Makefile")
        elif cmd == "python":
            if args[:1] == ["-m"]:
                import importlib.util

                if importlib.util.find_spec(args[1]) is None:
                    problems.append(f"{where}: python -m {args[1]}: no such module")
                continue
            script = next((a for a in args if a.endswith(".py")), None)
            if script is None or _path_problem(script) is not None or not (ROOT / script).is_file():
                if script is not None and not script.startswith(SCRATCH):
                    problems.append(f"{where}: python {script}: no such script")
                continue
            source = (ROOT / script).read_text(encoding="utf-8")
            for opt in (a.split("=", 1)[0] for a in args if a.startswith("--")):
                if f'"{opt}"' not in source and f"'{opt}'" not in source:
                    problems.append(f"{where}: python {script} {opt}: the script has no such option")
        for w in args:
            if _looks_like_path(w) and (p := _path_problem(w)):
                problems.append(f"{where}: {p}")
    assert not problems, "\n".join(problems)


def test_every_quoted_path_exists_or_is_declared_by_dvc_yaml():
    problems, seen = [], 0
    for doc in DOCS:
        for n, code, fenced in _snippets(doc.read_text(encoding="utf-8")):
            for token in [code] if not fenced else re.findall(r"[\w.<>{},*@/-]+/[\w.<>{},*@/-]*", code):
                if _looks_like_path(token):
                    seen += 1
                    if p := _path_problem(token):
                        problems.append(f"{doc.relative_to(ROOT)}:{n}: {p}")
    assert seen > 100
    assert not problems, "\n".join(problems)


def test_the_checker_finds_the_drift_it_is_for():
    """What the docs once said and the code did not do: each is caught."""
    assert _path_problem("reports/metrics/human.json")  # written to reports/review/
    assert _path_problem("reports/review/human.json") is None
    assert (
        _path_problem("tests/test_docs.py::test_no_such_thing")
        and _path_problem("tests/test_docs.py::test_every_option_has_help") is None
    )
    assert _walk(_booktrans(), ["proofread", "export", "x.jsonl", "--out", "d", "--sheets", "2"])
    assert _walk(_booktrans(), ["proofread", "apply", "a.jsonl", "c.json", "--book", "b"]) == []
    assert _walk(_booktrans(), ["evaluate-all"])
    assert _walk(_dvc(), ["metrics", "diff", "--all"]) == [] and _walk(_dvc(), ["plots", "shew"])
    assert "bench-everything" not in _make_targets() and "eval-proofread" in _make_targets()


def test_every_option_has_help():
    missing = []

    def walk(p, path):
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for name, sp in a.choices.items():
                    walk(sp, path + [name])
            elif not a.help and not isinstance(a, (argparse._HelpAction, argparse._VersionAction)):
                missing.append(f"{' '.join(path)} {'/'.join(a.option_strings) or a.dest}")

    walk(_booktrans(), ["booktrans"])
    assert not missing, missing


def test_a_missing_book_file_is_named_and_nothing_else(capsys, tmp_path):
    from booktrans.cli import main

    missing = tmp_path / "missing.epub"
    assert main(["ingest", str(missing), "--lang", "zh"]) == 2
    assert capsys.readouterr().err == f"error: {missing}: no such file\n"
    assert main(["ingest", str(tmp_path), "--lang", "zh"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: not a file\n"


def test_the_demo_proofreading_figures_match_reports_align_json():
    """docs/proofread.md quotes what `make demo` writes for the poems; reports/align.json is tracked."""
    text = " ".join((ROOT / "docs" / "proofread.md").read_text(encoding="utf-8").split())
    m = re.search(
        r"shows for `four-seasons` (\d+) beads checked, (\d+) corrected, (\d+) sampled pairs judged, (\d+) wrong: "
        r"precision ([\d.]+)% \(([\d.]+)%–([\d.]+)%\)",
        text,
    )
    assert m, "the demo figures sentence is gone from docs/proofread.md"
    p = json.loads((ROOT / "reports" / "align.json").read_text(encoding="utf-8"))["four-seasons"]["proofreading"]
    s = p["sample"]
    assert [int(x) for x in m.groups()[:4]] == [p["checked"], p["corrected"], s["judged"], s["wrong"]]
    assert [float(x) for x in m.groups()[4:]] == [
        round(100 * s["precision"], 1),
        round(100 * s["ci95"][0], 1),
        round(100 * s["ci95"][1], 1),
    ]


@pytest.mark.parametrize("doc", ["reviews/completed/README.md", "docs/review.md", "README.md"])
def test_human_scores_are_documented_where_the_stage_writes_them(doc):
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        outs = [str(o.def_path) for s in repo.index.stages if s.addressing == "review-scores" for o in s.outs]
    assert outs
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "human.json" in text and all(p in outs for p in re.findall(r"[\w/]+/human\.json", text))
