"""The one reader of gold alignment files (the align-dev sets: MAC-Dev and nonlit, ../shared/data).

A set is a folder with ``src/NNN`` and ``tgt/NNN`` (one sentence per line) and ``gold/NNN.align``:
one bead per line, ``[src ids]:[tgt ids]``, 0-based line numbers, ``[]`` on one side for a null bead
(an omission or an addition); the spacing inside the brackets varies. A gold bead uses a line at
most once. Beads are nearly but not strictly monotone (MAC-Dev 002 pairs source lines 71 and 73 and
leaves 72 alone in the next bead), and a line may belong to no bead (target lines 692-693 of
``nonlit/pol``): neither is an error.

- ``parse_beads(text)`` — the bead format itself (gold files, ``booktrans align``'s output);
- ``read_beads(path)`` — a gold file, checked: no line in two beads, no bead empty on both sides;
- ``read_gold(folder, name)`` — one document as its files hold it: source and target sentences and
  the beads, every id checked against the line counts;
- ``load_gold_set(folder, src_lang)`` — every document of a set, turned Chinese / English whatever
  the set's source language.

Everything that reads these files (the aligner's scoring, the evaluations under eval/, the tests)
goes through here, so a malformed file is reported once, the same way, naming the file and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from ..errors import BooktransError

Bead = tuple[tuple[int, ...], tuple[int, ...]]  # (source ids, target ids)


def parse_beads(text: str, source: str = "<beads>") -> list[Bead]:
    """Beads of ``[ids]:[ids]`` lines (blank lines skipped); a malformed line raises
    ``BooktransError`` naming ``source`` and the line number."""
    beads = []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            left, right = line.split(":", 1)
            sides = []
            for side in (left, right):
                ids = ast.literal_eval(side.strip())
                if not isinstance(ids, list) or not all(isinstance(i, int) and i >= 0 for i in ids):
                    raise ValueError
                sides.append(tuple(ids))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise BooktransError(f"{source}:{n}: not a bead ([ids]:[ids], ids 0-based): {line[:80]!r}") from None
        beads.append((sides[0], sides[1]))
    return beads


def format_bead(src: tuple[int, ...], tgt: tuple[int, ...]) -> str:
    return f"[{','.join(map(str, src))}]:[{','.join(map(str, tgt))}]"


def _read(path: Path) -> list[tuple[int, Bead]]:
    """(line number, bead) of a gold file, checked."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BooktransError(f"{path}: no such gold file") from None
    except UnicodeDecodeError as e:
        raise BooktransError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    beads = parse_beads(text, str(path))
    numbered = list(zip([n for n, line in enumerate(text.splitlines(), start=1) if line.strip()], beads))
    seen: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for n, bead in numbered:
        if not bead[0] and not bead[1]:
            raise BooktransError(f"{path}:{n}: a bead with no line on either side")
        for side, ids in enumerate(bead):
            for i in ids:
                if i in seen[side]:
                    raise BooktransError(
                        f"{path}:{n}: {('source', 'target')[side]} line {i} is already in the "
                        f"bead of line {seen[side][i]} (a gold bead uses a line once)"
                    )
                seen[side][i] = n
    return numbered


def read_beads(path: Path) -> list[Bead]:
    """The beads of a gold file. Raises ``BooktransError`` naming the file and line when a line is
    not a bead, when a bead is empty on both sides, or when a line of either side is in two beads."""
    return [bead for _, bead in _read(path)]


@dataclass(frozen=True)
class GoldDoc:
    """One document of a gold set, as its files hold it (source and target as the set names them)."""

    name: str
    src: list[str]
    tgt: list[str]
    beads: list[Bead]  # (source ids, target ids)


def gold_names(folder: Path) -> list[str]:
    """The documents of a set: the names of its ``gold/*.align`` files, sorted."""
    names = sorted(p.stem for p in Path(folder, "gold").glob("*.align"))
    if not names:
        raise BooktransError(f"{Path(folder, 'gold')}: no *.align gold files")
    return names


def read_gold(folder: Path, name: str) -> GoldDoc:
    """``src/NAME``, ``tgt/NAME`` and ``gold/NAME.align`` of a set; an id past the end of its side's
    file raises ``BooktransError`` naming the gold file."""
    folder = Path(folder)
    sides = []
    for side in ("src", "tgt"):
        p = folder / side / name
        try:
            sides.append(p.read_text(encoding="utf-8").splitlines())
        except FileNotFoundError:
            raise BooktransError(f"{p}: missing (the gold file {name}.align needs it)") from None
    gold = folder / "gold" / f"{name}.align"
    numbered = _read(gold)
    for n, bead in numbered:
        for side, ids in enumerate(bead):
            if ids and max(ids) >= len(sides[side]):
                raise BooktransError(
                    f"{gold}:{n}: {('source', 'target')[side]} line {max(ids)} is past the end of "
                    f"{folder / ('src', 'tgt')[side] / name} ({len(sides[side])} lines)"
                )
    return GoldDoc(name, sides[0], sides[1], [bead for _, bead in numbered])


@dataclass(frozen=True)
class GoldText:
    """One gold document, oriented Chinese / English whatever its source language."""

    name: str
    zh: list[str]
    en: list[str]
    beads: list[Bead]  # (zh ids, en ids)


def load_gold_set(root: Path, src_lang: str, names: list[str] | None = None) -> list[GoldText]:
    """The documents of one align-dev set (all of them, or ``names``), as Chinese / English."""
    if src_lang not in ("zh", "en"):
        raise ValueError(f"src_lang must be zh or en, not {src_lang!r}")
    out = []
    for name in gold_names(root):
        if names is not None and name not in names:
            continue
        doc = read_gold(root, name)
        if src_lang == "zh":
            out.append(GoldText(name, doc.src, doc.tgt, doc.beads))
        else:
            out.append(GoldText(name, doc.tgt, doc.src, [(b, a) for a, b in doc.beads]))
    if not out:
        raise BooktransError(f"{root}: none of the gold files {names}")
    return out
