"""Completed sheets → corrections → corrected beads.

A correction says what some consecutive beads of a book should become: ``before`` (the beads the
corrector saw, by their sentence texts), ``after`` (the same sentences, regrouped) and, for edits,
the corrected text of the decided bead's sentences. It holds no bead numbers, so it survives a
re-alignment after a small upstream change: it applies wherever the ``before`` beads still are, or
wherever those sentences still form a run of beads, however the aligner now groups them inside it.
A correction whose sentences are gone, or no longer bounded by beads, is reported as stale; one whose
beads an earlier correction already changed is reported as superseded; neither is dropped silently.

The pairs of each book's random sample (``select.draw_sample`` over the aligner's own beads) that a
correction decides become the sample's judgments: accept = right, anything else = wrong.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..errors import BooktransError
from . import DECISIONS
from .estimate import book_estimate
from .select import draw_sample, sample_population, texts
from .sheets import side_lines

log = logging.getLogger(__name__)
STRUCTURAL = {d for d in DECISIONS if d not in ("accept", "reject")}


def _needs(decision: str) -> str | None:
    """Which neighbour a decision involves: prev, next or None."""
    if decision.endswith("-prev"):
        return "prev"
    if decision.endswith("-next"):
        return "next"
    return None


def _bead(x) -> dict | None:
    if x is None:
        return None
    if not isinstance(x, dict) or not all(
        isinstance(x.get(s), list) and all(isinstance(t, str) for t in x[s]) for s in ("zh", "en")
    ):
        raise ValueError("bad bead")
    return {"zh": list(x["zh"]), "en": list(x["en"])}


def _structure(decision: str, bead: dict, prev: dict | None, nxt: dict | None, split: tuple[int, int] | None):
    """(before, after, central): the beads the decision touches and what they become."""
    z, e = bead["zh"], bead["en"]
    if decision in ("accept", "reject"):
        return [bead], [dict(bead)], 0
    if decision == "merge-prev":
        return [prev, bead], [{"zh": prev["zh"] + z, "en": prev["en"] + e}], 1
    if decision == "merge-next":
        return [bead, nxt], [{"zh": z + nxt["zh"], "en": e + nxt["en"]}], 0
    if decision == "split":
        i, j = split
        return [bead], [{"zh": z[:i], "en": e[:j]}, {"zh": z[i:], "en": e[j:]}], 0
    lang, move = decision.split("-", 1)
    other = "en" if lang == "zh" else "zh"
    if move == "to-prev":
        return (
            [prev, bead],
            [{lang: prev[lang] + bead[lang][:1], other: prev[other]}, {lang: bead[lang][1:], other: bead[other]}],
            1,
        )
    if move == "to-next":
        return (
            [bead, nxt],
            [{lang: bead[lang][:-1], other: bead[other]}, {lang: bead[lang][-1:] + nxt[lang], other: nxt[other]}],
            0,
        )
    if move == "from-prev":
        return (
            [prev, bead],
            [{lang: prev[lang][:-1], other: prev[other]}, {lang: prev[lang][-1:] + bead[lang], other: bead[other]}],
            1,
        )
    if move == "from-next":
        return (
            [bead, nxt],
            [{lang: bead[lang] + nxt[lang][:1], other: bead[other]}, {lang: nxt[lang][1:], other: nxt[other]}],
            0,
        )
    raise ValueError(decision)


def _short(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def compile_corrections(rows: list[dict]) -> list[dict]:
    """Validate completed rows (``sheets.read_completed``) and turn them into corrections.

    Rows with no decision, no fix and no comment are not checked yet and are skipped. Every problem
    is collected and raised at once in one BooktransError, one line per problem naming the file and
    row: an unknown decision, a damaged key, an edited zh/en column, a split that does not fit, a
    move or merge with no neighbour there, no corrector, two different decisions on one bead."""
    problems: list[str] = []
    out: list[dict] = []
    seen: dict[str, tuple[str, str]] = {}
    for r in rows:
        where = r["where"]
        decision = r["decision"].lower()
        fixed = {lang: side_lines(r.get(f"{lang}_fixed")) for lang in ("zh", "en")}
        if not decision and not fixed["zh"] and not fixed["en"] and not r["comment"].strip() and not r["split"]:
            continue
        try:
            key = r["key"]
            if not isinstance(key, dict) or not isinstance(key.get("book"), str):
                raise ValueError
            bead, prev, nxt = _bead(key), _bead(key.get("prev")), _bead(key.get("next"))
        except (ValueError, TypeError, AttributeError):
            problems.append(f"{where}: the key column is damaged or missing (it must stay as exported)")
            continue
        bad = False
        for lang in ("zh", "en"):
            shown = r.get(lang)
            if shown is not None and side_lines(shown) != bead[lang]:
                problems.append(
                    f"{where}: the {lang} column differs from the exported bead; leave it as it was and write "
                    f"the corrected sentences in {lang}_fixed"
                )
                bad = True
        if not decision:
            if not (fixed["zh"] or fixed["en"] or r["split"]):
                continue  # a comment alone: nothing decided
            decision = "accept"
        if decision not in DECISIONS:
            problems.append(f"{where}: unknown decision {r['decision']!r} (one of {', '.join(DECISIONS)})")
            continue
        if not r["corrector"]:
            problems.append(f"{where}: no corrector name")
        split = None
        if decision == "split":
            try:
                i, j = (int(x) for x in str(r["split"]).replace(":", "/").split("/"))
            except ValueError:
                problems.append(
                    f"{where}: split {r['split']!r} must be two numbers, Chinese/English sentences of the first "
                    "bead, e.g. 1/2"
                )
                continue
            if not (0 <= i <= len(bead["zh"]) and 0 <= j <= len(bead["en"])):
                problems.append(
                    f"{where}: split {i}/{j} does not fit a bead of {len(bead['zh'])} Chinese and "
                    f"{len(bead['en'])} English sentences"
                )
                continue
            if (i, j) in ((0, 0), (len(bead["zh"]), len(bead["en"]))):
                problems.append(f"{where}: split {i}/{j} leaves one of the two beads empty")
                continue
            split = (i, j)
        elif r["split"]:
            problems.append(f"{where}: split is filled but the decision is {decision}")
            bad = True
        side = _needs(decision)
        neighbour = {"prev": prev, "next": nxt}.get(side) if side else None
        if side and neighbour is None:
            problems.append(
                f"{where}: {decision}: this bead is the {'first' if side == 'prev' else 'last'} of its chapter "
                "pair (no bead there)"
            )
            continue
        if decision[:3] in ("zh-", "en-"):
            lang, move = decision[:2], decision[3:]
            src = bead if move.startswith("to-") else neighbour
            if not src[lang]:
                problems.append(
                    f"{where}: {decision}: the {'bead' if src is bead else side + ' bead'} has no "
                    f"{'Chinese' if lang == 'zh' else 'English'} sentence to move"
                )
                continue
        for lang in ("zh", "en"):
            if fixed[lang] and decision in STRUCTURAL and len(fixed[lang]) != len(bead[lang]):
                problems.append(
                    f"{where}: {lang}_fixed has {len(fixed[lang])} sentences, the bead {len(bead[lang])}: with "
                    f"{decision} a fix must keep the number of sentences (accept the fix first, then {decision})"
                )
                bad = True
        if bad:
            continue
        before, after, central = _structure(decision, bead, prev, nxt, split)
        after = [a for a in after if a["zh"] or a["en"]]
        ident = json.dumps([key["book"], key.get("index"), bead, prev, nxt], ensure_ascii=False, sort_keys=True)
        if ident in seen and seen[ident][1] != decision:
            problems.append(f"{where}: {decision}, but {seen[ident][0]} decided {seen[ident][1]} for the same bead")
            continue
        if ident in seen:
            continue
        seen[ident] = (where, decision)
        fixes = {lang: fixed[lang] for lang in ("zh", "en") if fixed[lang] and fixed[lang] != bead[lang]}
        out.append(
            {
                "book": key["book"],
                "decision": decision,
                "before": before,
                "after": after,
                "central": central,
                "fixed": fixes,
                "hint": {"index": key.get("index"), "zh_chapter": key.get("zh_chapter"), "prev": prev, "next": nxt},
                "corrector": r["corrector"],
                "comment": r["comment"].strip(),
                "source": where,
            }
        )
    if problems:
        raise BooktransError(
            f"completed proofreading sheets have {len(problems)} problem(s):\n  " + "\n  ".join(problems)
        )
    return out


def corrections_document(files: list, corrections: list[dict]) -> dict:
    """The corrections file: the sheets read (in order) and the corrections, in the order to apply."""
    return {"sheets": [str(f) for f in files], "corrections": corrections}


def import_corrections(completed: Path, out: Path) -> dict:
    """Every completed sheet in ``completed`` (.json from the form, .csv, .xlsx; validated, one message
    listing every problem) into the corrections file ``out``, in file-name and row order. Returns it."""
    from ..io import write_json
    from .sheets import read_completed_dir

    files, rows = read_completed_dir(completed) if completed.exists() else ([], [])
    doc = corrections_document(files, compile_corrections(rows))
    write_json(out, doc)
    books = sorted({c["book"] for c in doc["corrections"]})
    log.info(
        "%d correction(s) for %d book(s) from %d sheet(s) in %s",
        len(doc["corrections"]),
        len(books),
        len(files),
        completed,
    )
    return doc


def read_corrections(path) -> dict[str, list[dict]]:
    """The corrections file (``corrections_document``), by book, in the order to apply."""
    path = Path(path)
    by_book: dict[str, list[dict]] = {}
    if not path.exists():
        return by_book
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["corrections"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise BooktransError(
            f"{path}: not a corrections file ({exc}); rebuild it with `dvc repro corrections`"
        ) from None
    for c in rows:
        by_book.setdefault(c["book"], []).append(c)
    return by_book


def _final_after(c: dict) -> list[dict]:
    """The ``after`` beads with the decided bead's fixes applied."""
    after = [{"zh": list(a["zh"]), "en": list(a["en"])} for a in c["after"]]
    fixed = c.get("fixed") or {}
    if not fixed:
        return after
    if c["decision"] in ("accept", "reject"):
        for lang, new in fixed.items():
            after[0][lang] = list(new)
        return after
    for lang, new in fixed.items():
        start = sum(len(b[lang]) for b in c["before"][: c["central"]])
        stop = start + len(c["before"][c["central"]][lang])
        pos = 0
        for a in after:
            for k in range(len(a[lang])):
                if start <= pos < stop:
                    a[lang][k] = new[pos - start]
                pos += 1
    return after


def _befores(c: dict) -> list[list[dict]]:
    """The ``before`` beads to look for: as exported, and with the corrector's own fixes in them
    (when upstream has since corrected the same typo) where a fix keeps the number of sentences."""
    out = [c["before"]]
    fixed = c.get("fixed") or {}
    if fixed:
        alt = [{"zh": list(b["zh"]), "en": list(b["en"])} for b in c["before"]]
        mine = alt[c["central"]]
        for lang, new in fixed.items():
            if len(new) == len(mine[lang]) or c["decision"] in ("accept", "reject"):
                mine[lang] = list(new)
        if alt != c["before"]:
            out.append(alt)
    return out


def _find_runs(keys: list[tuple], want: list[dict]) -> list[int]:
    """Where the beads ``want`` stand one after another (``keys``: the texts of every bead)."""
    t = [(tuple(w["zh"]), tuple(w["en"])) for w in want]
    first = [p for p, k in enumerate(keys) if k == t[0]]
    return [p for p in first if keys[p : p + len(t)] == t]


def _find_span(beads: list[dict], want: list[dict]) -> list[tuple[int, int]]:
    """Runs [p, q) of beads holding exactly the sentences of ``want`` (in order), however grouped."""
    zh = [s for w in want for s in w["zh"]]
    en = [s for w in want for s in w["en"]]
    runs = []
    for p in range(len(beads)):
        cz, ce, q = 0, 0, p
        while q < len(beads):
            b = beads[q]
            if zh[cz : cz + len(b["zh"])] != b["zh"] or en[ce : ce + len(b["en"])] != b["en"]:
                break
            cz, ce, q = cz + len(b["zh"]), ce + len(b["en"]), q + 1
            if cz == len(zh) and ce == len(en):
                runs.append((p, q))
                break
    return [r for r in runs if r[1] > r[0]]


def _best(candidates: list[tuple[int, int]], beads: list[dict], c: dict) -> tuple[int, int]:
    """Of several places, the one whose neighbours and position match what the corrector saw."""
    hint = c.get("hint") or {}

    def rank(run):
        p, q = run
        ctx = 0
        if c["central"] == 0 and hint.get("prev") is not None and p > 0 and texts(beads[p - 1]) == texts(hint["prev"]):
            ctx += 1
        if (
            len(c["before"]) == 1
            and hint.get("next") is not None
            and q < len(beads)
            and texts(beads[q]) == texts(hint["next"])
        ):
            ctx += 1
        if (
            c["central"] == 1
            and len(c["before"]) == 2
            and hint.get("next") is not None
            and q < len(beads)
            and texts(beads[q]) == texts(hint["next"])
        ):
            ctx += 1
        same_chapter = int(beads[p].get("zh_chapter") == hint.get("zh_chapter"))
        dist = abs(p + c["central"] - hint["index"]) if isinstance(hint.get("index"), int) else 0
        return (-ctx, -same_chapter, dist, p)

    return min(candidates, key=rank)


def _paras(run: list[dict], lang: str) -> list[list[int] | None]:
    """Paragraph id of each sentence of a run of beads, where the bead says it exactly."""
    out: list = []
    for b in run:
        paras = b.get(f"{lang}_para") or []
        if len(paras) == len(b[lang]):
            out.extend([[p] for p in paras])
        else:
            out.extend([list(paras)] * len(b[lang]))
    return out


def _build(run: list[dict], after: list[dict], c: dict) -> list[dict]:
    """The beads that replace ``run``: chapter, paragraphs and flags carried over, marked as proofread."""
    paras = {lang: _paras(run, lang) for lang in ("zh", "en")}
    pos = {"zh": 0, "en": 0}
    same_shape = (
        len(run) == len(after) == 1
        and len(run[0]["zh"]) == len(after[0]["zh"])
        and len(run[0]["en"]) == len(after[0]["en"])
    )
    out = []
    for a in after:
        b = {"zh": a["zh"], "en": a["en"], "zh_chapter": run[0]["zh_chapter"], "en_chapter": run[0]["en_chapter"]}
        for lang in ("zh", "en"):
            got: set[int] = set()
            n = len(a[lang])
            if len(after) == 1:
                seq = paras[lang]
            else:
                seq = paras[lang][pos[lang] : pos[lang] + n]
            for p in seq:
                got.update(p or [])
            if not got:  # an empty side: the paragraph it would sit in
                near = paras[lang][min(pos[lang], len(paras[lang]) - 1)] if paras[lang] else None
                got.update(near or [b.get(f"{lang}_para", [0])[0] if b.get(f"{lang}_para") else 0])
            b[f"{lang}_para"] = sorted(got)
            pos[lang] += n
        b["type"] = f"{len(a['zh'])}-{len(a['en'])}"
        b["score"] = run[0].get("score") if same_shape else None
        if c["decision"] == "reject":
            b["keep"], b["drop"] = False, "rejected"
        elif same_shape and run[0].get("drop") == "duplicate":
            b["keep"], b["drop"] = False, "duplicate"
        elif a["zh"] and a["en"]:
            b["keep"] = True
        else:
            b["keep"], b["drop"] = False, "null"
        b["proofread"] = {"decision": c["decision"], "edited": bool(c.get("fixed")), "by": c.get("corrector", "")}
        out.append(b)
    return out


def apply_corrections(
    book: str,
    beads: list[dict],
    corrections: list[dict],
    sample: int,
    seed: int,
) -> tuple[list[dict], dict]:
    """Apply one book's corrections (in order) to the aligner's beads. Returns (beads, summary).

    The summary counts what applied, what the aligner already does (``already``), what an earlier
    correction superseded and what no longer applies (``stale``, each with its file, row and reason),
    the beads checked and corrected, and the precision estimate from the sample's judgments."""
    raw = [dict(b) for b in beads]
    chosen = draw_sample(book, raw, sample, seed) if sample else set()
    cur: list[dict] = [dict(b, _origin=i) for i, b in enumerate(raw)]
    keys = [texts(b) for b in cur]
    judged: dict[int, bool] = {}  # raw bead -> right?
    status = {"applied": 0, "already": 0}
    stale, superseded = [], []
    checked = corrected = 0
    by_source: dict[int, str] = {}
    for n, c in enumerate(corrections):
        after = _final_after(c)
        state = None
        for before in _befores(c):  # as the corrector saw it, then as it reads once upstream made the same fix
            runs = _find_runs(keys, before)
            if runs:
                p = _best([(x, x + len(before)) for x in runs], cur, c)[0]
                q, state = p + len(before), "applied"
                break
        if state is None:
            done = _find_runs(keys, after) if after else []
            if done and c["decision"] != "reject":
                p = _best([(x, x + len(after)) for x in done], cur, c)[0]
                q, state = p + len(after), "already"
        if state is None:
            for before in _befores(c):
                spans = _find_span(cur, before)
                if spans:
                    p, q = _best(spans, cur, c)
                    state = "applied"
                    break
        if state is None:
            mine = c["before"][c["central"]]
            owners = {
                cur[k].get("_by")
                for k, b in enumerate(cur)
                for s in ("zh", "en")
                for x in mine[s]
                if x in b[s] and cur[k].get("_by") is not None
            }
            if owners:
                superseded.append(
                    {
                        "source": c["source"],
                        "decision": c["decision"],
                        "reason": "its bead was changed by " + ", ".join(sorted(by_source[o] for o in owners)),
                    }
                )
                continue
            present = {(s, x) for b in cur for s in ("zh", "en") for x in b[s]}
            missing = [(s, x) for w in c["before"] for s in ("zh", "en") for x in w[s] if (s, x) not in present]
            if missing:
                s, x = missing[0]
                reason = (
                    f"the {s} sentence {_short(x)!r} is no longer in the aligned book"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                    + " (changed upstream?)"
                )
            else:
                reason = (
                    "its sentences are still there but the beads around them changed (no run of beads holds "
                    "exactly them)"
                )
            stale.append({"source": c["source"], "decision": c["decision"], "reason": reason})
            continue
        run = cur[p:q]
        if state == "already":
            new = [dict(b) for b in run]
            for b in new:
                b["proofread"] = {
                    "decision": c["decision"],
                    "edited": bool(c.get("fixed")),
                    "by": c.get("corrector", ""),
                    "already": True,
                }
                if b["zh"] and b["en"] and b.get("drop") != "duplicate":
                    b["keep"] = True
                    b.pop("drop", None)
        else:
            new = _build(run, after, c)
        for b in new:
            b["_by"] = n
        by_source[n] = c["source"]
        # the sample's judgments: the aligner's own beads in the run that this decision rules on
        for k, b in enumerate(run):
            o = b.get("_origin")
            if o is None:
                continue
            if state == "already":
                judged[o] = True
            elif c["decision"] == "accept":
                if k == c["central"]:
                    judged[o] = True
            elif c["decision"] == "reject":
                if k == c["central"]:
                    judged[o] = False
            else:
                judged[o] = any(texts(b) == (tuple(a["zh"]), tuple(a["en"])) for a in c["after"])
        cur[p:q] = new
        keys[p:q] = [texts(b) for b in new]
        status[state] += 1
        checked += 1
        if c["decision"] != "accept" or c.get("fixed"):
            corrected += 1
    out = []
    for b in cur:
        o = b.pop("_origin", None)
        b.pop("_by", None)
        if o is not None and o in chosen and o not in judged:
            b["proofread_sample"] = True
        else:
            b.pop("proofread_sample", None)
        out.append(b)
    pop = set(sample_population(raw))
    in_sample = [o for o in chosen if o in judged]
    est = book_estimate(
        len(pop),
        len(in_sample),
        sum(1 for o in in_sample if not judged[o]),
        known_wrong=sum(1 for o, ok in judged.items() if o in pop and not ok),
    )
    est["size"] = len(chosen)
    summary = {
        "corrections": len(corrections),
        **status,
        "superseded": superseded,
        "stale": stale,
        "checked": checked,
        "corrected": corrected,
        "sample": est,
    }
    return out, summary


class Proofreading:
    """The corrections of every book, applied book by book in the align stage."""

    def __init__(self, corrections: dict[str, list[dict]], sample: int, seed: int) -> None:
        self.corrections = corrections
        self.sample, self.seed = sample, seed
        self.books: dict[str, dict] = {}

    @classmethod
    def load(cls, path, sample: int, seed: int) -> "Proofreading":
        return cls(read_corrections(path) if path else {}, sample, seed)

    def apply(self, book: str, beads: list[dict]) -> tuple[list[dict], dict]:
        beads, summary = apply_corrections(book, beads, self.corrections.get(book, []), self.sample, self.seed)
        for kind in ("stale", "superseded"):
            for c in summary[kind]:
                log.warning(
                    "proofreading: %s: %s: %s no longer applies (%s): %s",
                    book,
                    c["source"],
                    c["decision"],
                    kind,
                    c["reason"],
                )
        self.books[book] = summary
        return beads, summary

    def unused(self) -> dict[str, int]:
        """Corrections for books that were not aligned (not in the manifest, or not ingested)."""
        return {b: len(cs) for b, cs in sorted(self.corrections.items()) if b not in self.books}

    def summary(self) -> dict:
        return {"books": dict(sorted(self.books.items())), "unused": self.unused()}
