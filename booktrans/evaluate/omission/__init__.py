"""Which source sentences a translation leaves out: *dropped* sentences and *partial* ones.

Two measures, reported apart (docs/evaluate.md):

- **dropped** — a source sentence whose content is absent from the translation. This is the
  shrinkage the project fears and the headline omission rate (``LineCoverage.omitted``).
- **partial** — a sentence that is translated, but one of its clauses is missing from that
  translation (``LineCoverage.partial``).

How a source sentence is judged:

1. **Units.** Each translation line is split into sentences (the project's splitter), those again
   after any sentence-final mark left inside them, and each piece into clauses (at commas, semicolons
   and colons, and before an opening bracket that follows text); these *units* are what source
   sentences are aligned to, so a source sentence dropped between two others whose translations were
   merged into one sentence leaves no unit of its own.
2. **Words and evidence.** Source sentences and units become words with match keys. Across the
   languages the keys come from the injected *translator* (any ``lexicon.Translator``: the bag of
   English stems of each Chinese word; CC-CEDICT's ``CedictGlosser(GLOSS_SENSES, join_unknown=True)``
   by default, which reads each entry's first ``GLOSS_SENSES`` senses and keeps an idiom or name the
   dictionary lacks as one word where jieba reads one, and a foreign name written by its sound as one
   word matched by its sound (``align.names``: 卡赫拉曼马拉什 = Kahramanmaras); the evaluate
   stage hands in ``table_translator(table)``: the same plus the align stage's learned lexical table,
   whose entries count from ``TABLE_MIN_PROB``), from numbers ("2 million" = 200万, "December 26"
   = 12月26日) and from names (pinyin of Chinese characters against capitalised English words, and
   the sound skeletons of transliterated names against theirs).
   English stems are compared by their first letters (``canon``). With a reference translation, each
   source sentence also gets the words of its reference (English content stems, or Chinese character
   pairs) and units are matched against them within one language, which is far stronger evidence
   than a dictionary.
   A word found in a stretch of units is evidence that the sentence is translated there, a word not
   found evidence against it; each counts as a log-likelihood ratio of ``p`` (how often a word of
   its kind is found in its own translation, learnt from the input itself: from the pairs the
   project's sentence aligner is sure of, leaving the sentence being judged out, smoothed towards
   the average) against ``q`` (how often it is found by chance, from its frequency among the units).
   Missing dictionary words count together at most ``max_miss``: a sentence translated in part
   misses its words together, not one by one.
3. **Alignment.** A monotone dynamic programme gives each source sentence a stretch of consecutive
   units: usually one or more units of its own, possibly none (dropped), or one unit shared by two or
   three short sentences; a unit belongs to at most one stretch (none: an addition). The cost of
   a stretch is minus the evidence of its source words and of its units' words, plus the
   Gale-Church length mismatch (ratio and variance measured on the input's one-to-one pairs), plus
   ``cut_cost`` when the stretch starts inside a translated
   sentence; a dropped sentence costs ``drop_cost``, an added unit ``add_cost``. The search runs in
   a band of ``band`` units around the path of the project's sentence aligner, so its cost grows
   linearly with the text.
4. **Decision.** A forward and a backward pass give, for every source sentence, the cost of the best
   alignment that keeps it and of the best that drops it. Their difference is its *margin*. A
   sentence whose margin is below 0 is looked for near its place (``locate``): in text no sentence
   needs, in a neighbour's first or last units the neighbour does not need (moved sentences), and in
   a neighbour's boundary units shared with it (a sentence run into its neighbour without a mark).
   ``dropped`` when neither the margin nor that local evidence is positive; ``score`` is the
   probability that the sentence is translated (``calibrate``: 0.5 is the boundary).
5. **Partial.** A kept sentence is judged on the run of its consecutive words with the least
   evidence in its stretch (a cut clause takes a run of words away, wherever the source's commas
   fall), its worst clause, the share of its words missing, and the Gale-Church cost of the stretch
   being shorter than the source (with a reference, also shorter than the reference), and the
   stretch's words the sentence does not explain; a logistic model per source language fitted on the
   tune halves turns them into the log-odds that a clause was cut. Above ``-partial_threshold``
   (``-partial_threshold_ref`` with a reference; a Chinese source's model shifted by its own
   ``partial.SHIFT``), with at least
   ``partial_min_words`` words missing in the run, the sentence is partial and the clauses the run
   touches are its missing clauses.

The package follows those steps: ``units`` (1), ``words`` and ``evidence`` (2), ``search`` (3, 4),
``locate`` and ``calibrate`` (4), ``partial`` (5), ``api`` (the public ``source_coverage``), ``config``
(the knobs).
"""

from __future__ import annotations

from .api import Coverage, LineCoverage, align_references, source_coverage, table_translator
from .config import GLOSS_SENSES, TABLE_MIN_PROB, OmissionConfig
from .units import char_length, clauses, split_reference
from .words import canon, en_stems

_en_stems = en_stems  # the name the detector's callers knew before it became a package

__all__ = [
    "GLOSS_SENSES",
    "TABLE_MIN_PROB",
    "Coverage",
    "LineCoverage",
    "OmissionConfig",
    "align_references",
    "canon",
    "char_length",
    "clauses",
    "en_stems",
    "source_coverage",
    "split_reference",
    "table_translator",
]
