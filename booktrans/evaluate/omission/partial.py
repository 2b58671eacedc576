"""Partial: a kept sentence whose translation lacks one of its clauses.

A cut clause takes a run of the source's words away from the sentence's stretch, and the length
they had; a clause the dictionary fails on only the words. So each kept sentence is judged on:

- ``run``: the run of consecutive informative source words (in text order, wherever the source's
  commas fall) with the least evidence in the stretch (each word found counts log p/q, each missing
  one log (1-p)/(1-q), the weights of ``evidence``), and ``run_missing``, its words not found;
- ``clause``: with two clauses or more, the evidence of the worst clause of at least
  ``partial_min_words`` informative words (capped at ``CLAUSE_CAP``), and ``multi`` (1 when the
  source has two clauses or more);
- ``miss_share``: the share of the sentence's informative words not found in the stretch;
- ``run_pos``, ``run_pos_missing``, ``miss_share_pos``: the same run (and share) with a word counted
  as found only when the stretch offers it within ``POS_WINDOW`` of the place the word's relative
  position in the source predicts (a cut clause's words are often found elsewhere in the stretch,
  where another clause says the same thing);
- ``free``: the gain the stretch's own informative words would bring if found, summed over those no
  word of the sentence explains: a paraphrase puts other words where the source's are missing, a cut
  clause leaves nothing in their place;
- ``gap_free``: the same in place, as a count: the stretch's content words that no word of the
  sentence explains between the run's anchors (the nearest words found before and after it) and near
  the place the run's position in the source predicts; a cut clause leaves its anchors side by side,
  a clause the dictionary fails on leaves its own words between them;
- ``short``: the Gale-Church cost of the stretch being *shorter* than the source (the shared
  ``gale_church.length_cost`` with the document's own ratio and variance, those of the search;
  0 when it is as long or longer);
- with a reference, ``ref_short``: the same against the reference's length, within one language,
  with the document's own ratio of translation to reference length and its variance (measured on
  the document's kept sentences that have a reference); ``ref_miss_share``: the largest share of a
  reference clause's words (``words.mono_words``, clauses of ``partial_min_words`` words or more)
  that the stretch lacks, also within one language, less the document's median of it (how much of a
  reference any translation lacks depends on how free the reference is; the median measures that, as
  the document's own ratio does for the lengths); and ``ref_run``, ``ref_run_missing``: the least
  run again, over the source words the reference shows alone (those it does not show count nothing:
  where the reference too says it in other words, the dictionary's failure to find them in the
  translation is no evidence), and its words the reference shows and the stretch lacks; and
  ``ref_word_run``, ``ref_word_excess``, ``ref_word_excess_share``: the least run over the
  reference's own words, within one language, weighed by how many of its reference's words the
  document's translations say (``ref_word_runs``), and its missing words beyond what that rate
  predicts: a cut clause takes a run of the reference away, a free reference only fewer words.

A logistic model per source language (``MODELS``: a Chinese word and an English stem are not the same
unit of evidence), without and with a reference, turns them into the log-odds that a clause was cut
(``gap_free`` only in the model of a Chinese source without one: it lowered no other model's
out-of-fold loss by more than 0.0001). A
sentence is partial when those log-odds plus the model's ``SHIFT`` exceed ``-partial_threshold`` (with
a reference ``-partial_threshold_ref``) and its run misses at least ``partial_min_words`` words (the
issue's definition of a missing clause: 3 content words or more absent); its ``missing_clauses`` hold
the source text from the first word of the run not found to the last (for a Chinese source, whose
words the dictionary does not place, the clauses holding them). The coefficients were fitted on the
tune halves' clause and complete cases (a clause the MT itself left out, as a person read it, counts
as cut; for a Chinese source with a reference, also ten WMT23 systems' news output each judged against
another system's, a reference of another hand than pol's) and the thresholds chosen there on
out-of-fold log-odds (``python eval/omission_partial.py`` refits and sweeps them; docs/evaluate.md).
"""

from __future__ import annotations

import numpy as np

from ...align.gale_church import VARIANCE, length_cost
from ...align.lexicon import STOPWORDS, Translator, english_keys
from ...align.names import NAME_KEY
from .config import OmissionConfig
from .evidence import Evidence
from .search import CHI2_1_MEDIAN, MIN_PAIRS
from .units import char_length, clauses
from .words import XL, canon, en_stems, mono_sequence, mono_words, name_keys, numbers, zh_words

# a source word counts as found near its place when the stretch offers it within this share of its length
# of the place its relative position in the source predicts (0.2, 0.35, 0.5 swept on the tune halves)
POS_WINDOW = 0.35
# the least rate ref_word_runs takes for p's complement and for q: a word every stretch offers, or none,
# would weigh without limit
RATE_FLOOR = 0.005
# gap_free also counts the stretch's words within this share of its length either side of the place the run's
# relative position in the source predicts: English often moves a Chinese clause's translation past its anchors
# (0 and 0.1 compared on the tune halves: docs/evaluate.md, "The gap between the anchors")
GAP_MARGIN = 0.1
CLAUSE_CAP = 10.0  # a worst clause's evidence above this says nothing more (below: -3 x this)
# Log-odds that a clause was cut, one model per source language (a Chinese word and an English stem are
# not the same unit of evidence), without and with a reference: an intercept and one coefficient per
# feature, fitted by logistic regression on the tune halves' clause and complete cases (en->zh: aca, mag;
# zh->en: pol and, without a reference, GPT4-5shot's WMT23 output, with one the ten WMT23 systems' output,
# each with the next system's as its reference; a clause the MT itself left out counts as cut; python
# eval/omission_partial.py)
MODELS: dict[tuple[str, bool], tuple[float, dict[str, float]]] = {
    ("en", False): (
        -6.962,
        {"clause": 0.001, "run": -0.583, "short": 0.787, "run_missing": -0.023, "miss_share": 0.729, "multi": 1.16}
        | {"run_pos": -0.044, "miss_share_pos": 1.861, "run_pos_missing": -0.005, "free": -0.048},
    ),
    ("zh", False): (
        -6.23,
        {"clause": -0.213, "run": -0.783, "short": 0.568, "run_missing": -0.042, "miss_share": -3.649, "multi": 2.171}
        | {"run_pos": -0.408, "miss_share_pos": 0.608, "run_pos_missing": 0.058, "free": 0.004, "gap_free": -0.412},
    ),
    ("en", True): (
        -6.94,
        {"clause": 0.021, "run": -0.14, "short": 0.493, "run_missing": 0.111, "miss_share": 0.777, "multi": 0.796}
        | {"run_pos": 0.046, "miss_share_pos": 3.199, "run_pos_missing": -0.154, "free": -0.049}
        | {"ref_short": 0.202, "ref_miss_share": 3.576, "ref_run": -0.479, "ref_run_missing": 0.309}
        | {"ref_word_run": -0.108, "ref_word_excess": 0.04, "ref_word_excess_share": -3.351},
    ),
    ("zh", True): (
        -4.805,
        {"clause": -0.1, "run": -0.242, "short": 0.31, "run_missing": -0.061, "miss_share": -1.456, "multi": 0.623}
        | {"run_pos": -0.129, "miss_share_pos": 0.908, "run_pos_missing": -0.01, "free": -0.031}
        | {"ref_short": 0.194, "ref_miss_share": 2.358, "ref_run": -0.451, "ref_run_missing": 0.099}
        | {"ref_word_run": 0.226, "ref_word_excess": 0.566, "ref_word_excess_share": -4.472},
    ),
}
# Each model's own threshold, chosen on the tune halves' out-of-fold log-odds (the loosest at which every
# text's false alarms on its complete sentences whose translation is complete stay under 3% with 90%
# confidence), minus the shared one (partial_threshold 2.375, partial_threshold_ref 2.625): a sentence is
# partial when its log-odds plus this exceed minus the shared threshold.
SHIFT: dict[tuple[str, bool], float] = {("en", False): 0.125, ("zh", False): -1.625}
SHIFT |= {("en", True): 0.125, ("zh", True): -1.125}


def shortfall(expected: float, got: float, variance: float) -> float:
    """The Gale-Church cost of ``got`` characters where ``expected`` were due, when ``got`` is shorter
    (0 when it is as long or longer: an addition is no missing clause)."""
    if got >= expected:
        return 0.0
    return float(length_cost(expected, got, variance))


def ref_length_model(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """(ratio, variance) of the translation's length against the reference's over a document's
    pairs: the ratio of sums, and the median of the squared deviations per unit of length scaled to
    a variance, as ``search.length_model`` measures the source's."""
    a, b = sum(x for x, _ in pairs), sum(y for _, y in pairs)
    if not a or not b:
        return 1.0, VARIANCE
    ratio = b / a
    if len(pairs) < MIN_PAIRS:
        return ratio, VARIANCE
    dev = np.array([(y - ratio * x) ** 2 / max((y + ratio * x) / 2.0, 1.0) for x, y in pairs])
    return ratio, float(np.clip(np.median(dev) / CHI2_1_MEDIAN, 1.0, 4 * VARIANCE))


def log_odds(features: dict[str, float], src_lang: str, with_ref: bool) -> float:
    """The model's log-odds that a clause of the sentence was cut (the model of its source language)."""
    intercept, coef = MODELS[(src_lang, with_ref)]
    return intercept + sum(c * features.get(k, 0.0) for k, c in coef.items())


def partials(
    lines,
    keep: list[int],
    s_txt: list[str],
    refs: list[str] | None,
    units: list[str],
    spans: list[tuple[int, int]],
    src_lang: str,
    tgt_lang: str,
    translator: Translator,
    cfg: OmissionConfig,
    ev: Evidence,
    length: tuple[float, float],
) -> None:
    """Flag kept sentences with a missing clause (module docstring); ``length`` is the search's
    (ratio, variance). Each judged sentence's features are left in ``line.clause_features``."""
    ratio, variance = length
    sep = "" if tgt_lang == "zh" else " "
    ref_model = None
    if refs is not None:
        pairs = []
        for r, i in enumerate(keep):
            u, j = spans[r]
            if refs[r].strip() and j > u and not lines[i].omitted:
                got = float(char_length(sep.join(units[u:j]), tgt_lang))
                pairs.append((float(char_length(refs[r], tgt_lang)), got))
        ref_model = ref_length_model(pairs)
    judged = []
    stretches: list[tuple[set[str], str]] = []  # each judged sentence's stretch (its words) and reference
    for r, i in enumerate(keep):
        line = lines[i]
        u, j = spans[r]
        if line.omitted or j <= u:
            continue
        parts = clauses(s_txt[r], src_lang)
        target = sep.join(units[u:j])
        tgt_keys = target_keys(target, src_lang, translator)
        tgt_pos = target_positions(target, src_lang, translator)
        ref = (refs[r] or "").strip() if refs is not None else ""
        ref_keys = target_keys(ref, src_lang, translator) if refs is not None else None
        run, run_missing, informative, found, missing, local = missing_run(
            parts, tgt_keys, src_lang, translator, ev, r, tgt_pos, ref_keys
        )
        if not informative:
            continue
        tlen = float(char_length(target, tgt_lang))
        f = {
            "clause": 0.0,
            "run": run,
            "short": shortfall(ratio * char_length(s_txt[r], src_lang), tlen, variance),
            "run_missing": float(run_missing),
            "miss_share": (informative - found) / informative,
            "multi": float(len(parts) >= 2),
        }
        f.update(local)
        f["free"] = free_evidence(ev, r, u, j)
        if len(parts) >= 2:
            worst = CLAUSE_CAP
            for clause in parts:
                got = clause_evidence(clause, tgt_keys, src_lang, translator, ev, r)
                if got is not None and got[1] >= cfg.partial_min_words:
                    worst = min(worst, got[0])
            f["clause"] = max(-3 * CLAUSE_CAP, worst)
        if refs is not None and ref_model is not None:
            have = set(mono_words(numbers(target, tgt_lang), tgt_lang))  # the stretch's words, within one language
            f["ref_short"] = shortfall(ref_model[0] * char_length(ref, tgt_lang), tlen, ref_model[1]) if ref else 0.0
            f["ref_miss_share"] = ref_missing(ref, have, tgt_lang, cfg.partial_min_words) if ref else None
            stretches.append((have, ref))
        judged.append((line, f, r, parts, missing))
    if refs is not None:
        for (_, f, *_), got in zip(judged, ref_word_runs(stretches, tgt_lang)):
            f.update(got)
        # a sentence lacking more of its reference's words than the document's others do: how many any
        # translation lacks depends on how free the reference is (a literary translator's shares few words
        # with any translation), which the document's median measures
        shares = [f["ref_miss_share"] for _, f, *_ in judged if f.get("ref_miss_share") is not None]
        usual = float(np.median(shares)) if shares else 0.0
        for _, f, *_ in judged:
            if "ref_miss_share" in f:
                got = f["ref_miss_share"]
                f["ref_miss_share"] = 0.0 if got is None else got - usual
    threshold = cfg.partial_threshold_ref if refs is not None else cfg.partial_threshold
    for line, f, r, parts, missing in judged:
        odds = log_odds(f, src_lang, refs is not None)
        f["log_odds"] = odds
        line.clause_features = f
        if odds + SHIFT[(src_lang, refs is not None)] > -threshold and f["run_missing"] >= cfg.partial_min_words:
            line.partial = True
            line.missing_clauses = missing_text(s_txt[r], parts, missing)


def free_evidence(ev: Evidence, r: int, u: int, j: int) -> float:
    """The evidence the stretch's informative words would give if found (their gain), summed over those
    that no word of the sentence explains: a paraphrase puts other words where the source's are
    missing, a cut clause leaves nothing in their place."""
    words = ev.w
    expl = words.explained((r,), u, j)
    total = 0.0
    for p in range(u, j):
        mask = expl.get(p, 0)
        for b, (c, g) in enumerate(zip(words.units[p].chan, ev.unit_gain[p])):
            if c == XL and g > 0.0 and not (mask >> b) & 1:
                total += g
    return total


def ref_missing(ref: str, have: set[str], lang: str, min_words: int) -> float:
    """The largest share of a reference clause's words (``mono_words``, within the translation's
    language) absent from the stretch, over the reference's clauses of at least ``min_words`` words."""
    share = 0.0
    for clause in clauses(ref, lang):
        ws = set(mono_words(numbers(clause, lang), lang))
        if len(ws) >= min_words:
            share = max(share, len(ws - have) / len(ws))
    return share


def ref_word_runs(stretches: list[tuple[set[str], str]], lang: str) -> list[dict[str, float]]:
    """Per (stretch's words, reference) of a document, the run of consecutive reference words (``mono_sequence``,
    within the translation's language) with the least evidence that the stretch says them: a word found
    counts log p/q, one missing log (1-p)/(1-q), where p is the share of the document's reference words
    its own stretches offer and q the share a stretch half the document away offers (chance). A cut
    clause takes a run of the reference's words away; a free reference (low p) makes each missing word
    weigh less. Returned: ``ref_word_run``, its evidence; ``ref_word_excess``, its words missing beyond
    the (1-p) of them any translation lacks against this reference; ``ref_word_excess_share``, that
    over the reference's words. A count of missing words alone grows with how free the reference is
    (docs/evaluate.md, "The reference's own words"); the excess does not. All 0 where the sentence has
    no reference or the document's references say no more than chance."""
    have = [words for words, _ in stretches]
    seqs = [mono_sequence(numbers(ref, lang), lang) if ref else [] for _, ref in stretches]
    n = len(stretches)
    own = [w in have[k] for k, ws in enumerate(seqs) for w in ws]
    chance = [w in have[(k + n // 2) % n] for k, ws in enumerate(seqs) for w in ws]
    none = {"ref_word_run": 0.0, "ref_word_excess": 0.0, "ref_word_excess_share": 0.0}
    if not own or n < 2:
        return [dict(none) for _ in stretches]
    p = min(sum(own) / len(own), 1.0 - RATE_FLOOR)
    q = max(sum(chance) / len(chance), RATE_FLOOR)
    if q >= p:
        return [dict(none) for _ in stretches]
    gain, miss = float(np.log(p / q)), float(np.log((1.0 - p) / (1.0 - q)))
    out = []
    for ws, got in zip(seqs, have):
        if not ws:
            out.append(dict(none))
            continue
        found = [w in got for w in ws]
        best, lo, hi = least_run([gain if f else miss for f in found])
        excess = found[lo:hi].count(False) - (1.0 - p) * (hi - lo)
        out.append({"ref_word_run": best, "ref_word_excess": excess, "ref_word_excess_share": excess / len(ws)})
    return out


def target_positions(target: str, src_lang: str, translator: Translator) -> dict[str, list[float]]:
    """Match key -> relative positions (0..1) of the stretch's words that offer it."""
    out: dict[str, list[float]] = {}
    if src_lang == "zh":
        text = numbers(target, "en")
        toks, sounds = english_keys(text), name_keys(text)
        n = max(len(toks), 1)
        for k, (_, t, st) in enumerate(toks):
            for key in (st if t[0].isdigit() else canon(st), *sounds.get(st, ())):
                out.setdefault(key, []).append((k + 0.5) / n)
        return out
    bag = translator.bags([numbers(target, "zh")])[0]
    n = max(bag.words, 1)
    for st, mask in bag.stems.items():
        k, got = 0, []
        while mask:
            if mask & 1:
                got.append((k + 0.5) / n)
            mask >>= 1
            k += 1
        out.setdefault(canon(st), []).extend(got)
    return out


def target_keys(target: str, src_lang: str, translator: Translator) -> set[str]:
    """The match keys a stretch of translation offers (English stems, or the glosses of its Chinese)."""
    if src_lang == "zh":
        text = numbers(target, "en")
        return {canon(w) for w in en_stems(text)[0]}.union(*name_keys(text).values())
    return {canon(w) for w in translator.bags([numbers(target, "zh")])[0].stems}


def clause_evidence(
    clause: str, tgt_keys: set[str], src_lang: str, translator: Translator, ev: Evidence, r: int
) -> tuple[float, int] | None:
    """(evidence, informative words) of one source clause found in a stretch offering ``tgt_keys``,
    with the weights of its sentence's words."""
    words = ev.w
    it = words.src[r]
    gains = ev.src_gain[r]
    if src_lang == "zh":
        clause_keys = set(zh_words(translator.bags([numbers(clause, "zh")])[0]))
    else:
        clause_keys = {frozenset({canon(w)}) for w in en_stems(numbers(clause, "en"))[0]}
    total, n_words = 0.0, 0
    for b, (c, ks) in enumerate(zip(it.chan, it.keys)):
        if c != XL or ks not in clause_keys or gains[b] <= 0.0:
            continue
        n_words += 1
        p_miss = ev.src_miss[r][b]
        total += (gains[b] + p_miss) if ks & tgt_keys else p_miss
    return (total, n_words) if n_words else None


def ordered_words(parts: list[str], src_lang: str, translator: Translator) -> list[tuple[int, object, str]]:
    """The informative words of a sentence in text order: (clause index, match key, the word as written
    where it can be told: English tokens; "" for Chinese). Chinese keys are gloss sets (as
    ``words.zh_words``), English ones canonical stems (as ``words.canon``)."""
    out: list[tuple[int, object, str]] = []
    for c, clause in enumerate(parts):
        if src_lang == "zh":
            out += [(c, k, "") for k in zh_words(translator.bags([numbers(clause, "zh")])[0])]
            continue
        for _, t, key in english_keys(numbers(clause, "en")):
            if t[0].isdigit():
                out.append((c, key, t))
            elif key not in STOPWORDS:
                out.append((c, canon(key), t))
    return out


def missing_text(sentence: str, parts: list[str], missing: list[tuple[int, str]]) -> list[str]:
    """What a reviewer reads as missing: the sentence from the first word of the run not found to the
    last; the clauses holding them where a word cannot be placed (Chinese, a number written out)."""
    starts, at = [], 0
    for p in parts:
        at = sentence.find(p, at)
        starts.append(max(at, 0))
        at = max(at, 0) + len(p)
    places, cursor = [], {}
    for c, word in missing:
        k = parts[c].find(word, cursor.get(c, 0)) if word else -1
        if k < 0:
            return [parts[c].strip() for c in sorted({c for c, _ in missing})]
        cursor[c] = k + len(word)
        places.append((starts[c] + k, starts[c] + k + len(word)))
    return [sentence[places[0][0] : places[-1][1]].strip()] if places else []


def missing_run(
    parts: list[str],
    tgt_keys: set[str],
    src_lang: str,
    translator: Translator,
    ev: Evidence,
    r: int,
    tgt_pos: dict[str, list[float]] | None = None,
    ref_keys: set[str] | None = None,
) -> tuple[float, int, int, int, list[tuple[int, str]], dict[str, float]]:
    """The run of consecutive informative source words with the least evidence in the target (a cut
    clause takes a run of words away, wherever the source's commas fall): (its evidence, its words not
    found, the sentence's informative words, those found, the run's words not found: (clause, word),
    and the same run measured with position-aware matches and, given the keys a reference offers, over
    the words the reference shows alone)."""
    it = ev.w.src[r]
    gains = ev.src_gain[r]
    index: dict = {}
    for b, (c, ks) in enumerate(zip(it.chan, it.keys)):
        if c != XL or gains[b] <= 0.0:
            continue
        if src_lang == "zh":
            index.setdefault(ks, b)
        else:
            for k in ks:
                if not k.startswith("#"):
                    index.setdefault(k, b)
    seq: list[tuple[float, bool, int, str]] = []
    near: list[list[float]] = []
    seen: set[int] = set()
    shown: list[bool] = []
    for c, key, word in ordered_words(parts, src_lang, translator):
        b = index.get(key)
        if b is None or b in seen:
            continue
        seen.add(b)
        miss = ev.src_miss[r][b]
        found = bool(it.keys[b] & tgt_keys)
        seq.append(((gains[b] + miss) if found else miss, found, c, word))
        shown.append(ref_keys is not None and bool(it.keys[b] & ref_keys))
        if tgt_pos is not None:
            near.append(sorted(p for k in it.keys[b] for p in tgt_pos.get(k, ())) + [gains[b], miss])
    best, lo, hi = least_run([e for e, *_ in seq])
    run = seq[lo:hi]
    missing = [(c, word) for _, f, c, word in run if not f]
    local: dict[str, float] = {}
    if tgt_pos is not None:
        n = max(len(seq), 1)
        hits = [any(abs(p - (k + 0.5) / n) <= POS_WINDOW for p in row[:-2]) for k, row in enumerate(near)]
        es = [(row[-2] + row[-1]) if hit else row[-1] for row, hit in zip(near, hits)]
        b2, lo2, hi2 = least_run(es)
        local = {
            "run_pos": b2,
            "run_pos_missing": float(hits[lo2:hi2].count(False)),
            "miss_share_pos": hits.count(False) / n,
            "gap_free": gap_free([f for _, f, *_ in seq], [row[:-2] for row in near], lo, hi, tgt_pos, it.keyset(XL)),
        }
    if ref_keys is not None:
        b3, lo3, hi3 = least_run([e if s else 0.0 for (e, *_), s in zip(seq, shown)])
        local["ref_run"] = b3
        local["ref_run_missing"] = float(sum(s and not f for (_, f, *_), s in zip(seq[lo3:hi3], shown[lo3:hi3])))
    return best, len(missing), len(seq), sum(f for _, f, _, _ in seq), missing, local


def gap_free(
    found: list[bool], places: list[list[float]], lo: int, hi: int, tgt_pos: dict[str, list[float]], src_keys: set[str]
) -> float:
    """The translation's words between the run's anchors that no word of the source sentence explains.
    The anchors are the nearest found words before and after the run ``[lo, hi)`` (the stretch's ends
    where there is none), each at its place in the stretch (relative, 0..1) nearest the one its place
    in the source predicts; the span between them is widened to ``GAP_MARGIN`` either side of the
    run's own predicted place. A cut clause leaves its anchors side by side in the translation, nothing
    between them; a clause the dictionary fails on leaves its translation there, in words that no
    gloss of the sentence explains. A name's sound keys are no words of their own: they only explain
    the word they belong to."""
    n = max(len(found), 1)

    def place(k: int | None, end: float) -> float:
        if k is None or not places[k]:
            return end
        return min(places[k], key=lambda p: abs(p - (k + 0.5) / n))

    left = next((k for k in range(lo - 1, -1, -1) if found[k]), None)
    right = next((k for k in range(hi, len(found)) if found[k]), None)
    a, z = sorted((place(left, 0.0), place(right, 1.0)))
    a, z = min(a, lo / n - GAP_MARGIN), max(z, hi / n + GAP_MARGIN)
    named = {p for key, ps in tgt_pos.items() if key[:1] == NAME_KEY and key in src_keys for p in ps}
    return float(
        sum(
            1
            for key, ps in tgt_pos.items()
            if key not in src_keys and key[:1] != NAME_KEY
            for p in ps
            if a < p < z and p not in named
        )
    )


def least_run(es: list[float]) -> tuple[float, int, int]:
    """The least sum over a contiguous run (Kadane): (sum, start, end)."""
    best, lo, hi = 0.0, 0, 0
    acc, start = 0.0, 0
    for k, e in enumerate(es):
        if acc > 0.0:
            acc, start = 0.0, k
        acc += e
        if acc < best:
            best, lo, hi = acc, start, k + 1
    return best, lo, hi
