"""Small inline SVG charts for the report: no script, no network, the same bytes for the same data."""

from __future__ import annotations

import html

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


def _nice(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:
        return (lo - 1, hi + 1) if lo else (0.0, 1.0)
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, xlabel: str, ylabel: str,
               xticks: list[tuple[float, str]] | None = None, width: int = 560, height: int = 280) -> str:
    """Lines with markers, one per series; points with a None y are skipped."""
    pts = [(x, y) for s in series.values() for x, y in s if y is not None]
    if not pts:
        return f'<p class="empty">{html.escape(title)}: no data.</p>'
    x0, x1 = _nice(min(p[0] for p in pts), max(p[0] for p in pts))
    y0, y1 = _nice(min(min(p[1] for p in pts), 0.0) if min(p[1] for p in pts) >= 0 else min(p[1] for p in pts), max(p[1] for p in pts))
    left, right, top, bottom = 56, 150, 28, 40
    w, h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return top + h - (y - y0) / (y1 - y0) * h

    parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
             f'<text x="{left}" y="16" font-weight="bold">{html.escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    for k in range(5):
        yv = y0 + (y1 - y0) * k / 4
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{sy(yv):.1f}" y2="{sy(yv):.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end">{_fmt(yv)}</text>')
    ticks = xticks or [(x0 + (x1 - x0) * k / 4, _fmt(x0 + (x1 - x0) * k / 4)) for k in range(5)]
    for xv, lab in ticks:
        parts.append(f'<text x="{sx(xv):.1f}" y="{top + h + 14}" text-anchor="middle">{html.escape(lab)}</text>')
    parts.append(f'<text x="{left + w / 2:.1f}" y="{height - 6}" text-anchor="middle">{html.escape(xlabel)}</text>'
                 f'<text transform="translate(12,{top + h / 2:.1f}) rotate(-90)" text-anchor="middle">{html.escape(ylabel)}</text>')
    for k, (name, s) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        good = [(x, y) for x, y in s if y is not None]
        if len(good) > 1:
            d = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(good))
            parts.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in good:
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"><title>{html.escape(name)}: {_fmt(y)}</title></circle>')
        ly = top + 12 + 16 * k
        parts.append(f'<rect x="{left + w + 10}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + w + 24}" y="{ly + 1}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(groups: dict[str, dict[str, float | None]], title: str, ylabel: str, width: int = 560, height: int = 280) -> str:
    """Grouped bars: ``groups[group][series] = value``."""
    names = sorted({s for g in groups.values() for s in g})
    vals = [v for g in groups.values() for v in g.values() if v is not None]
    if not vals:
        return f'<p class="empty">{html.escape(title)}: no data.</p>'
    y1 = max(max(vals), 1e-9) * 1.1
    left, right, top, bottom = 56, 150, 28, 40
    w, h = width - left - right, height - top - bottom
    parts = [f'<svg class="chart" role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
             f'<text x="{left}" y="16" font-weight="bold">{html.escape(title)}</text>',
             f'<line x1="{left}" x2="{left + w}" y1="{top + h}" y2="{top + h}" stroke="#999"/>']
    for k in range(5):
        yv = y1 * k / 4
        y = top + h - yv / y1 * h
        parts.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(yv)}</text>')
    gw = w / max(len(groups), 1)
    bw = gw * 0.8 / max(len(names), 1)
    for gi, (gname, g) in enumerate(groups.items()):
        gx = left + gi * gw + gw * 0.1
        for si, s in enumerate(names):
            v = g.get(s)
            if v is None:
                continue
            bh = v / y1 * h
            parts.append(f'<rect x="{gx + si * bw:.1f}" y="{top + h - bh:.1f}" width="{bw * 0.9:.1f}" height="{bh:.1f}" '
                         f'fill="{PALETTE[si % len(PALETTE)]}"><title>{html.escape(gname)} {html.escape(s)}: {_fmt(v)}</title></rect>')
        parts.append(f'<text x="{left + gi * gw + gw / 2:.1f}" y="{top + h + 14}" text-anchor="middle">{html.escape(gname)}</text>')
    for si, s in enumerate(names):
        ly = top + 12 + 16 * si
        parts.append(f'<rect x="{left + w + 10}" y="{ly - 8}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>'
                     f'<text x="{left + w + 24}" y="{ly + 1}">{html.escape(s)}</text>')
    parts.append(f'<text transform="translate(12,{top + h / 2:.1f}) rotate(-90)" text-anchor="middle">{html.escape(ylabel)}</text></svg>')
    return "".join(parts)
