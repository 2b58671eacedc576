"""Automatic metrics of a round's translations against the reference editions."""

from __future__ import annotations

from sacrebleu.metrics import BLEU, CHRF

from ..text import length


def _r(x: float) -> float:
    return round(float(x), 4)


def score_documents(hyps: list[str], refs: list[str], tgt_lang: str) -> dict:
    """Document-level BLEU and chrF (one segment per book), with signatures, and the length ratio
    of hypothesis to reference in the target language's unit (characters for zh, words for en)."""
    if not hyps or len(hyps) != len(refs):
        raise ValueError(f"need one hypothesis per reference (got {len(hyps)} and {len(refs)})")
    bleu = BLEU(tokenize="zh" if tgt_lang == "zh" else "13a")
    chrf = CHRF()
    b = bleu.corpus_score(hyps, [refs])
    c = chrf.corpus_score(hyps, [refs])
    hyp_len = sum(length(h, tgt_lang) for h in hyps)
    ref_len = sum(length(r, tgt_lang) for r in refs)
    return {
        "bleu": _r(b.score),
        "chrf": _r(c.score),
        "length_ratio": _r(hyp_len / ref_len) if ref_len else None,
        "empty_translations": sum(1 for h in hyps if not h.strip()),
        "signatures": {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())},
    }
