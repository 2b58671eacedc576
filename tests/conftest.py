from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def _pipeline_modules(session):
    return {
        item.module
        for item in session.items
        if getattr(item, "module", None) is not None and item.module.__name__.endswith("test_pipeline")
    }


def _xdist_worker(config) -> bool:
    """True in a worker of pytest-xdist (`make test` runs the suite in two: `-n 2 --dist loadfile`)."""
    return hasattr(config, "workerinput")


def pytest_collection_modifyitems(session, config, items):
    """In one process the pipeline tests run last, so that their `dvc repro` runs (started below as
    soon as the tests are collected) overlap the whole rest of the suite. (Under xdist with
    `--dist loadfile` the files are handed out largest first whatever their order here.)"""
    items.sort(
        key=lambda item: getattr(item, "module", None) is not None and item.module.__name__.endswith("test_pipeline")
    )


def pytest_collection_finish(session):
    """The pipeline tests' `dvc repro` runs take minutes of one core each: start them as soon as the
    tests are collected, so they run beside the rest of the suite rather than after it. Under
    pytest-xdist (`make test` runs two workers) every worker collects every test; the first to get
    there starts the runs, and the worker that gets the pipeline tests reads them (tests/test_pipeline.py)."""
    if session.config.option.collectonly:
        return
    for module in _pipeline_modules(session):
        module.start_runs(ROOT, session.config._tmp_path_factory)


def pytest_sessionfinish(session, exitstatus):
    # a worker that started the runs waits for them (another worker may still read them), unless cut
    # short (Ctrl-C; xdist's controller keeps -x to itself, so there a worker waits out the runs); a
    # single process past its tests kills them: no run outlives the session
    stopped = exitstatus == pytest.ExitCode.INTERRUPTED or session.shouldstop or session.shouldfail
    wait = _xdist_worker(session.config) and not stopped
    for module in _pipeline_modules(session):
        module.stop_runs(wait)
    _hand_skips_to_controller(session)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is absent (evaluation data is only beside a developer checkout)")
    return SHARED


@pytest.fixture(scope="session")
def sample_paragraphs():
    """Ingested paragraphs of every sample edition: {(book, lang): [dict]}."""
    from project import ingest_file

    from booktrans.manifest import load_manifest

    out = {}
    for book in load_manifest(ROOT / "data" / "books.yaml"):
        for lang in ("zh", "en"):
            out[(book.id, lang)] = [p.to_json() for p in ingest_file(ROOT / book.file(lang), lang).paragraphs]
    return out


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory, sample_paragraphs):
    """A tiny base model directory (kind full) built like stages/base.py does."""
    from booktrans.model import TinyConfig, build_tiny_model, train_tokenizer
    from booktrans.model.store import ModelInfo, write_info

    d = tmp_path_factory.mktemp("r0")
    texts = [p["text"] for paras in sample_paragraphs.values() for p in paras]
    tok = train_tokenizer(texts, 2000)
    from project import P

    shape = replace(TinyConfig.from_params(P.model.tiny, P.seed), vocab_size=2000, hidden_size=32, intermediate_size=64)
    model = build_tiny_model(tok, shape)
    model.save_pretrained(str(d))
    tok.save_pretrained(str(d))
    write_info(d, ModelInfo(kind="full", context=256))
    return d


# ---- CI: no skips ----------------------------------------------------------------------------
# Where BOOKTRANS_NO_SKIPS=1 (.ci/run sets it) every skip is a failure that names its reason: CI has
# every tool and all the data (Chromium from `make browser`, ../shared/data beside the clone), so a
# test that skips there is one that silently stopped testing anything.

NO_SKIPS_VAR = "BOOKTRANS_NO_SKIPS"
_failed_skips: list[tuple[str, str]] = []


def _fail_skip(report) -> None:
    if os.environ.get(NO_SKIPS_VAR) != "1" or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    _failed_skips.append((report.nodeid, reason))
    report.outcome = "failed"
    report.longrepr = f"skipped, and {NO_SKIPS_VAR}=1 makes a skip a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip(outcome.get_result())


def _hand_skips_to_controller(session) -> None:
    """Under xdist the failed skips are counted in the workers: hand them to the controller."""
    if _xdist_worker(session.config):
        session.config.workeroutput["failed_skips"] = list(_failed_skips)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller's side of the above: the workers' failed skips, for the summary below."""
    _failed_skips.extend(tuple(x) for x in getattr(node, "workeroutput", {}).get("failed_skips", []))


def pytest_terminal_summary(terminalreporter):
    if _failed_skips:
        terminalreporter.section(f"skips failed by {NO_SKIPS_VAR}=1", sep="=", red=True)
        for nodeid, reason in _failed_skips:
            terminalreporter.line(f"{nodeid or '(collection)'}: {reason}")
