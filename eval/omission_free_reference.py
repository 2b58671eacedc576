"""How the zh->en partial model with a reference behaves as the reference gets freer.

    python eval/omission_free_reference.py [--data ../shared/data] [--part tune|report] [--shares 0,0.15,0.3]

The dev data holds one human reference per set, and no freer one: a literary translator's shares fewer
words with any translation than pol's does. This stands one in: in pol's reference each word of four
letters or more is replaced, with probability ``share``, by a word drawn from elsewhere in the same
reference (seeded), so the reference keeps its length and its vocabulary and says less of the source.
For each share, pol's half gets the ``clause`` and ``complete`` cases (seeds 1-3, as
eval/omission_partial.py draws them) judged with that reference by ``source_coverage``. Printed per
share: the cut clauses found, and the complete sentences flagged partial whose MT is complete (the MT's
own omissions, eval/mt_own_omissions.tsv, set aside). A feature that counts missing reference words
flags more as the share grows; one measured against the document's own rates does not
(docs/evaluate.md, "The reference's own words").
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

from booktrans.evaluate.omission import OmissionConfig, align_references, source_coverage, table_translator

sys.path.insert(0, str(Path(__file__).parent))
from omission_cases import load_nonlit, make_case  # noqa: E402

WORD = re.compile(r"[A-Za-z]{4,}")
SEEDS = (1, 2, 3)


def freer(refs: list[str], share: float) -> list[str]:
    """The references with each word of ``WORD`` replaced, with probability ``share``, by one drawn from
    all of theirs (seeded by the share)."""
    vocab = sorted({w for r in refs for w in WORD.findall(r)})
    rng = random.Random(f"free-{share}")
    return [WORD.sub(lambda m: rng.choice(vocab) if rng.random() < share else m.group(0), r) for r in refs]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--part", choices=["tune", "report"], default="report")
    ap.add_argument("--shares", default="0,0.15,0.3", help="shares of the reference's words replaced")
    args = ap.parse_args()
    if not (args.data / "align-dev" / "nonlit").is_dir():
        sys.exit(f"{args.data}/align-dev/nonlit: not found (the dev data lives in ../shared/data)")
    translator = table_translator(None)
    cfg = OmissionConfig()
    doc = load_nonlit(args.data, "pol")[0 if args.part == "tune" else 1]
    refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang, translator)
    print(f"pol, {args.part} half, the zh->en model with a reference; seeds {SEEDS}")
    print("share replaced  cut clauses found  complete flagged (false alarms)")
    for share in (float(s) for s in args.shares.split(",")):
        these = freer(refs, share)
        cut = found = whole = flagged = 0
        for case in ("clause", "complete"):
            for seed in SEEDS:
                c = make_case(doc, case, seed)
                cov = source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang, cfg, translator, these)
                for line in cov.lines:
                    i = line.line
                    if line.omitted or i in doc.untranslated or i in c.dropped or not doc.src[i].strip():
                        continue
                    if case == "clause" and i in c.partial:
                        cut += 1
                        found += line.partial
                    elif case == "complete" and i not in doc.own_omissions:
                        whole += 1
                        flagged += line.partial
        got = f"{found:>4} of {cut:<4} {found / max(cut, 1):.3f}"
        print(f"{share:>14.2f}  {got}  {flagged:>4} of {whole:<5} {100 * flagged / max(whole, 1):.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
