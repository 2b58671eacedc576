"""The detector's knobs and the floor of the lexical table's entries (docs/evaluate.md says where each
value comes from)."""

from __future__ import annotations

from dataclasses import dataclass

# A learned table's entries count for the detector from this probability on (with a floor of 0.1,
# Chinese function words such as 的, 了, 我们 take glosses from the commonest English words of the
# corpus, "people", "develop", which a translation may lack; see docs/evaluate.md, tuned on the tune halves).
TABLE_MIN_PROB = 0.5
# The detector reads each CC-CEDICT entry's glosses from this many senses (the aligner reads 6): a sense
# further down often holds the word a translation uses (基准: norm, standard, ... benchmark). Swept on
# the tune halves (docs/evaluate.md, "More senses, and names by their sound").
GLOSS_SENSES = 8


@dataclass(frozen=True)
class OmissionConfig:
    """Knobs of the detector; the defaults were tuned on the first half of each dev set (docs/evaluate.md)."""

    drop_cost: float = 4.0  # cost of leaving a source sentence untranslated (higher = fewer "dropped")
    add_cost: float = 2.0  # cost of a translation unit that belongs to no source sentence
    unit_weight: float = 0.5  # weight of the units' own words (explained by the source) against the source's
    length_weight: float = 1.0  # weight of the Gale-Church length mismatch of a stretch
    cut_cost: float = 1.0  # a stretch that starts inside a translated sentence
    merge_cost: float = 4.0  # per extra source sentence sharing one stretch
    band: int = 40  # units either side of the sentence aligner's path that the search may use
    smoothing: float = 3.0  # pseudo-counts pulling a word kind's hit rate towards the average
    min_hit_rate: float = 0.2  # floor of the average hit rate (a poor dictionary still counts for something)
    max_gain: float = 6.0  # cap on the evidence of one found word (log-likelihood ratio)
    max_miss: float = 8.0  # cap on the evidence of a sentence's missing dictionary words together
    partial_threshold: float = 2.375  # partial when the log-odds that a clause was cut exceed minus this (partial.py)
    partial_min_words: int = 3  # words a missing clause misses at least (and a clause judged on its own has)
    partial_threshold_ref: float = 2.625  # the same with a reference (its own models; tune halves)

    @classmethod
    def from_params(cls, om) -> "OmissionConfig":
        """From the typed ``evaluate.omission`` record (booktrans.params.OmissionParams)."""
        return cls(
            drop_cost=om.drop_cost,
            partial_threshold=om.partial_threshold,
            partial_threshold_ref=om.partial_threshold_ref,
        )
