"""Each default is written once, in params.yaml: a library record (a dataclass in booktrans/) whose field is a
params key has no default of its own; it is built from the typed params (``X.from_params``)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing

import booktrans
from booktrans import params as bp

# fields whose name is a params key but which mean something else: the default may stay
OTHER_MEANING = {
    ("booktrans.align.sentalign.AlignConfig", "skip"): "the cost of a 1-0 or 0-1 bead, not align.gates.skip",
    ("booktrans.evaluate.omission.api.LineCoverage", "margin"): "a coverage margin, not a decision criterion's",
    ("booktrans.model.store.ModelInfo", "base"): "the folder a model was trained from, not model.base",
    ("booktrans.report.build.ReportInputs", "rounds"): "a report input's path",
    ("booktrans.report.build.ReportInputs", "align"): "a report input's path",
    ("booktrans.report.build.ReportInputs", "compare"): "a report input's path",
    # a system's own optional keys under translate.systems (mappings the user names, no packaged default)
    ("booktrans.translate.systems.System", "model"): "translate.systems.<name>.model, optional",
    ("booktrans.translate.systems.System", "context"): "translate.systems.<name>.context, optional",
    ("booktrans.translate.systems.System", "directions"): "translate.systems.<name>.directions, optional",
}
# the omission detector's public entry points keep their signatures (issue 23: ``source_coverage(..., cfg=None)``
# judges with the tuned knobs), so its record keeps defaults; they must agree with params.yaml's evaluate.omission
PUBLIC_API = {
    ("booktrans.evaluate.omission.config.OmissionConfig", f)
    for f in ("drop_cost", "partial_threshold", "partial_threshold_ref")
}
# records built from params whose defaults are the library's own knobs, which params.yaml does not hold
KNOBS = {
    "booktrans.train.config.TrainConfig": {"extra"},
    "booktrans.proofread.select.SelectConfig": {
        "min_chars",
        "score_z",
        "ratio_z",
        "boundary",
        "boundary_gain",
        "boundary_length",
        "boundary_strength",
        "boundary_scale",
    },
    "booktrans.evaluate.book.BookEvalConfig": {"ngram"},
    "booktrans.train.plan.Hardware": {
        "zero_stage",
        "deepspeed",
        "reduce_bucket",
        "allgather_bucket",
        "max_live_parameters",
    },
    "booktrans.translate.TranslateConfig": set(),
    "booktrans.train.select.SelectConfig": set(),
    "booktrans.review.SampleConfig": set(),
    "booktrans.dataset.DatasetConfig": set(),
    "booktrans.model.tiny.TinyConfig": set(),
}


def _params_values(record_type, data: dict, out: dict[str, list]) -> dict[str, list]:
    """Every key of the fixed records (``train.lora.r`` -> ``r``) with the values params.yaml gives it."""
    hints = typing.get_type_hints(record_type)
    for f in dataclasses.fields(record_type):
        if f.metadata.get("internal"):
            continue
        value = data.get(f.name) if isinstance(data, dict) else None
        out.setdefault(f.name, []).append(value)
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            _params_values(tp, value or {}, out)
        elif typing.get_origin(tp) is dict and dataclasses.is_dataclass(typing.get_args(tp)[1]):
            for item in (value or {}).values():
                _params_values(typing.get_args(tp)[1], item, out)
        elif typing.get_origin(tp) is tuple and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            for item in value or ():
                _params_values(typing.get_args(tp)[0], item, out)
    return out


def _library_records() -> dict[str, type]:
    records = {}
    for info in pkgutil.walk_packages(booktrans.__path__, "booktrans."):
        if info.name == "booktrans.params":
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == info.name:
                records[f"{info.name}.{obj.__qualname__}"] = obj
    return records


def _defaults(record) -> dict:
    out = {}
    for f in dataclasses.fields(record):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def test_no_library_record_repeats_a_params_default():
    values = _params_values(bp.Params, bp.default_dict(), {})
    records = _library_records()
    assert "booktrans.train.config.TrainConfig" in records and "booktrans.train.plan.Hardware" in records
    repeated, drifted = [], []
    for name, record in records.items():
        for field, default in _defaults(record).items():
            if field not in values or (name, field) in OTHER_MEANING:
                continue
            if (name, field) in PUBLIC_API:
                if default not in values[field]:
                    drifted.append(f"{name}.{field} = {default!r}, params.yaml says {values[field]!r}")
            else:
                repeated.append(f"{name}.{field} = {default!r} (params.yaml: {field})")
    assert not repeated, "defaults written in the library as well as in params.yaml:\n  " + "\n  ".join(repeated)
    assert not drifted, "library defaults that disagree with params.yaml:\n  " + "\n  ".join(drifted)
    stale = [
        k for k in OTHER_MEANING.keys() | PUBLIC_API if k[0] not in records or k[1] not in _defaults(records[k[0]])
    ]
    assert not stale, f"allowances for defaults that no longer exist (remove them): {stale}"


def test_records_built_from_params_keep_only_their_own_knobs():
    """A field renamed from its params key (``lora_r`` for train.lora.r) is caught here: a record the stages
    build from params may default only the knobs params.yaml does not hold."""
    values = _params_values(bp.Params, bp.default_dict(), {})
    records = _library_records()
    for name, knobs in KNOBS.items():
        assert set(_defaults(records[name])) == knobs, name
        assert not knobs & set(values), f"{name}: {knobs & set(values)} are params keys"


# library entry points the stages (and the booktrans commands) call, with the parameters whose values come from
# params.yaml: they take them from their caller, never from a default of their own
ENTRY_POINTS = {
    "booktrans.align.align_book": {"method", "filters", "bootstrap"},
    "booktrans.align.sentalign.align_texts": {"bootstrap"},
    "booktrans.ingest.ingest_file": {"opts"},
    "booktrans.ingest.structure": {"opts"},
    "booktrans.translate.book.translate_book": {"ingest"},
    "booktrans.translate.systems.import_translation": {"ingest"},
    "booktrans.translate.run.translate_system": {"ingest"},
}


def test_entry_points_take_params_values_from_their_caller():
    import inspect

    with_default = []
    for name, wanted in ENTRY_POINTS.items():
        module, func = name.rsplit(".", 1)
        parameters = inspect.signature(getattr(importlib.import_module(module), func)).parameters
        assert wanted <= set(parameters), f"{name} lost {wanted - set(parameters)}"
        with_default += [
            f"{name}({p}={parameters[p].default!r})"
            for p in sorted(wanted)
            if parameters[p].default is not inspect.Parameter.empty
        ]
    assert not with_default, "entry points with a default of their own for a params value:\n  " + "\n  ".join(
        with_default
    )
