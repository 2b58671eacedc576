"""Automatic metrics of a round's translations against the reference editions.

- ``corpus_scores``: sacrebleu BLEU (tokenizer ``zh`` into Chinese, ``13a`` into English), chrF and
  TER over sentence-sized segments, and d-BLEU over whole documents, each with its signature.
- ``book.evaluate_book``: links a translated book to its source and reference, finds dropped and
  partial sentences, truncated chunks, additions, shrinkage over the document, repetition and
  untranslated spans.
- ``comet``: COMET from a local checkpoint; ``omission``: the omission detector
  (``source_coverage``, ``align_references``).
"""

from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF, TER


def _r(x: float) -> float:
    return round(float(x), 4)


def corpus_scores(
    hyps: list[str], refs: list[str], tgt_lang: str, docs: tuple[list[str], list[str]] | None = None
) -> dict:
    """BLEU, chrF and TER over aligned segments (``hyps[i]`` translates what ``refs[i]`` says), and
    d-BLEU over ``docs`` = (hypothesis documents, reference documents), with sacrebleu signatures."""
    if not hyps or len(hyps) != len(refs):
        raise ValueError(f"need one hypothesis segment per reference segment (got {len(hyps)} and {len(refs)})")
    tok = "zh" if tgt_lang == "zh" else "13a"
    bleu, chrf, ter = BLEU(tokenize=tok), CHRF(), TER(asian_support=tgt_lang == "zh")
    out = {
        "bleu": _r(bleu.corpus_score(hyps, [refs]).score),
        "chrf": _r(chrf.corpus_score(hyps, [refs]).score),
        "ter": _r(ter.corpus_score(hyps, [refs]).score),
        "signatures": {
            "bleu": str(bleu.get_signature()),
            "chrf": str(chrf.get_signature()),
            "ter": str(ter.get_signature()),
        },
    }
    if docs is not None:
        dbleu = BLEU(tokenize=tok)
        out["d_bleu"] = _r(dbleu.corpus_score(docs[0], [docs[1]]).score)
        out["signatures"]["d_bleu"] = str(dbleu.get_signature()) + "|doc"
    return out
