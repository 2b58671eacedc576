"""Proofreading: doubtful beads and a random sample out, completed sheets in, corrections applied in
align on real aligned output (the sample books, and real MAC-Dev chapters when ../shared is here)."""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml
from browser import need_chromium
from project import align_book, align_filters, proofread_select
from stagecmd import run_stage

from booktrans.align import filter_beads
from booktrans.errors import BooktransError
from booktrans.proofread import SHEET_COLUMNS
from booktrans.proofread.corrections import apply_corrections, compile_corrections
from booktrans.proofread.estimate import book_estimate, pooled_estimate, wilson
from booktrans.proofread.select import build_items
from booktrans.proofread.sheets import read_completed, render_csv, render_form, write_xlsx

ROOT = Path(__file__).resolve().parents[1]
BOOK = "four-seasons"
CFG = proofread_select(doubtful=20, sample=20, context=2, seed=0)


def _replace(paragraphs: list[dict], old: str, new: str) -> list[dict]:
    out = copy.deepcopy(paragraphs)
    hits = [p for p in out if old in p["text"]]
    assert len(hits) == 1, old
    hits[0]["text"] = hits[0]["text"].replace(old, new)
    return out


@pytest.fixture(scope="module")
def poems(sample_paragraphs):
    """The poetry sample as ingested, with one OCR-like error in the English ("rn" read for "m")."""
    zh = sample_paragraphs[(BOOK, "zh")]
    en = _replace(sample_paragraphs[(BOOK, "en")], "Nobody could make it stay.", "Nobody could rnake it stay.")
    return zh, en


def _line_for_line(beads: list[dict]) -> list[dict]:
    """The error a line-for-line reading makes in the poems: "可是它一到，" put with the line before it.
    The aligner made it until its bead shapes and Chinese word weights changed (issue 17); it now
    aligns these lines right, so the scenario below re-creates the error to keep the zh-to-next /
    zh-from-prev corrections exercised."""
    for k in range(len(beads) - 1):
        a, b = beads[k], beads[k + 1]
        if a["zh"] == ["也没有人能让它留下。"] and b["zh"][:1] == ["可是它一到，"] and len(b["zh"]) == 2:
            a, b = dict(a, zh=a["zh"] + b["zh"][:1]), dict(b, zh=b["zh"][1:])
            a["type"], b["type"] = f"{len(a['zh'])}-{len(a['en'])}", f"{len(b['zh'])}-{len(b['en'])}"
            a["zh_para"] = sorted(set(a["zh_para"]) | {b["zh_para"][0]})
            beads = beads[:k] + [a, b] + beads[k + 2 :]
            filter_beads(beads, align_filters())
            break
    return beads


def _aligned(zh, en, corrections=()):
    beads, _ = align_book(zh, en)
    beads = _line_for_line(beads)
    return apply_corrections(BOOK, beads, list(corrections), sample=CFG.sample, seed=CFG.seed)


def _find(beads, zh_start: str) -> int:
    hits = [i for i, b in enumerate(beads) if b["zh"] and b["zh"][0].startswith(zh_start)]
    assert len(hits) == 1, zh_start
    return hits[0]


# What the aligner gets wrong in the poems (a line-for-line reading puts the words in the wrong
# lines): "它扯下门边柳树上 / 最后几片干枯的叶子。" is one sentence across two lines in both languages, and
# "可是它一到，" belongs to the next line's bead. A corrector who knows both languages decides so.
WRONG = {
    "它扯下门边柳树上": ("merge-next", "", ""),
    "最后几片干枯的叶子。": ("merge-prev", "", ""),
    "也没有人能让它留下。": ("zh-to-next", "", "Nobody could make it stay."),
    "全村都打开了窗户。": ("zh-from-prev", "", ""),
}


def _decide(item: dict) -> tuple[str, str, str]:
    """(decision, split, en_fixed) as the corrector fills them for one item."""
    return WRONG.get(item["bead"]["zh"][0] if item["bead"]["zh"] else "", ("accept", "", ""))


@pytest.fixture(scope="module")
def exported(poems, tmp_path_factory):
    zh, en = poems
    beads, summary = _aligned(zh, en)
    items, info = build_items(BOOK, beads, CFG)
    d = tmp_path_factory.mktemp("sheets")
    write_xlsx(items, d / "sheet.xlsx", "test")
    (d / "sheet.csv").write_text(render_csv(items), encoding="utf-8")
    (d / "form.html").write_text(render_form(items, "s1", "test"), encoding="utf-8")
    return beads, items, info, summary, d


def test_the_export_holds_the_wrong_beads_and_a_random_sample_with_context(exported):
    beads, items, info, summary, _d = exported
    firsts = {it["bead"]["zh"][0] for it in items if it["bead"]["zh"]}
    assert {"最后几片干枯的叶子。", "也没有人能让它留下。"} <= firsts  # the real errors are in front of the corrector
    assert summary["sample"]["size"] == 20 and summary["sample"]["status"].startswith("absent")
    assert sum(it["kind"] == "sample" for it in items) == 20 == info["sample_unjudged"]
    assert 0 < info["doubtful"] <= 20 and [it["index"] for it in items] == sorted(it["index"] for it in items)
    for it in items:
        assert len(it["before"]) <= 2 and len(it["after"]) <= 2
        if it["kind"] == "doubtful":
            assert it["reasons"]
    merge = next(it for it in items if it["bead"]["zh"] == ["最后几片干枯的叶子。"])
    assert merge["key"]["prev"] == {"zh": ["它扯下门边柳树上"], "en": ["It tugs the last dry leaves"]}
    assert merge["before"][-1] == merge["key"]["prev"]


def _fill_xlsx(path: Path, corrector: str, decide) -> None:
    """A corrector's pass over the workbook in Excel, done with openpyxl."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["proofread"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cell = dict(zip(head, row))
        item = json.loads(cell["key"].value)
        decision, split, en_fixed = decide({"bead": item})
        cell["decision"].value = decision
        cell["split"].value = split or None
        cell["en_fixed"].value = en_fixed or None
        cell["corrector"].value = corrector
    wb.save(path)


def test_a_completed_xlsx_corrects_the_alignment_and_measures_its_precision(exported, poems):
    beads, items, _info, _summary, d = exported
    path = d / "done.xlsx"
    shutil.copy(d / "sheet.xlsx", path)
    _fill_xlsx(path, "mei", _decide)
    corrections = compile_corrections(read_completed(path))
    assert len(corrections) == len(items)
    fixed, summary = _aligned(*poems, corrections)
    texts = {(tuple(b["zh"]), tuple(b["en"])) for b in fixed}
    assert (
        ("它扯下门边柳树上", "最后几片干枯的叶子。"),
        ("It tugs the last dry leaves", "off the willow by the gate."),
    ) in texts
    assert (("也没有人能让它留下。",), ("Nobody could make it stay.",)) in texts  # moved and the OCR error fixed
    assert (
        ("可是它一到，", "全村都打开了窗户。"),
        ("But the whole village opens its windows", "the moment it arrives."),
    ) in texts
    assert not any("rnake" in s for b in fixed for s in b["en"])
    assert all(b["keep"] for b in fixed if b.get("proofread")) and len(fixed) == len(beads) - 1
    # four wrong beads, one row each: the merge-next row finds its beads already merged by the
    # merge-prev row; the zh-from-prev row finds its beads changed by the zh-to-next row (which also
    # fixed the OCR error) and says so
    assert summary["stale"] == []
    sup = summary["superseded"]
    assert [x["decision"] for x in sup] == ["zh-from-prev"] and "its bead was changed by" in sup[0]["reason"]
    assert summary["applied"] + summary["already"] == summary["checked"] == len(items) - 1
    assert summary["corrected"] == sum(1 for it in items if it["bead"]["zh"] and it["bead"]["zh"][0] in WRONG) - 1
    s = summary["sample"]
    wrong_in_sample = sum(1 for it in items if it["kind"] == "sample" and it["bead"]["zh"][0] in WRONG)
    assert s["judged"] == 20 and s["wrong"] == wrong_in_sample and s["population"] == len(beads)
    assert s["ci95"][0] <= s["precision"] <= s["ci95"][1] and s["precision"] == (20 - wrong_in_sample) / 20
    # every bead of the sample is judged now: nothing of it is exported again, nor any decided bead
    again, info = build_items(BOOK, fixed, CFG)
    assert info["sample_unjudged"] == 0 and not any(it["bead"]["zh"] and it["bead"]["zh"][0] in WRONG for it in again)


def test_corrections_survive_an_upstream_change_and_those_that_no_longer_apply_are_reported(exported, poems):
    _beads, _items, _info, _summary, d = exported
    path = d / "done2.xlsx"
    shutil.copy(d / "sheet.xlsx", path)
    _fill_xlsx(path, "mei", _decide)
    corrections = compile_corrections(read_completed(path))
    zh, en = poems
    # a new opening line in both editions shifts every bead; a typo fixed elsewhere changes one line
    zh2 = copy.deepcopy(zh)
    en2 = copy.deepcopy(en)
    zh2[0]["text"] = "序。" + zh2[0]["text"]
    en2[0]["text"] = "A preface. " + en2[0]["text"]
    fixed, summary = _aligned(zh2, en2, corrections)
    assert summary["stale"] == [] and summary["applied"] + summary["already"] == len(corrections) - 1
    assert any(b["zh"] == ["它扯下门边柳树上", "最后几片干枯的叶子。"] for b in fixed)
    # upstream fixes the OCR error itself and rewrites one line of the merged sentence
    en3 = _replace(en2, "Nobody could rnake it stay.", "Nobody could make it stay.")
    zh3 = _replace(zh2, "它扯下门边柳树上", "它扯落门边柳树上")
    fixed, summary = _aligned(zh3, en3, corrections)
    stale = summary["stale"]  # the row about the rewritten line, with its file, row and reason
    assert [x["decision"] for x in stale] == ["merge-prev"]
    assert all("它扯下门边柳树上" in x["reason"] and "done2.xlsx: row " in x["source"] for x in stale)
    # the move still applies: the corrector's own fix is now upstream's text, and the bead is found by it
    assert any(b["zh"] == ["可是它一到，", "全村都打开了窗户。"] for b in fixed)
    assert any(b["zh"] == ["也没有人能让它留下。"] and b["en"] == ["Nobody could make it stay."] for b in fixed)
    assert len(summary["superseded"]) + len(stale) + summary["applied"] + summary["already"] == len(corrections)


def test_bad_sheets_get_one_message_naming_every_file_row_and_reason(exported, tmp_path):
    _beads, items, _info, _summary, d = exported
    rows = list(csv.DictReader(io.StringIO((d / "sheet.csv").read_text(encoding="utf-8-sig"))))
    by_first = {json.loads(r["key"])["zh"][0]: k for k, r in enumerate(rows)}
    for r in rows:
        r["corrector"] = "ann"
    first = rows[0]
    first["decision"] = "move-it"  # row 2: unknown decision
    rows[1]["decision"], rows[1]["split"] = "split", "5/0"  # row 3: split does not fit
    rows[2]["en"] = rows[2]["en"] + " (edited)"  # row 4: shown text edited
    rows[2]["decision"] = "accept"
    rows[3]["decision"], rows[3]["key"] = "accept", '{"book": "four-seasons", "zh": ['  # row 5: damaged key
    k = by_first["最后几片干枯的叶子。"]
    rows[k]["decision"], rows[k]["corrector"] = "merge-prev", ""  # no corrector
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    (tmp_path / "ann.csv").write_text(buf.getvalue(), encoding="utf-8")
    # a second file decides one of the same beads differently
    other = [dict(rows[k], decision="reject", corrector="bob")]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(other)
    (tmp_path / "bob.csv").write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(BooktransError) as err:
        compile_corrections(read_completed(tmp_path / "ann.csv") + read_completed(tmp_path / "bob.csv"))
    msg = str(err.value)
    assert "ann.csv: row 2: unknown decision 'move-it'" in msg
    assert "ann.csv: row 3: split 5/0 does not fit a bead of" in msg
    assert "ann.csv: row 4: the en column differs from the exported bead" in msg
    assert "ann.csv: row 5: the key column is damaged" in msg
    assert f"ann.csv: row {k + 2}: no corrector name" in msg
    assert (
        f"bob.csv: row 2: reject, but {tmp_path / 'ann.csv'}: row {k + 2} decided merge-prev for the same bead" in msg
    )
    assert msg.count("\n") == 6  # one message, one line per problem
    (tmp_path / "x.txt").write_text("?")
    with pytest.raises(BooktransError, match="x.txt: unknown sheet type"):
        read_completed(tmp_path / "x.txt")


# Drives the form as a corrector does: name, decision menus, the text box of a side, the Save
# button; the file the browser would download is caught as the Blob the form's own code builds.
HARNESS = """<script>
(function(){
  const saved = document.createElement('pre'); saved.id = 'saved-file'; document.body.appendChild(saved);
  const RealBlob = window.Blob;
  window.Blob = function(parts, opts){ saved.textContent = parts.join(''); return new RealBlob(parts, opts); };
  URL.createObjectURL = () => 'blob:caught';
  HTMLAnchorElement.prototype.click = function(){};
  const who = document.getElementById('corrector'); who.value = 'mei'; who.dispatchEvent(new Event('input'));
  const todo = JSON.parse(document.getElementById('todo').textContent);
  todo.forEach(t => {
    const item = document.getElementById('item-' + t.item);
    const dec = item.querySelector('select.decision'); dec.value = t.decision; dec.dispatchEvent(new Event('change'));
    if (t.en_fixed) { const box = item.querySelector('textarea.en'); box.value = t.en_fixed; box.dispatchEvent(new Event('input')); }
  });
  document.getElementById('save').click();
})();
</script>"""  # noqa: E501


def test_the_form_saves_a_file_that_imports_like_the_sheet(exported, tmp_path):
    """The offline form in headless Chromium: a corrector's choices saved to a file, imported."""
    browser = need_chromium()
    _beads, items, _info, _summary, d = exported
    todo = [{"item": it["id"], "decision": _decide(it)[0], "en_fixed": _decide(it)[2]} for it in items]
    page = (d / "form.html").read_text(encoding="utf-8")
    page = page.replace(
        "</body>", f'<script type="application/json" id="todo">{json.dumps(todo)}</script>{HARNESS}</body>'
    )
    (tmp_path / "form.html").write_text(page, encoding="utf-8")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", (tmp_path / "form.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count('class="item done"') == len(items)
    saved = json.loads(
        dom.split('<pre id="saved-file">')[1]
        .split("</pre>")[0]
        .replace("&quot;", '"')
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )
    (tmp_path / "proofread-mei.json").write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    from_form = compile_corrections(read_completed(tmp_path / "proofread-mei.json"))
    path = tmp_path / "done.xlsx"
    shutil.copy(d / "sheet.xlsx", path)
    _fill_xlsx(path, "mei", _decide)
    from_sheet = compile_corrections(read_completed(path))
    strip = [{k: v for k, v in c.items() if k != "source"} for c in from_form]
    assert strip == [{k: v for k, v in c.items() if k != "source"} for c in from_sheet]


def test_wilson_interval_matches_published_values():
    lo, hi = wilson(8, 10)  # Newcombe (1998), method 3: 0.4902-0.9433
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    lo, hi = wilson(0, 10)  # 0-0.2775
    assert round(hi, 4) == 0.2775 and lo == 0.0
    assert wilson(27, 30, population=30) == (0.9, 0.9)  # the whole book judged: its exact precision
    narrow, wide = wilson(27, 30, population=60), wilson(27, 30)
    assert wide[0] < narrow[0] < 0.9 < narrow[1] < wide[1]
    one = book_estimate(200, 20, 3, known_wrong=10)
    assert one["precision"] == 0.85 and one["wrong_pairs"] == 30.0 and one["wrong_left"] == 20.0
    assert pooled_estimate({"a": one})["ci95"] == one["ci95"]
    both = pooled_estimate({"a": one, "b": book_estimate(600, 20, 0)})
    assert (
        both["precision"] == round((200 * 0.85 + 600 * 1.0) / 800, 4)
        and both["ci95"][0] < both["precision"] < both["ci95"][1]
    )


def _mac(shared, chapter: str):
    """A real MAC-Dev chapter aligned by the project's aligner, as align writes beads, with the gold."""
    from tools import load_tool

    from booktrans.align.gold import read_gold
    from booktrans.align.lexicon import CedictGlosser
    from booktrans.align.sentalign import align_sentences

    doc = read_gold(shared / "align-dev" / "mac_dev", chapter)
    zh, en, gold = doc.src, doc.tgt, set(doc.beads)
    beads = load_tool("eval/proofread.py").as_beads(zh, en, align_sentences(zh, en, CedictGlosser()))
    filter_beads(beads, align_filters())
    return zh, en, beads, gold


def _ids(beads, zh, en):
    """Beads back to line numbers (every line is in exactly one bead, in order)."""
    out, i, j = [], 0, 0
    for b in beads:
        assert b["zh"] == zh[i : i + len(b["zh"])] and b["en"] == en[j : j + len(b["en"])]
        out.append((tuple(range(i, i + len(b["zh"]))), tuple(range(j, j + len(b["en"])))))
        i, j = i + len(b["zh"]), j + len(b["en"])
    return out


def test_on_a_real_chapter_a_corrector_with_the_gold_raises_f1_and_the_sample_estimates_precision(shared, tmp_path):
    """MAC-Dev chapter 004 (a report chapter, docs/proofread.md): the export's doubtful beads are
    wrong far more often than the beads of the report chapters on average; a corrector who decides every exported
    bead as the gold says (accept, merge, split, move or reject) raises the chapter's strict F1; the
    estimate from the judged sample brackets the chapter's true precision."""
    zh, en, beads, gold = _mac(shared, "004")
    raw_ids = _ids(beads, zh, en)
    base_wrong = sum(1 for x in raw_ids if x not in gold) / len(raw_ids)
    marked, _ = apply_corrections("mac", beads, [], sample=30, seed=0)
    items, _info = build_items("mac", marked, proofread_select(doubtful=40, sample=30))
    doubtful = [it for it in items if it["kind"] == "doubtful"]
    # doubtful beads are wrong far more often than the reporting chapters' beads on average (pooled
    # over 004-006 as docs/proofread.md reports it; one chapter alone varies from 1.5x to 2.6x)
    hits, shown = sum(raw_ids[it["index"]] not in gold for it in doubtful), len(doubtful)
    wrong, total = base_wrong * len(raw_ids), len(raw_ids)
    for other in ("005", "006"):
        o_zh, o_en, o_beads, o_gold = _mac(shared, other)
        o_ids = _ids(o_beads, o_zh, o_en)
        o_marked, _ = apply_corrections("mac", o_beads, [], sample=30, seed=0)
        o_items, _ = build_items("mac", o_marked, proofread_select(doubtful=40, sample=30))
        o_doubtful = [it for it in o_items if it["kind"] == "doubtful"]
        hits, shown = hits + sum(o_ids[it["index"]] not in o_gold for it in o_doubtful), shown + len(o_doubtful)
        wrong, total = wrong + sum(x not in o_gold for x in o_ids), total + len(o_ids)
    assert hits / shown > 1.8 * wrong / total

    def gold_decision(item):
        k = item["index"]
        ids = raw_ids
        if ids[k] in gold:
            return "accept", ""
        for dec, run in (("merge-next", (k, k + 2)), ("merge-prev", (k - 1, k + 1))):
            if 0 <= run[0] and run[1] <= len(ids):
                z = tuple(x for r in ids[run[0] : run[1]] for x in r[0])
                e = tuple(x for r in ids[run[0] : run[1]] for x in r[1])
                if (z, e) in gold:
                    return dec, ""
        z, e = ids[k]
        for a in range(len(z) + 1):
            for b in range(len(e) + 1):
                if (z[:a], e[:b]) in gold and (z[a:], e[b:]) in gold and (a, b) not in ((0, 0), (len(z), len(e))):
                    return "split", f"{a}/{b}"
        return "reject", ""

    path = tmp_path / "mac.xlsx"
    write_xlsx(items, path, "MAC-Dev 004")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["proofread"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cell = dict(zip(head, row))
        item = next(it for it in items if it["id"] == cell["item"].value)
        cell["decision"].value, split = gold_decision(item)
        cell["split"].value = split or None
        cell["corrector"].value = "gold"
    wb.save(path)
    corrections = compile_corrections(read_completed(path))
    fixed, summary = apply_corrections("mac", beads, corrections, sample=30, seed=0)

    def f1(bs):
        kept = [x for x, b in zip(_ids(bs, zh, en), bs) if b.get("drop") != "rejected"]
        tp = sum(1 for x in kept if x in gold)
        p, r = tp / len(kept), tp / len(gold)
        return 2 * p * r / (p + r)

    assert f1(fixed) > f1(beads) + 0.02
    s = summary["sample"]
    pop = [x for x, b in zip(raw_ids, beads) if b["zh"] and b["en"] and b.get("keep", True)]
    true_precision = sum(1 for x in pop if x in gold) / len(pop)
    assert s["judged"] == 30 and s["ci95"][0] <= true_precision <= s["ci95"][1]


def test_the_stages_carry_corrections_from_completed_sheets_to_training_documents_and_the_card(
    exported, tmp_path, monkeypatch, tiny_base
):
    """corrections (completed sheets in) -> align (applies) -> dataset (documents, card), as dvc repro runs them."""
    _beads, _items, _info, _summary, d = exported
    for name in ("data/books.yaml", "data/sample"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).symlink_to(ROOT / name)
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    for step in ("ingest", "align"):  # the checkout's caches: the parsed dictionary is not parsed again
        params[step]["cache_dir"] = str(ROOT / params[step]["cache_dir"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    completed = tmp_path / "proofread" / "completed"
    completed.mkdir(parents=True)
    shutil.copy(d / "sheet.xlsx", completed / "2026-01-01-four-seasons-mei.xlsx")
    _fill_xlsx(completed / "2026-01-01-four-seasons-mei.xlsx", "mei", _decide)
    for stage in ("ingest", "corrections", "align"):
        res = run_stage(stage, tmp_path)
        assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(Path("reports/align.json").read_text())[BOOK]["proofreading"]
    assert report["checked"] > 0 and report["corrected"] >= 2 and report["stale"] == []
    # (the aligned text here is the real sample, without the OCR error: that fix applies as already done)
    beads = [json.loads(x) for x in Path(f"data/aligned/{BOOK}.jsonl").read_text().splitlines()]
    assert any(
        b["zh"] == ["它扯下门边柳树上", "最后几片干枯的叶子。"] and b["proofread"]["decision"] == "merge-prev"
        for b in beads
    )
    res = run_stage("dataset@r1", tmp_path, "--model", str(tiny_base))
    assert res.returncode == 0, res.stderr[-3000:]
    docs = [json.loads(x) for x in Path("data/sft/r1/train.jsonl").read_text().splitlines()]
    poems = [m["content"] for doc in docs if doc["meta"]["book"] == BOOK for m in doc["messages"][1:]]
    assert any("它扯下门边柳树上最后几片干枯的叶子。" in t for t in poems)
    assert not any("可是它一到，\n" in t or t.endswith("可是它一到，") for t in poems)
    card = Path("reports/dataset/r1.md").read_text()
    prec = report["sample"]["precision"]
    assert "Estimated precision of the aligned pairs: " in card and f"{prec:.1%}" in card
    assert f"| {BOOK} | {report['checked']} | {report['corrected']} | 0 |" in card


def test_the_cli_exports_sheets_and_imports_them(exported, tmp_path, capsys):
    from booktrans.cli import main
    from booktrans.io import write_jsonl

    beads, items, _info, _summary, d = exported
    write_jsonl(tmp_path / f"{BOOK}.jsonl", beads)
    assert (
        main(
            [
                "proofread",
                "export",
                str(tmp_path / f"{BOOK}.jsonl"),
                "--out",
                str(tmp_path / "out"),
                "--doubtful",
                "20",
                "--sample",
                "20",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["items"] == len(items)
    shutil.copy(tmp_path / "out" / "sheet.xlsx", tmp_path / "done.xlsx")
    _fill_xlsx(tmp_path / "done.xlsx", "mei", _decide)
    assert main(["proofread", "import", str(tmp_path / "done.xlsx"), "--out", str(tmp_path / "c.json")]) == 0
    assert (
        main(["proofread", "apply", str(tmp_path / f"{BOOK}.jsonl"), str(tmp_path / "c.json"), "--sample", "20"]) == 0
    )
    out = capsys.readouterr()
    fixed = [json.loads(x) for x in out.out.splitlines()]
    assert any(b["zh"] == ["它扯下门边柳树上", "最后几片干枯的叶子。"] for b in fixed) and '"checked"' in out.err


def test_a_mispaired_chapter_and_a_dropped_sentence_are_exported_with_their_reasons(sample_paragraphs):
    """Two errors a real book brings: the English of chapters 3 and 4 swapped under their headings (a
    wrong chapter pairing), and a Chinese sentence missing from the Chinese edition (an omission)."""
    zh = copy.deepcopy(sample_paragraphs[("lighthouse", "zh")])
    en = copy.deepcopy(sample_paragraphs[("lighthouse", "en")])
    three = [p["text"] for p in en if p["chapter"] == 3]
    four = [p["text"] for p in en if p["chapter"] == 4]
    k3 = k4 = 0
    for p in en:  # the bodies change places, the headings stay
        if p["chapter"] == 3 and k4 < len(four):
            p["text"], k4 = four[k4], k4 + 1
        elif p["chapter"] == 4 and k3 < len(three):
            p["text"], k3 = three[k3], k3 + 1
    gone = "她大声地数着台阶，因为父亲说，一个不再数数的守塔人就会开始遗忘。"
    zh = _replace(zh, gone, "")

    def by_order(zh_chapters, en_chapters):
        # chapter pairing by content would pair the swapped bodies right (zh 3 / en 4) and leave the
        # other two unpaired; pairing by order is the wrong pairing this test puts in front of a corrector
        return (
            [Counter({f"c{k}": 1}) for k in range(len(zh_chapters))],
            [Counter({f"c{k}": 1}) for k in range(len(en_chapters))],
        )

    beads, _ = align_book(zh, en, chapter_bags=by_order)
    items, info = build_items("lighthouse", beads, proofread_select(doubtful=40, sample=0))
    outliers = [
        it
        for it in items
        if any("chapter pair zh 3 / en 3" in r or "chapter pair zh 4 / en 4" in r for r in it["reasons"])
    ]
    assert outliers and info["doubtful_reasons"].get("chapter_outlier", 0) >= 3
    orphan = "She counted them aloud, because her father said that a keeper who stops counting starts forgetting."
    hit = [it for it in items if orphan in it["bead"]["en"]]
    assert hit and hit[0]["reasons"], "the English sentence without its Chinese is in front of the corrector"


def test_the_sheets_are_byte_identical_across_runs(exported, tmp_path):
    import time

    _beads, items, _info, _summary, d = exported
    time.sleep(1.1)  # openpyxl stamps the creation and save times; the writer must remove them
    write_xlsx(items, tmp_path / "again.xlsx", "test")
    assert (tmp_path / "again.xlsx").read_bytes() == (d / "sheet.xlsx").read_bytes()
