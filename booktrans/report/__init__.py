"""One self-contained HTML page that compares every round."""

from __future__ import annotations

import html

COLUMNS = [("bleu", "BLEU"), ("chrf", "chrF"), ("length_ratio", "length ratio")]


PLOTTED = ("bleu", "chrf", "ter", "d_bleu", "comet", "omission_rate", "addition_rate", "length_ratio",
           "length_ratio_late_vs_early", "repetition_rate", "untranslated_rate")


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


def _fmt(x) -> str:
    return "—" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))


def _delta(x, base) -> str:
    if x is None or base is None:
        return ""
    d = x - base
    cls = "up" if d > 0 else "down" if d < 0 else "same"
    return f' <span class="{cls}">({d:+.3g})</span>'


def render_report(metrics: dict[str, dict], title: str = "booktrans — rounds compared", notes: list[str] | None = None,
                  extra_sections: list[tuple[str, str]] | None = None) -> str:
    """``metrics`` maps round name (r0 = base model) to the content of reports/metrics/<round>.json."""
    rounds = sorted(metrics)
    directions = sorted({d for m in metrics.values() for d in m.get("directions", {})})
    head = "".join(f"<th>{html.escape(d)} {label}</th>" for d in directions for _, label in COLUMNS)
    rows = []
    base = metrics.get("r0", {}).get("directions", {})
    for r in rounds:
        dirs = metrics[r].get("directions", {})
        cells = []
        for d in directions:
            for key, _ in COLUMNS:
                v = dirs.get(d, {}).get(key)
                b = base.get(d, {}).get(key) if r != "r0" else None
                cells.append(f"<td>{_fmt(v)}{_delta(v, b)}</td>")
        label = "r0 (base model)" if r == "r0" else r
        rows.append(f"<tr><th>{html.escape(label)}</th>{''.join(cells)}</tr>")
    sigs = sorted({s for m in metrics.values() for d in m.get("directions", {}).values() for s in d.get("signatures", {}).values()})
    notes_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes or [])
    extra = "".join(f"<h2>{html.escape(h)}</h2>{body}" for h, body in extra_sections or [])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}th,td{{border:1px solid #ccc;padding:.35em .7em;text-align:right}}
thead th{{background:#f2f2f2}}tbody th{{text-align:left}}.up{{color:#1a7f37}}.down{{color:#c62828}}.same{{color:#888}}
.note{{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}}code{{font-size:.85em}}
</style></head><body>
<h1>{html.escape(title)}</h1>
{notes_html}
<h2>Metrics by round</h2>
<p>Deltas are against r0, the untouched base model.</p>
<table id="metrics"><thead><tr><th>round</th>{head}</tr></thead><tbody>
{''.join(rows)}
</tbody></table>
<h2>Metric signatures</h2>
<ul>{''.join(f'<li><code>{html.escape(s)}</code></li>' for s in sigs)}</ul>
{extra}
</body></html>
"""
