"""Gates: the sample books pass the defaults of params.yaml; a book far from normal stops the ingest
or align stage with one line naming the book and the figure, unless told to skip."""

import json
import shutil

import pytest
import yaml
from stagecmd import run_stage

from booktrans.gates import check_align, check_ingest
from booktrans.params import load


@pytest.fixture(scope="module")
def sample_run(root, tmp_path_factory):
    """The ingest and align steps run on the sample books with the params.yaml defaults."""
    from booktrans.align.corpus import AlignOptions, align_corpus
    from booktrans.ingest.corpus import CorpusOptions, ingest_corpus
    from booktrans.manifest import load_manifest
    from booktrans.proofread.corrections import Proofreading

    out = tmp_path_factory.mktemp("sample")
    P = load(root / "params.yaml")
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        books = load_manifest(P.ingest.manifest)
        ingest_corpus(books, out / "text", out / "ingest.json", CorpusOptions.from_params(P.ingest))
        align_corpus(
            books,
            out / "text",
            out / "aligned",
            out / "align.json",
            AlignOptions.from_params(P.align),
            Proofreading.load(None, P.proofread.sample, P.seed),
        )
    finally:
        os.chdir(cwd)
    return json.loads((out / "ingest.json").read_text()), json.loads((out / "align.json").read_text())


def test_the_sample_books_pass_the_default_gates(root, sample_run):
    ingest, align = sample_run
    P = load(root / "params.yaml")
    ig, ag = P.ingest.gates, P.align.gates
    assert not ig.skip and not ag.skip
    assert ingest["gates"]["flagged"] == [] and len(ingest["books"]) == 5
    for book, entry in ingest["books"].items():
        assert entry["gates"] == {"flags": [], "passed": True, "skipped": False}, book
        assert check_ingest(entry["editions"], entry["length_ratio"], ig) == []
    for book, entry in align.items():
        assert entry["gates"]["passed"] and check_align(entry, ag) == [], book


def _project(tmp_path, root, books):
    """A project folder with data/raw files and a manifest; books = [(id, zh file, en file or text)]."""
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    entries = []
    for book_id, zh, en, extra in books:
        paths = {}
        for lang, src in (("zh", zh), ("en", en)):
            if "\n" not in src and (root / "data" / "sample" / src).exists():
                shutil.copy(root / "data" / "sample" / src, raw / src)
                paths[lang] = f"data/raw/{src}"
            else:
                (raw / f"{book_id}.{lang}.txt").write_text(src, encoding="utf-8")
                paths[lang] = f"data/raw/{book_id}.{lang}.txt"
        entries.append(
            {
                "id": book_id,
                "title": book_id,
                "genre": "novel",
                "source": "test",
                "license": "CC0-1.0",
                "split": "train",
                **paths,
                **extra,
            }
        )
    (tmp_path / "data" / "books.yaml").write_text(yaml.safe_dump({"books": entries}, allow_unicode=True))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["ingest"].update(manifest="data/books.yaml", roots=["data/raw"], cache_dir="build/cache/ingest")
    params["align"]["cache_dir"] = str(root / params["align"]["cache_dir"])  # the parsed dictionary is not parsed again
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    return tmp_path


def _set(project, key, value):
    params = yaml.safe_load((project / "params.yaml").read_text())
    section, *rest = key.split(".")
    cur = params[section]
    for k in rest[:-1]:
        cur = cur[k]
    cur[rest[-1]] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))


def test_an_abridged_translation_stops_ingest_with_one_line(root, tmp_path):
    source = (root / "data" / "sample" / "source" / "lighthouse.en.md").read_text(encoding="utf-8")
    abridged = source.split("# Chapter 3")[0].replace("# ", "")  # the English edition stops after chapter 2
    project = _project(
        tmp_path,
        root,
        [
            ("lighthouse", "lighthouse.zh.epub", "lighthouse.en.epub", {}),
            ("abridged", "lighthouse.zh.epub", abridged, {}),
        ],
    )
    res = run_stage("ingest", project)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip().startswith("ingest: book")]
    assert (
        len(lines) == 1
        and "book abridged" in lines[0]
        and "length_ratio 0.1" in lines[0]
        and "ingest.gates.min_length_ratio 0.35" in lines[0]
    )
    report = json.loads((project / "reports" / "ingest.json").read_text())
    assert report["gates"]["flagged"] == ["abridged"] and report["books"]["lighthouse"]["gates"]["passed"]
    assert report["books"]["abridged"]["gates"]["flags"][0]["figure"] == "length_ratio"
    assert not (project / "data" / "text").exists()  # the stage stopped: nothing written

    _set(project, "ingest.gates.skip", True)
    assert run_stage("ingest", project).returncode == 0
    report = json.loads((project / "reports" / "ingest.json").read_text())
    assert report["books"]["abridged"]["gates"]["skipped"] is True


def test_the_wrong_edition_stops_align_unless_the_book_skips_its_gates(root, tmp_path):
    """The English file of another book: its chapters find no partner, the stage stops naming the figure."""
    project = _project(tmp_path, root, [("mixup", "lighthouse.zh.epub", "night-train.en.pdf", {})])
    _set(project, "ingest.gates.skip", True)  # the lengths happen to look normal; align must catch it
    assert run_stage("ingest", project).returncode == 0
    res = run_stage("align", project)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip().startswith("align: book")]
    assert len(lines) == 1 and "book mixup" in lines[0] and "align.gates." in lines[0]
    assert not (project / "data" / "aligned").exists()
    flags = json.loads((project / "reports" / "align.json").read_text())["mixup"]["gates"]["flags"]
    assert {f["figure"] for f in flags} >= {"kept_zh", "kept_en"}

    m = yaml.safe_load((project / "data" / "books.yaml").read_text())
    m["books"][0]["skip_gates"] = True
    (project / "data" / "books.yaml").write_text(yaml.safe_dump(m))
    assert run_stage("align", project).returncode == 0
    assert json.loads((project / "reports" / "align.json").read_text())["mixup"]["gates"]["skipped"] is True
