"""What LLMs do to a translation, applied to real translations of the dev data (``make eval-omissions``).

A *document* is a source text (one sentence per line) and its translation as *blocks*: the
translation of one gold bead each (``nonlit``: the real MT of each source line; ``mac``: MAC-Dev's
published human English, bead by bead). Each case rewrites the blocks the way a model translating
whole chapters does, then joins them into paragraphs (lines of 1-3 blocks), and says which source
sentences are truly missing:

- ``complete`` — nothing changed;
- ``drop``     — 10% of the blocks removed (their source sentences are dropped);
- ``swap``     — 10% of the blocks moved 1-3 places later, inside their window (nothing dropped);
- ``merge``    — runs of 2-4 blocks run together into one sentence, joined by ", and ", ", which ", a
                 bare space (English) or "，" or nothing (Chinese), final marks removed (nothing dropped);
- ``split``    — 10% of the blocks cut into two sentences at their first comma (nothing dropped);
- ``gap``      — one run of 1, 5, 20, 80 or 200 blocks removed (one draw each; the last one at the
                 end of the text, a lost chapter end); every sentence of the gap is dropped, none
                 outside it;
- ``clause``   — in 10% of the blocks one clause of 3+ content words (between commas, at most half
                 of its block) removed: those sentences are *partial*, not dropped; ``CLAUSE_DRAWS``
                 draws (seeds 1-5, as eval/omission_partial.py draws them).

Each set is cut in two at the gold bead nearest its middle: the tune half (used to choose knobs
and fit the score's calibration) and the report half (nothing chosen on it).
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from booktrans.align.gold import Bead, read_gold
from booktrans.evaluate.omission import clauses, en_stems

CASES = ("complete", "drop", "swap", "merge", "split", "gap", "clause")
GAPS = (1, 5, 20, 80, 200)
_SPACE = re.compile(r"\s+")
_EN_FINAL = re.compile(r"[.!?]+([\"'”’)\]]*)\s*$")
_ZH_FINAL = re.compile(r"[。！？!?]+([”’」』）)\"']*)\s*$")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def join_words(line: str) -> str:
    """The MT of aca and mag separates Chinese words with spaces: remove them, except between two
    Latin letters or digits ("Jeff   Bezos" stays two words, "Amazon . com" becomes one)."""
    out: list[str] = []
    for part in _SPACE.split(line.strip()):
        if out and out[-1][-1:].isascii() and out[-1][-1:].isalnum() and part[:1].isascii() and part[:1].isalnum():
            out.append(" ")
        out.append(part)
    return "".join(out)


@dataclass
class Doc:
    """One half of a dev text: source sentences, translation blocks (source ids, text), reference."""

    name: str
    kind: str  # "mt" (real machine translation), "human" (published translation), "llm" (an LLM's)
    src_lang: str
    tgt_lang: str
    src: list[str]
    blocks: list[tuple[tuple[int, ...], str]]
    ref: list[str] = field(default_factory=list)
    untranslated: set[int] = field(default_factory=set)  # left out by the translation itself: not scored
    # translated, but with a clause of 3+ content words left out by the translation itself (read by a person:
    # OWN_OMISSIONS); partial flags on them are no false alarms
    own_omissions: set[int] = field(default_factory=set)
    # WMT23 segments whose translation a rater marked with an omission error (MQM); see eval/omission_systems.py
    rated_omissions: set[int] = field(default_factory=set)

    @property
    def sep(self) -> str:
        return "" if self.tgt_lang == "zh" else " "


def _cut(beads: list[Bead], n_src: int) -> int:
    """Index of the gold bead nearest the middle source line (the first with a source line past it)."""
    for k, (s_ids, t_ids) in enumerate(beads):
        if s_ids and t_ids and s_ids[0] >= n_src // 2:
            return k
    raise ValueError("no bead to cut the text at")


@dataclass
class NonlitSet:
    """align-dev/nonlit/<name> as its files hold it: languages, source lines, their real MT (one line
    per source line), the reference sentences, and where the tune half ends (source, reference line)."""

    src_lang: str
    tgt_lang: str
    src: list[str]
    mt: list[str]
    ref: list[str]
    cut_s: int
    cut_t: int


def read_nonlit(root: Path, name: str) -> NonlitSet:
    """The one reader of a nonlit set's files (meta_data.tsv, the gold document, src/<id>.trans), cut
    at the gold bead nearest the middle; used by every case and section of the omission evaluation."""
    d = root / "align-dev" / "nonlit" / name
    meta = (d / "meta_data.tsv").read_text(encoding="utf-8").splitlines()[1].split("\t")
    nid, src_lang, tgt_lang = meta[0], meta[1], meta[2]
    gold = read_gold(d, nid)
    mt = (d / "src" / f"{nid}.trans").read_text(encoding="utf-8").splitlines()
    if len(mt) != len(gold.src):
        sys.exit(f"{d}/src/{nid}.trans: {len(mt)} lines for {len(gold.src)} source lines")
    if tgt_lang == "zh":
        mt = [join_words(x) for x in mt]
    k = _cut(gold.beads, len(gold.src))
    cut_s, cut_t = gold.beads[k][0][0], gold.beads[k][1][0]
    return NonlitSet(src_lang, tgt_lang, gold.src, mt, gold.tgt, cut_s, cut_t)


OWN_OMISSIONS = Path(__file__).resolve().parent / "mt_own_omissions.tsv"


def own_omissions(name: str, path: Path = OWN_OMISSIONS) -> set[int]:
    """Source lines of nonlit set ``name`` whose real MT leaves out a clause of 3+ content words, as a
    person read them (``mt_own_omissions.tsv``: set, line counted from 0 in the set's source file,
    omission yes/no, a note; the lines read are listed either way)."""
    out = set()
    for row in path.read_text(encoding="utf-8").splitlines()[1:]:
        cols = row.split("\t")
        if cols[0] == name and cols[2] == "yes":
            out.add(int(cols[1]))
    return out


def load_nonlit(root: Path, name: str) -> tuple[Doc, Doc]:
    """(tune, report) halves of align-dev/nonlit/<name>: its source, its real MT, its reference, and the
    lines whose MT leaves a clause out (``own_omissions``)."""
    ns = read_nonlit(root, name)
    src, mt, ref, cut_s, cut_t = ns.src, ns.mt, ns.ref, ns.cut_s, ns.cut_t
    src_lang, tgt_lang = ns.src_lang, ns.tgt_lang
    own = own_omissions(name)
    halves = []
    for lo, hi, rlo, rhi in ((0, cut_s, 0, cut_t), (cut_s, len(src), cut_t, len(ref))):
        blocks = [((i - lo,), mt[i]) for i in range(lo, hi)]
        mine = {i - lo for i in own if lo <= i < hi}
        halves.append(Doc(name, "mt", src_lang, tgt_lang, src[lo:hi], blocks, ref[rlo:rhi], own_omissions=mine))
    return halves[0], halves[1]


def load_mac(root: Path, nid: str) -> tuple[Doc, Doc]:
    """(tune, report) halves of MAC-Dev chapter ``nid``: Chinese source, the published English as
    the translation, bead by bead (the translator's own omissions are not scored)."""
    d = root / "align-dev" / "mac_dev"
    gold = read_gold(d, nid)
    src, tgt, beads = gold.src, gold.tgt, gold.beads
    k = _cut(beads, len(src))
    halves = []
    for part in (beads[:k], beads[k:]):
        s0 = min(i for s, _ in part for i in s)
        s1 = max(i for s, _ in part for i in s) + 1
        blocks = [(tuple(i - s0 for i in s), " ".join(tgt[j] for j in t)) for s, t in part if t]
        untranslated = {i - s0 for s, t in part if not t for i in s}
        halves.append(Doc(f"mac{nid}", "human", "zh", "en", src[s0:s1], blocks, [], untranslated))
    return halves[0], halves[1]


WMT23_LLMS = ("GPT4-5shot",)  # the LLM systems of the WMT23 zh->en MQM data (omission-dev)


def _wmt23_lines():
    """eval/wmt23_lines.py, the reader of the WMT23 MQM file (this folder need not be on the path)."""
    import importlib.util

    path = Path(__file__).resolve().parent / "wmt23_lines.py"
    spec = importlib.util.spec_from_file_location("wmt23_lines", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load_wmt23(root: Path, system: str) -> tuple[Doc, Doc]:
    """(tune, report) halves of one WMT23 zh->en system's real output (``omission-dev``, read by
    eval/wmt23_lines.py): its 38 news documents in order, the first 19 the tune half and the last 19
    the report half (as section 4 cuts them), each half joined into one text of one source segment a
    line, the system's translation of each segment one block. No reference; no segment is left out.
    ``rated_omissions``: the segments whose translation a rater marked with an omission error."""
    mod = _wmt23_lines()
    src, systems, docs = mod.read_documents(root / "omission-dev")
    marks = mod.read_omission_marks(root / "omission-dev")
    if system not in systems:
        sys.exit(f"{root / 'omission-dev'}: no system {system} (has {', '.join(sorted(systems))})")
    names = sorted(set(docs))
    tune = set(names[: len(names) // 2])
    halves = []
    for keep in (lambda d: d in tune, lambda d: d not in tune):
        ids = [k for k, d in enumerate(docs) if keep(d)]
        halves.append(
            Doc(
                f"wmt23-{system}",
                "llm",
                "zh",
                "en",
                [src[k] for k in ids],
                [((n,), systems[system][k]) for n, k in enumerate(ids)],
                rated_omissions={n for n, k in enumerate(ids) if marks[system][k]},
            )
        )
    return halves[0], halves[1]


def wmt23_against_next(root: Path, half: int) -> list[tuple[str, Doc, list[str]]]:
    """Every WMT23 zh->en system's half ``half`` (0 tune, 1 report) with the next system's output (in name
    order, the last taking the first's) as its reference, one a source segment: (system, document,
    references). The MQM file holds no human reference; this is a translation by another hand."""
    systems = sorted(_wmt23_lines().read_omission_marks(root / "omission-dev"))
    out = []
    for n, system in enumerate(systems):
        other = load_wmt23(root, systems[(n + 1) % len(systems)])[half]
        out.append((system, load_wmt23(root, system)[half], [text for _, text in other.blocks]))
    return out


def paragraphs(texts: list[str], sep: str, rng: random.Random) -> list[str]:
    """Consecutive sentences joined into lines (paragraphs) of 1-3 sentences."""
    out, k = [], 0
    while k < len(texts):
        n = rng.choice((1, 2, 3))
        out.append(sep.join(t for t in texts[k : k + n] if t))
        k += n
    return [x for x in out if x.strip()]


@dataclass
class Case:
    hyp: list[str]  # the translation, one paragraph per line
    dropped: set[int]  # source sentences truly absent
    partial: set[int]  # source sentences that lost a clause
    touched: set[int]  # source sentences the case moved, merged or split (where errors show)


def _unfinal(text: str, lang: str) -> str:
    return (_ZH_FINAL if lang == "zh" else _EN_FINAL).sub(r"\1", text.rstrip())


def _lower_first(text: str) -> str:
    text = text.lstrip()
    if len(text) > 1 and text[0].isupper() and text[1].islower() and not text.startswith("I "):
        return text[0].lower() + text[1:]
    return text


def content_words(text: str, lang: str) -> int:
    """Content words of a piece of translation: English content stems, or Chinese characters / 2."""
    if lang == "en":
        return len(en_stems(text)[0])
    return len(_HAN.findall(text)) // 2


def make_case(doc: Doc, case: str, seed: int, gap: int | None = None, at_end: bool = False) -> Case:
    """The document's translation rewritten by ``case`` (module docstring), seeded."""
    rng = random.Random(f"{doc.name}-{case}-{seed}-{gap}-{at_end}")
    blocks = [(list(s), t) for s, t in doc.blocks]
    n = len(blocks)
    full = [k for k, (s, _) in enumerate(blocks) if s]
    dropped: set[int] = set()
    partial: set[int] = set()
    touched: set[int] = set()
    lang = doc.tgt_lang
    if case == "drop":
        gone = set(rng.sample(full, round(0.1 * len(full))))
        dropped = {i for k in gone for i in blocks[k][0]}
        blocks = [b for k, b in enumerate(blocks) if k not in gone]
    elif case == "gap":
        size = min(gap or 1, len(full) // 2)
        start = len(full) - size if at_end else rng.randrange(1, len(full) - size)
        gone = set(full[start : start + size])
        dropped = {i for k in gone for i in blocks[k][0]}
        blocks = [b for k, b in enumerate(blocks) if k not in gone]
    elif case == "swap":
        k = 0
        order = list(range(n))
        while k < n - 4:
            if rng.random() < 0.1:
                d = rng.choice((1, 2, 3))
                order[k], order[k + d] = order[k + d], order[k]
                touched |= set(blocks[order[k]][0]) | set(blocks[order[k + d]][0])
                k += d + 1
            else:
                k += 1
        blocks = [blocks[o] for o in order]
    elif case == "merge":
        out, k = [], 0
        while k < n:
            size = rng.choice((2, 3, 4))
            if rng.random() < 0.1 * 3 / size and k + size <= n:
                group = blocks[k : k + size]
                joiners = [", and ", ", which ", " "] if lang == "en" else ["，", ""]
                text = _unfinal(group[0][1], lang)
                for _, t in group[1:-1]:
                    text += rng.choice(joiners) + (
                        _lower_first(_unfinal(t, lang)) if lang == "en" else _unfinal(t, lang)
                    )
                last = group[-1][1]
                text += rng.choice(joiners) + (_lower_first(last) if lang == "en" else last)
                ids = [i for s, _ in group for i in s]
                touched |= set(ids)
                out.append((ids, text))
                k += size
            else:
                out.append(blocks[k])
                k += 1
        blocks = out
    elif case == "split":
        for k in full:
            s, t = blocks[k]
            m = re.search(r",\s+" if lang == "en" else "，", t)
            if m and rng.random() < 0.1 and 10 < m.start() < len(t) - 10:
                head, tail = t[: m.start()], t[m.end() :]
                t = head + (". " + tail[:1].upper() + tail[1:] if lang == "en" else "。" + tail)
                blocks[k] = (s, t)
                touched |= set(s)
    elif case == "clause":
        for k in full:
            s, t = blocks[k]
            if len(s) != 1:
                continue
            cl = clauses(t, lang)
            ok = [c for c, x in enumerate(cl) if len(cl) >= 2 and len(x) <= len(t) / 2 and content_words(x, lang) >= 3]
            if ok and rng.random() < 0.1:
                del cl[rng.choice(ok)]
                text = doc.sep.join(c.strip() for c in cl)
                blocks[k] = (s, text if lang == "zh" else re.sub(r"[,;:]\s*$", ".", text))
                partial |= set(s)
    elif case != "complete":
        raise ValueError(f"unknown case {case}")
    return Case(paragraphs([t for _, t in blocks], doc.sep, rng), dropped, partial, touched)


# draws of the clause case: one draw cuts about 20-50 clauses per text, so one clause moves the share
# found by 2-5 points; five draws, the seeds eval/omission_partial.py fits and reports on
CLAUSE_DRAWS = 5


def draws(case: str) -> list[dict]:
    """The draws of one case (``make_case``'s arguments): one per gap length, then a gap at the end;
    ``CLAUSE_DRAWS`` seeds of the clause case; one (seed 1) otherwise."""
    if case == "gap":
        return [{"seed": 1, "gap": g} for g in GAPS] + [{"seed": 1, "gap": 40, "at_end": True}]
    if case == "clause":
        return [{"seed": s} for s in range(1, CLAUSE_DRAWS + 1)]
    return [{"seed": 1}]


@dataclass
class Tally:
    """Counts of one case over documents: dropped flags on truly missing and on present sentences,
    partial flags on clause-cut and on untouched sentences, flags on touched sentences, gaps missed."""

    missing: int = 0
    found: int = 0
    touched: int = 0
    touched_false: int = 0
    cut: int = 0
    cut_found: int = 0
    cut_dropped: int = 0
    whole: int = 0  # present sentences the case left whole (not cut)
    whole_dropped: int = 0  # of ``whole``: called dropped (the "complete text" target of issue 23)
    whole_partial: int = 0
    whole_own: int = 0  # of ``whole``: sentences the translation itself left a clause out of (Doc.own_omissions)
    whole_own_partial: int = 0
    gaps: int = 0
    gaps_whole: int = 0  # gaps with every sentence found and no false flag within 20 sentences
    gaps_clean: int = 0  # ... no flag within 20 sentences that the complete text does not have too (no smear)
    pairs: list = field(default_factory=list)  # (score, translated?) for the reliability table

    def add(self, doc: Doc, case: Case, cov, gap: bool = False, complete_flags: set[int] | None = None) -> None:
        """``complete_flags``: the sentences called dropped on the complete text (for ``gaps_clean``)."""
        near: set[int] = set()
        if gap and case.dropped:
            lo, hi = min(case.dropped), max(case.dropped)
            near = set(range(max(0, lo - 20), hi + 21)) - case.dropped
        ok = True
        clean = True
        for c in cov.lines:
            i = c.line
            if i in doc.untranslated or not doc.src[i].strip():
                continue
            self.pairs.append((c.score, i not in case.dropped))
            if i in case.dropped:
                self.missing += 1
                self.found += c.omitted
                ok &= c.omitted
            else:
                if i in near and c.omitted:
                    ok = False
                    clean &= complete_flags is not None and i in complete_flags
                if i in case.touched:
                    self.touched += 1
                    self.touched_false += c.omitted
                if i in case.partial:
                    self.cut += 1
                    self.cut_found += c.partial
                    self.cut_dropped += c.omitted
                else:
                    self.whole += 1
                    self.whole_dropped += c.omitted
                    self.whole_partial += c.partial
                    if i in doc.own_omissions:
                        self.whole_own += 1
                        self.whole_own_partial += c.partial
        if gap:
            self.gaps += 1
            self.gaps_whole += ok
            self.gaps_clean += clean and all(cov.lines[i].omitted for i in case.dropped)

    def merge(self, other: "Tally") -> None:
        for k, v in vars(other).items():
            if k == "pairs":
                self.pairs += v
            else:
                setattr(self, k, getattr(self, k) + v)


def rate(a: int, b: int) -> float:
    return a / b if b else float("nan")
