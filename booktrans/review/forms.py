"""What reviewers fill in: a self-contained HTML form (works offline, saves answers to a JSON file)
and the same packet as a CSV and an XLSX sheet. Every format names items and the blinded labels
(A, B, C…) only; the key stays apart."""

from __future__ import annotations

import csv
import html
import io
import json
import re

from . import CRITERIA, CRITERIA_HELP, MQM_CATEGORIES, SEVERITIES

SHEET_COLUMNS = (
    "rater",
    "item",
    "system",
    "book",
    "direction",
    "band",
    "source",
    "translation",
    *CRITERIA,
    "errors",
    "comment",
)
ERRORS_HELP = (
    "errors: optional; each error as category|severity|exact text from the translation, "
    "several separated by ' ;; ' — e.g. accuracy/omission|major|the second clause"
)


def new_workbook(title: str, columns, rows: list[dict]):
    """An openpyxl workbook whose first sheet, ``title``, holds a bold header of ``columns`` and the
    rows (control characters, which a broken model can emit and a worksheet cannot store, become
    U+FFFD). Returns (workbook, sheet)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(columns))
    for c in ws[1]:
        c.font = Font(bold=True)
    for row in rows:
        ws.append([ILLEGAL_CHARACTERS_RE.sub("\ufffd", row[c]) for c in columns])
    return wb, ws


def load_saved_form(path, what: str, fmt: str | None = None) -> dict:
    """The JSON a form saved: a dict with an ``answers`` list (and ``format`` == ``fmt`` when given),
    or one clear error naming the file."""
    from ..errors import BooktransError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BooktransError(f"{path}: not a saved {what} form ({exc})") from None
    if (
        not isinstance(data, dict)
        or (fmt is not None and data.get("format") != fmt)
        or not isinstance(data.get("answers"), list)
    ):
        need = f"format {fmt!r} with an 'answers' list" if fmt is not None else "no 'answers' list"
        raise BooktransError(f"{path}: not a saved {what} form ({need})")
    return data


def sheet_rows(items: list[dict]) -> list[dict]:
    rows = []
    for it in items:
        for label, text in sorted(it["outputs"].items()):
            rows.append(
                {
                    "rater": "",
                    "item": it["id"],
                    "system": label,
                    "book": it["book"],
                    "direction": it["direction"],
                    "band": it["band"],
                    "source": it["source"],
                    "translation": text,
                    **{c: "" for c in CRITERIA},
                    "errors": "",
                    "comment": "",
                }
            )
    return rows


def render_csv(items: list[dict]) -> str:
    """The sheet as CSV text starting with a byte-order mark (U+FEFF): Excel reads a CSV without one in
    the system's legacy code page, which turns the Chinese into mojibake. Reading it back strips it."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.DictWriter(buf, fieldnames=SHEET_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(sheet_rows(items))
    return buf.getvalue()


def write_xlsx(items: list[dict], path) -> None:
    """The sheet as an Excel workbook: the packet on the first sheet (scores 1-5 validated by Excel
    itself), the rubric on the second. Written with fixed metadata so the file is reproducible."""
    from openpyxl.styles import Alignment
    from openpyxl.worksheet.datavalidation import DataValidation

    wb, ws = new_workbook("review", SHEET_COLUMNS, sheet_rows(items))
    n = ws.max_row
    dv = DataValidation(
        type="whole",
        operator="between",
        formula1="1",
        formula2="5",
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="score",
        error="A score is a whole number from 1 to 5",
    )
    ws.add_data_validation(dv)
    for k, name in enumerate(SHEET_COLUMNS):
        letter = ws.cell(row=1, column=k + 1).column_letter
        if name in CRITERIA:
            dv.add(f"{letter}2:{letter}{n}")
            ws.column_dimensions[letter].width = 12
        elif name in ("source", "translation"):
            ws.column_dimensions[letter].width = 60
            for cell in ws[letter][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "I2"
    rub = wb.create_sheet("rubric")
    rub.append(["criterion", "what a 5 means (1 = not at all)"])
    for c in CRITERIA:
        rub.append([c, CRITERIA_HELP[c]])
    rub.append([])
    rub.append(["errors", ERRORS_HELP])
    rub.append(["categories", ", ".join(MQM_CATEGORIES)])
    rub.append(["severities", ", ".join(SEVERITIES)])
    save_workbook(wb, path)


def save_workbook(wb, path) -> None:
    """Save an openpyxl workbook atomically and reproducibly: same content, same bytes (fixed
    creation time and creator; the save time openpyxl stamps is removed)."""
    import datetime

    fixed = datetime.datetime(2000, 1, 1)
    wb.properties.created = wb.properties.modified = fixed
    wb.properties.creator = "booktrans"
    buf = io.BytesIO()
    wb.save(buf)
    _fixed_zip(buf.getvalue(), path)


def _fixed_zip(data: bytes, path) -> None:
    """Rewrite a zip (an XLSX) with a fixed timestamp on every member: same content, same bytes."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>2000-01-01T00:00:00Z\g<2>", body
                )
            dst.writestr(fixed, body)
    from ..io import atomic_write_bytes

    atomic_write_bytes(path, out.getvalue())


def render_form(items: list[dict], packet_id: str, title: str = "booktrans review") -> str:
    """A single HTML file with the items, the rubric and the script: no network, no server."""
    data = json.dumps(
        {
            "packet": packet_id,
            "items": items,
            "criteria": list(CRITERIA),
            "help": CRITERIA_HELP,
            "categories": list(MQM_CATEGORIES),
            "severities": list(SEVERITIES),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    data = data.replace("</", "<\\/")
    rubric = "".join(f"<li><b>{c}</b>: {html.escape(CRITERIA_HELP[c])}</li>" for c in CRITERIA)
    # the page as written into its output, byte for byte (its lines stay as long as they are: noqa E501 below)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:80em;color:#222;padding:0 1em}}
.item{{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1.5em 0}}
.src{{background:#f6f6f6;padding:.6em;white-space:pre-wrap}}
.sys{{display:grid;grid-template-columns:1fr 24em;gap:1em;border-top:1px dashed #ccc;padding-top:.6em;margin-top:.6em}}
.mt{{white-space:pre-wrap}} table{{border-collapse:collapse}} td,th{{padding:.1em .3em;font-size:.9em}}
.err{{font-size:.85em;background:#fff3f3;margin:.2em 0;padding:.2em}} #status{{color:#1a7f37}}
header{{position:sticky;top:0;background:#fff;padding:.3em 0;border-bottom:1px solid #ddd;z-index:1}}
header h1{{font-size:1.15em;margin:.1em 0 .3em}} html{{scroll-padding-top:9em}}
.mt.empty{{color:#8a5a00;font-style:italic;background:#fff8e1;padding:.3em}}
@media (max-width:900px){{.sys{{grid-template-columns:1fr}}}}
</style></head><body>
<header><h1>{html.escape(title)}</h1>
<label>Your name or initials: <input id="rater" size="12"></label>
<button id="save">Save answers to a file</button>
<label>Load saved answers: <input type="file" id="load" accept=".json"></label>
<span id="status"></span> <span id="progress"></span></header>
<p>Each passage shows the source and several translations in a random order (A, B, C…). Score every
translation from 1 to 5 on each criterion. To mark an error, select the words in a translation, choose
a category and severity, and press <i>mark</i>. Answers are kept in this browser as you go; press
<i>Save</i> to write them to a file and send that file back.</p>
<ul>{rubric}</ul>
<div id="items"></div>
<script type="application/json" id="packet">{data}</script>
<script>
(function(){{
const P = JSON.parse(document.getElementById('packet').textContent);
// a jump to a passage (a link, Find, scrollIntoView) stops below the sticky header, whatever its height
function headRoom(){{ document.documentElement.style.scrollPaddingTop = (document.querySelector('header').offsetHeight + 8) + 'px'; }}
headRoom(); window.addEventListener('resize', headRoom);
function today(){{ const d = new Date(); const p = x => String(x).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()); }}
const store = 'booktrans-review-' + P.packet;
let A = JSON.parse(localStorage.getItem(store) || '{{}}');
// answers a load restored come through the reload with its message, in one item: the reloaded page may
// read localStorage before the write the load made there has reached it
const carried = (() => {{ try {{ return JSON.parse(sessionStorage.getItem(store + '-loaded') || 'null'); }} catch (e) {{ return null; }} }})();
if (carried && carried.answers) {{ A = carried.answers; localStorage.setItem(store, JSON.stringify(A)); }}
const root = document.getElementById('items');
function key(it, lab){{ return it + '|' + lab; }}
function ans(it, lab){{ const k = key(it, lab); if (!A[k]) A[k] = {{scores:{{}}, errors:[], comment:''}}; return A[k]; }}
function persist(){{ localStorage.setItem(store, JSON.stringify(A)); progress(); }}
function progress(){{
  let done = 0, total = 0;
  P.items.forEach(it => Object.keys(it.outputs).forEach(lab => {{ total++;
    const a = A[key(it.id, lab)]; if (a && P.criteria.every(c => a.scores[c])) done++; }}));
  document.getElementById('progress').textContent = done + ' of ' + total + ' translations scored';
}}
function el(tag, attrs, text){{ const e = document.createElement(tag); Object.assign(e, attrs || {{}}); if (text !== undefined) e.textContent = text; return e; }}
function renderErrors(box, a){{
  box.innerHTML = '';
  a.errors.forEach((e, k) => {{ const d = el('div', {{className:'err'}}, e.category + ' (' + e.severity + '): “' + e.span + '” ');
    const x = el('button', {{}}, 'remove'); x.onclick = () => {{ a.errors.splice(k, 1); persist(); renderErrors(box, a); }};
    d.appendChild(x); box.appendChild(d); }});
}}
P.items.forEach((it, n) => {{
  const div = el('div', {{className:'item', id:'item-' + it.id}});
  div.appendChild(el('h3', {{}}, (n + 1) + '. ' + it.title + ' — ' + it.direction + ', ' + it.band + ' in the book'));
  div.appendChild(el('div', {{className:'src'}}, it.source));
  Object.keys(it.outputs).sort().forEach(lab => {{
    const a = ans(it.id, lab);
    const row = el('div', {{className:'sys'}});
    const left = el('div');
    left.appendChild(el('b', {{}}, 'Translation ' + lab));
    const empty = !it.outputs[lab].trim();
    const mt = el('div', {{className: empty ? 'mt empty' : 'mt'}},
                  empty ? '(empty: this system produced no translation for this passage; score it as it stands)' : it.outputs[lab]);
    left.appendChild(mt);
    const cat = el('select'); P.categories.forEach(c => cat.appendChild(el('option', {{value:c}}, c)));
    const sev = el('select'); P.severities.forEach(c => sev.appendChild(el('option', {{value:c}}, c)));
    const mark = el('button', {{}}, 'mark');
    const errs = el('div');
    mark.onclick = () => {{ const s = window.getSelection().toString().trim();
      if (!s || it.outputs[lab].indexOf(s) < 0) {{ alert('Select words inside translation ' + lab + ' first.'); return; }}
      a.errors.push({{category:cat.value, severity:sev.value, span:s}}); persist(); renderErrors(errs, a); }};
    left.append(cat, sev, mark, errs);
    const com = el('textarea', {{rows:2, cols:40, placeholder:'comment (optional)', value:a.comment}});
    com.oninput = () => {{ a.comment = com.value; persist(); }};
    left.appendChild(com);
    const t = el('table'); const head = el('tr'); head.appendChild(el('th'));
    [1,2,3,4,5].forEach(v => head.appendChild(el('th', {{}}, String(v)))); t.appendChild(head);
    P.criteria.forEach(c => {{ const tr = el('tr'); tr.appendChild(el('td', {{title:P.help[c]}}, c));
      [1,2,3,4,5].forEach(v => {{ const td = el('td'); const r = el('input', {{type:'radio', name:it.id + lab + c, value:v}});
        r.checked = a.scores[c] === v; r.onchange = () => {{ a.scores[c] = v; persist(); }}; td.appendChild(r); tr.appendChild(td); }});
      t.appendChild(tr); }});
    row.append(left, t); div.appendChild(row); renderErrors(errs, a);
  }});
  root.appendChild(div);
}});
const rater = document.getElementById('rater');
rater.value = (carried && carried.who) || localStorage.getItem(store + '-rater') || '';
if (carried && carried.who) localStorage.setItem(store + '-rater', rater.value);
rater.oninput = () => localStorage.setItem(store + '-rater', rater.value);
document.getElementById('save').onclick = () => {{
  if (!rater.value.trim()) {{ alert('Please give your name or initials first.'); return; }}
  const answers = [];
  P.items.forEach(it => Object.keys(it.outputs).sort().forEach(lab => {{ const a = A[key(it.id, lab)];
    if (a && (Object.keys(a.scores).length || a.errors.length || a.comment))
      answers.push(Object.assign({{item:it.id, system:lab, errors:a.errors, comment:a.comment}}, a.scores)); }}));
  const blob = new Blob([JSON.stringify({{packet:P.packet, rater:rater.value.trim(), answers:answers}}, null, 1)], {{type:'application/json'}});
  const link = el('a', {{href:URL.createObjectURL(blob), download:today() + '-review-' + P.packet + '-' + rater.value.trim().replace(/\\W+/g, '_') + '.json'}});
  document.body.appendChild(link); link.click(); link.remove();
  document.getElementById('status').textContent = 'saved ' + answers.length + ' answers as ' + link.download;
}};
document.getElementById('load').onchange = ev => {{ const f = ev.target.files[0]; if (!f) return;
  f.text().then(t => {{ let d;
    try {{ d = JSON.parse(t); }} catch (e) {{ d = null; }}
    if (!d || !Array.isArray(d.answers)) {{ document.getElementById('status').textContent = f.name + ': not a saved review file; nothing restored'; return; }}
    // an answer is restored where this packet has its passage and translation label
    const have = {{}}; P.items.forEach(it => Object.keys(it.outputs).forEach(lab => {{ have[key(it.id, lab)] = true; }}));
    const B = {{}}; let restored = 0;
    d.answers.forEach(x => {{ if (!have[key(x.item, x.system)]) return; restored++;
      const a = {{scores:{{}}, errors: x.errors || [], comment: x.comment || ''}};
      P.criteria.forEach(c => {{ if (x[c]) a.scores[c] = x[c]; }}); B[key(x.item, x.system)] = a; }});
    const stale = d.answers.length - restored;
    const msg = restored + ' of ' + d.answers.length + ' answers restored' + (stale ? '; ' + stale + ' no longer match this packet' : '');
    if (restored) {{ A = B; rater.value = d.rater || rater.value; localStorage.setItem(store + '-rater', rater.value); persist(); }}
    sessionStorage.setItem(store + '-loaded', JSON.stringify({{msg: msg + (restored ? '' : ' (kept the answers already here)'),
                                                               answers: restored ? A : null, who: rater.value}}));
    location.reload(); }}); }};
if (carried) {{ document.getElementById('status').textContent = carried.msg; sessionStorage.removeItem(store + '-loaded'); }}
progress();
}})();
</script>
</body></html>
"""  # noqa: E501


def read_embedded(page: str, element_id: str, what: str) -> dict:
    """The JSON a form embeds in ``<script type="application/json" id=element_id>``."""
    from ..errors import BooktransError

    try:
        raw = page.split(f'<script type="application/json" id="{element_id}">', 1)[1].split("</script>", 1)[0]
        return json.loads(raw.replace("<\\/", "</"))
    except (IndexError, json.JSONDecodeError) as exc:
        raise BooktransError(f"not a {what} ({exc})") from None


def read_form_data(page: str) -> dict:
    """The data embedded in a form written by ``render_form``: the packet id and the items."""
    return read_embedded(page, "packet", "review form")


def read_table(path) -> list[dict]:
    """The rows of a completed CSV (UTF-8) or XLSX sheet (its first worksheet) as {column: value};
    row k of the list is row k + 2 of the file. Damaged or mis-encoded files raise one clear error."""
    from ..errors import BooktransError

    if str(path).lower().endswith(".csv"):
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                return list(csv.DictReader(fh))
        except UnicodeDecodeError:
            raise BooktransError(f"{path}: not UTF-8 (save the sheet as CSV UTF-8)") from None
    from openpyxl import load_workbook

    try:
        ws = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises several kinds for a damaged file
        raise BooktransError(f"{path}: not a readable XLSX workbook ({exc})") from None
    values = list(ws.iter_rows(values_only=True))
    head = [str(h or "").strip() for h in values[0]] if values else []
    return [{h: ("" if v is None else v) for h, v in zip(head, r)} for r in values[1:]]
