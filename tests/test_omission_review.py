"""`booktrans omissions` as a reviewer uses it: paragraphs in, the flagged sentences out as JSON, text
and a side-by-side page that a real browser renders; on real literary text (MAC-Dev)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def chapter(shared, tmp_path_factory):
    """The first 60 source sentences of MAC-Dev chapter 006 (The Three-Body Problem, Ken Liu's
    published English) written as paragraphs of 4 sentences; the English as paragraphs too, with the
    translation of source sentences 24-27 (one paragraph) removed."""
    from booktrans.align.gold import read_gold

    doc = read_gold(shared / "align-dev" / "mac_dev", "006")
    src, tgt = doc.src, doc.tgt
    beads = [b for b in doc.beads if b[0] and max(b[0]) < 60]
    gone = {24, 25, 26, 27}
    keep = [j for s, t in beads if not set(s) & gone for j in t]
    tmp = tmp_path_factory.mktemp("chapter")
    (tmp / "src.txt").write_text("\n".join("".join(src[k : k + 4]) for k in range(0, 60, 4)) + "\n", encoding="utf-8")
    (tmp / "hyp.txt").write_text(
        "\n".join(" ".join(tgt[j] for j in keep[k : k + 3]) for k in range(0, len(keep), 3)) + "\n", encoding="utf-8"
    )
    (tmp / "one.txt").write_text("\n".join(src[:60]) + "\n", encoding="utf-8")
    removed = {i for s, _ in beads if set(s) & gone for i in s}
    untranslated = {i for s, t in beads if not t for i in s}  # Ken Liu left these out himself
    return tmp, src[:60], removed, untranslated


def _run(tmp: Path, *extra: str, src: str = "src.txt") -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "booktrans.cli",
            "omissions",
            str(tmp / src),
            str(tmp / "hyp.txt"),
            "--src-lang",
            "zh",
            "--tgt-lang",
            "en",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
    )


def test_paragraphs_are_split_and_the_dropped_paragraph_is_found(chapter):
    tmp, sentences, removed, untranslated = chapter
    rows = [json.loads(x) for x in _run(tmp).stdout.splitlines()]
    # the project's splitter recovers about the gold sentences from the paragraphs
    assert abs(len(rows) - len(sentences)) <= 6
    assert all(r["line"] < 15 for r in rows) and [r["sentence"] for r in rows] == list(range(len(rows)))
    flagged = [r for r in rows if r["omitted"]]
    removed_text = "".join(sentences[i] for i in removed)
    missing_text = removed_text + "".join(sentences[i] for i in untranslated)
    # every sentence of the removed paragraph is called dropped; a free human translation leaves few
    # others flagged (the sentence the translator left out himself, a short reply, one merged into another)
    assert sum(len(r["text"]) for r in flagged if r["text"] in removed_text) >= 0.95 * len(removed_text)
    assert sum(r["text"] not in missing_text for r in flagged) <= 3
    assert all(r["translation"] for r in rows if not r["omitted"])
    # --one-per-line keeps the source lines: `line` is the line number
    one = [json.loads(x) for x in _run(tmp, "--one-per-line", src="one.txt").stdout.splitlines()]
    assert [r["line"] for r in one] == list(range(60))
    assert removed <= {r["line"] for r in one if r["omitted"]}


def test_the_text_report_lists_only_flagged_sentences_with_their_place(chapter):
    tmp, sentences, removed, _ = chapter
    out = _run(tmp, "--format", "text").stdout
    blocks = [b for b in out.split("\n\n") if b.strip()]
    assert blocks and all(b.startswith(("DROPPED", "PARTIAL")) for b in blocks)
    dropped = [b for b in blocks if b.startswith("DROPPED")]
    assert len(dropped) >= len(removed) - 1
    # the translation around the place: the English before and after the hole
    assert all("⟦here⟧" in b and "source:" in b for b in dropped)


def test_the_side_by_side_page_renders_in_headless_chromium(chapter, tmp_path):
    from browser import need_chromium

    browser = need_chromium()
    tmp, sentences, removed, _ = chapter
    page = tmp_path / "omissions.html"
    _run(tmp, "--format", "html", "--output", str(page))
    args = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(args + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('class="dropped"') >= len(removed) - 1
    assert dom.count("<tr id=") >= len(sentences) - 6  # every sentence, side by side
    jump = dom.split('<nav id="flagged">')[1].split("</nav>")[0]
    targets = [a.split('"')[0] for a in jump.split('href="#')[1:]]
    assert targets and all(
        f'<tr id="{t}" class="dropped"' in dom or f'<tr id="{t}" class="partial"' in dom for t in targets
    )
    shot = tmp_path / "page.png"
    subprocess.run(
        args + ["--hide-scrollbars", "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 20_000
