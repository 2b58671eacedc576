"""What a person sees: the report, the review form and the proofreading form in headless Chromium
at 1,280 and 800 px. Measured in the page, as a reader would notice it: nothing wider than the
window, no heading hidden under the sticky header after a jump, every translation box visible (an
empty one says so), charts with readable ticks, a legend and values on hover, tables in words with
a glossary and n beside every mean and correlation; the forms refuse a split the import refuses,
name saved files date first and say what a load restored.

The report is built from the demo's tracked outputs (reports/metrics, reports/rounds, reports/plots,
reports/align.json), the warnings the evaluation derives from those metrics, and review scores
aggregated by booktrans.review.scores from two raters' sheets. One browser serves the module."""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest
from browser import OVERFLOW, Chromium, jump_hidden, need_chromium

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1280, 800)
BOOK = "four-seasons"


@pytest.fixture(scope="module")
def browser():
    b = Chromium(need_chromium())
    yield b
    b.close()


def _report_inputs() -> dict:
    from booktrans.evaluate.book import flags_of
    from booktrans.io import read_json

    r = ROOT / "reports"
    metrics = {p.stem: read_json(p) for p in sorted((r / "metrics").glob("r*.json"))}
    positions: dict = {}
    for row in read_json(r / "plots" / "position.json")["position"]:
        positions.setdefault(row["round"], []).append({k: v for k, v in row.items() if k != "round"})
    details = {
        rd: {"directions": {d: {"flags": flags_of(m, *d.split("-"))} for d, m in metrics[rd]["directions"].items()}}
        for rd in metrics
    }
    summaries = {p.stem: read_json(p) for p in sorted((r / "rounds").glob("r*.json"))}
    aligned = read_json(r / "align.json")
    return {
        "metrics": metrics,
        "positions": positions,
        "details": details,
        "systems": {"deepseek": read_json(r / "metrics" / "deepseek.json")},
        "datasets": {k: s["data"] for k, s in summaries.items()},
        "losses": {k: s["loss"] for k, s in summaries.items()},
        "proofreading": {
            b: {"split": v.get("split"), **v["proofreading"]} for b, v in aligned.items() if "proofreading" in v
        },
    }


def _human(tmp: Path, metrics: dict) -> dict:
    """Two raters' CSV sheets of a packet, validated and aggregated as the review-scores stage does."""
    from project import review_sample
    from test_review import _fill, fake_segments

    from booktrans.review import REFERENCE, sample_items
    from booktrans.review.scores import aggregate, read_sheet, validate

    items, key = sample_items(
        fake_segments(), {"night-train": {"title": "Night Train", "genre": "novel"}}, review_sample(per_band=2)
    )
    q1, q2 = {"r0": 1, "r2": 3, "r4": 4, REFERENCE: 5}, {"r0": 2, "r2": 3, "r4": 5, REFERENCE: 5}
    (tmp / "ann.csv").write_text(
        _fill(items, key, "ann", lambda s, i: q1[s], errors={"r0": "accuracy/omission|major|"}), encoding="utf-8"
    )
    (tmp / "bob.csv").write_text(_fill(items, key, "bob", lambda s, i: q2[s]), encoding="utf-8")
    by_id = {i["id"]: {**i, "key": key[i["id"]]} for i in items}
    scored = validate(read_sheet(tmp / "ann.csv") + read_sheet(tmp / "bob.csv"), key, by_id)
    return aggregate(scored, by_id, {r: metrics[r] for r in ("r0", "r2", "r4")})


@pytest.fixture(scope="module")
def report(tmp_path_factory, sample_paragraphs):
    from booktrans.report import render_report

    tmp = tmp_path_factory.mktemp("report")
    inputs = _report_inputs()
    human = _human(tmp, inputs["metrics"])
    cost = {
        "model": "tiny",
        "gpu_hours": 0.01,
        "cost": 0.02,
        "rounds": {"r1": {"tokens": 1000, "steps": 3, "memory_gib": 1.2, "gpu_hours": 0.01, "cost": 0.02}},
    }
    from test_compare import compare_document, evaluate_systems

    compare = compare_document(evaluate_systems(sample_paragraphs))  # significance, breakdown, decision
    page = render_report(**inputs, human=human, cost=cost, notes=["scores of a tiny model"], compare=compare)
    assert page == render_report(**inputs, human=human, cost=cost, notes=["scores of a tiny model"], compare=compare)
    (tmp / "index.html").write_text(page, encoding="utf-8")
    return tmp / "index.html", human


def _open(browser, path: Path, width: int, charts: bool = False):
    page = browser.open(path.as_uri(), width)
    if charts:
        page.wait_for("[...document.querySelectorAll('.vega')].every(e => e.dataset.rendered === 'yes')", 30)
    return page


def _no_overflow(page, width):
    got = page.js(OVERFLOW)
    assert got["scrollWidth"] <= got["clientWidth"] == width and not got["wide"], got


@pytest.mark.parametrize("width", WIDTHS)
def test_report_fits_the_window_and_its_charts_are_readable(browser, report, width, tmp_path):
    page = _open(browser, report[0], width, charts=True)
    try:
        _no_overflow(page, width)
        charts = page.js("""[...document.querySelectorAll('.vega')].map(v => ({
            id: v.id, svg: !!v.querySelector('svg'),
            ticks: [...v.querySelectorAll('.role-axis-label text')].map(t => t.textContent),
            titles: [...v.querySelectorAll('.role-axis-title text')].map(t => t.textContent),
            legend: [...v.querySelectorAll('.role-legend-label text')].map(t => t.textContent)}))""")
        assert len(charts) >= 6 and all(c["svg"] for c in charts), charts
        for c in charts:
            assert len(c["titles"]) == 2 and all(c["titles"]), c  # both axes named, with units
            assert c["legend"], c  # which line is which
            for t in c["ticks"]:  # nice ticks: no −0.0536 or 1.13
                num = t.replace("\u2212", "-").replace(",", "").rstrip("%")
                if re.fullmatch(r"-?\d+(\.\d+)?", num):
                    assert len(num.split(".")[1]) <= 1 if "." in num else True, (c["id"], t)
        page.screenshot(tmp_path / f"report-{width}.png")
        assert (tmp_path / f"report-{width}.png").stat().st_size > 50_000
    finally:
        page.close()


def test_report_shows_values_on_hover(browser, report):
    page = _open(browser, report[0], 1280, charts=True)
    try:
        pt = page.js("""(() => { const p = document.querySelector('#chart-quality .mark-symbol path');
            p.scrollIntoView({block: 'center'}); const b = p.getBoundingClientRect();
            return {x: b.left + b.width / 2, y: b.top + b.height / 2}; })()""")
        page.hover(pt["x"], pt["y"])
        tip = page.wait_for(
            "(() => { const t = document.getElementById('vg-tooltip-element');"
            " return t && t.classList.contains('visible') && t.innerText; })()",
            20,
        )
        assert "round" in tip and "series" in tip and re.search(r"\d", tip), tip
    finally:
        page.close()


def test_report_tables_are_in_words_explained_and_sized(browser, report):
    path, human = report
    page = _open(browser, path, 1280)
    try:
        info = page.js("""(() => {
          const gl = new Set([...document.querySelectorAll('#glossary dt')].map(d => d.textContent));
          const heads = [...document.querySelectorAll('thead th')].map(t => t.textContent);
          const human = [...document.querySelectorAll('#human thead th')].map(t => t.textContent);
          const corr = [...document.querySelectorAll('#correlation tbody tr')].map(r => [...r.cells].map(c => c.textContent));
          const bare = [...document.querySelectorAll('table.metrics td')].filter(td =>
              /^(absent|—)/.test(td.textContent.trim()) && td.querySelector('small'));
          const first = document.querySelector('section').id;
          const ns = [...document.querySelectorAll('table.significance td.ns')].map(td => ({
              text: td.textContent, struck: getComputedStyle(td.querySelector('.ns-value')).textDecorationLine}));
          const verdicts = [...document.querySelectorAll('#decision-table td.verdict')].map(td => td.textContent);
          const small = [...document.querySelectorAll('table.breakdown td')].filter(td => /small sample/.test(td.textContent)).length;
          return {unexplained: heads.filter(h => !gl.has(h)), heads, human, corr, bare: bare.length, first, ns, verdicts, small,
                  flags: [...document.querySelectorAll('ul.warnings li')].map(l => l.textContent),
                  ids: [...document.querySelectorAll('[id]')].map(e => e.id)}; })()""")  # noqa: E501
    finally:
        page.close()
    assert info["first"] == "how-to-read"
    # a difference the data cannot tell from noise is struck through and says so (identical rounds r2 and r1)
    assert info["ns"] and all("not significant" in c["text"] and c["struck"] == "line-through" for c in info["ns"])
    assert {"met", "not met", "no data"} <= set(info["verdicts"])
    assert info["small"] >= 1  # the sample books are small groups
    assert len(info["ids"]) == len(set(info["ids"]))  # a link or a test finds one element
    assert not info["unexplained"], info["unexplained"]  # a glossary entry for every column
    assert not [h for h in info["heads"] if re.search(r"[a-z]_[a-z]", h)]  # no snake_case keys
    assert info["human"][:2] == ["system", "overall"] and "error penalty per passage" in info["human"]
    assert info["bare"] == 0  # no "vs prev" beside absent or —
    assert any("empty translation in" in f for f in info["flags"])  # the warnings are spelt out
    assert sorted(int(row[3]) for row in info["corr"]) == sorted(v["n"] for v in human["correlation"].values())
    for name, _pearson, _spearman, n, trust in info["corr"]:  # small n said beside the figure
        assert (int(n) < 10) == bool(trust), (name, n, trust)
    assert any(row[3] == "3" and "small sample" in row[4] for row in info["corr"])


# ---- the review form -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def review_form(tmp_path_factory):
    """A packet whose r0 wrote nothing for one passage, as the demo's untrained model does."""
    from project import review_sample
    from test_review import fake_segments

    from booktrans.review import sample_items
    from booktrans.review.forms import render_form

    segs = fake_segments()
    for s in segs["r0"][("night-train", "zh-en")]:
        s["mt"] = ""
    items, key = sample_items(
        segs, {"night-train": {"title": "Night Train", "genre": "novel"}}, review_sample(per_band=2)
    )
    path = tmp_path_factory.mktemp("review") / "form.html"
    path.write_text(render_form(items, "pkt1"), encoding="utf-8")
    empty = sum(1 for it in items for k, v in key[it["id"]].items() if v == "r0")
    return path, items, empty


@pytest.mark.parametrize("width", WIDTHS)
def test_review_form_fits_shows_every_translation_and_jumps_clear_of_the_header(browser, review_form, width):
    path, items, empty = review_form
    page = _open(browser, path, width)
    try:
        _no_overflow(page, width)
        boxes = page.js("""[...document.querySelectorAll('.mt')].map(m => {
            const b = m.getBoundingClientRect(); return {h: b.height, w: b.width, text: m.innerText.trim(), empty: m.classList.contains('empty')}; })""")  # noqa: E501
        assert len(boxes) == sum(len(it["outputs"]) for it in items)
        assert all(b["h"] >= 14 and b["w"] > 100 and b["text"] for b in boxes), boxes  # none renders as nothing
        said = [b for b in boxes if b["empty"]]
        assert len(said) == empty and all(b["text"].startswith("(empty") for b in said)
        jumps = page.js(jump_hidden(".item"))
        assert jumps["checked"] == len(items) and not jumps["hidden"], jumps
    finally:
        page.close()


CATCH = """(() => { window.__alerts = []; window.alert = m => window.__alerts.push(String(m));
  window.__saved = null; const RealBlob = window.Blob;
  window.Blob = function(parts, opts){ window.__saved = parts.join(''); return new RealBlob(parts, opts); };
  URL.createObjectURL = () => 'blob:caught';
  HTMLAnchorElement.prototype.click = function(){ window.__download = this.download; };
  localStorage.clear(); return true; })()"""


def _load_file(page, selector: str, name: str, text: str) -> None:
    """What choosing a file in the form's Load box does: a File in the input, a change event."""
    page.js(
        """(() => { const dt = new DataTransfer(); dt.items.add(new File([%s], %s, {type: 'application/json'}));
      const inp = document.querySelector(%s); inp.files = dt.files; inp.dispatchEvent(new Event('change')); return true; })()"""  # noqa: E501
        % (json.dumps(text), json.dumps(name), json.dumps(selector))
    )


def test_review_form_load_says_what_it_restored(browser, review_form):
    path, items, _empty = review_form
    page = _open(browser, path, 1280)
    try:
        page.js(CATCH)
        ids = [it["id"] for it in items]
        answers = [
            {
                "item": i,
                "system": "A",
                **{c: 4 for c in ("accuracy", "fluency", "style", "terminology", "completeness")},
                "errors": [],
                "comment": "",
            }
            for i in ids[:4]
        ]
        answers += [
            {"item": "gone-item", "system": "A", "accuracy": 3, "errors": [], "comment": ""},
            {"item": ids[0], "system": "Z", "accuracy": 3, "errors": [], "comment": ""},
        ]
        _load_file(page, "#load", "old.json", json.dumps({"packet": "older", "rater": "ann", "answers": answers}))
        status = page.wait_for(
            "(() => { const s = document.getElementById('status').textContent;"
            " return s.includes('restored') && s; })()",
            20,
        )
        assert status == "4 of 6 answers restored; 2 no longer match this packet", status
        assert (
            page.js("document.getElementById('progress').textContent") == f"4 of {4 * len(items)} translations scored"
        )
    finally:
        page.close()


# ---- the proofreading form -------------------------------------------------------------------


def _beads(corrections=()):
    from project import align_book, ingest_file

    from booktrans.manifest import load_manifest
    from booktrans.proofread.corrections import apply_corrections

    book = next(b for b in load_manifest(ROOT / "data" / "books.yaml") if b.id == BOOK)
    zh, en = ([p.to_json() for p in ingest_file(ROOT / book.file(lang), lang).paragraphs] for lang in ("zh", "en"))
    beads, _ = align_book(zh, en)
    return apply_corrections(BOOK, beads, list(corrections), sample=20, seed=0)[0]


@pytest.fixture(scope="module")
def sheets(tmp_path_factory):
    """The poems' sheet as first exported, and re-exported once the first ten of the committed
    corrections apply (the beads they decided leave the sheet)."""
    from project import proofread_select

    from booktrans.io import read_json
    from booktrans.proofread.select import build_items
    from booktrans.proofread.sheets import write_sheets

    cfg = proofread_select(doubtful=20, sample=20, context=2, seed=0)
    old_items, _ = build_items(BOOK, _beads(), cfg)
    done = [c for c in read_json(ROOT / "proofread" / "corrections.json")["corrections"] if c["book"] == BOOK]
    new_items, _ = build_items(BOOK, _beads(done[:10]), cfg)
    d = tmp_path_factory.mktemp("proofread")
    old_sheet = write_sheets(old_items, d / "old", BOOK)
    new_sheet = write_sheets(new_items, d / "new", BOOK)
    assert old_sheet != new_sheet
    return d, old_items, new_items, new_sheet


@pytest.mark.parametrize("width", WIDTHS)
def test_proofreading_form_fits_and_jumps_clear_of_the_header(browser, sheets, width):
    d, _old, items, _sheet = sheets
    page = _open(browser, d / "new" / "form.html", width)
    try:
        _no_overflow(page, width)
        header = page.js("document.querySelector('header').getBoundingClientRect().height")
        jumps = page.js(jump_hidden(".item"))
        assert jumps["checked"] == len(items) and not jumps["hidden"], (header, jumps)
        assert page.js("[...document.querySelectorAll('textarea')].every(t => t.getBoundingClientRect().height > 20)")
    finally:
        page.close()


def test_proofreading_form_refuses_an_empty_split_and_saves_date_first(browser, sheets, tmp_path):
    from booktrans.proofread.corrections import compile_corrections
    from booktrans.proofread.sheets import read_completed

    d, _old, items, sheet = sheets
    k = next(n for n, it in enumerate(items) if it["bead"]["zh"] and it["bead"]["en"])
    it = items[k]
    page = _open(browser, d / "new" / "form.html", 1280)
    try:
        page.js(CATCH)
        page.js(f"""(() => {{ const who = document.getElementById('corrector'); who.value = 'mei'; who.dispatchEvent(new Event('input'));
          const item = document.getElementById('item-{it["id"]}');
          const dec = item.querySelector('select.decision'); dec.value = 'split'; dec.dispatchEvent(new Event('change'));
          return true; }})()""")  # noqa: E501
        # the selectors start unset, and 0/0 is refused on the spot and at Save
        assert page.js(
            f"document.getElementById('item-{it['id']}').querySelector('.split-problem').textContent"
        ).startswith("choose how many")
        page.js(f"""(() => {{ const item = document.getElementById('item-{it["id"]}');
          for (const c of ['split-zh', 'split-en']) {{ const s = item.querySelector('select.' + c); s.value = '0'; s.dispatchEvent(new Event('change')); }}
          document.getElementById('save').click(); return true; }})()""")  # noqa: E501
        assert (
            page.js(f"document.getElementById('item-{it['id']}').querySelector('.split-problem').textContent")
            == "split 0/0 leaves one of the two beads empty"
        )
        assert page.js("window.__saved") is None and "split 0/0" in page.js("window.__alerts.join(' ')")
        assert page.js(f"document.getElementById('item-{it['id']}').classList.contains('invalid')")
        # a split that fits: saved, named date first, and the import takes it
        page.js(f"""(() => {{ const item = document.getElementById('item-{it["id"]}');
          const z = item.querySelector('select.split-zh'); z.value = '1'; z.dispatchEvent(new Event('change'));
          document.getElementById('save').click(); return true; }})()""")
        saved, name = page.js("window.__saved"), page.js("window.__download")
    finally:
        page.close()
    assert saved is not None
    today = datetime.date.today().isoformat()
    assert name == f"{today}-{BOOK}-{sheet}-mei.json", name
    (tmp_path / name).write_text(saved, encoding="utf-8")
    got = compile_corrections(read_completed(tmp_path / name))
    assert [c["decision"] for c in got] == ["split"] and got[0]["corrector"] == "mei"


def test_loading_an_old_save_into_a_re_exported_sheet_says_what_it_restored(browser, sheets):
    """An answer follows its bead by the bead's texts: those the new sheet still asks about come
    back, the rest are counted, and nothing is asked first."""
    d, old_items, new_items, _sheet = sheets

    def canon(key):
        return json.dumps(key, sort_keys=True, ensure_ascii=False)

    page = _open(browser, d / "old" / "form.html", 1280)
    try:
        page.js(CATCH)
        page.js("""(() => { const who = document.getElementById('corrector'); who.value = 'ann'; who.dispatchEvent(new Event('input'));
          document.querySelectorAll('select.decision').forEach(s => { s.value = 'accept'; s.dispatchEvent(new Event('change')); });
          document.getElementById('save').click(); return true; })()""")  # noqa: E501
        old_save = page.js("window.__saved")
    finally:
        page.close()
    assert len(json.loads(old_save)["answers"]) == len(old_items)
    still = {canon(it["key"]) for it in new_items}
    kept = sum(1 for it in old_items if canon(it["key"]) in still)
    assert 0 < kept < len(old_items)  # the re-export keeps some beads and drops or changes others
    page = _open(browser, d / "new" / "form.html", 1280)
    try:
        page.js(CATCH)
        _load_file(page, "#load", "old.json", old_save)
        # wait for the load's own message (the status line may still show an earlier one for a moment)
        status = page.wait_for(
            "(() => { const s = document.getElementById('status').textContent;"
            " return s.includes('restored') && s; })()",
            10,
        )
        assert (
            status == f"{kept} of {len(old_items)} answers restored; {len(old_items) - kept} no longer match this sheet"
        )
        assert page.js("document.querySelectorAll('.item.done').length") == kept
        # the real save the demo ships, from an earlier sheet of this book: every bead it decided is gone
        real = (ROOT / "proofread" / "completed" / "2026-11-22-four-seasons-9ad1783b7b.json").read_text(
            encoding="utf-8"
        )
        n = len(json.loads(real)["answers"])
        back = sum(1 for a in json.loads(real)["answers"] if canon(a["key"]) in still)
        _load_file(page, "#load", "2026-11-22-four-seasons-9ad1783b7b.json", real)
        status = page.wait_for(
            "(() => { const s = document.getElementById('status').textContent; return "
            f"s.startsWith('{back} of {n}') && s; }})()",
            10,
        )
        assert f"{back} of {n} answers restored" in status and (back or "kept the answers already here" in status)
    finally:
        page.close()


def test_csv_sheets_carry_a_byte_order_mark_and_still_import(sheets, tmp_path):
    """Excel reads a CSV without a BOM in the legacy code page (the Chinese becomes mojibake); with
    one it reads UTF-8. The import strips it, so a sheet saved back as CSV UTF-8 comes in."""
    from project import review_sample
    from test_review import fake_segments

    from booktrans.proofread.corrections import compile_corrections
    from booktrans.proofread.sheets import read_completed
    from booktrans.review import sample_items
    from booktrans.review.forms import render_csv

    d, _old, items, _sheet = sheets
    raw = (d / "new" / "sheet.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfitem,")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in raw.decode("utf-8-sig"))  # the Chinese, as UTF-8
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    rows[0].update(decision="accept", corrector="mei")  # the first row decided, saved as CSV UTF-8
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    (tmp_path / "back.csv").write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"))
    got = compile_corrections(read_completed(tmp_path / "back.csv"))
    assert [c["decision"] for c in got] == ["accept"] and got[0]["corrector"] == "mei"
    review_items, _ = sample_items(
        fake_segments(), {"night-train": {"title": "Night Train", "genre": "novel"}}, review_sample()
    )
    assert render_csv(review_items).encode("utf-8").startswith(b"\xef\xbb\xbfrater,")


def test_vendored_scripts_are_the_pinned_npm_builds():
    """The inlined libraries are the npm builds booktrans/report/vendor/README.md names, unchanged."""
    import hashlib

    vendor = ROOT / "booktrans" / "report" / "vendor"
    listed = dict(
        line.split()[::-1] for line in (vendor / "README.md").read_text().split("```")[1].strip().splitlines()
    )
    assert sorted(listed) == sorted(p.name for p in vendor.glob("*.js"))
    for name, digest in listed.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert "Redistribution and use in source and binary forms" in (vendor / "LICENSE").read_text()
