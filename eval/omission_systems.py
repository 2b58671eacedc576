"""Clause cuts on the WMT23 zh->en systems that no knob of the detector was tuned on.

    python eval/omission_systems.py [--data ../shared/data] [--seeds 3] [--reference]

The WMT23 MQM file (``omission-dev``) holds the real output of ten zh->en systems on the same 377 news
segments: GPT4-5shot, whose tune half the zh->en model of ``partial.py`` was fitted on, and nine others
(LLM-based and neural MT systems alike) that no figure, model or threshold has seen. Each system's
text is cut as section 6 of eval/omission.py cuts GPT4-5shot (``omission_cases.load_wmt23``: its 38
documents in order, the first 19 the tune half, one segment a line, the translation one block a
segment) and both halves are judged, the whole of each text being held out for the nine.

Per system, with ``booktrans.evaluate.omission.source_coverage`` as the CLI and the evaluate stage
call it (CC-CEDICT alone, no reference):

- ``clause``: one clause of 3+ content words cut from 10% of the one-segment blocks, seeds 1..N
  (``omission_cases.make_case``); the share of cut segments called partial, and called dropped;
- ``complete``: the system's own output; the share of its segments called partial, and the *false
  alarms*: the same without the segments a rater marked with an omission error (a partial flag
  there may be right), and the share called dropped, of all and of the unmarked segments.

``--reference`` judges every system's report half with a reference: the file has no human one, so
each system's reference is the next system's output (in name order, the last taking the first's), a
translation of the same segments by another hand, a segment a line as ``source_coverage`` takes
references. The zh->en model with a reference was fitted on the tune halves judged so (and pol's),
so only the report halves are shown.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import wmt23_lines  # noqa: E402
from omission_cases import load_wmt23, make_case, wmt23_against_next  # noqa: E402

from booktrans.evaluate.omission import source_coverage  # noqa: E402

TUNED = {"GPT4-5shot"}  # the zh->en model of partial.py was fitted on this system's tune half


def judge(doc, seeds: int, refs: list[str] | None = None) -> dict[str, float]:
    """Found / flagged shares of one half of one system's text (module docstring), with ``refs`` (one a
    source segment) as its reference when given."""
    cut = found = cut_dropped = 0
    for seed in range(1, seeds + 1):
        case = make_case(doc, "clause", seed)
        cov = source_coverage(doc.src, case.hyp, doc.src_lang, doc.tgt_lang, references=refs)
        cut += len(case.partial)
        found += sum(cov.lines[i].partial for i in case.partial)
        cut_dropped += sum(cov.lines[i].omitted for i in case.partial)
    cov = source_coverage(doc.src, make_case(doc, "complete", 1).hyp, doc.src_lang, doc.tgt_lang, references=refs)
    lines = [c for c in cov.lines if doc.src[c.line].strip()]
    clean = [c for c in lines if c.line not in doc.rated_omissions]
    return {
        "cut": cut,
        "found": found,
        "cut_dropped": cut_dropped,
        "segments": len(lines),
        "flagged": sum(c.partial for c in lines),
        "clean": len(clean),
        "false": sum(c.partial for c in clean),
        "dropped": sum(c.omitted for c in lines),
        "false_dropped": sum(c.omitted for c in clean),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--seeds", type=int, default=3, help="draws of the clause case per half")
    ap.add_argument("--reference", action="store_true", help="the next system's output as each one's reference")
    args = ap.parse_args()
    if not (args.data / "omission-dev").is_dir():
        sys.exit(f"{args.data}/omission-dev: not found (the dev data lives in ../shared/data)")
    systems = sorted(wmt23_lines.read_omission_marks(args.data / "omission-dev"))
    print(
        "system            half     cut clauses  found  called dropped   segments  flagged partial"
        "  false alarms  called dropped  unmarked dropped"
    )
    total = dict.fromkeys(("cut", "found", "cut_dropped", "segments", "flagged", "clean", "false", "dropped"), 0)
    total["false_dropped"] = 0
    if args.reference:  # every system's tune half was fitted on with a reference: its report half alone
        todo = [(system, "report", doc, refs) for system, doc, refs in wmt23_against_next(args.data, 1)]
    else:
        todo = [(s, h, d, None) for s in systems for h, d in zip(("tune", "report"), load_wmt23(args.data, s))]
    for system, half, doc, refs in todo:
        if system in TUNED and half == "tune":
            continue
        got = judge(doc, args.seeds, refs)
        if system not in TUNED or args.reference:
            for key in total:
                total[key] += got[key]
        print(row(system + (" *" if system in TUNED else ""), half, got), flush=True)
    if not args.reference:
        print(row("nine untuned, all", "both", total))
        print("* GPT4-5shot: its tune half was fitted on; only its report half is shown")
    else:
        print(row("ten, report halves", "report", total))
        print("with the reference, every system's tune half was fitted on: only the report halves are shown")
        print(
            "reference: the next system's output ("
            + ", ".join(f"{a} <- {b}" for a, b in zip(systems, systems[1:] + systems[:1]))
            + ")"
        )
    return 0


def row(name: str, half: str, g: dict) -> str:
    def share(k: str, of: str) -> float:
        return g[k] / max(g[of], 1)

    return (
        f"{name:<17} {half:<7} {g['cut']:>12} {share('found', 'cut'):>6.3f} {share('cut_dropped', 'cut'):>15.3f}"
        f" {g['segments']:>10} {100 * share('flagged', 'segments'):>15.2f}% {100 * share('false', 'clean'):>12.2f}%"
        f" {100 * share('dropped', 'segments'):>14.2f}% {100 * share('false_dropped', 'clean'):>16.2f}%"
    )


if __name__ == "__main__":
    sys.exit(main())
