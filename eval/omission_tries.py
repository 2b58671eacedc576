"""Ways tried to keep a cut sentence from being called dropped, and the detector on literary text: re-run them.

    python eval/omission_tries.py cap [--cap 8] [--share 0] [--joint] [--part tune|report] [--sets pol,aca,mag]
    python eval/omission_tries.py rescue [--hits 6] [--own 0] [--free] [--part ...] [--sets ...] [--no-reference]
    python eval/omission_tries.py arbiter [--part ...] [--sets ...] [--wmt23]
    python eval/omission_tries.py freer [--part report] [--shares 0.3,0.5]
    python eval/omission_tries.py literary [--part report]
    python eval/omission_tries.py local [--part tune] [--thresholds 1,3]

None of these is in the detector; docs/evaluate.md gives the figures they print and why each was not kept.
``cap``, ``rescue`` and ``arbiter`` judge each set's half with its human reference (``align_references``)
on the draws ``REFEXP`` names (five ``clause`` draws, three ``drop`` draws, ``complete``); every run counts
per set: cut sentences found partial and called dropped, removed sentences found, whole sentences (neither
cut nor removed) called dropped, over every draw and over the clause draws alone, and complete
sentences flagged partial (clause and complete draws, the MT's own omissions set aside).

- ``cap``: the reference's missing words count together at most ``--cap`` (as the dictionary's count at
  most ``max_miss``), only where the words found carry at least a share ``--share`` of their miss weight
  (0: always). It replaces ``Evidence.total`` for the run; with ``--joint``, only in the test of a
  sentence run into its neighbour's stretch (``locate.own_words_evidence``).
- ``rescue``: a sentence the search drops is kept (left to ``partial``) when the stretch of its best local
  evidence (``locate.local_evidence``) shows its words with a log p/q of ``--hits`` or more, counting only
  words that none of the ``--own`` sentences either side of it has (0: every word); with ``--free``, the run
  of units no sentence holds at its place on the search's path instead (nothing when there is none), and
  the sentence is then judged by ``partial`` on that run. ``cap`` and ``rescue`` take ``--no-reference``
  to judge without it.
- ``arbiter``: the detector run with and without the reference; a sentence dropped only when both runs
  say so (``both``), or when their decision values add up below 0 (``sum``). ``--wmt23`` judges the ten
  WMT23 systems instead, each with the next system's output as its reference (cases complete, drop 1-2,
  clause 1; a segment a rater marked with an omission counts as whole, as the others do).
- ``freer``: pol's half judged without its reference and with it made freer
  (``omission_free_reference.freer``: each share of its words replaced), on the draws ``FREER_DRAWS``.
- ``literary``: MAC-Dev's six chapters (half ``--part``) and pol's, with CC-CEDICT alone and with a
  lexical table learned from the aligner's beads of the tune halves of MAC-Dev and the nonlit sets; and,
  without a reference, the median ``partial`` features of complete and of cut sentences per text: what a
  cut clause changes in a literal translation and in a free one.
- ``local``: the threshold on a dropped sentence's local evidence (``calibrate.decision_value`` keeps one
  whose evidence is 0 or more): at each threshold, how many more removed sentences are found and present
  ones called dropped than at 0, per text family; every case of section 6 (``omission_cases.CASES``, the
  gap lengths, one clause draw: seed 1), the tune halves of aca, mag, pol, MAC-Dev and GPT4-5shot, no
  reference.
"""

from __future__ import annotations

import argparse
import bisect
import sys
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import booktrans.evaluate.omission.api as api
import booktrans.evaluate.omission.locate as locate
from booktrans.evaluate.omission import OmissionConfig, align_references, source_coverage, table_translator
from booktrans.evaluate.omission.calibrate import decision_value
from booktrans.evaluate.omission.evidence import Evidence

sys.path.insert(0, str(Path(__file__).parent))
from omission_cases import (  # noqa: E402
    CASES,
    draws,
    load_mac,
    load_nonlit,
    load_wmt23,
    make_case,
    wmt23_against_next,
)

REFEXP = [("clause", s) for s in range(1, 6)] + [("drop", s) for s in range(1, 4)] + [("complete", 1)]
WMT23_DRAWS = [("complete", 1), ("drop", 1), ("drop", 2), ("clause", 1)]
FREER_DRAWS = [("complete", 1), ("drop", 1), ("drop", 2), ("clause", 1), ("clause", 2)]
LITERARY_DRAWS = [("complete", 1), ("drop", 1), ("clause", 1), ("clause", 2)]
MEDIANS = ("miss_share", "run", "run_pos", "short")


class Tally:
    """Counts of one set's half (module docstring)."""

    def __init__(self) -> None:
        self.n: dict[str, int] = defaultdict(int)

    def add(self, doc, case, draw: str, omitted, partial) -> None:
        """``omitted`` and ``partial``: per source line."""
        n = self.n
        for i in range(len(doc.src)):
            if i in doc.untranslated or not doc.src[i].strip():
                continue
            if i in case.dropped:
                n["removed"] += 1
                n["found"] += bool(omitted[i])
            elif i in case.partial:
                n["cut"] += 1
                n["cut_partial"] += bool(partial[i])
                n["cut_dropped"] += bool(omitted[i])
            else:
                n["whole"] += 1
                n["whole_dropped"] += bool(omitted[i])
                if draw == "clause":
                    n["clause_whole"] += 1
                    n["clause_whole_dropped"] += bool(omitted[i])
                if draw in ("clause", "complete") and i not in doc.own_omissions:
                    n["complete"] += 1
                    n["flagged"] += bool(partial[i])

    def line(self, label: str) -> str:
        n = self.n
        out = [label]
        if n["cut"]:
            out.append(f"cut partial {n['cut_partial']}/{n['cut']} = {n['cut_partial'] / n['cut']:.3f}")
            out.append(f"cut dropped {n['cut_dropped']}")
        if n["removed"]:
            out.append(f"removed found {n['found']}/{n['removed']} = {n['found'] / n['removed']:.3f}")
        out.append(f"whole dropped {n['whole_dropped']}/{n['whole']} = {n['whole_dropped'] / max(n['whole'], 1):.2%}")
        if n["clause_whole"]:
            out.append(f"(clause draws {n['clause_whole_dropped']}/{n['clause_whole']})")
        if n["complete"]:
            out.append(f"complete flagged partial {n['flagged']}/{n['complete']} = {n['flagged'] / n['complete']:.2%}")
        return " | ".join(out)


@contextmanager
def capped(cap: float, share: float, joint: bool = False):
    """``Evidence.total`` with the reference's missing words capped (module docstring, ``cap``); with
    ``joint``, only where ``locate.own_words_evidence`` asks (the joint test and the gap's islands)."""
    if joint:
        plain_own = locate.own_words_evidence

        def own_words_evidence(*args):
            with capped(cap, share):
                return plain_own(*args)

        locate.own_words_evidence = own_words_evidence
        try:
            yield
        finally:
            locate.own_words_evidence = plain_own
        return
    plain = Evidence.total

    def total(self, i, hit, miss_xl, miss_ref):
        base_ref = self.src_base[i][1]
        got = plain(self, i, hit, miss_xl, miss_ref)
        missing = base_ref - np.asarray(miss_ref, dtype=float)
        found_share = np.asarray(miss_ref, dtype=float) / base_ref if base_ref < 0 else np.zeros_like(missing)
        lift = np.where((base_ref < 0) & (found_share >= share), np.maximum(-cap, missing) - missing, 0.0)
        return got + lift

    Evidence.total = total
    try:
        yield
    finally:
        Evidence.total = plain


@contextmanager
def rescuing(hits: float, own: int, free: bool = False):
    """``locate.local_evidence`` as the detector calls it, with dropped sentences kept whose best local
    stretch shows enough of their words (module docstring, ``rescue``); with ``free``, the run of units
    no sentence holds at the sentence's place on the path instead of that stretch."""
    plain = api.local_evidence

    def local_evidence(ev, beads, n, m, which=None, joint=None):
        local, where = plain(ev, beads, n, m, which, joint)
        held = np.zeros(m, dtype=bool)
        place = np.zeros(n, dtype=np.int64)
        for r0, r1, u0, j0 in beads:
            place[r0:r1] = u0
            if r1 > r0 and j0 > u0:
                held[u0:j0] = True
        for r in range(n) if which is None else np.nonzero(which)[0]:
            u, j = where[r]
            if free:
                u = j = int(place[r])
                while u > 0 and not held[u - 1]:
                    u -= 1
                while j < m and not held[j]:
                    j += 1
            if local[r] >= 0 or j <= u:
                continue
            keys, it = ev.w.src_keys, ev.w.src[r]
            others = [s for s in range(max(0, r - own), min(n, r + own + 1)) if s != r]
            got = 0.0
            for g, miss, chan, ks, pos in zip(ev.src_gain[r], ev.src_miss[r], it.chan, it.keys, ev.found[r]):
                if g <= 0.0 or not pos or any(ks & keys[s][chan] for s in others):
                    continue
                p = bisect.bisect_left(pos, u)
                if p < len(pos) and pos[p] < j:
                    got += g + miss  # the word's log p/q
            if got >= hits:
                local[r] = 0.0  # kept: decision_value takes a dropped sentence's local evidence from 0 on
                where[r] = (u, j)  # partial judges it on that stretch
        return local, where

    api.local_evidence = local_evidence
    try:
        yield
    finally:
        api.local_evidence = plain


def with_reference(root: Path, part: str, sets: list[str], label: str, use_ref: bool = True) -> None:
    """Each set's half judged with its reference (without one, ``use_ref`` False) on the ``REFEXP`` draws
    (under whatever is patched)."""
    translator = table_translator(None)
    label = label if use_ref else f"{label}, no reference"
    for name in sets:
        doc = load_nonlit(root, name)[0 if part == "tune" else 1]
        refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang, translator) if use_ref else None
        t = Tally()
        for draw, seed in REFEXP:
            c = make_case(doc, draw, seed)
            cov = source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang, OmissionConfig(), translator, refs)
            t.add(doc, c, draw, [x.omitted for x in cov.lines], [x.partial for x in cov.lines])
        print(t.line(f"{label} {name} {part}"), flush=True)


def values(cov) -> np.ndarray:
    """Each line's decision value (``calibrate.decision_value``: below 0 = dropped)."""
    return decision_value(np.array([x.margin for x in cov.lines]), np.array([x.local for x in cov.lines]))


def arbiter(root: Path, part: str, sets: list[str], wmt23: bool) -> None:
    """Both runs per draw; the three decisions tallied (module docstring, ``arbiter``)."""
    translator = table_translator(None)
    k = 0 if part == "tune" else 1
    if wmt23:
        todo = [(f"WMT23 {s}", d, refs, WMT23_DRAWS) for s, d, refs in wmt23_against_next(root, k)]
    else:
        todo = []
        for name in sets:
            doc = load_nonlit(root, name)[k]
            todo.append((name, doc, align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang, translator), REFEXP))
    tallies = {rule: Tally() for rule in ("reference", "both", "sum")}
    for name, doc, refs, plan in todo:
        per = {rule: Tally() for rule in tallies}
        for draw, seed in plan:
            c = make_case(doc, draw, seed)
            plain, ref = (
                source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang, OmissionConfig(), translator, r)
                for r in (None, refs)
            )
            partial = [x.partial for x in ref.lines]
            v0, v1 = values(plain), values(ref)
            per["reference"].add(doc, c, draw, v1 < 0, partial)
            per["both"].add(doc, c, draw, (v1 < 0) & (v0 < 0), partial)
            per["sum"].add(doc, c, draw, v1 + v0 < 0, partial)
        for rule, t in per.items():
            if not wmt23:
                print(t.line(f"arbiter {rule} {name} {part}"), flush=True)
            for key, got in t.n.items():
                tallies[rule].n[key] += got
    if wmt23:
        for rule, t in tallies.items():
            print(t.line(f"arbiter {rule} WMT23 (ten systems) {part}"), flush=True)


def freer_reference(root: Path, part: str, shares: list[float]) -> None:
    """pol's half without a reference, and with it made freer at each share (module docstring, ``freer``)."""
    from omission_free_reference import freer

    translator = table_translator(None)
    doc = load_nonlit(root, "pol")[0 if part == "tune" else 1]
    refs = align_references(doc.src, doc.ref, doc.src_lang, doc.tgt_lang, translator)
    for label, these in [("without the reference", None)] + [(f"reference, share {s:g} replaced", s) for s in shares]:
        t = Tally()
        for draw, seed in FREER_DRAWS:
            c = make_case(doc, draw, seed)
            r = None if these is None else freer(refs, these)
            cov = source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang, OmissionConfig(), translator, r)
            t.add(doc, c, draw, [x.omitted for x in cov.lines], [x.partial for x in cov.lines])
        print(t.line(f"freer pol {part}, {label}"), flush=True)


def learned_table(root: Path):
    """The lexical table learned from the aligner's beads of the tune halves of MAC-Dev and the nonlit sets."""
    from booktrans.align.sentalign import align_texts
    from booktrans.align.similarity import learn_from_beads

    beads = []
    tunes = [load_mac(root, f"00{n}")[0] for n in range(1, 7)]
    tunes += [load_nonlit(root, n)[0] for n in ("pol", "aca", "mag")]
    for d in tunes:
        ref = d.ref if d.ref else [t for _, t in d.blocks]
        zh, en = (d.src, ref) if d.src_lang == "zh" else (ref, d.src)
        zh, en = [x for x in zh if x.strip()], [x for x in en if x.strip()]
        (found,), _ = align_texts([(zh, en)], bootstrap=1)
        beads += [{"zh": [zh[i] for i in b.zh], "en": [en[j] for j in b.en], "score": b.score} for b in found]
    table = learn_from_beads(beads)
    print(f"lexical table: {len(table)} entries from {len(beads)} beads", flush=True)
    return table


def literary(root: Path, part: str) -> None:
    """MAC-Dev and pol without a reference, with CC-CEDICT and with the learned table; the features' medians."""
    k = 0 if part == "tune" else 1
    docs = [("MAC-Dev", load_mac(root, f"00{n}")[k]) for n in range(1, 7)] + [("pol", load_nonlit(root, "pol")[k])]
    docs += [("GPT4-5shot", load_wmt23(root, "GPT4-5shot")[k])]
    translators = (("CC-CEDICT", table_translator(None)), ("learned table", table_translator(learned_table(root))))
    for label, translator in translators:
        tallies: dict[str, Tally] = defaultdict(Tally)
        feats: dict[tuple[str, bool], list[dict]] = defaultdict(list)
        for name, doc in docs:
            for draw, seed in LITERARY_DRAWS:
                c = make_case(doc, draw, seed)
                cov = source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang, OmissionConfig(), translator)
                tallies[name].add(doc, c, draw, [x.omitted for x in cov.lines], [x.partial for x in cov.lines])
                for x in cov.lines:
                    i = x.line
                    skip = i in doc.untranslated or i in c.dropped or i in doc.own_omissions
                    if x.clause_features and not skip and draw in ("clause", "complete"):
                        feats[(name, i in c.partial)].append(x.clause_features)
        for name, t in tallies.items():
            print(t.line(f"{label} {name} {part}"), flush=True)
        for name in tallies:
            cells = []
            for f in MEDIANS:
                whole, cut = (np.median([x.get(f, 0.0) for x in feats[(name, b)]]) for b in (False, True))
                cells.append(f"{f} {whole:.2f} / {cut:.2f}")
            print(f"  {label} {name}: medians, complete / cut sentences: " + ", ".join(cells), flush=True)


def local_threshold(root: Path, part: str, thresholds: list[float]) -> None:
    """Removed sentences found and present ones called dropped at each threshold, beside 0 (module docstring)."""
    translator = table_translator(None)
    k = 0 if part == "tune" else 1
    docs = [("en->zh", load_nonlit(root, "aca")[k]), ("en->zh", load_nonlit(root, "mag")[k])]
    docs += [("zh->en", load_nonlit(root, "pol")[k])]
    docs += [("MAC-Dev", load_mac(root, f"00{n}")[k]) for n in range(1, 7)]
    docs += [("GPT4-5shot", load_wmt23(root, "GPT4-5shot")[k])]
    counts: dict[tuple[str, float], list[int]] = defaultdict(lambda: [0, 0])  # (family, threshold): found, dropped
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # family: removed, present
    for fam, doc in docs:
        for case in CASES:
            for draw in draws(case)[:1] if case == "clause" else draws(case):
                c = make_case(doc, case, **draw)
                cov = source_coverage(doc.src, c.hyp, doc.src_lang, doc.tgt_lang, OmissionConfig(), translator)
                margin = np.array([x.margin for x in cov.lines])
                local = np.array([x.local for x in cov.lines])
                for x in cov.lines:
                    i = x.line
                    if i in doc.untranslated or not doc.src[i].strip():
                        continue
                    removed = i in c.dropped
                    totals[fam][0 if removed else 1] += 1
                    for t in (0.0, *thresholds):
                        v = local[i] if (margin[i] < 0 and local[i] >= t) else margin[i]
                        counts[(fam, t)][0 if removed else 1] += bool(v < 0)
        print(f"  local {part} {doc.name}: done", file=sys.stderr, flush=True)
    for fam, (removed, present) in totals.items():
        base = counts[(fam, 0.0)]
        cells = [f"at 0 {base[0]} of {removed} removed found, {base[1]} of {present} present called dropped"]
        for t in thresholds:
            got = counts[(fam, t)]
            cells.append(f"at {t:g} {got[0] - base[0]:+d} found, {got[1] - base[1]:+d} called dropped")
        print(f"local {fam} {part}: " + "; ".join(cells), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["cap", "rescue", "arbiter", "freer", "literary", "local"])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--part", choices=["tune", "report"], default="tune")
    ap.add_argument("--sets", default="pol,aca,mag")
    ap.add_argument("--cap", type=float, default=8.0, help="cap: the most the reference's missing words count")
    ap.add_argument("--share", type=float, default=0.0, help="cap: only where the words found carry this share")
    ap.add_argument("--joint", action="store_true", help="cap: only in the joint test (locate.own_words_evidence)")
    ap.add_argument("--hits", type=float, default=6.0, help="rescue: the log p/q of the words found that keeps it")
    ap.add_argument("--own", type=int, default=0, help="rescue: words of these many sentences either side count not")
    ap.add_argument("--no-reference", action="store_true", help="cap, rescue: judge without the reference")
    ap.add_argument("--free", action="store_true", help="rescue: the free units at its place, not its best stretch")
    ap.add_argument("--wmt23", action="store_true", help="arbiter: the ten WMT23 systems instead of --sets")
    ap.add_argument("--shares", default="0.3,0.5", help="freer: shares of the reference's words replaced")
    ap.add_argument("--thresholds", default="1,3", help="local: thresholds compared with 0")
    args = ap.parse_args()
    if not (args.data / "align-dev" / "nonlit").is_dir():
        sys.exit(f"{args.data}/align-dev/nonlit: not found (the dev data lives in ../shared/data)")
    sets = args.sets.split(",")
    if args.what == "cap":
        with capped(args.cap, args.share, args.joint):
            label = f"cap {args.cap:g} share {args.share:g}{' joint test' if args.joint else ''}"
            with_reference(args.data, args.part, sets, label, not args.no_reference)
    elif args.what == "rescue":
        with rescuing(args.hits, args.own, args.free):
            label = f"rescue hits {args.hits:g} own {args.own}{' free units' if args.free else ''}"
            with_reference(args.data, args.part, sets, label, not args.no_reference)
    elif args.what == "arbiter":
        arbiter(args.data, args.part, sets, args.wmt23)
    elif args.what == "freer":
        freer_reference(args.data, args.part, [float(x) for x in args.shares.split(",")])
    elif args.what == "local":
        local_threshold(args.data, args.part, [float(x) for x in args.thresholds.split(",")])
    else:
        literary(args.data, args.part)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
