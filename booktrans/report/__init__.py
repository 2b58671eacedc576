"""One self-contained HTML page that tells the story of the rounds, for readers who are not
engineers as much as for those who are: a short "how to read this page", metrics by round with their
differences to the base model and to the round before, Vega-Lite charts (ticks, units, legends,
values on hover), the expert review with the size of every sample beside its means and
correlations, omission examples, the data, training and cost of each round, and a glossary of every
column and warning."""

from __future__ import annotations

import html
import re

from .charts import EMBED, bar_spec, chart, line_spec, vendored_scripts

PLOTTED = (
    "bleu",
    "chrf",
    "ter",
    "d_bleu",
    "comet",
    "omission_rate",
    "addition_rate",
    "length_ratio",
    "length_ratio_late_vs_early",
    "repetition_rate",
    "untranslated_rate",
)
SMALL = 10  # fewer points than this: a mean or correlation is marked as a small sample


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


# The metric tables, most important first: (key in the metrics file, column name, better, format).
# better: True = higher is better, False = lower is better, None = closest to 1 is best (no colour).
COLUMNS = [
    ("comet", "COMET", True, "comet"),
    ("chrf", "chrF", True, "score"),
    ("bleu", "BLEU", True, "score"),
    ("d_bleu", "document BLEU", True, "score"),
    ("ter", "TER", False, "score"),
    ("omission_rate", "omitted sentences", False, "share"),
    ("length_ratio", "length ratio", None, "ratio"),
    ("length_ratio_late_vs_early", "late ÷ early length", None, "ratio"),
    ("flags", "warnings", False, "count"),
]

# The expert review table, most important first; a key the scores file has and this list lacks
# is shown after these, named from its key.
HUMAN_COLUMNS = [
    ("overall", "overall"),
    ("accuracy", "accuracy"),
    ("completeness", "completeness"),
    ("fluency", "fluency"),
    ("style", "style"),
    ("terminology", "terminology"),
    ("ratings", "n ratings"),
    ("errors_per_passage", "errors marked per passage"),
    ("mqm_penalty_per_passage", "error penalty per passage"),
    ("omission_errors", "omissions marked"),
]
CORRELATIONS = {
    "passage_chrf": "chrF of each passage",
    "system_bleu": "each round's BLEU",
    "system_chrf": "each round's chrF",
    "system_ter": "each round's TER",
    "system_comet": "each round's COMET",
    "system_omission_rate": "each round's omitted sentences",
    "system_length_ratio": "each round's length ratio",
}

GLOSSARY = {
    "round": "r0 is the base model before any training (the baseline); r1, r2, … are the model after each training "
    "round, each trained on longer passages than the one before. Outside systems (another translator) are "
    "listed under the rounds.",
    "COMET": "A neural quality estimate that reads the source, the translation and the human reference; "
    "roughly 0 to 1, "
    "higher is better. “absent” when no COMET model is configured (hover for why).",
    "chrF": "How many character sequences the translation shares with the human reference translation; 0–100, higher "
    "is better. Fairer than BLEU to Chinese and to word-form variants.",
    "BLEU": "How many word sequences (1 to 4 words) the translation shares with the human reference, sentence by "
    "sentence; 0–100, higher is better. Published literary systems often score 10–40.",
    "document BLEU": "BLEU over whole chapters instead of single sentences: it also credits text the translation put "
    "in a different sentence than the reference; 0–100, higher is better.",
    "TER": "Translation edit rate: how many words must be inserted, deleted, replaced or moved to turn the "
    "translation into the reference, per 100 reference words; lower is better.",
    "omitted sentences": "Share of the source sentences that the omission detector finds missing from the "
    "translation; lower is better. Examples are in “Detected omissions”.",
    "length ratio": "Length of the translation divided by the length the reference suggests; 1.0 = as long as "
    "expected, well below 1 = text is missing, well above = text is added or repeated.",
    "late ÷ early length": "The length ratio in the last part of the book divided by the one in the first part; "
    "below 1 = the translation shrinks as the book goes on (a long-document failure).",
    "warnings": "How many automatic checks for broken output fired for that round: each is listed under its table. "
    "The checks: empty translations; output not in the target language; 5% or more left untranslated; "
    "20% or more of word sequences repeated (degenerate output); length ratio under 0.5 (shrinkage); "
    "passages cut off at the length limit.",
    "r0 …": "In a cell: the difference to r0, the base model (green = better, red = worse, grey = no change or no "
    "better direction). Shares are in percentage points (pt).",
    "prev …": "In a cell: the difference to the round just before.",
    "system": "The translation the reviewers scored, unblinded after scoring: a round, or the human reference "
    "translation (the ceiling a round can reach).",
    "overall": "The mean of the five criteria below, over every rating of that system; 1 (worst) to 5 (best).",
    "accuracy": "1–5: the meaning of the source is rendered correctly.",
    "completeness": "1–5: nothing of the source is left out (5 = nothing missing).",
    "fluency": "1–5: reads as natural, grammatical prose in the target language.",
    "style": "1–5: register, tone and literary qualities of the source are kept.",
    "terminology": "1–5: terms, names and background facts are right and consistent.",
    "n ratings": "How many ratings (one rater, one passage) each mean is over. Under 10 the row is marked as a small "
    "sample: a single rating moves the mean by a lot.",
    "errors marked per passage": "Errors reviewers marked in the translation, per rated passage; lower is better.",
    "error penalty per passage": "The marked errors weighted by severity (minor 1, major 5, critical 10 points, as in "
    "MQM), per rated passage; lower is better.",
    "omissions marked": "How many errors reviewers marked as omission (accuracy/omission) in total.",
    "compared with": "What the reviewers' overall score is set against: each passage's chrF (passage level) or each "
    "round's automatic metric (one point per round).",
    "Pearson r": "Linear correlation, −1 to 1: 1 = the two rise together in a straight line, 0 = no relation.",
    "Spearman ρ": "Rank correlation, −1 to 1: 1 = both put the systems or passages in the same order.",
    "n": "How many points the correlation is computed from. With a handful of points even a perfect 1.0 says little: "
    "three rounds in the same order happen by chance one time in six.",
    "how far to trust it": "Whether the correlation rests on enough points to mean something (see n).",
    "book": "A book of the corpus (data/books.yaml).",
    "split": "Which use the book is kept for: train, valid (validation during training) or test (held out, translated "
    "and scored).",
    "beads checked": "Aligned pairs a proofreader decided.",
    "corrected": "Of those, pairs the proofreader changed (regrouped, rejected or with a fixed sentence).",
    "no longer apply": "Corrections whose sentences the current alignment no longer has (listed in "
    "reports/align.json).",
    "estimated precision": "Share of right pairs in the book's training data, estimated from a random sample judged by "
    "proofreaders, with its 95% interval and the sample's size.",
    "context length (tokens)": "The longest passage the round trains on, in tokens of the model's tokenizer.",
    "training documents": "Passages in the round's training set.",
    "training tokens": "Tokens in the round's training set.",
    "validation documents": "Passages held back to measure the loss during training.",
    "books": "Books the round's training data comes from.",
    "duplicates removed": "Passages dropped because they repeat another.",
    "leaks": "Passages that overlap the held-out test books (should be 0).",
    "training tokens planned": "Tokens the planner counts for the round.",
    "optimizer steps": "Training steps of the round.",
    "memory per GPU (GiB)": "The planner's peak memory estimate per GPU.",
    "GPU-hours": "The planner's estimate of GPU time for the round.",
    "cost (USD)": "GPU-hours times the price in the cluster profile.",
    "comparison": "Which two translations are compared: “r4 vs r3” is r4 minus r3 (r4 vs its predecessor, vs r0 and vs "
    "every outside system). Each cell: the difference, its 95% interval and p; “not significant” (grey, "
    "struck through) = p is not below 0.05 or the interval includes 0: the data cannot tell the "
    "difference from noise.",
    "criterion": "One of the team's conditions for the decision, as written in params.yaml under decision:.",
    "direction": "zh-en = Chinese into English, en-zh = English into Chinese; “both” for the expert score "
    "(one per system).",
    "verdict": "met = the value satisfies the criterion (and its whole 95% interval does, where the criterion asks for "
    "significance); not met = the value does not; not significant = the value does but its interval reaches "
    "past the bound, so it may be luck; no data = not measured yet.",
    "evidence": "The figures behind the verdict: the value or difference, its 95% interval and p, and the bound.",
    "genre": "The kind of book (data/books.yaml): textbook, novel, popsci (popular science) or poetry.",
    "segments": "Aligned sentence groups scored in that group. Under 100 the group is marked as a small sample.",
    "chapters": "Chapters in that group: the units the significance test resamples.",
    "translated by": "The round or outside system whose translation the row scores.",
}


def _ci(ci) -> str:
    return f"{ci[0]:.0%}–{ci[1]:.0%}" if ci else ""


def _th(label: str, cls: str = "") -> str:
    tip = GLOSSARY.get(label)
    attrs = (f' class="{cls}"' if cls else "") + (f' title="{html.escape(tip)}"' if tip else "")
    return f"<th{attrs}>{html.escape(label)}</th>"


def _head(labels: list[str]) -> str:
    return "<thead><tr>" + "".join(_th(x) for x in labels) + "</tr></thead>"


def _proofreading_section(proofreading: dict[str, dict]) -> str:
    rows = []
    for book, p in sorted(proofreading.items()):
        s = p.get("sample") or {}
        if s.get("judged"):
            prec = (
                f"{s['precision']:.1%} <small>({_ci(s['ci95'])}; n = {s['judged']} of {s['population']} pairs judged; "
                f"~{s['wrong_pairs']:.0f} wrong, ~{s['wrong_left']:.0f} left after corrections)</small>"
            )
        else:
            prec = f"<small>not measured yet: no sampled pair judged ({s.get('size', 0)} drawn)</small>"
        stale = len(p.get("stale", []))
        rows.append(
            f"<tr><th>{html.escape(book)}</th><td>{html.escape(str(p.get('split') or ''))}</td>"
            f"<td>{p.get('checked', 0)}</td>"
            f'<td>{p.get("corrected", 0)}</td><td>{stale}</td><td class="wide">{prec}</td></tr>'
        )
    return (
        "<p>Pairs of sentences checked and corrected by proofreaders, corrections that no longer apply, and the "
        "precision of the aligned pairs estimated from each book's random sample (95% interval; docs/proofread.md).</p>"
        '<table id="proofreading-table">'
        + _head(["book", "split", "beads checked", "corrected", "no longer apply", "estimated precision"])
        + "<tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _fmt(x) -> str:
    return "—" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))


def _num(x) -> str:
    """A mean, correlation or agreement: two decimals; counts as they are."""
    return "—" if x is None else (f"{x:.2f}" if isinstance(x, float) else str(x))


def _value(x, kind: str) -> str:
    if x is None:
        return "—"
    if kind == "share":
        return f"{x:.1%}"
    if kind == "score":
        return f"{x:.1f}"
    if kind == "comet":
        return f"{x:.3f}"
    if kind == "ratio":
        return f"{x:.2f}"
    return str(x)


def _diff(d: float, kind: str) -> str:
    if kind == "share":
        return f"{d * 100:+.1f} pt"
    if kind == "score":
        return f"{d:+.1f}"
    if kind == "comet":
        return f"{d:+.3f}"
    if kind == "ratio":
        return f"{d:+.2f}"
    return f"{d:+d}" if isinstance(d, int) else f"{d:+g}"


def _delta(x, base, better, kind: str, against: str) -> str:
    """``<small>against ±d</small>``, coloured; nothing when either value is missing."""
    if not isinstance(x, (int, float)) or not isinstance(base, (int, float)):
        return ""
    d = x - base
    text = _diff(d, kind)
    if not re.search(r"[1-9]", text):  # a change too small to show is no change: "+0.0", grey
        d, text = 0, _diff(0, kind)
    cls = "same" if better is None or d == 0 else ("up" if (d > 0) == better else "down")
    return f'<small class="d {cls}">{html.escape(against)} {text}</small>'


def _cell(m: dict, key: str, better, kind: str, base: dict | None, prev: dict | None) -> str:
    v = m.get(key)
    if key == "comet" and v is None:
        why = m.get("comet_absent", "no COMET model configured")
        return f'<td><span title="{html.escape(why)}">absent</span></td>'
    if v is None:
        return '<td><span title="not measured for this round">—</span></td>'
    deltas = (_delta(v, (base or {}).get(key), better, kind, "r0") if base is not None else "") + (
        _delta(v, (prev or {}).get(key), better, kind, "prev") if prev is not None else ""
    )
    return f"<td>{_value(v, kind)}{deltas}</td>"


def _system_rows(systems: dict[str, dict], direction: str, base: dict) -> str:
    """Outside systems under the rounds, compared with r0; a skipped one says why."""
    rows = []
    for name, m in sorted(systems.items()):
        label = f"<th>{html.escape(name)} <small>(outside system)</small></th>"
        if m.get("skipped"):
            rows.append(
                f'<tr class="system">{label}<td colspan="{len(COLUMNS)}" class="note-cell">skipped: '
                f"{html.escape(m['skipped'])}</td></tr>"
            )
            continue
        d = m.get("directions", {}).get(direction)
        if d is None:
            continue
        cells = "".join(_cell(d, key, better, kind, base or None, None) for key, _, better, kind in COLUMNS)
        rows.append(f'<tr class="system">{label}{cells}</tr>')
    return "".join(rows)


def _metrics_table(
    metrics: dict[str, dict],
    direction: str,
    systems: dict[str, dict] | None = None,
    flags: dict[str, list[str]] | None = None,
) -> str:
    rounds = sorted(metrics)
    rows = []
    base = metrics.get("r0", {}).get("directions", {}).get(direction)
    prev = None
    for r in rounds:
        m = metrics[r].get("directions", {}).get(direction, {})
        cells = "".join(
            _cell(m, key, better, kind, base if r != "r0" else None, prev if prev is not None and r != "r1" else None)
            for key, _, better, kind in COLUMNS
        )
        prev = m
        label = "r0 <small>(base model)</small>" if r == "r0" else html.escape(r)
        rows.append(f"<tr><th>{label}</th>{cells}</tr>")
    rows.append(_system_rows(systems or {}, direction, base or {}))
    last = metrics[rounds[-1]].get("directions", {}).get(direction, {}) if rounds else {}
    books = sorted(b for r in rounds for b, dirs in metrics[r].get("books", {}).items() if direction in dirs)
    n = (
        (
            f'<p class="n">Scored on n = {last["segments"]} aligned segments of {len(set(books))} held-out book(s)'
            f"{' — a small sample' if last['segments'] < 100 else ''}.</p>"
        )
        if last.get("segments")
        else ""
    )
    warn = "".join(
        f"<li><b>{html.escape(r)}</b>: {html.escape('; '.join(f))}</li>" for r, f in sorted((flags or {}).items()) if f
    )
    warn = f'<p class="n">Warnings:</p><ul class="warnings">{warn}</ul>' if warn else ""
    return (
        f'<table class="metrics" data-direction="{html.escape(direction)}">'
        + _head(["round"] + [label for _, label, _, _ in COLUMNS])
        + f"<tbody>{''.join(rows)}</tbody></table>{n}{warn}"
    )


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{body}</section>'


def _small(n: int | None) -> str:
    return "" if n is None or n >= SMALL else ' <small class="small-n">small sample</small>'


def _human_section(human: dict | None) -> str:
    if not (human and human.get("ratings")):
        status = (human or {}).get("status", "no review scores yet")
        return f"<p>{html.escape(status)}. Packets are in <code>reports/review/packet/</code> (docs/review.md).</p>"
    keys = sorted({k for v in human["systems"].values() for k in v})
    cols = [(k, label) for k, label in HUMAN_COLUMNS if k in keys] + [
        (k, k.replace("_", " ")) for k in keys if k not in dict(HUMAN_COLUMNS)
    ]

    def order(s: str) -> tuple:
        return (s == "reference", not s.startswith("r"), s)

    rows = []
    for s in sorted(human["systems"], key=order):
        v = human["systems"][s]
        name = {"reference": "human reference", "r0": "r0 (base model)"}.get(s, s)
        cells = "".join(f"<td>{_num(v.get(k))}{_small(v.get(k)) if k == 'ratings' else ''}</td>" for k, _ in cols)
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    agree = "; ".join(f"{html.escape(k)} {_num(v)}" for k, v in human.get("agreement", {}).items() if v is not None)
    agree = (
        (
            f"<p>Agreement between the raters (Krippendorff's α: 1 = they agree fully, 0 = no better than chance; "
            f"{human['raters']} raters): {agree}.</p>"
        )
        if agree
        else f"<p>Agreement between raters: not measurable ({human['raters']} rater(s); it needs two "
        "rating the same passages).</p>"
    )
    crows = []
    for k, v in sorted(human.get("correlation", {}).items()):
        n = v.get("n") or 0
        trust = (
            "not computable: needs 3 points or more"
            if n < 3
            else f"small sample: with n = {n} a strong correlation can be chance"
            if n < SMALL
            else ""
        )
        crows.append(
            f"<tr><th>{html.escape(CORRELATIONS.get(k, k.replace('_', ' ')))}</th><td>{_num(v.get('pearson'))}</td>"
            f'<td>{_num(v.get("spearman"))}</td><td>{n}</td><td class="note-cell">{trust}</td></tr>'
        )
    return (
        f"<p>{human['ratings']} ratings by {human['raters']} rater(s) on {human['items_reviewed']} passages. Scores "
        "run from 1 (worst) to 5 (best); the reviewers did not know which system wrote which translation.</p>"
        '<table id="human">'
        + _head(["system"] + [label for _, label in cols])
        + f"<tbody>{''.join(rows)}</tbody></table>"
        + agree
        + "<p>Does the reviewers' overall score agree with the automatic metrics?</p>"
        '<table id="correlation">'
        + _head(["compared with", "Pearson r", "Spearman ρ", "n", "how far to trust it"])
        + f"<tbody>{''.join(crows)}</tbody></table>"
    )


# written into the report page as it is, byte for byte (its lines stay as long as they are: noqa E501 below)
HOW_TO_READ = """<section id="how-to-read"><h2>How to read this page</h2>
<p>A model learns to translate whole books in <b>rounds</b>. <b>r0</b> is the model before any training;
every later round (r1, r2, …) continues from the one before with longer passages. Each round translates
the same held-out books, which no round trained on, and is scored against the published human
translation.</p>
<ul>
<li><b>Where to look first:</b> the <a href="#review">expert review</a> (people scoring blinded translations
1–5) is the most trustworthy measure; among the automatic ones, <b>COMET</b> and then <b>chrF</b> agree
with human judgement more often than BLEU does (the WMT metrics evaluations). The <a href="#charts">charts</a> show the same numbers over the rounds (hover a point for its value).</li>
<li><b>Colours:</b> in the tables, green means better than the base model r0 (or than the previous round),
red worse, grey no change. For BLEU, chrF and COMET higher is better; for TER, omitted sentences and
warnings lower is better; a length ratio is best near 1.</li>
<li><b>Sample sizes:</b> n is given beside every mean and correlation. A figure from a few points (marked
<i>small sample</i>) is a hint, not a result.</li>
<li><b>Is a difference real?</b> A difference of half a point on a few books can be luck. <a href="#significance">Which
differences are real</a> gives each difference with its 95% interval and p (resampling whole chapters);
a difference that is <span class="ns-value">struck through</span> and marked <i>not significant</i> cannot
be told from noise. <a href="#decision">Decision criteria</a> applies the team's rules to every round
(met / not met / not significant), and <a href="#breakdown">By genre and book</a> shows where a change
happened, with the number of segments behind each figure.</li>
<li>Every column and warning is explained in the <a href="#glossary">glossary</a> at the end; hover a
column name for the same text.</li>
</ul></section>"""  # noqa: E501


def _glossary() -> str:
    return (
        '<section id="glossary"><h2>Glossary</h2><dl>'
        + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in GLOSSARY.items())
        + "</dl></section>"
    )


# ---- significance, breakdown and decision (reports/compare.json) ----------------------------------

SIG_COLUMNS = [
    (k, label, better, kind)
    for k, label, better, kind in COLUMNS
    if k in ("comet", "chrf", "bleu", "omission_rate", "length_ratio")
]
SMALL_SEGMENTS = 100
SMALL_N = " <small class=small-n>small sample</small>"  # beside a group of fewer segments
VERDICT_CLASS = {"met": "up", "not met": "down", "not significant": "ns", "no data": "same"}


def _sig_cell(c: dict | None, better, kind: str) -> str:
    if not c:
        return '<td><span title="not measured for both systems">—</span></td>'
    ci = f"95%: {_diff(c['ci_low'], kind)} to {_diff(c['ci_high'], kind)}"
    if not c["significant"]:
        return (
            f'<td class="ns"><span class="ns-value">{_diff(c["delta"], kind)}</span>'
            f'<small class="d">{ci}</small><small class="d">p {c["p"]:.3f} · not significant</small></td>'
        )
    cls = "same" if better is None or c["delta"] == 0 else ("up" if (c["delta"] > 0) == better else "down")
    return (
        f'<td><span class="{cls}">{_diff(c["delta"], kind)}</span><small '
        f'class="d">{ci}</small><small class="d">p {c["p"]:.3f}</small></td>'
    )


def _significance_section(compare: dict) -> str:
    st = compare.get("settings", {})
    out = [
        f"<p>Each cell: the difference (second system subtracted from the first), its 95% interval and p, from "
        f"{st.get('resamples')} paired bootstrap resamples of whole chapters (seed "
        f"{st.get('seed')}). A difference with "
        f'p ≥ {st.get("alpha")} or an interval that includes 0 is <span class="ns-value">struck '
        "through</span> and marked <i>not significant</i>: "
        f"it cannot be told from noise on these books.</p>"
    ]
    for d, v in sorted(compare.get("directions", {}).items()):
        rows = []
        for name, c in v.get("comparisons", {}).items():
            cells = "".join(_sig_cell(c.get(k), better, kind) for k, _, better, kind in SIG_COLUMNS)
            rows.append(
                f"<tr><th>{html.escape(name)} <small>({html.escape(c.get('against', ''))})</small></th>{cells}</tr>"
            )
        small = " — a small sample" if v.get("segments", 0) < SMALL_SEGMENTS else ""
        out.append(
            f"<h3>{html.escape(d)}</h3>"
            + f'<table class="significance" data-compare-direction="{html.escape(d)}">'
            + _head(["comparison"] + [label for _, label, _, _ in SIG_COLUMNS])
            + f"<tbody>{''.join(rows)}</tbody></table>"
            + f'<p class="n">n = {v.get("segments")} segments in {v.get("chapters")} chapters{small}.</p>'
        )
    return "".join(out)


def _breakdown_section(compare: dict) -> str:
    out = [
        "<p>Every metric per genre and per book, with the segments and chapters behind it: a group of a few "
        "segments is marked as a small sample, and a change there is a hint, not a result.</p>"
    ]
    for d, v in sorted(compare.get("directions", {}).items()):
        for level in ("genre", "book"):
            rows = []
            for g, e in sorted(v.get("breakdown", {}).get(level, {}).items()):
                systems = list(e["systems"])
                for k, sname in enumerate(systems):
                    m = e["systems"][sname]
                    head = (
                        (
                            f'<th rowspan="{len(systems)}">{html.escape(g)}</th><td '
                            f'rowspan="{len(systems)}">{e["segments"]}'
                            f"{SMALL_N if e['segments'] < SMALL_SEGMENTS else ''}</td>"
                            f'<td rowspan="{len(systems)}">{e["chapters"]}</td>'
                        )
                        if k == 0
                        else ""
                    )
                    cells = "".join(f"<td>{_value(m.get(key), kind)}</td>" for key, _, _, kind in SIG_COLUMNS)
                    rows.append(f"<tr>{head}<th>{html.escape(sname)}</th>{cells}</tr>")
            out.append(
                f"<h3>{html.escape(d)} by {level}</h3>"
                + f'<table class="breakdown" data-level="{level}">'
                + _head([level, "segments", "chapters", "translated by"] + [label for _, label, _, _ in SIG_COLUMNS])
                + f"<tbody>{''.join(rows)}</tbody></table>"
            )
    return "".join(out)


def _decision_section(compare: dict) -> str:
    decision = compare.get("decision", {})
    if not decision or not any(decision.values()):
        return "<p>No criteria in params.yaml (decision: criteria:) or no round measured yet.</p>"
    rows = []
    for r in sorted(decision, reverse=True):
        for k, c in enumerate(decision[r]):
            head = f'<th rowspan="{len(decision[r])}">{html.escape(r)}</th>' if k == 0 else ""
            rows.append(
                f'<tr>{head}<td class="note-cell">{html.escape(c["name"])}</td><td>{html.escape(c["direction"])}</td>'
                f'<td class="verdict {VERDICT_CLASS.get(c["verdict"], "same")}">{html.escape(c["verdict"])}</td>'
                f'<td class="wide">{html.escape(c["evidence"])}</td></tr>'
            )
    return (
        "<p>The team's criteria for the decision (params.yaml, <code>decision:</code>), judged for every round, latest "
        "first, with the figures behind each verdict.</p>"
        + '<table id="decision-table">'
        + _head(["round", "criterion", "direction", "verdict", "evidence"])
        + f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render_report(
    metrics: dict[str, dict],
    title: str = "booktrans — rounds compared",
    notes: list[str] | None = None,
    details: dict[str, dict] | None = None,
    positions: dict[str, list[dict]] | None = None,
    human: dict | None = None,
    datasets: dict[str, dict] | None = None,
    losses: dict[str, list[dict]] | None = None,
    cost: dict | None = None,
    examples: int = 8,
    proofreading: dict[str, dict] | None = None,
    systems: dict[str, dict] | None = None,
    compare: dict | None = None,
) -> str:
    """``metrics``: round -> reports/metrics/<round>.json; ``details``: round -> evaluation details.json;
    ``positions``: round -> position.json rows; ``human``: reports/review/human.json; ``datasets``:
    round -> data/sft/<round>/stats.json; ``losses``: round -> reports/train/<round>.json; ``cost``:
    the planner's summary of the trained rounds; ``proofreading``: book -> the align report's
    proofreading figures (with the book's split); ``systems``: outside system -> its metrics file
    (rows under the rounds' in the metrics tables); ``compare``: reports/compare.json (significance,
    breakdown per genre and book, the decision criteria's verdicts)."""
    rounds = sorted(metrics)
    directions = sorted({d for m in [*metrics.values(), *(systems or {}).values()] for d in m.get("directions", {})})
    details, positions, datasets, losses = details or {}, positions or {}, datasets or {}, losses or {}
    sections = [HOW_TO_READ]
    if compare:
        sections.append(_section("Decision criteria", _decision_section(compare), "decision"))

    tables = "".join(
        f"<h3>{html.escape(d)} "
        f"<small>({'Chinese → English' if d == 'zh-en' else 'English → Chinese' if d == 'en-zh' else ''})</small></h3>"
        + _metrics_table(
            metrics,
            d,
            systems,
            {r: details.get(r, {}).get("directions", {}).get(d, {}).get("flags", []) for r in rounds},
        )
        for d in directions
    )
    sections.append(
        _section(
            "Automatic metrics by round",
            "<p>Each cell: the round's value, then its difference to r0 "
            "(<small>r0 ±</small>) and to the round before (<small>prev ±</small>).</p>" + tables,
            "metrics",
        )
    )

    if compare:
        sections.append(_section("Which differences are real", _significance_section(compare), "significance"))
        sections.append(_section("By genre and book", _breakdown_section(compare), "breakdown"))

    charts = []

    def over_rounds(keys: tuple, ytitle: str, yformat: str | None = None) -> list[dict]:
        return [
            {
                "round": r,
                "series": f"{d} {dict((k, lab) for k, lab, _, _ in COLUMNS).get(k, k)}",
                "value": metrics[r].get("directions", {}).get(d, {}).get(k),
            }
            for r in rounds
            for d in directions
            for k in keys
        ]

    for name, keys, ctitle, ytitle, yfmt in (
        ("quality", ("chrf", "bleu", "d_bleu"), "chrF and BLEU by round", "score (0–100, higher is better)", None),
        ("comet", ("comet",), "COMET by round", "COMET (higher is better)", None),
        ("omissions", ("omission_rate",), "Omitted sentences by round", "share of source sentences", ".0%"),
        ("length", ("length_ratio",), "Length ratio by round", "translation ÷ expected length", None),
    ):
        charts.append(
            chart(
                line_spec(
                    over_rounds(keys, ytitle),
                    ctitle,
                    "round",
                    "value",
                    "series",
                    "round",
                    ytitle,
                    xtype="ordinal",
                    yformat=yfmt,
                    xsort=rounds,
                ),
                name,
                f"{ctitle}: no data yet.",
            )
        )
    for d in directions:
        rows = [
            {"round": r, "position": p["position"], "value": p.get(f"{d}_length_ratio")}
            for r in rounds
            for p in positions.get(r, [])
        ]
        charts.append(
            chart(
                line_spec(
                    rows,
                    f"Length ratio through the book ({d})",
                    "position",
                    "value",
                    "round",
                    "position in the book",
                    "translation ÷ expected length",
                    xformat=".0%",
                ),
                f"position-{d}",
                f"Length ratio through the book ({d}): no data yet.",
            )
        )
    bars = [
        {"book": f"{book} {d}", "round": r, "value": m.get("omission_rate")}
        for r in rounds
        for book, dirs in sorted(metrics[r].get("books", {}).items())
        for d, m in sorted(dirs.items())
    ]
    charts.append(
        chart(
            bar_spec(
                bars,
                "Omitted sentences by book",
                "book",
                "value",
                "round",
                "book and direction",
                "share of source sentences",
                yformat=".0%",
            ),
            "omissions-by-book",
            "Omitted sentences by book: no data yet.",
        )
    )
    drawn = [c for c in charts if c.startswith("<figure")]
    empty = [c for c in charts if not c.startswith("<figure")]
    sections.append(
        _section("Charts", "<p>Hover a point or bar for its values.</p>" + "".join(drawn) + "".join(empty), "charts")
    )
    sections.append(_section("Expert review", _human_section(human), "review"))

    ex_html = []
    for r in sorted(details, reverse=True):
        for book, dirs in sorted(details[r].get("books", {}).items()):
            for d, det in sorted(dirs.items()):
                for o in det.get("omissions", [])[:examples]:
                    ex_html.append(
                        f'<div class="omission"><div class="where">{html.escape(r)} · {html.escape(book)} · '
                        f"{html.escape(d)} · "
                        f"chapter {o['chapter']} · {o['position']:.0%} into the book · coverage {o['score']:.2f}</div>"
                        f'<div class="src">{html.escape(o["context_before"])} '
                        f"<mark>{html.escape(o['sentence'])}</mark> "
                        f"{html.escape(o['context_after'])}</div>"
                        '<div class="mt">translation around it: '
                        f"{html.escape(o['translation']) or '<i>(nothing)</i>'}</div></div>"
                    )
        if ex_html:
            break
    # one side-by-side page per round, test book and direction, written by the evaluate stage
    pages = [
        f'<a href="evaluation/{html.escape(r)}/{html.escape(det["page"])}">{html.escape(r)} · {html.escape(book)} · '
        f"{html.escape(d)}</a>"
        for r in sorted(details)
        for book, dirs in sorted(details[r].get("books", {}).items())
        for d, det in sorted(dirs.items())
        if det.get("page")
    ]
    if pages:
        ex_html.append('<p class="omission-pages">Every sentence beside its translation: ' + " · ".join(pages) + "</p>")
    sections.append(
        _section(
            "Detected omissions (examples from the latest round that has any)",
            (
                "<p>The highlighted source sentence has no counterpart in the translation (coverage: how much "
                "of it the detector found, 0–1).</p>" + "".join(ex_html)
            )
            if ex_html
            else "<p>No omission detected.</p>",
            "omissions",
        )
    )

    if proofreading:
        sections.append(
            _section("Proofreading of the aligned data", _proofreading_section(proofreading), "proofreading")
        )
    if datasets:
        rows = []
        for r, st in sorted(datasets.items()):
            tr, va = st.get("train", {}), st.get("valid", {})
            rows.append(
                f"<tr><th>{html.escape(r)}</th><td>{st.get('context')}</td><td>{tr.get('documents')}</td><td>{tr.get('tokens')}</td>"
                f"<td>{va.get('documents')}</td><td>{len(st.get('books', {}))}</td>"
                f"<td>{st.get('duplicates_removed', 0)}</td><td>{st.get('leakage', {}).get('leaks', 0)}</td></tr>"
            )
        sections.append(
            _section(
                "Training data per round",
                '<table id="data-table">'
                + _head(
                    [
                        "round",
                        "context length (tokens)",
                        "training documents",
                        "training tokens",
                        "validation documents",
                        "books",
                        "duplicates removed",
                        "leaks",
                    ]
                )
                + f"<tbody>{''.join(rows)}</tbody></table>",
                "data",
            )
        )
    if losses:
        rows = [
            {"round": r, "step": row["step"], "loss": row.get("loss")} for r, rs in sorted(losses.items()) for row in rs
        ]
        sections.append(
            _section(
                "Training loss",
                chart(
                    line_spec(
                        rows,
                        "Training loss per step",
                        "step",
                        "loss",
                        "round",
                        "optimizer step",
                        "loss (cross-entropy, lower is better)",
                    ),
                    "loss",
                    "No training loss logged yet.",
                ),
                "loss",
            )
        )
    if cost:
        rows = "".join(
            f"<tr><th>{html.escape(r)}</th><td>{c.get('tokens')}</td><td>{c.get('steps')}</td><td>{_fmt(c.get('memory_gib'))}</td>"
            f"<td>{_fmt(c.get('gpu_hours'))}</td><td>{_fmt(c.get('cost'))}</td></tr>"
            for r, c in sorted(cost["rounds"].items())
        )
        sections.append(
            _section(
                "Cost so far (planner estimate)",
                f"<p>Model {html.escape(str(cost.get('model')))}; rounds trained so far. Total: "
                f"{_fmt(cost.get('gpu_hours'))} GPU-hours, ${_fmt(cost.get('cost'))}.</p>"
                '<table id="cost-table">'
                + _head(
                    [
                        "round",
                        "training tokens planned",
                        "optimizer steps",
                        "memory per GPU (GiB)",
                        "GPU-hours",
                        "cost (USD)",
                    ]
                )
                + f"<tbody>{rows}</tbody></table>",
                "cost",
            )
        )
    sigs = sorted(
        {
            s
            for det in details.values()
            for d in det.get("directions", {}).values()
            for s in d.get("signatures", {}).values()
        }
    )
    sections.append(
        _section(
            "Metric signatures",
            "<p>For engineers: the exact sacrebleu settings behind BLEU, chrF and TER.</p>"
            "<ul>" + "".join(f"<li><code>{html.escape(s)}</code></li>" for s in sigs) + "</ul>",
            "signatures",
        )
    )
    sections.append(_glossary())

    notes_html = "".join(f"<p class=note>{html.escape(n)}</p>" for n in notes or [])
    nav = " · ".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in (
            ("how-to-read", "how to read"),
            ("decision", "decision"),
            ("metrics", "metrics"),
            ("significance", "significance"),
            ("breakdown", "by genre"),
            ("charts", "charts"),
            ("review", "expert review"),
            ("omissions", "omissions"),
            ("proofreading", "proofreading"),
            ("data", "data"),
            ("loss", "loss"),
            ("cost", "cost"),
            ("glossary", "glossary"),
        )
    )
    # the page as written into its output, byte for byte (its lines stay as long as they are: noqa E501 below)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:76em;color:#222;padding:0 1em;line-height:1.4}}
table{{border-collapse:collapse;margin:1em 0;max-width:100%}}
th,td{{border:1px solid #ccc;padding:.3em .5em;text-align:right;vertical-align:top}}
thead th{{background:#f2f2f2;text-align:center;font-weight:600;font-size:.9em;cursor:help}}
tbody th{{text-align:left;font-weight:600}} td.note-cell,td.wide{{text-align:left}}
small.d{{display:block;font-size:.78em;white-space:nowrap}}
@media (max-width:1000px){{th,td{{padding:.2em .25em;font-size:.85em}} thead th{{font-size:.75em}} body{{padding:0 .5em}}}}
.up{{color:#1a7f37}}.down{{color:#c62828}}.same{{color:#777}} .ns,.ns small{{color:#888}} .ns-value{{text-decoration:line-through}}
td.verdict{{font-weight:600;text-align:left}} td.verdict.ns{{color:#b45309}} .small-n{{color:#b45309;display:block}}
p.n{{font-size:.9em;color:#555;margin:.2em 0}} ul.warnings{{font-size:.9em;color:#555}}
.note{{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}}code{{font-size:.85em;overflow-wrap:anywhere}}
figure.chart{{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;max-width:100%}}
.omission{{border-left:3px solid #c62828;padding:.3em .8em;margin:.8em 0}}
.omission .where{{font-size:.85em;color:#666}} mark{{background:#ffd6d6}} .mt{{color:#555;font-size:.9em}}
dt{{font-weight:600;margin-top:.5em}} dd{{margin-left:1.5em}} #how-to-read{{background:#f5f9ff;padding:.2em 1em;border-radius:6px}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<nav>{nav}</nav>
{notes_html}
{"".join(sections)}
{vendored_scripts()}{EMBED}
</body></html>
"""  # noqa: E501
