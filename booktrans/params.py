"""The one way params reach the code: a typed, frozen record per section of params.yaml.

``load(path)`` reads a params file once and returns a :class:`Params`; stages, ``booktrans preflight``,
``booktrans plan`` and the other commands pass its records (``P.train``, ``P.rounds["r2"]``, ...) to the
library, which never reads params.yaml or a params dict itself.

Where the values come from. Every default is written once, in the project's ``params.yaml``, with a
comment. The package ships that same file (``booktrans/defaults.yaml`` is a link to ``../params.yaml`` in
the repository; a built wheel holds a copy of it), so the ``booktrans`` command has the project's
defaults even outside a checkout. A params file may leave out keys of the fixed sections: they take
the packaged value. Mappings whose keys the user names (``rounds``, ``translate.systems``,
``dataset.genre_weights``) and lists are taken whole from the file that gives them, never merged.

What is rejected, with the file and the key's full path: a key no record declares
(``params.yaml: train.bogus: unknown key``, ``rounds.r2.lerning_rate: unknown key (did you mean
learning_rate?)``), a value of the wrong type (``rounds.r1.learning_rate: expected a number, got 'fast'``),
a key a record needs that neither the file nor the packaged defaults give, and a value outside a
fixed set of choices. A number spelt without a '.' (``1e-4``, text to PyYAML, a number to YAML 1.2
and DVC) is taken as the number. Profiles (``configs/*.yaml``, a ``params:`` mapping merged into params.yaml)
are checked the same way once merged (``booktrans.profile``).

Why a small reader over stdlib dataclasses rather than pydantic (in the lock only as another package's
dependency): the records are plain frozen dataclasses like the library's own (``IngestGates`` is both),
and the checks a user meets are worded for params.yaml (the full dotted path, the likely key for a
typo, YAML 1.1's on/off and 1e-4 pitfalls), which would need the same code around pydantic's errors.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .gates import AlignGates, IngestGates

_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
DEFAULTS = Path(__file__).with_name("defaults.yaml")  # the project's params.yaml, shipped with the package


def _opt(**kw) -> Any:
    """A key a file may leave out (None when absent; left out again by ``to_dict``)."""
    return field(default=None, metadata={"optional": True, **kw})


def _choice(*values: str) -> Any:
    return field(metadata={"choices": values})


@dataclass(frozen=True)
class TinyModel:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layers: int
    heads: int
    kv_heads: int
    max_positions: int


@dataclass(frozen=True)
class ModelParams:
    base: str
    context: int
    dtype: str = _choice("float32", "bfloat16", "float16")
    tiny: TinyModel


@dataclass(frozen=True)
class IngestParams:
    manifest: str
    roots: tuple[str, ...]
    on_error: str = _choice("fail", "skip")
    simplify: bool
    cache_dir: str
    max_paragraph_chars: int
    gates: IngestGates


@dataclass(frozen=True)
class AlignFilters:
    min_score: float
    score_min_chars: int
    min_ratio: float
    max_ratio: float
    ratio_min_chars: int


@dataclass(frozen=True)
class AlignParams:
    method: str = _choice("cedict", "model", "gale-church")
    model: str
    batch_size: int
    bootstrap: int
    cache_dir: str
    filters: AlignFilters
    gates: AlignGates


@dataclass(frozen=True)
class LeakageNgram:
    zh: int
    en: int


@dataclass(frozen=True)
class DatasetParams:
    en_zh_share: float
    min_beads: int
    genre_weights: dict[str, float]
    short_context: int
    near_duplicate_jaccard: float
    leakage_ngram: LeakageNgram


@dataclass(frozen=True)
class SelectBudget:
    chapters: int
    tokens: int


@dataclass(frozen=True)
class LoraParams:
    r: int
    alpha: int
    dropout: float
    target_modules: tuple[str, ...]
    trainable: tuple[str, ...]


@dataclass(frozen=True)
class TrainParams:
    launcher: str = _choice("python", "accelerate")
    accelerate_config: str
    method: str
    chain: str
    batch_size: int
    grad_accum: int
    scheduler: str
    warmup_ratio: float
    packing: bool
    gradient_checkpointing: bool
    attn_implementation: str
    loss: str
    loss_chunk: int
    liger: str
    rope_scaling: dict | None
    sequence_parallel: int
    save_steps: float
    keep_checkpoints: bool
    checkpoint_dir: str
    select: str
    select_budget: SelectBudget
    lora: LoraParams


# train keys a round may set for itself (rounds.rN.<key>); the others hold for every round
ROUND_OVERRIDES = (
    "accelerate_config",
    "method",
    "chain",
    "batch_size",
    "grad_accum",
    "scheduler",
    "warmup_ratio",
    "packing",
    "gradient_checkpointing",
    "attn_implementation",
    "loss",
    "loss_chunk",
    "liger",
    "rope_scaling",
    "sequence_parallel",
    "save_steps",
    "select",
)


@dataclass(frozen=True)
class RoundParams:
    context: int
    init: str
    learning_rate: float
    epochs: float
    max_steps: int
    max_docs: int
    max_chars: int
    short_share: float
    sparse_attention: Any = _opt()  # a mapping, checked by booktrans.train.sparse.parse (kind and its numbers)
    # the round's own value of a train key (absent = train's)
    accelerate_config: str | None = _opt()
    method: str | None = _opt()
    chain: str | None = _opt()
    batch_size: int | None = _opt()
    grad_accum: int | None = _opt()
    scheduler: str | None = _opt()
    warmup_ratio: float | None = _opt()
    packing: bool | None = _opt()
    gradient_checkpointing: bool | None = _opt()
    attn_implementation: str | None = _opt()
    loss: str | None = _opt()
    loss_chunk: int | None = _opt()
    liger: str | None = _opt()
    rope_scaling: dict | None = _opt()
    sequence_parallel: int | None = _opt()
    save_steps: float | None = _opt()
    select: str | None = _opt()


@dataclass(frozen=True)
class TranslateParams:
    rounds: tuple[str, ...]
    directions: tuple[str, ...]
    engine: str = _choice("transformers", "vllm", "auto")
    batch_size: int
    source_share: float
    carry_share: float
    max_new_factor: float
    max_paragraphs: int
    repetition_penalty: float
    tiny_max_new_tokens: int
    systems: dict  # checked by booktrans.translate.systems


@dataclass(frozen=True)
class OmissionParams:
    drop_cost: float
    partial_threshold: float
    partial_threshold_ref: float
    table_min_prob: float


@dataclass(frozen=True)
class CometParams:
    checkpoint: str
    batch_size: int


@dataclass(frozen=True)
class EvaluateParams:
    position_bins: int
    omission: OmissionParams
    comet: CometParams


@dataclass(frozen=True)
class CompareParams:
    resamples: int
    seed: int
    unit: str = _choice("chapter")
    alpha: float


@dataclass(frozen=True)
class Criterion:
    name: str
    metric: str
    at_most: float | None = _opt()
    at_least: float | None = _opt()
    against: str | None = _opt()
    margin: float | None = _opt()
    significant: bool | None = _opt()
    direction: str | None = _opt()

    def as_dict(self) -> dict:
        """The criterion as booktrans.evaluate.decision reads it: only the keys given."""
        return {k: v for k, v in _to_dict(self).items()}


@dataclass(frozen=True)
class DecisionParams:
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class ReviewParams:
    rounds: tuple[str, ...]
    per_band: int
    passage_segments: int


@dataclass(frozen=True)
class PlanParams:
    model_config: str | None
    gpus: int
    gpu_memory_gib: float
    peak_tflops: float
    mfu: float
    price_per_hour: float
    overhead_gib: float
    fragmentation: float
    label_share: float


@dataclass(frozen=True)
class ProofreadParams:
    doubtful: int
    sample: int
    context: int


@dataclass(frozen=True)
class Params:
    seed: int
    model: ModelParams
    ingest: IngestParams
    align: AlignParams
    dataset: DatasetParams
    train: TrainParams
    rounds: dict[str, RoundParams]
    translate: TranslateParams
    evaluate: EvaluateParams
    compare: CompareParams
    decision: DecisionParams
    review: ReviewParams
    plan: PlanParams
    proofread: ProofreadParams
    source: str = field(default="params.yaml", compare=False, metadata={"internal": True})  # the file, for messages

    def round_train(self, name: str) -> TrainParams:
        """train.* with round ``name``'s own values (rounds.<name>.<key>) in place."""
        if name not in self.rounds:
            have = ", ".join(self.rounds) or "none"
            raise ConfigError(f"{self.source}: no round {name!r} under rounds (have: {have})")
        r = self.rounds[name]
        own = {k: getattr(r, k) for k in ROUND_OVERRIDES if getattr(r, k) is not None}
        return dataclasses.replace(self.train, **own)


# ---------------------------------------------------------------------------------------------------
# reading and checking


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _public(cls) -> list:
    return [f for f in fields(cls) if not f.metadata.get("internal")]


def _type_name(tp) -> str:
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is str:
        return "text"
    return "a mapping" if (tp is dict or typing.get_origin(tp) is dict or is_dataclass(tp)) else "a list"


def _shown(value) -> str:
    return f"{value!r} ({type(value).__name__ if value is not None else 'null'})"


def _convert(tp, value, path: str, errors: list[str]):
    """``value`` as type ``tp``; a wrong value adds a line to ``errors`` (and returns None)."""
    if tp is Any:
        return copy.deepcopy(value)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, path, errors)
    if is_dataclass(tp):
        return _record(tp, value, path, errors)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            # 1e-4 and 5e-05 are numbers to YAML 1.2 (and to DVC) but text to PyYAML's YAML 1.1: a
            # profile written by ruamel (booktrans profile apply) spells small rates that way
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            errors.append(
                f"{path}: expected text, got {_shown(value)}: YAML reads on/off/yes/no as true/false; "
                f"quote the word ('{'on' if value else 'off'}')"
            )
            return None
    elif tp is dict or origin is dict:
        if isinstance(value, dict):
            if origin is dict:
                _, vt = typing.get_args(tp)
                return {str(k): _convert(vt, v, f"{path}.{k}", errors) for k, v in value.items()}
            return copy.deepcopy(value)
    elif origin is tuple:
        if isinstance(value, list | tuple):
            et = typing.get_args(tp)[0]
            return tuple(_convert(et, v, f"{path}[{k}]", errors) for k, v in enumerate(value))
    else:  # pragma: no cover - a record declared with a type this reader does not know
        raise TypeError(f"{path}: unsupported type {tp}")
    errors.append(f"{path}: expected {_type_name(tp)}, got {_shown(value)}")
    return None


def _record(cls, data, path: str, errors: list[str]):
    where = path or "the file"
    if not isinstance(data, dict):
        errors.append(f"{where}: expected a mapping, got {_shown(data)}")
        return None
    hints = _hints(cls)
    known = [f.name for f in _public(cls)]
    for key in data:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            errors.append(f"{path + '.' if path else ''}{key}: unknown key{hint}")
    values = {}
    for f in _public(cls):
        dotted = f"{path}.{f.name}" if path else f.name
        if f.name not in data:
            if not f.metadata.get("optional"):
                errors.append(f"{dotted}: missing")
            values[f.name] = None
            continue
        value = _convert(hints[f.name], data[f.name], dotted, errors)
        choices = f.metadata.get("choices")
        if choices and value is not None and value not in choices:
            errors.append(f"{dotted}: {value!r} is not one of {', '.join(choices)}")
        values[f.name] = value
    return cls(**values)


def _overlay(cls, base: dict, top: dict) -> dict:
    """``top`` over ``base``: the keys of fixed records are merged one by one, everything else replaced."""
    if not isinstance(base, dict) or not isinstance(top, dict):
        return top
    out = dict(base)
    hints = _hints(cls)
    for key, value in top.items():
        tp = hints.get(key)
        if tp is not None and is_dataclass(tp) and isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _overlay(tp, base[key], value)
        else:
            out[key] = value
    return out


def check_names(p: Params) -> None:
    """Checks between sections (``booktrans preflight``): every round named exists, outside systems and
    decision criteria are well formed. Raises ConfigError naming the file and every problem."""
    errors: list[str] = []
    _cross_checks(p, errors)
    if errors:
        raise ConfigError(_message(p.source, errors))


def _message(source: str, errors: list[str]) -> str:
    head = errors[0] if len(errors) == 1 else f"{len(errors)} problems:\n  " + "\n  ".join(errors)
    return f"{source}: {head}"


def _cross_checks(p: Params, errors: list[str]) -> None:
    from .errors import BooktransError

    for name, r in p.rounds.items():
        if r.init != "r0" and r.init not in p.rounds:
            errors.append(f"rounds.{name}.init: {r.init!r} is neither r0 nor a round")
    for k, r in enumerate(p.translate.rounds):
        if r != "r0" and r not in p.rounds:
            errors.append(f"translate.rounds[{k}]: {r!r} is not in rounds")
    for k, r in enumerate(p.review.rounds):
        if r not in p.translate.rounds:
            errors.append(f"review.rounds[{k}]: {r!r} is not in translate.rounds")
    try:
        from .translate.systems import parse_systems

        parse_systems(p.translate.systems, list(p.translate.rounds) + list(p.rounds))
    except BooktransError as exc:
        errors.append(str(exc))
    try:
        from .evaluate.decision import check_criteria

        check_criteria([c.as_dict() for c in p.decision.criteria], list(p.translate.rounds) + list(p.translate.systems))
    except BooktransError as exc:
        errors.append(str(exc).removeprefix("params.yaml "))


def from_dict(data: dict, source: str = "params.yaml", *, defaults: bool = True) -> Params:
    """A checked :class:`Params` from a parsed params mapping (over the packaged defaults unless
    ``defaults`` is false). Raises ConfigError naming ``source`` and every wrong key."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of sections (seed, model, train, rounds, ...), got {_shown(data)}"
        )
    merged = _overlay(Params, default_dict(), data) if defaults else data
    errors: list[str] = []
    p = _record(Params, merged, "", errors)
    if errors:
        raise ConfigError(_message(source, errors))
    return _with_source(p, source)


def _with_source(p: Params, source: str) -> Params:
    return dataclasses.replace(p, source=source)


def read_yaml(path: str | Path) -> dict:
    """A params file's mapping, with a clear error for a missing or unreadable file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such params file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return data if data is not None else {}


def load(path: str | Path = "params.yaml", profiles: list[str | Path] | tuple = ()) -> Params:
    """The params of ``path`` (over the packaged defaults), with each profile's ``params:`` merged in
    order (configs/*.yaml; the file itself is not changed)."""
    data = read_yaml(path)
    source = str(path)
    if profiles:
        from .profile import merged_params

        for prof in profiles:
            data = merged_params(Path(prof), data)
        source = f"{path} + {' + '.join(map(str, profiles))}"
    return from_dict(data, source)


@lru_cache(maxsize=1)
def _default_text() -> str:
    try:
        return DEFAULTS.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{DEFAULTS}: the packaged params defaults are missing (a broken install)") from None


def default_dict() -> dict:
    """The packaged params.yaml as a plain mapping (a fresh copy)."""
    return copy.deepcopy(_parsed_defaults())


@lru_cache(maxsize=1)
def _parsed_defaults() -> dict:
    return yaml.safe_load(_default_text()) or {}


def defaults() -> Params:
    """The packaged params (the project's params.yaml as shipped)."""
    return from_dict(default_dict(), str(DEFAULTS), defaults=False)


def for_commands() -> Params:
    """The params the ``booktrans`` commands take their defaults from: ./params.yaml when the command
    runs in a project (a checkout, with its own changes), else the packaged ones."""
    here = Path("params.yaml")
    return load(here) if here.is_file() else defaults()


def _to_dict(record) -> dict:
    out = {}
    for f in _public(type(record)):
        value = getattr(record, f.name)
        if value is None and f.metadata.get("optional"):
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value):
    if is_dataclass(value):
        return _to_dict(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_dict(p) -> dict:
    """A record (or the whole Params) as the plain mapping params.yaml holds; ``from_dict`` reads it back."""
    return _to_dict(p)
