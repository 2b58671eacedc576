"""The report's charts as Vega-Lite specifications, rendered in the page by vega-embed.

Vega-Lite is the grammar `dvc plots` draws with; it picks readable ("nice") axis ticks, draws a
legend and shows each point's values on hover (tooltips). The three browser libraries are vendored
in ``vendor/`` (see its README) and inlined, so the page opens offline. A spec is plain JSON with
sorted keys: the same data gives the same bytes.
"""

from __future__ import annotations

import html
import json
from importlib import resources

VENDORED = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier: nothing is fetched
WIDTH = 420  # plot area in px: two charts side by side in a 1,280 px window, one in 800 px
HEIGHT = 220


def vendored_scripts() -> str:
    """The ``<script>`` elements that define vega, vegaLite and vegaEmbed (about 830 kB)."""
    base = resources.files(__package__) / "vendor"
    return "".join(f"<script>{(base / name).read_text(encoding='utf-8')}</script>\n" for name in VENDORED)


def _clean(rows: list[dict]) -> list[dict]:
    return [r for r in rows if all(v is not None for v in r.values())]


def _axis(title: str, fmt: str | None = None) -> dict:
    out = {"title": title}
    if fmt:
        out["format"] = fmt
    return out


def line_spec(
    rows: list[dict],
    title: str,
    x: str,
    y: str,
    series: str,
    xtitle: str,
    ytitle: str,
    xtype: str = "quantitative",
    yformat: str | None = None,
    xformat: str | None = None,
    xsort: list[str] | None = None,
    zero: bool = False,
) -> dict | None:
    """Lines with points, one per value of ``series``; rows holding a None are left out. None when
    nothing is left to draw."""
    rows = _clean(rows)
    if not rows:
        return None
    xenc = {"field": x, "type": xtype, "axis": {**_axis(xtitle, xformat), "labelAngle": 0}}
    if xsort:
        xenc["sort"] = xsort
    tip = [
        {"field": series, "type": "nominal", "title": "series"},
        {"field": x, "type": xtype, "title": xtitle, **({"format": xformat} if xformat else {})},
        {"field": y, "type": "quantitative", "title": ytitle, "format": yformat or ".4~g"},
    ]
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": WIDTH,
        "height": HEIGHT,
        "data": {"values": rows},
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": xenc,
            "y": {"field": y, "type": "quantitative", "axis": _axis(ytitle, yformat), "scale": {"zero": zero}},
            "color": {"field": series, "type": "nominal", "legend": {"title": None, "orient": "bottom", "columns": 2}},
            "tooltip": tip,
        },
    }


def bar_spec(
    rows: list[dict], title: str, x: str, y: str, series: str, xtitle: str, ytitle: str, yformat: str | None = None
) -> dict | None:
    """Grouped bars: one group per ``x``, one bar per ``series`` inside it."""
    rows = _clean(rows)
    if not rows:
        return None
    return {
        "$schema": SCHEMA,
        "title": title,
        "width": WIDTH,
        "height": HEIGHT,
        "data": {"values": rows},
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {"field": x, "type": "nominal", "axis": {"title": xtitle, "labelAngle": 0}},
            "xOffset": {"field": series, "type": "nominal"},
            "y": {"field": y, "type": "quantitative", "axis": _axis(ytitle, yformat)},
            "color": {"field": series, "type": "nominal", "legend": {"title": None, "orient": "bottom"}},
            "tooltip": [
                {"field": x, "type": "nominal", "title": xtitle},
                {"field": series, "type": "nominal", "title": "series"},
                {"field": y, "type": "quantitative", "title": ytitle, "format": yformat or ".4~g"},
            ],
        },
    }


def chart(spec: dict | None, name: str, empty: str) -> str:
    """A figure that vega-embed fills from its embedded spec; a sentence when there is no data.
    Without JavaScript the figure says so instead of staying blank."""
    if spec is None:
        return f'<p class="empty">{html.escape(empty)}</p>'
    data = json.dumps(spec, sort_keys=True, ensure_ascii=False).replace("</", "<\\/")
    return (
        f'<figure class="chart"><div class="vega" id="chart-{html.escape(name)}" role="img" '
        f'aria-label="{html.escape(spec["title"])}"><noscript>{html.escape(spec["title"])}: this chart needs '
        f'JavaScript.</noscript></div><script type="application/json" class="vega-spec" '
        f'data-target="chart-{html.escape(name)}">{data}</script></figure>'
    )


EMBED = """<script>
document.querySelectorAll('script.vega-spec').forEach(function (s) {
  var target = document.getElementById(s.dataset.target);
  vegaEmbed(target, JSON.parse(s.textContent), {renderer: 'svg', actions: false, tooltip: {theme: 'light'}})
    .then(function () { target.dataset.rendered = 'yes'; })
    .catch(function (e) { target.textContent = 'chart failed: ' + e; });
});
</script>"""
