"""Text utilities shared by every stage: normalisation, sentence segmentation, chapter headings,
language identification and length units."""

from .lang import detect_lang, length
from .normalize import normalize
from .segment import split_sentences

__all__ = ["normalize", "split_sentences", "detect_lang", "length"]
