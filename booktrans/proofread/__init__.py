"""Proofreading of aligned beads before they become training data.

- ``select``: per book, the beads most likely to be wrong (low score, unusual length ratio, a null
  bead beside a long one, a chapter pair far from the book's norm), each with its neighbours, and a
  seeded random sample of the book's pairs for an estimate of how many are wrong.
- ``sheets``: the same items as an offline HTML form (saves a JSON file), a CSV and an XLSX sheet,
  and the reader of completed ones.
- ``corrections``: completed sheets validated into corrections keyed by sentence texts, and applied
  to a book's beads on every run of ``align``; what no longer applies is reported.
- ``estimate``: precision of the aligned pairs from the judged sample (Wilson interval with a
  finite-population correction), per book and pooled.
"""

from __future__ import annotations

DECISIONS = (
    "accept",
    "reject",
    "merge-prev",
    "merge-next",
    "split",
    "zh-to-prev",
    "zh-to-next",
    "en-to-prev",
    "en-to-next",
    "zh-from-prev",
    "zh-from-next",
    "en-from-prev",
    "en-from-next",
)
DECISION_HELP = {
    "accept": "the two sides say the same thing (fix a typo in zh_fixed / en_fixed if needed)",
    "reject": "the pair is wrong and cannot be repaired here: it is kept out of training",
    "merge-prev": "this bead and the one before it are one bead",
    "merge-next": "this bead and the one after it are one bead",
    "split": "two beads: give in `split` how many Chinese/English sentences the first one takes, e.g. 1/2",
    "zh-to-prev": "the first Chinese sentence of this bead belongs to the bead before",
    "zh-to-next": "the last Chinese sentence of this bead belongs to the bead after",
    "en-to-prev": "the first English sentence of this bead belongs to the bead before",
    "en-to-next": "the last English sentence of this bead belongs to the bead after",
    "zh-from-prev": "the last Chinese sentence of the bead before belongs to this bead",
    "zh-from-next": "the first Chinese sentence of the bead after belongs to this bead",
    "en-from-prev": "the last English sentence of the bead before belongs to this bead",
    "en-from-next": "the first English sentence of the bead after belongs to this bead",
}
SHEET_COLUMNS = (
    "item",
    "book",
    "chapter",
    "reasons",
    "before",
    "zh",
    "en",
    "after",
    "decision",
    "split",
    "zh_fixed",
    "en_fixed",
    "corrector",
    "comment",
    "key",
)
FORMAT = "booktrans-proofread"  # the "format" field of a file saved from the HTML form
