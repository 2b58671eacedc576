"""One self-contained HTML page that tells the story of the rounds: metrics with deltas, plots,
human review, omission examples, the data and training of each round, and the cost so far."""

from __future__ import annotations

import html

from .charts import bar_chart, line_chart

PLOTTED = ("bleu", "chrf", "ter", "d_bleu", "comet", "omission_rate", "addition_rate", "length_ratio",
           "length_ratio_late_vs_early", "repetition_rate", "untranslated_rate")
COLUMNS = [("bleu", "BLEU", True), ("chrf", "chrF", True), ("ter", "TER", False), ("d_bleu", "d-BLEU", True),
           ("comet", "COMET", True), ("omission_rate", "omissions", False), ("length_ratio", "length ratio", None),
           ("length_ratio_late_vs_early", "late/early length", None), ("flags", "flags", False)]


def rounds_table(metrics: dict[str, dict]) -> list[dict]:
    """One row per round (in round order) with each direction's headline metrics, for `dvc plots`."""
    rows = []
    for k, r in enumerate(sorted(metrics)):
        row: dict = {"round": r, "index": k}
        for d, m in sorted(metrics[r].get("directions", {}).items()):
            for key in PLOTTED:
                if m.get(key) is not None:
                    row[f"{d}_{key}"] = m[key]
        rows.append(row)
    return rows


def position_table(positions: dict[str, list[dict]]) -> list[dict]:
    """Rows {round, position, <direction>_<metric>...}, one per round and position bin, for a DVC plot
    that draws one line per round (the template .dvc/plots/by_round.json colours by ``round``)."""
    return [{"round": r, **row} for r in sorted(positions) for row in positions[r]]


def _ci(ci) -> str:
    return f"{ci[0]:.0%}–{ci[1]:.0%}" if ci else ""


def _proofreading_section(proofreading: dict[str, dict]) -> str:
    rows = []
    for book, p in sorted(proofreading.items()):
        s = p.get("sample") or {}
        if s.get("judged"):
            prec = (f"{s['precision']:.1%} <small>({_ci(s['ci95'])}, {s['judged']} of {s['population']} pairs judged; "
                    f"~{s['wrong_pairs']:.0f} wrong, ~{s['wrong_left']:.0f} left after corrections)</small>")
        else:
            prec = f"<small>no sampled pair judged yet ({s.get('size', 0)} drawn)</small>"
        stale = len(p.get("stale", []))
        rows.append(f"<tr><th>{html.escape(book)}</th><td>{html.escape(str(p.get('split') or ''))}</td><td>{p.get('checked', 0)}</td>"
                    f"<td>{p.get('corrected', 0)}</td><td>{stale}</td><td>{prec}</td></tr>")
    return ("<p>Beads checked and corrected by proofreaders, corrections that no longer apply, and the precision of the "
            "aligner's pairs estimated from each book's random sample (95% interval; docs/proofread.md).</p>"
            '<table id="proofreading"><thead><tr><th>book</th><th>split</th><th>beads checked</th><th>corrected</th>'
            "<th>no longer apply</th><th>estimated precision</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _fmt(x) -> str:
    return "—" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))


def _delta(x, base, higher_better) -> str:
    if x is None or base is None or not isinstance(x, (int, float)) or not isinstance(base, (int, float)):
        return ""
    d = x - base
    if higher_better is None or d == 0:
        cls = "same"
    else:
        cls = "up" if (d > 0) == higher_better else "down"
    return f' <span class="{cls}">({d:+.3g})</span>'


def _system_rows(systems: dict[str, dict], direction: str, base: dict) -> str:
    """Outside systems under the rounds, compared with r0; a skipped one says why."""
    rows = []
    for name, m in sorted(systems.items()):
        label = f"<th>{html.escape(name)} <small>(outside system)</small></th>"
        if m.get("skipped"):
            rows.append(f'<tr class="system">{label}<td colspan="{len(COLUMNS)}" style="text-align:left">skipped: '
                        f"{html.escape(m['skipped'])}</td></tr>")
            continue
        d = m.get("directions", {}).get(direction)
        if d is None:
            continue
        cells = "".join(f"<td>{_fmt(d.get(key))}{_delta(d.get(key), base.get(key), better)}</td>" for key, _, better in COLUMNS)
        rows.append(f'<tr class="system">{label}{cells}</tr>')
    return "".join(rows)


def _metrics_table(metrics: dict[str, dict], direction: str, systems: dict[str, dict] | None = None) -> str:
    rounds = sorted(metrics)
    head = "".join(f"<th>{label}</th>" for _, label, _ in COLUMNS)
    rows = []
    base = metrics.get("r0", {}).get("directions", {}).get(direction, {})
    prev: dict = {}
    for r in rounds:
        m = metrics[r].get("directions", {}).get(direction, {})
        cells = []
        for key, _, better in COLUMNS:
            v = m.get(key)
            text = _fmt(v)
            if key == "comet" and v is None:
                text = f'<span title="{html.escape(m.get("comet_absent", ""))}">absent</span>'
            cells.append(f"<td>{text}{_delta(v, base.get(key), better) if r != 'r0' else ''}"
                         f"{'<br><small>vs prev' + _delta(v, prev.get(key), better) + '</small>' if prev and r != 'r1' else ''}</td>")
        prev = m
        label = "r0 (base model)" if r == "r0" else r
        rows.append(f"<tr><th>{html.escape(label)}</th>{''.join(cells)}</tr>")
    rows.append(_system_rows(systems or {}, direction, base))
    return (f'<table class="metrics" data-direction="{html.escape(direction)}"><thead><tr><th>round</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'


def render_report(metrics: dict[str, dict], title: str = "booktrans — rounds compared", notes: list[str] | None = None,
                  details: dict[str, dict] | None = None, positions: dict[str, list[dict]] | None = None,
                  human: dict | None = None, datasets: dict[str, dict] | None = None, losses: dict[str, list[dict]] | None = None,
                  cost: dict | None = None, examples: int = 8, proofreading: dict[str, dict] | None = None,
                  systems: dict[str, dict] | None = None) -> str:
    """``metrics``: round -> reports/metrics/<round>.json; ``details``: round -> evaluation details.json;
    ``positions``: round -> position.json rows; ``human``: reports/metrics/human.json; ``datasets``:
    round -> data/sft/<round>/stats.json; ``losses``: round -> reports/train/<round>.json; ``cost``:
    the planner's summary of the trained rounds; ``proofreading``: book -> the align report's
    proofreading figures (with the book's split); ``systems``: outside system -> its metrics file
    (rows under the rounds' in the metrics tables)."""
    rounds = sorted(metrics)
    directions = sorted({d for m in [*metrics.values(), *(systems or {}).values()] for d in m.get("directions", {})})
    details, positions, datasets, losses = details or {}, positions or {}, datasets or {}, losses or {}
    sections = []

    tables = "".join(f"<h3>{html.escape(d)}</h3>{_metrics_table(metrics, d, systems)}" for d in directions)
    sections.append(_section("Metrics by round", "<p>Deltas in brackets are against r0, the untouched base model; "
                             "<small>vs prev</small> against the round before. Green is better, red worse. Length ratio 1.0 = "
                             "as long as the reference; late/early below 1 = the translation shrinks as the book goes on.</p>"
                             + tables, "metrics"))

    ticks = [(k, r) for k, r in enumerate(rounds)]
    charts = []
    for group, keys in (("quality", ("bleu", "chrf", "d_bleu")), ("COMET", ("comet",)), ("omissions and length", ("omission_rate", "length_ratio"))):
        series = {f"{d} {k}": [(i, metrics[r].get("directions", {}).get(d, {}).get(k)) for i, r in enumerate(rounds)]
                  for d in directions for k in keys}
        if any(y is not None for s in series.values() for _, y in s):
            charts.append(line_chart(series, f"{group} over rounds", "round", "", xticks=ticks))
    for d in directions:
        series = {r: [(p["position"], p.get(f"{d}_length_ratio")) for p in positions.get(r, [])] for r in rounds}
        charts.append(line_chart(series, f"length ratio over position in the book ({d})", "position in the document (0 = start)",
                                 "translation ÷ expected length"))
    groups: dict = {}
    for r in rounds:
        for book, dirs in sorted(metrics[r].get("books", {}).items()):
            for d, m in sorted(dirs.items()):
                groups.setdefault(r, {})[f"{book} {d}"] = m.get("omission_rate")
    charts.append(bar_chart(groups, "omission rate by book", "share of source sentences"))
    sections.append(_section("Plots", "".join(f'<figure>{c}</figure>' for c in charts), "plots"))

    if human and human.get("ratings"):
        crit = [k for k in next(iter(human["systems"].values())) if k not in ("ratings",)]
        head = "".join(f"<th>{html.escape(k)}</th>" for k in crit)
        rows = "".join(f"<tr><th>{html.escape(s)}</th>{''.join(f'<td>{_fmt(v.get(k))}</td>' for k in crit)}</tr>"
                       for s, v in sorted(human["systems"].items()))
        agree = ", ".join(f"{html.escape(k)} {_fmt(v)}" for k, v in human["agreement"].items())
        corr = "".join(f"<li>{html.escape(k)}: Pearson {_fmt(v['pearson'])}, Spearman {_fmt(v['spearman'])} (n={v['n']})</li>"
                       for k, v in sorted(human["correlation"].items()))
        body = (f"<p>{human['ratings']} ratings by {human['raters']} rater(s) on {human['items_reviewed']} passages (scores 1–5).</p>"
                f'<table id="human"><thead><tr><th>system</th>{head}</tr></thead><tbody>{rows}</tbody></table>'
                f"<p>Inter-rater agreement (Krippendorff's alpha, interval): {agree}.</p>"
                f"<p>Correlation of human overall scores with the automatic metrics:</p><ul>{corr}</ul>")
    else:
        status = (human or {}).get("status", "no review scores yet")
        body = f"<p>{html.escape(status)}. Packets are in <code>reports/review/packet/</code> (docs/review.md).</p>"
    sections.append(_section("Expert review", body, "review"))

    ex_html = []
    for r in sorted(details, reverse=True):
        for book, dirs in sorted(details[r].get("books", {}).items()):
            for d, det in sorted(dirs.items()):
                for o in det.get("omissions", [])[:examples]:
                    ex_html.append(
                        f'<div class="omission"><div class="where">{html.escape(r)} · {html.escape(book)} · {html.escape(d)} · '
                        f'chapter {o["chapter"]} · {o["position"]:.0%} into the book · coverage {o["score"]:.2f}</div>'
                        f'<div class="src">{html.escape(o["context_before"])} <mark>{html.escape(o["sentence"])}</mark> '
                        f'{html.escape(o["context_after"])}</div>'
                        f'<div class="mt">translation around it: {html.escape(o["translation"]) or "<i>(nothing)</i>"}</div></div>')
        if ex_html:
            break
    # one side-by-side page per round, test book and direction, written by the evaluate stage
    pages = [f'<a href="evaluation/{html.escape(r)}/{html.escape(det["page"])}">{html.escape(r)} · {html.escape(book)} · '
             f'{html.escape(d)}</a>' for r in sorted(details) for book, dirs in sorted(details[r].get("books", {}).items())
             for d, det in sorted(dirs.items()) if det.get("page")]
    if pages:
        ex_html.append('<p class="omission-pages">Every sentence beside its translation: ' + " · ".join(pages) + "</p>")
    sections.append(_section("Detected omissions (examples from the latest round that has any)",
                             "".join(ex_html) or "<p>No omission detected.</p>", "omissions"))

    if proofreading:
        sections.append(_section("Proofreading of the aligned data", _proofreading_section(proofreading), "proofreading"))
    if datasets:
        rows = []
        for r, st in sorted(datasets.items()):
            tr, va = st.get("train", {}), st.get("valid", {})
            rows.append(f"<tr><th>{html.escape(r)}</th><td>{st.get('context')}</td><td>{tr.get('documents')}</td><td>{tr.get('tokens')}</td>"
                        f"<td>{va.get('documents')}</td><td>{len(st.get('books', {}))}</td>"
                        f"<td>{st.get('duplicates_removed', 0)}</td><td>{st.get('leakage', {}).get('leaks', 0)}</td></tr>")
        sections.append(_section("Training data per round", "<table><thead><tr><th>round</th><th>context</th><th>train docs</th>"
                                 "<th>train tokens</th><th>valid docs</th><th>books</th><th>duplicates removed</th><th>leaks</th>"
                                 f"</tr></thead><tbody>{''.join(rows)}</tbody></table>", "data"))
    if losses:
        series = {r: [(row["step"], row.get("loss")) for row in rows] for r, rows in sorted(losses.items())}
        sections.append(_section("Training loss", line_chart(series, "training loss per step", "step", "loss"), "loss"))
    if cost:
        rows = "".join(f"<tr><th>{html.escape(r)}</th><td>{c.get('tokens')}</td><td>{c.get('steps')}</td><td>{_fmt(c.get('memory_gib'))}</td>"
                       f"<td>{_fmt(c.get('gpu_hours'))}</td><td>{_fmt(c.get('cost'))}</td></tr>" for r, c in sorted(cost["rounds"].items()))
        sections.append(_section("Cost so far (planner estimate)",
                                 f"<p>Model {html.escape(str(cost.get('model')))}; rounds trained so far. Total: "
                                 f"{_fmt(cost.get('gpu_hours'))} GPU-hours, ${_fmt(cost.get('cost'))}.</p>"
                                 "<table><thead><tr><th>round</th><th>tokens</th><th>steps</th><th>GiB/GPU</th><th>GPU-hours</th>"
                                 f"<th>cost $</th></tr></thead><tbody>{rows}</tbody></table>", "cost"))
    sigs = sorted({s for det in details.values() for d in det.get("directions", {}).values() for s in d.get("signatures", {}).values()})
    sections.append(_section("Metric signatures", "<ul>" + "".join(f"<li><code>{html.escape(s)}</code></li>" for s in sigs) + "</ul>", "signatures"))

    notes_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes or [])
    nav = " · ".join(f'<a href="#{a}">{t}</a>' for a, t in (("metrics", "metrics"), ("plots", "plots"), ("review", "review"),
                                                           ("omissions", "omissions"), ("proofreading", "proofreading"), ("data", "data"), ("loss", "loss"), ("cost", "cost")))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:76em;color:#222;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}th,td{{border:1px solid #ccc;padding:.35em .7em;text-align:right;vertical-align:top}}
thead th{{background:#f2f2f2}}tbody th{{text-align:left}}.up{{color:#1a7f37}}.down{{color:#c62828}}.same{{color:#888}}
.note{{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}}code{{font-size:.85em}}
figure{{display:inline-block;margin:.5em}} .omission{{border-left:3px solid #c62828;padding:.3em .8em;margin:.8em 0}}
.omission .where{{font-size:.85em;color:#666}} mark{{background:#ffd6d6}} .mt{{color:#555;font-size:.9em}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<nav>{nav}</nav>
{notes_html}
{''.join(sections)}
</body></html>
"""
