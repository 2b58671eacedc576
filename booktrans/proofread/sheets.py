"""What correctors fill in, and reading it back.

One book's items as a self-contained HTML form (no network; answers are kept in the browser and
*Save* writes a JSON file), a CSV and an XLSX sheet. Every format carries, per item, the texts of
the bead and of its neighbours (the ``key``), so a completed sheet can be turned into corrections
without the aligned data it came from.
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from ..errors import BooktransError
from . import DECISION_HELP, DECISIONS, FORMAT, SHEET_COLUMNS

_SEP = {"zh": "", "en": " "}


def side_text(sentences: list[str]) -> str:
    """One side of a bead in a cell: one sentence per line."""
    return "\n".join(sentences)


def side_lines(text) -> list[str]:
    """The sentences of a cell (or a form's text box): one per non-empty line, trimmed."""
    if text is None:
        return []
    return [line.strip() for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]


def _context(beads: list[dict]) -> str:
    return "\n".join(
        f"{_SEP['zh'].join(b['zh']) or '(none)'}  ‖  {_SEP['en'].join(b['en']) or '(none)'}" for b in beads
    )


def sheet_rows(items: list[dict]) -> list[dict]:
    return [
        {
            "item": it["id"],
            "book": it["book"],
            "chapter": it["chapter"],
            "reasons": "; ".join(it["reasons"]),
            "before": _context(it["before"]),
            "zh": side_text(it["bead"]["zh"]),
            "en": side_text(it["bead"]["en"]),
            "after": _context(it["after"]),
            "decision": "",
            "split": "",
            "zh_fixed": "",
            "en_fixed": "",
            "corrector": "",
            "comment": "",
            "key": json.dumps(it["key"], ensure_ascii=False, sort_keys=True),
        }
        for it in items
    ]


def render_csv(items: list[dict]) -> str:
    """The sheet as CSV text starting with a byte-order mark, so Excel opens the Chinese as UTF-8
    (``review.forms.render_csv`` says why); the import strips it."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.DictWriter(buf, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(sheet_rows(items))
    return buf.getvalue()


HOW_TO = [
    "One row per bead. Read zh and en (one sentence per line) with the beads before and after it.",
    "Write a decision: " + ", ".join(DECISIONS) + ".",
    "A typo or a broken sentence (OCR, ingest): write the whole corrected side in zh_fixed or en_fixed, one sentence "
    "per line; leave zh and en as they are. A fix with an empty decision counts as accept.",
    "split: how many Chinese/English sentences the first of the two new beads takes, e.g. 1/2.",
    "Put your name in corrector. Leave rows you did not check empty. Never edit the key column.",
]


def write_xlsx(items: list[dict], path, title: str = "") -> None:
    """The sheet as an Excel workbook: decisions from a drop-down list, the key column hidden, the
    instructions on a second sheet; reproducible bytes."""
    from openpyxl.styles import Alignment, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    from ..review.forms import new_workbook, save_workbook

    wb, ws = new_workbook("proofread", SHEET_COLUMNS, sheet_rows(items))
    n = ws.max_row
    dv = DataValidation(
        type="list",
        formula1='"' + ",".join(DECISIONS) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="decision",
        error="Choose one of the decisions in the list",
    )
    ws.add_data_validation(dv)
    widths = {
        "item": 18,
        "book": 12,
        "chapter": 8,
        "reasons": 30,
        "before": 45,
        "zh": 40,
        "en": 50,
        "after": 45,
        "decision": 14,
        "split": 7,
        "zh_fixed": 30,
        "en_fixed": 30,
        "corrector": 12,
        "comment": 25,
        "key": 10,
    }
    shade = PatternFill("solid", fgColor="F2F2F2")
    for k, name in enumerate(SHEET_COLUMNS):
        letter = ws.cell(row=1, column=k + 1).column_letter
        ws.column_dimensions[letter].width = widths[name]
        if name == "decision":
            dv.add(f"{letter}2:{letter}{max(n, 2)}")
        if name in ("decision", "split"):  # text cells: Excel would read 1/2 as a date
            for cell in ws[letter][1:]:
                cell.number_format = "@"
        if name == "key":
            ws.column_dimensions[letter].hidden = True
        for cell in ws[letter][1:]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if name in ("before", "after"):
                cell.fill = shade
    ws.freeze_panes = "I2"
    help_ws = wb.create_sheet("how to")
    if title:
        help_ws.append([title])
    for line in HOW_TO:
        help_ws.append([line])
    help_ws.append([])
    help_ws.append(["decision", "meaning"])
    for d in DECISIONS:
        help_ws.append([d, DECISION_HELP[d]])
    help_ws.column_dimensions["A"].width = 16
    help_ws.column_dimensions["B"].width = 100
    save_workbook(wb, path)


def render_form(items: list[dict], sheet_id: str, title: str, book: str = "") -> str:
    """One offline HTML file: the items, the instructions and the script that saves the answers.

    The form refuses what the import would refuse (a split that leaves a bead empty or does not fit),
    saves ``<date>-<book>-<sheet>-<name>.json`` (date first, so the files in proofread/completed/
    sort in the order they were made) and, loading a saved file, says how many answers it restored
    and how many no longer match this sheet (an answer follows its bead by the bead's texts, so a
    re-exported sheet whose bead numbers moved keeps them)."""
    book = book or (items[0]["book"] if items else "")
    data = json.dumps(
        {"sheet": sheet_id, "book": book, "items": items, "decisions": list(DECISIONS), "help": DECISION_HELP},
        ensure_ascii=False,
        sort_keys=True,
    ).replace("</", "<\\/")
    howto = "".join(f"<li>{html.escape(line)}</li>" for line in HOW_TO[:1] + HOW_TO[3:4])
    helps = "".join(f"<li><b>{d}</b>: {html.escape(DECISION_HELP[d])}</li>" for d in DECISIONS)
    # the page as written into its output, byte for byte (its lines stay as long as they are: noqa E501 below)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:82em;color:#222;padding:0 1em}}
.item{{border:1px solid #ccc;border-radius:6px;padding:.8em 1em;margin:1.2em 0}} .item.done{{border-color:#1a7f37}}
table{{border-collapse:collapse;width:100%}} td{{vertical-align:top;padding:.25em .4em;width:50%}}
tr.ctx td{{color:#777;font-size:.9em;background:#fafafa}} tr.bead td{{background:#fffbe6}}
textarea{{width:100%;font:inherit;box-sizing:border-box}} .why{{font-size:.85em;color:#8a5a00}}
header{{position:sticky;top:0;background:#fff;padding:.3em 0;border-bottom:1px solid #ddd;z-index:1}} #status{{color:#1a7f37}}
header h1{{font-size:1.15em;margin:.1em 0 .3em}} html{{scroll-padding-top:9em}}
.bad{{color:#c62828;font-weight:600}} .item.invalid{{border-color:#c62828}}
</style></head><body>
<header><h1>{html.escape(title)}</h1>
<label>Your name or initials: <input id="corrector" size="12"></label>
<button id="save">Save answers to a file</button>
<label>Load saved answers: <input type="file" id="load" accept=".json"></label>
<span id="status"></span> <span id="progress"></span></header>
<p>Each item is one bead (yellow) between its neighbours (grey). Choose a decision for it; correct a
sentence by editing the text box (one sentence per line). Answers are kept in this browser as you go;
press <i>Save</i> and send the file back.</p>
<ul>{howto}</ul><details><summary>Decisions</summary><ul>{helps}</ul></details>
<div id="items"></div>
<script type="application/json" id="sheet">{data}</script>
<script>
(function(){{
const P = JSON.parse(document.getElementById('sheet').textContent);
// a jump to an item (a link, Find, scrollIntoView) stops below the sticky header, whatever its height
function headRoom(){{ document.documentElement.style.scrollPaddingTop = (document.querySelector('header').offsetHeight + 8) + 'px'; }}
headRoom(); window.addEventListener('resize', headRoom);
const store = 'booktrans-proofread-' + P.sheet;
let A = JSON.parse(localStorage.getItem(store) || '{{}}');
// answers a load restored come through the reload with its message, in one item: the reloaded page may
// read localStorage before the write the load made there has reached it
const carried = (() => {{ try {{ return JSON.parse(sessionStorage.getItem(store + '-loaded') || 'null'); }} catch (e) {{ return null; }} }})();
if (carried && carried.answers) {{ A = carried.answers; localStorage.setItem(store, JSON.stringify(A)); }}
const SEP = {{zh: '', en: ' '}};
function el(tag, attrs, text){{ const e = document.createElement(tag); Object.assign(e, attrs || {{}}); if (text !== undefined) e.textContent = text; return e; }}
function lines(t){{ return t.replace(/\\r/g, '').split('\\n').map(s => s.trim()).filter(s => s); }}
function ans(id){{ if (!A[id]) A[id] = {{decision:'', split:'', zh:null, en:null, comment:''}}; return A[id]; }}
const PROBLEMS = {{}};
// the import's rule (booktrans.proofread.corrections): both beads of a split keep at least one sentence
function splitProblem(it, i, j){{
  if (i === '' || j === '') return 'choose how many Chinese and English sentences the first bead takes';
  i = +i; j = +j; const n = it.bead.zh.length, m = it.bead.en.length;
  if ((i === 0 && j === 0) || (i === n && j === m)) return 'split ' + i + '/' + j + ' leaves one of the two beads empty';
  return ''; }}
function today(){{ const d = new Date(); const p = x => String(x).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()); }}
function canon(v){{ return Array.isArray(v) ? v.map(canon) : (v && typeof v === 'object')
  ? Object.keys(v).sort().reduce((o, k) => {{ o[k] = canon(v[k]); return o; }}, {{}}) : v; }}
function keyOf(k){{ return JSON.stringify(canon(k)); }}
function persist(){{ localStorage.setItem(store, JSON.stringify(A)); progress(); }}
function progress(){{
  let done = 0; P.items.forEach(it => {{ const a = A[it.id]; const bad = !!PROBLEMS[it.id];
    const ok = a && !bad && (a.decision || a.zh !== null || a.en !== null);
    if (ok) done++; const box = document.getElementById('item-' + it.id);
    if (box) {{ box.classList.toggle('done', !!ok); box.classList.toggle('invalid', bad); }} }});
  document.getElementById('progress').textContent = done + ' of ' + P.items.length + ' beads decided';
}}
function ctxRow(b){{ const tr = el('tr', {{className:'ctx'}}); tr.append(el('td', {{}}, b.zh.join(SEP.zh) || '(none)'), el('td', {{}}, b.en.join(SEP.en) || '(none)')); return tr; }}
P.items.forEach((it, n) => {{
  const a = ans(it.id);
  const div = el('div', {{className:'item', id:'item-' + it.id}});
  div.appendChild(el('h3', {{}}, (n + 1) + '. chapter ' + it.chapter + ' · bead ' + it.index + ' (' + it.bead.type + ')'));
  if (it.reasons.length) div.appendChild(el('div', {{className:'why'}}, 'Why: ' + it.reasons.join('; ')));
  const t = el('table'); it.before.forEach(b => t.appendChild(ctxRow(b)));
  const tr = el('tr', {{className:'bead'}}); const boxes = {{}};
  ['zh', 'en'].forEach(lang => {{ const td = el('td'); const box = el('textarea', {{rows: Math.max(2, it.bead[lang].length + 1), className:lang}});
    box.value = (a[lang] !== null ? a[lang] : it.bead[lang]).join('\\n');
    box.oninput = () => {{ const v = lines(box.value); a[lang] = (v.join('\\n') === it.bead[lang].join('\\n')) ? null : v; persist(); }};
    boxes[lang] = box; td.appendChild(box); tr.appendChild(td); }});
  t.appendChild(tr); it.after.forEach(b => t.appendChild(ctxRow(b))); div.appendChild(t);
  const dec = el('select', {{className:'decision'}}); dec.appendChild(el('option', {{value:''}}, '— decision —'));
  P.decisions.forEach(d => dec.appendChild(el('option', {{value:d, title:P.help[d]}}, d))); dec.value = a.decision;
  const splitBox = el('span'); const sz = el('select', {{className:'split-zh'}}); const se = el('select', {{className:'split-en'}});
  sz.appendChild(el('option', {{value:''}}, '?')); se.appendChild(el('option', {{value:''}}, '?'));
  for (let k = 0; k <= it.bead.zh.length; k++) sz.appendChild(el('option', {{value:String(k)}}, String(k)));
  for (let k = 0; k <= it.bead.en.length; k++) se.appendChild(el('option', {{value:String(k)}}, String(k)));
  if (a.split) {{ const p = a.split.split('/'); sz.value = p[0]; se.value = p[1]; }}
  const splitMsg = el('span', {{className:'bad split-problem'}});
  splitBox.append(' first bead takes ', sz, ' Chinese and ', se, ' English sentences ', splitMsg);
  function showSplit(){{ splitBox.style.display = dec.value === 'split' ? '' : 'none'; }}
  function setSplit(){{
    const why = dec.value === 'split' ? splitProblem(it, sz.value, se.value) : '';
    splitMsg.textContent = why; PROBLEMS[it.id] = why;
    a.split = dec.value === 'split' && !why ? sz.value + '/' + se.value : ''; persist(); }}
  dec.onchange = () => {{ a.decision = dec.value; showSplit(); setSplit(); }}; sz.onchange = setSplit; se.onchange = setSplit;
  const com = el('input', {{size:40, placeholder:'comment (optional)', value:a.comment, className:'comment'}});
  com.oninput = () => {{ a.comment = com.value; persist(); }};
  const row = el('div'); row.append(dec, splitBox, ' ', com); div.appendChild(row); showSplit();
  document.getElementById('items').appendChild(div);
  if (a.decision === 'split') {{ const why = splitProblem(it, sz.value, se.value); splitMsg.textContent = why; PROBLEMS[it.id] = why; }}
}});
const who = document.getElementById('corrector');
who.value = (carried && carried.who) || localStorage.getItem(store + '-corrector') || '';
if (carried && carried.who) localStorage.setItem(store + '-corrector', who.value);
who.oninput = () => localStorage.setItem(store + '-corrector', who.value);
document.getElementById('save').onclick = () => {{
  if (!who.value.trim()) {{ alert('Please give your name or initials first.'); return; }}
  const bad = P.items.map((it, n) => PROBLEMS[it.id] ? (n + 1) + '. ' + PROBLEMS[it.id] : '').filter(x => x);
  if (bad.length) {{ document.getElementById('status').textContent = 'not saved: ' + bad.length + ' item(s) to fix';
    alert('Not saved: fix these items first (the import would refuse them):\\n' + bad.join('\\n')); return; }}
  const answers = [];
  P.items.forEach(it => {{ const a = A[it.id]; if (!a || !(a.decision || a.zh !== null || a.en !== null || a.comment)) return;
    answers.push({{item:it.id, decision:a.decision, split:a.split, zh_fixed:a.zh === null ? '' : a.zh.join('\\n'),
                  en_fixed:a.en === null ? '' : a.en.join('\\n'), comment:a.comment, key:it.key}}); }});
  const blob = new Blob([JSON.stringify({{format:'{FORMAT}', sheet:P.sheet, corrector:who.value.trim(), answers:answers}}, null, 1)], {{type:'application/json'}});
  const link = el('a', {{href:URL.createObjectURL(blob), download:today() + '-' + P.book + '-' + P.sheet + '-' + who.value.trim().replace(/\\W+/g, '_') + '.json'}});
  document.body.appendChild(link); link.click(); link.remove();
  document.getElementById('status').textContent = 'saved ' + answers.length + ' answers as ' + link.download;
}};
// Loading: an answer goes to the item whose bead and neighbours have the texts it was given for
// (its key), wherever the bead now is; answers whose texts this sheet no longer has are counted.
document.getElementById('load').onchange = ev => {{ const f = ev.target.files[0]; if (!f) return;
  f.text().then(t => {{ let d;
    try {{ d = JSON.parse(t); }} catch (e) {{ d = null; }}
    if (!d || !Array.isArray(d.answers)) {{ document.getElementById('status').textContent = f.name + ': not a saved proofreading file; nothing restored'; return; }}
    const byKey = {{}}; P.items.forEach(it => {{ byKey[keyOf(it.key)] = it.id; }});
    const B = {{}}; let restored = 0;
    d.answers.forEach(x => {{ const id = byKey[keyOf(x.key)]; if (!id) return; restored++;
      B[id] = {{decision: x.decision || '', split: x.split || '', zh: x.zh_fixed ? lines(x.zh_fixed) : null,
               en: x.en_fixed ? lines(x.en_fixed) : null, comment: x.comment || ''}}; }});
    const stale = d.answers.length - restored;
    const msg = restored + ' of ' + d.answers.length + ' answers restored' + (stale ? '; ' + stale + ' no longer match this sheet' : '');
    if (restored) {{ A = B; who.value = d.corrector || who.value; localStorage.setItem(store + '-corrector', who.value); persist(); }}
    sessionStorage.setItem(store + '-loaded', JSON.stringify({{msg: msg + (restored ? '' : ' (kept the answers already here)'),
                                                               answers: restored ? A : null, who: who.value}}));
    location.reload(); }}); }};
if (carried) {{ document.getElementById('status').textContent = carried.msg; sessionStorage.removeItem(store + '-loaded'); }}
progress();
}})();
</script>
</body></html>
"""  # noqa: E501


def read_form_data(page: str) -> dict:
    """The data embedded in a form written by ``render_form`` (the sheet id and the items)."""
    from ..review.forms import read_embedded

    return read_embedded(page, "sheet", "proofreading form")


def read_completed(path) -> list[dict]:
    """Rows {where, item, decision, split, zh_fixed, en_fixed, corrector, comment, key, zh, en} of
    one completed file: the JSON saved from the form, a CSV or an XLSX sheet. ``key`` is the parsed
    key, or the text that failed to parse; ``zh``/``en`` are the shown sides (None for the form)."""
    path = Path(path)
    suffix = path.suffix.lower()
    rows: list[dict] = []
    if suffix == ".json":
        from ..review.forms import load_saved_form

        data = load_saved_form(path, "proofreading", FORMAT)
        for k, a in enumerate(data["answers"]):
            a = a if isinstance(a, dict) else {}
            rows.append(
                {
                    "where": f"{path}: answer {k + 1}",
                    "item": str(a.get("item") or ""),
                    "decision": str(a.get("decision") or "").strip(),
                    "split": str(a.get("split") or "").strip(),
                    "zh_fixed": a.get("zh_fixed") or "",
                    "en_fixed": a.get("en_fixed") or "",
                    "corrector": str(data.get("corrector") or "").strip(),
                    "comment": str(a.get("comment") or ""),
                    "key": a.get("key"),
                    "zh": None,
                    "en": None,
                }
            )
        return rows
    if suffix not in (".csv", ".xlsx"):
        raise BooktransError(f"{path}: unknown sheet type (use the saved .json of the form, .csv or .xlsx)")
    from ..review.forms import read_table

    table = read_table(path)
    missing = [
        c
        for c in ("item", "zh", "en", "decision", "split", "zh_fixed", "en_fixed", "corrector", "key")
        if table and c not in table[0]
    ]
    if missing:
        raise BooktransError(f"{path}: columns missing: {', '.join(missing)}")
    for k, r in enumerate(table):
        raw = str(r.get("key") or "")
        try:
            key = json.loads(raw)
        except json.JSONDecodeError:
            key = raw
        rows.append(
            {
                "where": f"{path}: row {k + 2}",
                "item": str(r.get("item") or "").strip(),
                "decision": str(r.get("decision") or "").strip(),
                "split": str(r.get("split") or "").strip(),
                "zh_fixed": str(r.get("zh_fixed") or ""),
                "en_fixed": str(r.get("en_fixed") or ""),
                "corrector": str(r.get("corrector") or "").strip(),
                "comment": str(r.get("comment") or ""),
                "key": key,
                "zh": str(r.get("zh") or ""),
                "en": str(r.get("en") or ""),
            }
        )
    return rows


def read_completed_dir(folder) -> tuple[list[Path], list[dict]]:
    """Every completed file in ``folder`` (.json from the form, .csv, .xlsx), in file-name order, and
    their rows (a single file may be given instead of a folder)."""
    folder = Path(folder)
    if folder.is_file():
        files = [folder]
    elif folder.is_dir():
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".json", ".csv", ".xlsx"))
    else:
        raise BooktransError(f"{folder}: no such folder of completed sheets")
    rows: list[dict] = []
    for f in files:
        rows += read_completed(f)
    return files, rows


def write_sheets(items: list[dict], folder, name: str) -> str:
    """form.html, sheet.csv and sheet.xlsx of one book's items into ``folder``; returns the sheet id
    (a hash of the items, in the form's title and its saved files)."""
    import hashlib

    from ..io import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sheet = hashlib.sha256(json.dumps(items, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:10]
    title = f"booktrans proofreading — {name}, sheet {sheet}"
    atomic_write_text(folder / "form.html", render_form(items, sheet, title))
    atomic_write_text(folder / "sheet.csv", render_csv(items))
    write_xlsx(items, folder / "sheet.xlsx", title)
    return sheet
