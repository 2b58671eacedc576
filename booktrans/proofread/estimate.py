"""How many aligned pairs are wrong, from a judged random sample.

The sample is drawn without replacement from a finite book, so the interval is Wilson's score
interval with the variance scaled by the finite-population correction (N - n) / (N - 1): judging
every pair of a book gives its exact precision, judging 30 of 5,000 gives Wilson's usual interval.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, n: int, population: int | None = None, z: float = Z95) -> tuple[float, float]:
    """Confidence interval of a proportion: Wilson's score interval, with the finite-population
    correction when ``population`` (the number of units the sample came from) is given."""
    if n <= 0:
        raise ValueError("wilson: empty sample")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson: {successes} successes out of {n}")
    fpc = 1.0
    if population is not None and population > 1:
        if population < n:
            raise ValueError(f"wilson: sample of {n} from a population of {population}")
        fpc = (population - n) / (population - 1)
    z2 = z * z * fpc
    p = successes / n
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = math.sqrt(max(0.0, p * (1 - p) / n + z2 / (4 * n * n))) * math.sqrt(z2) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def book_estimate(population: int, judged: int, wrong: int, known_wrong: int = 0) -> dict:
    """Precision of a book's pairs from ``judged`` sampled pairs of which ``wrong`` were wrong.

    ``known_wrong``: pairs of the population that correctors found wrong anywhere (sampled or not);
    they are corrected or rejected, so the pairs still wrong are estimated as N(1 - p) - known_wrong."""
    out: dict = {"population": population, "judged": judged, "wrong": wrong}
    if judged == 0:
        out["status"] = "absent: no sampled pair judged yet"
        return out
    p = (judged - wrong) / judged
    lo, hi = wilson(judged - wrong, judged, population)
    est, est_lo, est_hi = population * (1 - p), population * (1 - hi), population * (1 - lo)
    left = [max(0.0, x - known_wrong) for x in (est, est_lo, est_hi)]
    out.update(
        {
            "precision": round(p, 4),
            "ci95": [round(lo, 4), round(hi, 4)],
            "wrong_pairs": round(est, 1),
            "wrong_pairs_ci95": [round(est_lo, 1), round(est_hi, 1)],
            "known_wrong": known_wrong,
            "wrong_left": round(left[0], 1),
            "wrong_left_ci95": [round(left[1], 1), round(left[2], 1)],
            "precision_after": round(1 - left[0] / population, 4) if population else None,
        }
    )
    return out


def pooled_estimate(books: dict[str, dict]) -> dict | None:
    """Precision over several books (a stratified estimate, each book weighted by its pairs).

    One book: its own Wilson interval. Several: the stratified mean with a normal interval whose
    per-book variances use the Agresti-Coull adjusted proportion (never zero when a sample is all
    right). None when no book has a judged sample."""
    judged = {b: e for b, e in books.items() if e.get("judged")}
    if not judged:
        return None
    total = sum(e["population"] for e in judged.values())
    if len(judged) == 1:
        e = next(iter(judged.values()))
        return {"books": 1, "population": total, "judged": e["judged"], "precision": e["precision"], "ci95": e["ci95"]}
    p = sum(e["population"] * e["precision"] for e in judged.values()) / total
    var = 0.0
    for e in judged.values():
        n, big = e["judged"], e["population"]
        adj = (n - e["wrong"] + 2) / (n + 4)
        fpc = (big - n) / (big - 1) if big > 1 else 0.0
        var += (big / total) ** 2 * fpc * adj * (1 - adj) / (n + 4)
    half = Z95 * math.sqrt(var)
    return {
        "books": len(judged),
        "population": total,
        "judged": sum(e["judged"] for e in judged.values()),
        "precision": round(p, 4),
        "ci95": [round(max(0.0, p - half), 4), round(min(1.0, p + half), 4)],
    }
