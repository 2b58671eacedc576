"""How well the name keys of ``booktrans.align.names`` meet: CC-CEDICT's own proper nouns of three or
more characters whose first gloss is one capitalised word not spelled as the pinyin (many of them
translations rather than transliterations: 三叠纪 Triassic), each against its own gloss and against
the gloss of another entry drawn at random.

    python eval/name_keys.py [--pairs 20000]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from booktrans.align.lexicon import cedict_lines, first_gloss  # noqa: E402
from booktrans.align.names import english_skeleton, pinyin_skeleton, skeleton_keys  # noqa: E402


def entries() -> list[tuple[str, str, str]]:
    """(headword, toneless pinyin, gloss) of the proper nouns described above."""
    out = []
    for _, simp, pinyin, defs in cedict_lines():
        if not re.fullmatch(r"[\u4e00-\u9fff]{3,}", simp) or not pinyin[0][:1].isupper():
            continue
        gloss = first_gloss(defs)
        syllables = [re.sub(r"\d", "", s).lower().replace("u:", "v") for s in pinyin]
        if re.fullmatch(r"[A-Z][a-z]+", gloss) and "".join(syllables) != gloss.lower():
            out.append((simp, " ".join(syllables), gloss))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20000, help="random entry-gloss pairs drawn")
    args = ap.parse_args()
    got = entries()
    zh = [skeleton_keys(pinyin_skeleton(py.split())) for _, py, _ in got]
    en = [skeleton_keys(english_skeleton(g)) for _, _, g in got]
    own = sum(1 for a, b in zip(zh, en) if a & b)
    rnd = random.Random(1)
    drawn = hit = 0
    while drawn < args.pairs:
        i, j = rnd.randrange(len(got)), rnd.randrange(len(got))
        if got[i][2] == got[j][2]:
            continue
        drawn += 1
        hit += bool(zh[i] & en[j])
    print(f"{len(got)} entries: {own / len(got):.3f} meet their own gloss;", end=" ")
    print(f"{hit / drawn:.4f} of {drawn} random pairs meet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
