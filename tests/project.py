"""The project's defaults for the tests: the repository's params.yaml read through booktrans.params, and the
library records built from it the way the stages build them (``X.from_params``). The library records carry
no defaults of their own (each default is written once, in params.yaml), so a test takes these and changes
only what it is about: ``train_config(context=128, max_steps=2)``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from booktrans import params as _params

ROOT = Path(__file__).resolve().parents[1]
P = _params.load(ROOT / "params.yaml")


def train_config(round_name: str = "r1", **changes):
    """Round ``round_name``'s TrainConfig (booktrans.train.TrainConfig) with ``changes``."""
    from booktrans.train.config import TrainConfig

    return replace(TrainConfig.from_params(P, round_name), **changes)


def train_keywords(round_name: str = "r1", **changes) -> dict:
    """``train_config(...)`` as TrainConfig keywords (what a training job file carries)."""
    from dataclasses import asdict

    return asdict(train_config(round_name, **changes))


def checkpoint_select(round_name: str = "r1", **changes):
    """Round ``round_name``'s checkpoint choice (booktrans.train.select.SelectConfig) with ``changes``."""
    from booktrans.train.select import SelectConfig

    return replace(SelectConfig.from_params(P, round_name), **changes)


def translate_config(context: int, max_new_tokens: int = 0, **changes):
    """translate: as a TranslateConfig for a model of ``context`` tokens, with ``changes``."""
    from booktrans.translate import TranslateConfig

    return replace(TranslateConfig.from_params(P.translate, context, max_new_tokens), **changes)


def dataset_config(round_name: str = "r1", **changes):
    """Round ``round_name``'s DatasetConfig (booktrans.dataset) with ``changes``."""
    from booktrans.dataset import DatasetConfig

    return replace(DatasetConfig.from_params(P, round_name), **changes)


def proofread_select(**changes):
    """proofread: as the proofreading SelectConfig (booktrans.proofread.select) with ``changes``."""
    from booktrans.proofread.select import SelectConfig

    return replace(SelectConfig.from_params(P.proofread, P.seed), **changes)


def review_sample(**changes):
    """review: as a SampleConfig (booktrans.review) with ``changes``."""
    from booktrans.review import SampleConfig

    return replace(SampleConfig.from_params(P.review, P.seed), **changes)


def book_eval(**changes):
    """evaluate: as a BookEvalConfig (booktrans.evaluate.book) with ``changes``."""
    from booktrans.evaluate.scoring import RoundEvalConfig

    return replace(RoundEvalConfig.from_params(P.evaluate).book, **changes)


def hardware(**changes):
    """plan: as a Hardware (booktrans.train.plan) with ``changes`` (``gpus``, the DeepSpeed fields, ...)."""
    from booktrans.train.plan import Hardware

    return Hardware.from_plan(P.plan, **changes)


def align_filters(**changes):
    """align.filters as a FilterConfig (booktrans.align) with ``changes``."""
    from booktrans.align import FilterConfig

    return replace(FilterConfig.from_params(P.align.filters), **changes)


def align_args(**changes) -> dict:
    """The keywords the align stage gives booktrans.align.align_book (``method``, ``filters``, ``bootstrap``
    from params ``align``), with ``changes``."""
    return {"method": P.align.method, "filters": align_filters(), "bootstrap": P.align.bootstrap, **changes}


def align_book(zh_paragraphs, en_paragraphs, **changes):
    """booktrans.align.align_book with the project's ``align`` params (``align_args``), ``changes`` on top."""
    from booktrans.align import align_book as _align_book

    return _align_book(zh_paragraphs, en_paragraphs, **align_args(**changes))


def ingest_options(**changes):
    """ingest: as IngestOptions (booktrans.ingest) with ``changes`` (``check_language``, ``chapter_pattern``, ...)."""
    from booktrans.ingest import IngestOptions

    return replace(IngestOptions.from_params(P.ingest), **changes)


def ingest_file(path, lang: str, **changes):
    """booktrans.ingest.ingest_file with ``ingest_options(**changes)``."""
    from booktrans.ingest import ingest_file as _ingest_file

    return _ingest_file(path, lang, ingest_options(**changes))
