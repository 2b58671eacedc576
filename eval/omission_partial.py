"""Fit the logistic model of ``partial`` (booktrans/evaluate/omission/partial.py) on the tune halves.

    python eval/omission_partial.py [--data ../shared/data] [--seeds 3] [--part tune|report] [--cache FILE]

The MT sets' tune halves (aca, mag: en->zh; pol: zh->en; the halves of eval/omission.py, section 6)
get the ``clause`` case (one clause of 3+ content words cut from 10% of the one-sentence beads) and
the ``complete`` case, each drawn with ``--seeds`` seeds (1..N; the benchmark uses seed 1), without
and with the human reference. For every sentence ``partial`` judges, the detector leaves its
features in ``clause_features`` (partial.py's docstring). A logistic regression of "a clause was
cut" on them (features standardised, a small ridge, BFGS) gives ``INTERCEPT`` and ``COEF`` (without
the reference) and ``INTERCEPT_REF`` and ``COEF_REF`` (with it); then, with the coefficients in use
and with the refit, the share of cut clauses found and of complete sentences flagged per direction
at each threshold (``partial_threshold``, ``partial_threshold_ref``: partial when the log-odds
exceed minus it and the run misses ``partial_min_words`` words or more). ``--part report`` prints
the same for the report halves with the coefficients in use and fits nothing.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from booktrans.align.lexicon import CedictGlosser
from booktrans.evaluate.omission import OmissionConfig, align_references, source_coverage
from booktrans.evaluate.omission.partial import COEF, COEF_REF, INTERCEPT, INTERCEPT_REF

sys.path.insert(0, str(Path(__file__).parent))
from omission_cases import load_nonlit, make_case  # noqa: E402

SETS = ("aca", "mag", "pol")


def collect(root: Path, part: str, seeds: int, cfg: OmissionConfig) -> list[dict]:
    """One row per source sentence of every draw: direction, reference, case, cut?, features."""
    translator = CedictGlosser()
    rows = []
    for name in SETS:
        doc = load_nonlit(root, name)[0 if part == "tune" else 1]
        refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang, translator)
        for use_ref in (False, True):
            for case in ("clause", "complete"):
                for seed in range(1, seeds + 1):
                    c = make_case(doc, case, seed)
                    cov = source_coverage(
                        doc.src, c.hyp, doc.src_lang, doc.tgt_lang, cfg, translator, refs if use_ref else None
                    )
                    for line in cov.lines:
                        i = line.line
                        if i in doc.untranslated or not doc.src[i].strip() or i in c.dropped:
                            continue
                        rows.append(
                            {
                                "dir": f"{doc.src_lang}->{doc.tgt_lang}",
                                "ref": use_ref,
                                "case": case,
                                "cut": i in c.partial,
                                "omitted": line.omitted,
                                "partial": line.partial,
                                "f": dict(line.clause_features),
                            }
                        )
            print(f"  {part} {name}: done", file=sys.stderr, flush=True)
    return rows


def design(rows: list[dict], use_ref: bool, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Features of the judged sentences and their labels (a clause was cut)."""
    x, y = [], []
    for r in rows:
        if r["ref"] != use_ref or not r["f"] or r["omitted"]:
            continue
        x.append([r["f"].get(k, 0.0) for k in names])
        y.append(float(r["cut"]))
    return np.array(x), np.array(y)


def fit(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Logistic regression on standardised features with a small ridge; (intercept, coefficients)
    on the features' own scale."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.c_[np.ones(len(x)), (x - mu) / sd]

    def loss(b):
        t = z @ b
        return float(np.mean(np.logaddexp(0, t) - y * t) + 1e-3 * np.sum(b[1:] ** 2))

    b = minimize(loss, np.zeros(z.shape[1]), method="BFGS").x
    coef = b[1:] / sd
    return float(b[0] - np.sum(b[1:] * mu / sd)), coef


def sweep(rows: list[dict], use_ref: bool, intercept: float, coef: dict, thresholds, min_words: int) -> None:
    """Cut clauses found and complete sentences flagged per direction at each threshold."""
    dirs = sorted({r["dir"] for r in rows})
    print("  threshold  " + "  ".join(f"{d}: found / complete flagged" for d in dirs))
    for thr in thresholds:
        out = []
        for d in dirs:
            cut = found = whole = flagged = 0
            for r in rows:
                if r["ref"] != use_ref or r["dir"] != d:
                    continue
                f = r["f"]
                hit = bool(f) and not r["omitted"] and f["run_missing"] >= min_words
                if hit:
                    hit = intercept + sum(c * f.get(k, 0.0) for k, c in coef.items()) > -thr
                if r["case"] == "clause" and r["cut"]:
                    cut += 1
                    found += hit
                elif r["case"] == "complete":
                    whole += 1
                    flagged += hit
            out.append(f"{found / max(cut, 1):.3f} of {cut} / {100 * flagged / max(whole, 1):.2f}% of {whole}")
        print(f"  {thr:>9.3f}  " + "  ".join(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--part", choices=["tune", "report"], default="tune")
    ap.add_argument("--seeds", type=int, default=3, help="draws of each case per set")
    ap.add_argument("--cache", type=Path, help="keep the collected features here (and reuse them)")
    ap.add_argument("--thresholds", default="1.75,1.875,2,2.125,2.25,2.375,2.5,2.625,2.75,3")
    args = ap.parse_args()
    if not (args.data / "align-dev" / "nonlit").is_dir():
        sys.exit(f"{args.data}/align-dev/nonlit: not found (the dev data lives in ../shared/data)")
    cfg = OmissionConfig()
    if args.cache and args.cache.exists():
        rows = pickle.loads(args.cache.read_bytes())
    else:
        rows = collect(args.data, args.part, args.seeds, cfg)
        if args.cache:
            args.cache.write_bytes(pickle.dumps(rows))
    thresholds = [float(t) for t in args.thresholds.split(",")]
    for use_ref in (False, True):
        coef, intercept = (COEF_REF, INTERCEPT_REF) if use_ref else (COEF, INTERCEPT)
        in_use = cfg.partial_threshold_ref if use_ref else cfg.partial_threshold
        print(f"\n{'with' if use_ref else 'without'} the reference ({args.part} halves, {args.seeds} seeds)")
        print(f"  in use: intercept {intercept}, {coef}; threshold {in_use}")
        sweep(rows, use_ref, intercept, coef, thresholds, cfg.partial_min_words)
        if args.part == "tune":
            names = list(coef)
            b0, b = fit(*design(rows, use_ref, names))
            refit = {k: round(float(v), 3) for k, v in zip(names, b)}
            print(f"  refit: intercept {b0:.3f}, {refit}")
            sweep(rows, use_ref, b0, refit, thresholds, cfg.partial_min_words)
    return 0


if __name__ == "__main__":
    sys.exit(main())
