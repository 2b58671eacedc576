"""Completed review sheets back into numbers: read (HTML-form JSON, CSV, XLSX), validate, unblind,
aggregate per system, inter-rater agreement (Krippendorff's alpha) and correlation with metrics."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from ..errors import BooktransError
from . import CRITERIA, MQM_CATEGORIES, REFERENCE, SEVERITIES

MQM_WEIGHTS = {"minor": 1.0, "major": 5.0, "critical": 10.0}


def _parse_errors(text: str) -> list[dict]:
    out = []
    for part in (text or "").split(";;"):
        part = part.strip()
        if not part:
            continue
        bits = [b.strip() for b in part.split("|", 2)]
        out.append(
            {
                "category": bits[0] if bits else "",
                "severity": bits[1] if len(bits) > 1 else "",
                "span": bits[2] if len(bits) > 2 else "",
            }
        )
    return out


def read_sheet(path: Path) -> list[dict]:
    """Rows {rater, item, system, <criteria>, errors, comment, where} from one completed file."""
    path = Path(path)
    suffix = path.suffix.lower()
    rows: list[dict] = []
    if suffix == ".json":
        from .forms import load_saved_form

        data = load_saved_form(path, "review")
        for k, a in enumerate(data["answers"]):
            rows.append(
                {
                    "rater": str(data.get("rater") or ""),
                    "item": a.get("item"),
                    "system": a.get("system"),
                    **{c: a.get(c) for c in CRITERIA},
                    "errors": a.get("errors") or [],
                    "comment": a.get("comment") or "",
                    "where": f"{path}: answer {k + 1}",
                }
            )
        return rows
    if suffix not in (".csv", ".xlsx"):
        raise BooktransError(f"{path}: unknown sheet type (use the saved .json of the form, .csv or .xlsx)")
    from .forms import read_table

    table = read_table(path)
    start = 2
    missing = [c for c in ("rater", "item", "system", *CRITERIA) if table and c not in table[0]]
    if missing:
        raise BooktransError(f"{path}: columns missing: {', '.join(missing)}")
    for k, r in enumerate(table):
        rows.append(
            {
                "rater": str(r.get("rater") or "").strip(),
                "item": str(r.get("item") or "").strip(),
                "system": str(r.get("system") or "").strip(),
                **{c: r.get(c) for c in CRITERIA},
                "errors": _parse_errors(str(r.get("errors") or "")),
                "comment": str(r.get("comment") or ""),
                "where": f"{path}: row {start + k}",
            }
        )
    return rows


def _score(v) -> int | None | str:
    """An int 1-5, None when blank, or the offending text."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f != int(f) or not 1 <= f <= 5:
        return str(v)
    return int(f)


def validate(rows: list[dict], key: dict[str, dict[str, str]], items: dict[str, dict] | None = None) -> list[dict]:
    """Check every row; return the scored rows unblinded (``system`` = round name or reference).

    Rows whose scores are all blank and have no errors marked are not reviewed yet and are left out.
    Everything wrong is reported at once, each line naming the file and row."""
    problems: list[str] = []
    seen: dict[tuple, str] = {}
    out = []
    for r in rows:
        where = r["where"]
        scores = {c: _score(r.get(c)) for c in CRITERIA}
        if all(v is None for v in scores.values()) and not r["errors"]:
            continue
        if r["item"] not in key:
            problems.append(f"{where}: unknown item id {r['item']!r} (not in this packet)")
            continue
        if r["system"] not in key[r["item"]]:
            problems.append(
                f"{where}: item {r['item']} has no translation {r['system']!r} "
                f"(labels: {', '.join(sorted(key[r['item']]))})"
            )
            continue
        if not r["rater"]:
            problems.append(f"{where}: no rater name")
        bad = [f"{c}={v!r}" for c, v in scores.items() if isinstance(v, str)]
        if bad:
            problems.append(f"{where}: scores must be whole numbers 1-5: {', '.join(bad)}")
        blank = [c for c, v in scores.items() if v is None]
        if blank:
            problems.append(f"{where}: missing score for {', '.join(blank)}")
        for e in r["errors"]:
            if e.get("category") not in MQM_CATEGORIES or e.get("severity") not in SEVERITIES:
                problems.append(
                    f"{where}: error {e} needs a category from {', '.join(MQM_CATEGORIES)} and a severity "
                    f"from {', '.join(SEVERITIES)}"
                )
            elif items and e.get("span") and e["span"] not in items[r["item"]]["outputs"][r["system"]]:
                problems.append(f"{where}: marked span {e['span']!r} is not in translation {r['system']}")
        dup = (r["rater"], r["item"], r["system"])
        if dup in seen:
            problems.append(f"{where}: {r['rater']} scored {r['item']} {r['system']} twice (also {seen[dup]})")
        seen[dup] = where
        if not bad and not blank:
            out.append(
                {
                    **{c: scores[c] for c in CRITERIA},
                    "rater": r["rater"],
                    "item": r["item"],
                    "label": r["system"],
                    "system": key[r["item"]][r["system"]],
                    "errors": r["errors"],
                }
            )
    if problems:
        shown = problems[:25] + ([f"... and {len(problems) - 25} more"] if len(problems) > 25 else [])
        raise BooktransError("review sheets have problems:\n  " + "\n  ".join(shown))
    return out


def krippendorff_alpha(units: dict, metric: str = "interval") -> float | None:
    """Krippendorff's alpha. ``units[unit] = {rater: value}``; units with fewer than two values do not
    count. ``metric``: interval (squared difference) or nominal. None when it is undefined."""
    pairable = [list(v.values()) for v in units.values() if len(v) >= 2]
    values = [x for vals in pairable for x in vals]
    n = len(values)
    if n < 2:
        return None

    def delta(a, b) -> float:
        return float((a - b) ** 2) if metric == "interval" else float(a != b)

    observed = 0.0
    for vals in pairable:
        m = len(vals)
        observed += sum(delta(a, b) for i, a in enumerate(vals) for j, b in enumerate(vals) if i != j) / (m - 1)
    observed /= n
    counts: dict = defaultdict(int)
    for x in values:
        counts[x] += 1
    expected = sum(ca * cb * delta(a, b) for a, ca in counts.items() for b, cb in counts.items()) / (n * (n - 1))
    if expected == 0:
        return None
    return 1.0 - observed / expected


def pearson(x: list[float], y: list[float]) -> float | None:
    n = len(x)
    if n < 3:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    if sx == 0 or sy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sx * sy)


def _ranks(x: list[float]) -> list[float]:
    order = sorted(range(len(x)), key=lambda i: x[i])
    ranks = [0.0] * len(x)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and x[order[j + 1]] == x[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float | None:
    return pearson(_ranks(x), _ranks(y)) if len(x) >= 3 else None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def aggregate(scored: list[dict], items: dict[str, dict], round_metrics: dict[str, dict]) -> dict:
    """Per-system human scores, agreement and correlation with the automatic metrics.

    ``items[id]`` = packet items (for passage-level chrF against the reference), ``round_metrics``
    = {round: reports/metrics/<round>.json} for the system-level correlation."""
    from sacrebleu.metrics import CHRF

    out: dict = {
        "ratings": len(scored),
        "raters": len({r["rater"] for r in scored}),
        "items_reviewed": len({r["item"] for r in scored}),
        "systems": {},
        "agreement": {},
        "correlation": {},
    }
    if not scored:
        out["status"] = "absent: no completed review sheets yet"
        return out
    by_system: dict[str, list[dict]] = defaultdict(list)
    for r in scored:
        by_system[r["system"]].append(r)
    for system, rs in sorted(by_system.items()):
        row = {c: _r(sum(r[c] for r in rs) / len(rs)) for c in CRITERIA}
        row["overall"] = _r(sum(sum(r[c] for c in CRITERIA) / len(CRITERIA) for r in rs) / len(rs))
        row["ratings"] = len(rs)
        errs = [e for r in rs for e in r["errors"]]
        row["errors_per_passage"] = _r(len(errs) / len(rs))
        row["mqm_penalty_per_passage"] = _r(sum(MQM_WEIGHTS[e["severity"]] for e in errs) / len(rs))
        row["omission_errors"] = sum(1 for e in errs if e["category"] == "accuracy/omission")
        out["systems"][system] = row
    for c in (*CRITERIA, "overall"):
        units: dict = defaultdict(dict)
        for r in scored:
            v = r[c] if c != "overall" else sum(r[x] for x in CRITERIA) / len(CRITERIA)
            units[(r["item"], r["system"])][r["rater"]] = v
        out["agreement"][c] = _r(krippendorff_alpha(units))
    # passage level: human overall (mean over raters) against chrF of the passage
    chrf = CHRF()
    human: dict = defaultdict(list)
    for r in scored:
        if r["system"] != REFERENCE:
            human[(r["item"], r["label"], r["system"])].append(sum(r[x] for x in CRITERIA) / len(CRITERIA))
    hx, cy = [], []
    for (item, label, _system), vals in sorted(human.items()):
        it = items[item]
        ref_label = next((lab for lab, s in it["key"].items() if s == REFERENCE), None)
        if ref_label is None:
            continue
        hx.append(sum(vals) / len(vals))
        cy.append(chrf.sentence_score(it["outputs"][label], [it["outputs"][ref_label]]).score)
    out["correlation"]["passage_chrf"] = {
        "pearson": _r(pearson(hx, cy)),
        "spearman": _r(spearman(hx, cy)),
        "n": len(hx),
    }
    # system level: each round's human overall against its automatic metrics (all directions together)
    rounds = [s for s in sorted(out["systems"]) if s in round_metrics]
    for metric in ("bleu", "chrf", "ter", "comet", "omission_rate", "length_ratio"):
        xs, ys = [], []
        for s in rounds:
            vals = [d.get(metric) for d in round_metrics[s].get("directions", {}).values()]
            vals = [v for v in vals if v is not None]
            if vals:
                xs.append(out["systems"][s]["overall"])
                ys.append(sum(vals) / len(vals))
        out["correlation"][f"system_{metric}"] = {
            "pearson": _r(pearson(xs, ys)),
            "spearman": _r(spearman(xs, ys)),
            "n": len(xs),
        }
    return out


def review_scores(key_path: Path, completed: Path, metrics_dir: Path, rounds: list[str]) -> dict:
    """Every completed sheet in ``completed`` (.json, .csv, .xlsx) validated, unblinded with the key and
    aggregated (per-system means, MQM errors, agreement, correlation with the metrics of ``rounds`` in
    ``metrics_dir``); with no sheet yet, a result that says so instead of zeros."""
    import logging

    from ..io import read_json

    log = logging.getLogger("review-scores")
    packet = read_json(key_path)
    items = packet["items"]
    key = {i: it["key"] for i, it in items.items()}
    files = (
        sorted(p for p in completed.glob("*") if p.suffix.lower() in (".json", ".csv", ".xlsx"))
        if completed.is_dir()
        else []
    )
    rows = []
    for f in files:
        rows += read_sheet(f)
    scored = validate(rows, key, items)
    round_metrics = {r: read_json(metrics_dir / f"{r}.json") for r in rounds if (metrics_dir / f"{r}.json").exists()}
    result = aggregate(scored, items, round_metrics)
    result["packet"] = packet["packet"]
    result["sheets"] = len(files)
    if files and not scored:
        raise BooktransError(f"{completed}: {len(files)} sheet(s) but not one scored translation in them")
    if scored:
        log.info(
            "%d ratings by %d rater(s) on %d passages; alpha (overall) %s",
            result["ratings"],
            result["raters"],
            result["items_reviewed"],
            result["agreement"].get("overall"),
        )
    else:
        log.info("no completed review sheets in %s yet", completed)
    return result
