"""Write the WMT23 zh->en systems of ../shared/data/omission-dev as sentence-parallel text files, for
`booktrans compare` and `sacrebleu --paired-bs` (docs/evaluate.md, "Significance between systems").

    python eval/wmt23_lines.py --data ../shared/data/omission-dev --out build/wmt23

Writes source.txt and <system>.txt (one segment a line, in segment order; the raters' error-span
marks <v>...</v> removed). Evaluation data: write it outside the repository or under build/.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import tarfile
from functools import lru_cache
from pathlib import Path

NAME = "sxs_mqm_generalMT2023_zhen.3ratingsPerSegment.tsv.tar.gz"


def read_systems(data: Path) -> tuple[list[str], dict[str, list[str]]]:
    """(source segments, {system: its segments}) in segment order."""
    src, systems, _ = read_documents(data)
    return src, systems


@lru_cache(maxsize=1)
def _rows(data: Path) -> list[list[str]]:
    """The MQM file's rows (one per rating: system, document, segment in document, segment, rater,
    source, target, category, ...), header left out."""
    tgz = Path(data) / NAME
    if not tgz.is_file():
        raise SystemExit(f"{tgz}: missing (the WMT23 zh-en MQM file of ../shared/data/omission-dev)")
    csv.field_size_limit(10**8)
    with tarfile.open(tgz) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(".tsv"))
        text = tar.extractfile(member).read().decode("utf-8")
    return list(csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))[1:]


def read_omission_marks(data: Path) -> dict[str, list[int]]:
    """{system: per segment (segment order, as ``read_documents``), how many raters marked an
    Accuracy/Omission error in its translation}."""
    rows = _rows(data)
    order = {k: n for n, k in enumerate(sorted({int(r[3]) for r in rows}))}
    raters: dict[tuple[str, int], set[str]] = {}
    for r in rows:
        got = raters.setdefault((r[0], order[int(r[3])]), set())
        if r[7].startswith("Accuracy/Omission"):
            got.add(r[4])
    systems = sorted({s for s, _ in raters})
    return {s: [len(raters.get((s, n), ())) for n in range(len(order))] for s in systems}


def read_documents(data: Path) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """(source segments, {system: its segments}, the document of each segment) in segment order
    (the omission benchmark joins a system's documents into one text, eval/omission_cases.py)."""
    rows = _rows(data)

    def clean(s: str) -> str:
        return re.sub(r"</?v>", "", s).replace("\n", " ").strip()

    target: dict[tuple[str, int], str] = {}
    source: dict[int, str] = {}
    doc: dict[int, str] = {}
    for r in rows:
        target.setdefault((r[0], int(r[3])), clean(r[6]))
        source.setdefault(int(r[3]), clean(r[5]))
        doc.setdefault(int(r[3]), r[1])
    ids = sorted(source)
    return [source[i] for i in ids], {s: [target[(s, i)] for i in ids] for s, _ in target}, [doc[i] for i in ids]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=Path("../shared/data/omission-dev"), help="the folder holding the MQM file"
    )
    ap.add_argument("--out", type=Path, required=True, help="folder to write source.txt and <system>.txt into")
    args = ap.parse_args()
    src, systems = read_systems(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, lines in [("source", src), *sorted(systems.items())]:
        (args.out / f"{name}.txt").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    print(f"{args.out}: source.txt and {len(systems)} systems, {len(src)} segments each", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
