"""What a reviewer reads: the detector's verdicts as JSON rows, a text list of the flagged sentences,
and a side-by-side HTML page (source | translation, flagged sentences marked, a jump list)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from .api import Coverage

CONTEXT_UNITS = 2  # translation units shown either side of a dropped sentence's place


@dataclass
class Row:
    """One source sentence with its verdict and the translation aligned to it."""

    index: int  # the sentence's number in the source (0-based)
    line: int  # the source line (paragraph) it is on (0-based)
    text: str
    omitted: bool
    score: float
    partial: bool
    translation: str  # the translated text aligned to it ("" when dropped)
    missing_clauses: list[str]
    moved: bool = False
    before: str = ""  # the translation just before its place (dropped sentences)
    after: str = ""  # ... and just after

    def to_json(self) -> dict:
        return {
            "line": self.line,
            "sentence": self.index,
            "omitted": self.omitted,
            "score": round(self.score, 4),
            "partial": self.partial,
            "text": self.text,
            "translation": self.translation,
            "missing_clauses": self.missing_clauses,
        }

    @property
    def flagged(self) -> bool:
        return self.omitted or self.partial


def rows(cov: Coverage, sentences: list[str], lines: list[int], tgt_lang: str) -> list[Row]:
    """The rows of a coverage of ``sentences`` (source sentence k is on source line ``lines[k]``)."""
    sep = "" if tgt_lang == "zh" else " "
    out = []
    for k, c in enumerate(cov.lines):
        u, j = cov.spans[k] if k < len(cov.spans) else (0, 0)
        text = sep.join(x.strip() for x in cov.units[u:j])
        before = after = ""
        if c.omitted:
            before = sep.join(x.strip() for x in cov.units[max(0, u - CONTEXT_UNITS) : u])
            after = sep.join(x.strip() for x in cov.units[u : u + CONTEXT_UNITS])
        out.append(
            Row(
                k,
                lines[k],
                sentences[k],
                c.omitted,
                c.score,
                c.partial,
                text,
                list(c.missing_clauses),
                c.moved,
                before,
                after,
            )
        )
    return out


def book_rows(sentences: list[dict]) -> list[Row]:
    """The rows of a whole book from the evaluate stage's per-sentence verdicts (``evaluate_book``'s
    ``sentences``): ``line`` is the source paragraph; a dropped sentence shows the translation around
    its place."""
    return [
        Row(
            k,
            s["para"],
            s["text"],
            s["omitted"],
            s["score"],
            s["partial"],
            s["translation"],
            list(s["missing"]),
            before=s.get("around", ""),
            after="",
        )
        for k, s in enumerate(sentences)
    ]


def text_report(items: list[Row]) -> str:
    """Only the flagged sentences: where, the source, the translation around the place, what is missing."""
    out = []
    for r in items:
        if not r.flagged:
            continue
        what = "DROPPED" if r.omitted else "PARTIAL"
        out.append(f"{what}  line {r.line + 1}, sentence {r.index + 1}  (probability translated {r.score:.2f})")
        out.append(f"  source:      {r.text}")
        if r.omitted:
            out.append(f"  translation: …{r.before} ⟦here⟧ {r.after}…")
        else:
            out.append(f"  translation: {r.translation}")
            for c in r.missing_clauses:
                out.append(f"  missing:     {c}")
        out.append("")
    return "\n".join(out)


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;line-height:1.45}
table{border-collapse:collapse;width:100%}td,th{border-top:1px solid #ddd;padding:.35em .5em;vertical-align:top}
td.n{color:#888;white-space:nowrap;font-size:.85em}tr.dropped td{background:#fde2e1}tr.partial td{background:#fff4d6}
tr.moved td.t{background:#eef5ff}del{color:#b00}.ctx{color:#888}nav a{margin-right:.6em}
"""


def html_page(items: list[Row], title: str, summary: str) -> str:
    """A self-contained side-by-side page: a jump list of flagged sentences, then every sentence."""
    esc = html.escape
    flagged = [r for r in items if r.flagged]
    jump = " ".join(f'<a href="#s{r.index}">{"dropped" if r.omitted else "partial"} {r.index + 1}</a>' for r in flagged)
    body = []
    for r in items:
        cls = "dropped" if r.omitted else "partial" if r.partial else "moved" if r.moved else ""
        if r.omitted:
            t = (
                f'<span class="ctx">…{esc(r.before)}</span> <del>⟦dropped here⟧</del> '
                f'<span class="ctx">{esc(r.after)}…</span>'
            )
        else:
            t = esc(r.translation)
            if r.missing_clauses:
                t += "".join(f"<br><del>missing: {esc(c)}</del>" for c in r.missing_clauses)
        body.append(
            f'<tr id="s{r.index}" class="{cls}"><td class="n">{r.line + 1}·{r.index + 1}<br>{r.score:.2f}</td>'
            f'<td class="s">{esc(r.text)}</td><td class="t">{t}</td></tr>'
        )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>\n"
        f'<h1>{esc(title)}</h1>\n<p id="summary">{esc(summary)}</p>\n'
        f'<nav id="flagged"><b>{len(flagged)} flagged:</b> {jump or "none"}</nav>\n'
        "<table><thead><tr><th>line·sentence<br>P(translated)</th><th>source</th><th>translation</th></tr></thead>"
        "<tbody>\n" + "\n".join(body) + "\n</tbody></table></body></html>\n"
    )
