"""The team's decision criteria (params.yaml ``decision:``) judged for every round, with the evidence.

A criterion is one of:

- a bound on a metric of the round: ``{metric: omission_rate, at_most: 0.02}`` or ``at_least``;
- a margin against another system (an outside system or a round): ``{metric: chrf, against: deepseek,
  margin: 2.0}`` = the round's chrF not below deepseek's by more than 2 points (for a metric where
  lower is better, such as omission_rate: not above it by more than the margin);
- the experts' overall score (``metric: expert``, 1-5, reports/review/human.json) with a bound.

Each may say ``significant: true``: then the whole 95% bootstrap interval must satisfy it. The verdict:

- **met**: the value satisfies it (and, where asked, its interval does too);
- **not met**: the value does not satisfy it;
- **not significant**: the value satisfies it but the interval reaches past the bound, or no
  interval exists (expert means) and one was asked for: the data cannot tell it from noise;
- **no data**: the round or the metric was not measured (the reason is given).
"""

from __future__ import annotations

from ..errors import BooktransError
from .significance import HIGHER_IS_BETTER, METRICS

VERDICTS = ("met", "not met", "not significant", "no data")
LABELS = {
    "bleu": "BLEU",
    "chrf": "chrF",
    "comet": "COMET",
    "omission_rate": "omitted sentences",
    "length_ratio": "length ratio",
    "expert": "expert score",
}


def check_criteria(criteria: list[dict], known_systems: list[str]) -> None:
    """Clear errors for a malformed ``decision.criteria`` before any work."""
    for k, c in enumerate(criteria):
        where = f"decision.criteria[{k}] ({c.get('name', 'unnamed')})"
        m = c.get("metric")
        if m not in (*METRICS, "expert"):
            raise BooktransError(f"params.yaml {where}: metric {m!r} is not one of {', '.join((*METRICS, 'expert'))}")
        bounds = [x for x in ("at_most", "at_least") if x in c]
        if "against" in c:
            if "margin" not in c or bounds:
                raise BooktransError(
                    f"params.yaml {where}: a criterion against another system takes a margin, no bound"
                )
            if c["against"] not in known_systems:
                raise BooktransError(
                    f"params.yaml {where}: against {c['against']!r}, which is not a round or outside system "
                    f"(known: {', '.join(known_systems)})"
                )
            if m == "expert" or HIGHER_IS_BETTER.get(m) is None:
                raise BooktransError(f"params.yaml {where}: {m} has no better direction to hold a margin against")
        elif len(bounds) != 1:
            raise BooktransError(f"params.yaml {where}: give one of at_most or at_least (or against with a margin)")


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def judge(c: dict, round_name: str, direction: str, scores: dict, comparisons: dict, human: dict | None) -> dict:
    """One criterion for one round in one direction: its verdict and the evidence (see the module docstring)."""
    m, need = c["metric"], bool(c.get("significant", False))
    label = LABELS[m]
    out = {"name": c.get("name", m), "metric": m, "direction": direction, "significant_required": need}
    if "against" in c:
        other = c["against"]
        comp = comparisons.get(f"{round_name} vs {other}", {}).get(m)
        if comp is None:
            return {**out, "verdict": "no data", "evidence": f"no comparison of {round_name} with {other} on {label}"}
        margin = float(c["margin"])
        d, lo, hi = comp["delta"], comp["ci_low"], comp["ci_high"]
        if HIGHER_IS_BETTER[m]:
            ok, ok_ci, rule = d >= -margin, lo >= -margin, f"{round_name} - {other} >= -{_fmt(margin)}"
        else:
            ok, ok_ci, rule = d <= margin, hi <= margin, f"{round_name} - {other} <= {_fmt(margin)}"
        evidence = (
            f"{label}: {round_name} {_fmt(comp['b'])}, {other} {_fmt(comp['a'])}: difference {_fmt(d)} "
            f"(95% interval {_fmt(lo)} to {_fmt(hi)}, p {_fmt(comp['p'])}); needs {rule}"
        )
    else:
        bound_key = "at_most" if "at_most" in c else "at_least"
        bound = float(c[bound_key])
        if m == "expert":
            row = (human or {}).get("systems", {}).get(round_name)
            if not row:
                reason = (human or {}).get("status") or "no expert ratings of this round"
                return {**out, "verdict": "no data", "evidence": f"expert score: {reason}"}
            v, lo, hi = row["overall"], None, None
            evidence = f"expert overall {_fmt(v)} over {row['ratings']} ratings (a mean, no interval)"
        else:
            s = scores.get(round_name, {}).get(m)
            if s is None:
                return {**out, "verdict": "no data", "evidence": f"{label} of {round_name} was not measured"}
            v, lo, hi = s["value"], s["ci_low"], s["ci_high"]
            evidence = f"{label} {_fmt(v)} (95% interval {_fmt(lo)} to {_fmt(hi)})"
        if bound_key == "at_most":
            ok, ok_ci = v <= bound, hi is not None and hi <= bound
        else:
            ok, ok_ci = v >= bound, lo is not None and lo >= bound
        evidence += f"; needs {'at most' if bound_key == 'at_most' else 'at least'} {_fmt(bound)}"
    verdict = "not met" if not ok else ("met" if ok_ci or not need else "not significant")
    return {**out, "verdict": verdict, "evidence": evidence}


def decide(
    criteria: list[dict], rounds: list[str], directions: list[str], per_direction: dict, human: dict | None
) -> dict:
    """Every criterion for every round: {round: [verdicts]} (a criterion with ``direction`` only in that one)."""
    out: dict = {}
    for r in rounds:
        rows = []
        for c in criteria:
            for d in [c["direction"]] if c.get("direction") else directions:
                data = per_direction.get(d, {})
                if c["metric"] == "expert" and d != directions[0] and not c.get("direction"):
                    continue  # the expert score is one per system, not per direction
                rows.append(
                    judge(
                        c,
                        r,
                        d if c["metric"] != "expert" else "both",
                        data.get("systems", {}),
                        data.get("comparisons", {}),
                        human,
                    )
                )
        out[r] = rows
    return out


def compare_evaluations(
    evaluation,
    books: dict[str, str],
    rounds: list[str],
    systems: list[str],
    directions: list[str],
    criteria: list[dict],
    resamples: int,
    seed: int,
    alpha: float,
    human: dict | None,
) -> dict:
    """Significance between the rounds and outside systems evaluated in ``evaluation`` (<system>/details.json
    and segments/; those missing are left out), resampling whole chapters of the test ``books`` (id ->
    genre), the breakdown per genre and book, and ``criteria`` judged for every round."""
    import logging

    from .significance import compare_all, system_units

    check_criteria(criteria, list(rounds) + list(systems))
    done = [r for r in rounds if (evaluation / r / "details.json").is_file()]
    outside = [s for s in systems if (evaluation / s / "details.json").is_file()]
    result: dict = {
        "settings": {
            "resamples": resamples,
            "seed": seed,
            "unit": "chapter",
            "alpha": alpha,
            "interval": "percentile, 95%",
            "p": "two-sided, sacrebleu's paired-bs convention",
        },
        "directions": {},
    }
    units = {d: {s: system_units(evaluation / s, list(books), d) for s in done + outside} for d in directions}
    result["directions"] = compare_all(units, done, outside, books, resamples, seed, alpha)
    for d, v in result["directions"].items():
        logging.getLogger("compare").info(
            "%s: %d chapters, %d segments, %d comparisons", d, v["chapters"], v["segments"], len(v["comparisons"])
        )
    result["decision"] = decide(criteria, done, list(result["directions"]), result["directions"], human)
    return result
