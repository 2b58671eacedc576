"""Expert review: blinded packets, forms and sheets, import with validation, agreement, the report page."""

import csv
import io
import json
import subprocess

import pytest
from browser import need_chromium
from project import review_sample
from stagecmd import run_stage

from booktrans.errors import BooktransError
from booktrans.review import CRITERIA, REFERENCE, sample_items
from booktrans.review.forms import render_csv, render_form, write_xlsx
from booktrans.review.scores import aggregate, krippendorff_alpha, read_sheet, spearman, validate


def fake_segments(n=30, systems=("r0", "r2", "r4")):
    """Aligned segments as evaluate writes them: the same src/ref for every system, different mt."""
    out = {}
    for s in systems:
        segs = []
        for k in range(n):
            segs.append(
                {
                    "src": f"源句{k}。",
                    "ref": f"Reference sentence {k}.",
                    "position": k / n,
                    "chapter": 1 + k // 10,
                    "mt": f"Reference sentence {k}." if s == "r4" else (f"Sentence {k} from {s}." if k % 3 else ""),
                }
            )
        out[s] = {("night-train", "zh-en"): segs}
    return out


@pytest.fixture()
def packet():
    items, key = sample_items(
        fake_segments(),
        {"night-train": {"title": "Night Train", "genre": "novel"}},
        review_sample(per_band=2, passage_segments=3),
    )
    return items, key


def test_packets_are_blinded_and_cover_every_position_band(packet):
    items, key = packet
    assert {i["band"] for i in items} == {"early", "middle", "late"} and len(items) == 6
    assert all(i["genre"] == "novel" for i in items)
    for it in items:
        assert sorted(it["outputs"]) == ["A", "B", "C", "D"]
        assert sorted(key[it["id"]].values()) == sorted(["r0", "r2", "r4", REFERENCE])
        # nothing in the item names a system
        assert not any(s in json.dumps(it) for s in ('"r0"', '"r2"', '"r4"', '"reference"'))
    # the order differs between items, and the same seed gives the same packet
    orders = {tuple(key[i["id"]][lab] for lab in "ABCD") for i in items}
    assert len(orders) > 1
    again, key2 = sample_items(
        fake_segments(),
        {"night-train": {"title": "Night Train", "genre": "novel"}},
        review_sample(per_band=2, passage_segments=3),
    )
    assert again == items and key2 == key


def _fill(items, key, rater, score_of, errors=None):
    """A completed CSV sheet: every translation scored by score_of(system)."""
    reader = list(csv.DictReader(io.StringIO(render_csv(items).removeprefix("\ufeff"))))
    for r in reader:
        system = key[r["item"]][r["system"]]
        r["rater"] = rater
        for c in CRITERIA:
            r[c] = str(score_of(system, r["item"]))
        if errors and system in errors:
            r["errors"] = errors[system]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(reader[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(reader)
    return buf.getvalue()


def test_completed_sheets_in_every_format_import_unblinded(packet, tmp_path):
    items, key = packet
    quality = {"r0": 1, "r2": 3, "r4": 4, REFERENCE: 5}
    (tmp_path / "ann.csv").write_text(
        _fill(items, key, "ann", lambda s, i: quality[s], errors={"r0": "accuracy/omission|major|from r0"}),
        encoding="utf-8",
    )
    # the same sheet as an XLSX filled in by a second rater (one point lower for r2)
    from openpyxl import load_workbook

    write_xlsx(items, tmp_path / "bob.xlsx")
    wb = load_workbook(tmp_path / "bob.xlsx")
    ws = wb.active
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        cells = dict(zip(head, row))
        system = key[cells["item"].value][cells["system"].value]
        cells["rater"].value = "bob"
        for c in CRITERIA:
            cells[c].value = quality[system] - (1 if system == "r2" else 0)
    wb.save(tmp_path / "bob.xlsx")
    # and a third from the HTML form's saved file, for two items only (the rest not reviewed yet)
    answers = [
        {
            "item": it["id"],
            "system": lab,
            **{c: quality[key[it["id"]][lab]] for c in CRITERIA},
            "errors": [],
            "comment": "",
        }
        for it in items[:2]
        for lab in it["outputs"]
    ]
    (tmp_path / "cy.json").write_text(json.dumps({"packet": "p", "rater": "cy", "answers": answers}), encoding="utf-8")
    rows = []
    for f in sorted(tmp_path.iterdir()):
        rows += read_sheet(f)
    scored = validate(rows, key, {i["id"]: i for i in items})
    assert len(scored) == 2 * 24 + 8
    full = {i["id"]: {**i, "key": key[i["id"]]} for i in items}
    metrics = {
        "r0": {"directions": {"zh-en": {"chrf": 10.0, "bleu": 1.0}}},
        "r2": {"directions": {"zh-en": {"chrf": 40.0, "bleu": 9.0}}},
        "r4": {"directions": {"zh-en": {"chrf": 90.0, "bleu": 30.0}}},
    }
    result = aggregate(scored, full, metrics)
    systems = result["systems"]
    assert systems["r0"]["overall"] == 1.0 and systems[REFERENCE]["overall"] == 5.0
    assert 2.0 < systems["r2"]["overall"] < 3.0 and systems["r0"]["omission_errors"] == 6
    assert systems["r0"]["mqm_penalty_per_passage"] > 0 and result["raters"] == 3
    assert result["agreement"]["overall"] > 0.8
    assert result["correlation"]["system_chrf"]["spearman"] == 1.0
    assert result["correlation"]["passage_chrf"]["n"] > 0 and result["correlation"]["passage_chrf"]["pearson"] > 0.5


def test_bad_sheets_get_one_message_naming_file_row_and_reason(packet, tmp_path):
    items, key = packet
    text = _fill(items, key, "ann", lambda s, i: 3)
    lines = text.splitlines()
    rows = list(csv.reader(lines))
    head = rows[0]
    rows[1][head.index("accuracy")] = "7"  # out of range
    rows[2][head.index("fluency")] = ""  # missing
    rows[3][head.index("item")] = "no-such-item"  # unknown item
    rows[4][head.index("system")] = "Z"  # unknown label
    rows[5][head.index("errors")] = "accuracy/omission|huge|x"  # bad severity
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (tmp_path / "ann.csv").write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(BooktransError) as err:
        validate(read_sheet(tmp_path / "ann.csv"), key)
    msg = str(err.value)
    assert "ann.csv: row 2: scores must be whole numbers 1-5: accuracy='7'" in msg
    assert "ann.csv: row 3: missing score for fluency" in msg
    assert "ann.csv: row 4: unknown item id 'no-such-item'" in msg
    assert "ann.csv: row 5: item" in msg and "has no translation 'Z'" in msg
    assert "ann.csv: row 6: error" in msg and "severity" in msg
    (tmp_path / "x.txt").write_text("?")
    with pytest.raises(BooktransError, match="x.txt: unknown sheet type"):
        read_sheet(tmp_path / "x.txt")


def test_krippendorff_alpha_matches_the_published_example():
    # Krippendorff's reliability data example: 4 observers, 12 units, missing values.
    data = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    units = {u: {r: v[u] for r, v in data.items() if v[u] is not None} for u in range(12)}
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=1e-3)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=1e-3)
    assert krippendorff_alpha({1: {"a": 3}}) is None
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)


def test_the_form_is_one_offline_file_with_every_item(packet):
    items, _key = packet
    page = render_form(items, "pkt1")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    assert "<script src" not in page and page.count('class="item"') == 0  # items are rendered by the embedded script
    data = json.loads(
        page.split('<script type="application/json" id="packet">')[1].split("</script>")[0].replace("<\\/", "</")
    )
    assert [i["id"] for i in data["items"]] == [i["id"] for i in items] and data["criteria"] == list(CRITERIA)


def test_report_page_renders_in_headless_chromium(tmp_path, root):
    """The committed demo report (reports/index.html) opens in a real browser, offline, and draws
    every chart (tests/test_pages.py checks the page's layout at two widths)."""
    from browser import Chromium

    b = Chromium(need_chromium())
    try:
        page = b.open((root / "reports" / "index.html").as_uri(), 1280)
        page.wait_for("[...document.querySelectorAll('.vega')].every(e => e.dataset.rendered === 'yes')", 30)
        got = page.js("""({charts: document.querySelectorAll('.vega svg').length,
                          failed: [...document.querySelectorAll('.vega')].filter(e => e.textContent.startsWith('chart failed')).length,
                          text: document.body.innerText})""")  # noqa: E501
        page.screenshot(tmp_path / "page.png")
    finally:
        b.close()
    assert got["charts"] >= 6 and got["failed"] == 0, got["charts"]
    for words in ("How to read this page", "Automatic metrics by round", "Detected omissions", "Glossary"):
        assert words in got["text"], words
    # the screenshot is not blank: many distinct colours (text, tables, chart lines)
    import zlib

    raw = (tmp_path / "page.png").read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    idat = b"".join(raw[i + 8 : i + 8 + int.from_bytes(raw[i : i + 4], "big")] for i in _chunks(raw, b"IDAT"))
    pixels = zlib.decompress(idat)
    assert len(set(pixels[k : k + 3] for k in range(0, min(len(pixels), 2_000_000), 997))) > 20


def _chunks(raw: bytes, kind: bytes):
    i = 8
    while i < len(raw):
        n = int.from_bytes(raw[i : i + 4], "big")
        if raw[i + 4 : i + 8] == kind:
            yield i
        i += 12 + n


def test_report_has_every_section_and_is_self_contained(root):
    import re

    page = (root / "reports" / "index.html").read_text(encoding="utf-8")
    for heading in (
        "How to read this page",
        "Automatic metrics by round",
        "Charts",
        "Expert review",
        "Detected omissions",
        "Training data per round",
        "Training loss",
        "Cost so far",
        "Metric signatures",
        "Glossary",
    ):
        assert f">{heading}" in page, heading
    assert "Length ratio through the book" in page and "Omitted sentences by book" in page and "<mark>" in page
    # nothing is fetched: no script, style, image or frame from a URL; the chart libraries are inline
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)  # the page's own markup, without the libraries
    assert not re.search(r"<(script|img|iframe|link)[^>]+(src|href)=", markup)
    assert "vegaEmbed" in page and page.count("<script>") == 4


def test_review_scores_reports_absent_then_real_scores(packet, tmp_path):
    from booktrans.io import write_json
    from booktrans.review.scores import review_scores

    items, key = packet
    write_json(tmp_path / "key.json", {"packet": "p1", "items": {i["id"]: {**i, "key": key[i["id"]]} for i in items}})
    completed = tmp_path / "completed"
    completed.mkdir()
    absent = review_scores(tmp_path / "key.json", completed, tmp_path, ["r0", "r2", "r4"])
    assert absent["ratings"] == 0 and absent["status"].startswith("absent") and absent["systems"] == {}
    quality = {"r0": 2, "r2": 3, "r4": 4, REFERENCE: 5}
    (completed / "ann.csv").write_text(_fill(items, key, "ann", lambda s, i: quality[s]), encoding="utf-8")
    got = review_scores(tmp_path / "key.json", completed, tmp_path, ["r0", "r2", "r4"])
    assert got["ratings"] == 24 and got["systems"]["r4"]["overall"] == 4.0 and "status" not in got


def test_the_xlsx_sheet_is_byte_identical_across_runs(packet, tmp_path):
    import time

    items, _key = packet
    write_xlsx(items, tmp_path / "a.xlsx")
    time.sleep(1.1)  # openpyxl stamps the save time; the writer must remove it
    write_xlsx(items, tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_the_form_renders_every_item_in_headless_chromium(packet, tmp_path):
    """The embedded script runs in a real browser: every passage, every score button, the progress line."""
    browser = need_chromium()
    items, _key = packet
    (tmp_path / "form.html").write_text(render_form(items, "pkt1"), encoding="utf-8")
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", (tmp_path / "form.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count('class="item"') == len(items)
    assert dom.count('type="radio"') == len(items) * 4 * len(CRITERIA) * 5
    assert f"0 of {len(items) * 4} translations scored" in dom


def test_the_key_stage_writes_the_key_of_the_packet_and_refuses_another(tmp_path):
    """review and review-key draw the same passages; the key stage checks the packet's form holds
    exactly them, so a key never goes with a packet it does not unblind."""
    import yaml

    from booktrans.io import write_jsonl

    ev = tmp_path / "reports" / "evaluation"
    for system, by_book in fake_segments().items():
        for (book, direction), segs in by_book.items():
            write_jsonl(ev / system / "segments" / f"{book}.{direction}.jsonl", segs)
    (tmp_path / "books.yaml").write_text(
        yaml.safe_dump(
            {
                "books": [
                    {
                        "id": "night-train",
                        "title": "Night Train",
                        "genre": "novel",
                        "zh": "data/sample/night-train.zh.epub",
                        "en": "data/sample/night-train.en.pdf",
                        "source": "test",
                        "license": "CC0-1.0",
                        "split": "test",
                    }
                ]
            }
        )
    )
    params = {
        "seed": 0,
        "ingest": {"manifest": str(tmp_path / "books.yaml")},
        "translate": {"rounds": ["r0", "r2", "r4"]},
        "review": {"rounds": ["r2", "r4"], "per_band": 2, "passage_segments": 3},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    packet, key = tmp_path / "reports" / "review" / "packet", tmp_path / "reports" / "review" / "key.json"
    assert run_stage("review", tmp_path).returncode == 0
    assert not key.exists() and not any("key" in p.name for p in packet.iterdir())
    assert run_stage("review-key", tmp_path).returncode == 0
    got = json.loads(key.read_text())
    assert got["packet"] in (packet / "README.txt").read_text() and len(got["items"]) == 6
    assert all(sorted(v["key"].values()) == ["r0", "r2", "r4", REFERENCE] for v in got["items"].values())
    params["seed"] = 1  # another draw: the packet on disk is not the one this key would unblind
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    res = run_stage("review-key", tmp_path)
    assert res.returncode == 2 and "is not the one these evaluation outputs and params give" in res.stderr
