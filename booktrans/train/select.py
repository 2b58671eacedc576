"""Checkpoint selection inside a round (``train.select``, per round ``rounds.rN.select``).

A round that selects keeps every checkpoint it saves (build/checkpoints/<round>/..., outside DVC).
Once training has finished and every training process has exited (so no rank ever waits on the
scoring), one process turns each checkpoint into a model folder of the same form as the round's
output (``materialize``), translates the validation books (``split: valid``) with it under a fixed
budget (the first chapters, or the first source tokens, of each book and direction), scores the
translations with the evaluate stage's own functions (chrF with sacrebleu, the omission detector's
dropped-sentence rate, the length ratio) and puts the best one by the criterion at ``models/rN``:

- ``last``: no scoring; the final weights stay (what every round did before);
- ``chrf``: highest chrF (mean over directions), ties to the later step;
- ``omission``: lowest dropped-sentence rate (source sentences of every direction together), ties
  by chrF, then the later step.

``reports/train/<round>-checkpoints.json`` lists every checkpoint's step and scores (a DVC plot);
the chosen model's booktrans.json records the step, the criterion and its scores under
``extra.selection``. A round without validation books logs that once and keeps the last weights.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import BooktransError
from ..io import replace_dir, write_json
from ..model.store import base_config, read_info, write_info
from .config import CRITERIA, check_select  # noqa: F401 (the checks live with the other config checks)

log = logging.getLogger(__name__)

# what a checkpoint folder holds besides the model (optimizer and scheduler state, DeepSpeed shards)
_NOT_MODEL = {"optimizer.pt", "scheduler.pt", "trainer_state.json", "training_args.bin", "latest", "zero_to_fp32.py"}


@dataclass(frozen=True)
class ValidBook:
    """A validation book: its ingested paragraphs per language and its aligned beads (the reference)."""

    id: str
    paragraphs: dict  # lang -> [paragraph dicts] (data/text/<id>.<lang>.jsonl)
    beads: list  # data/aligned/<id>.jsonl


@dataclass(frozen=True)
class SelectConfig:
    """How a round's checkpoint is chosen. No field has a default here (the values live in params.yaml):
    build it with :meth:`from_params`, change a value with ``dataclasses.replace``."""

    criterion: str  # train.select: last | chrf | omission
    chapters: int  # first chapters of each book and direction (0 = no chapter cap)
    tokens: int  # source tokens (the round's tokenizer) per book and direction (0 = no cap)
    directions: tuple[str, ...]
    translate: object  # the typed translate record (booktrans.params.TranslateParams); needed to score
    tiny_max_new_tokens: int  # output cap for the tiny demo model (translate.tiny_max_new_tokens)
    position_bins: int  # evaluate.position_bins
    dtype: str
    seed: int

    @classmethod
    def from_params(cls, params, round_name: str) -> "SelectConfig":
        """Round ``round_name``'s choice from the typed params (booktrans.params.Params)."""
        t, tr = params.round_train(round_name), params.translate
        return cls(
            criterion=t.select,
            chapters=t.select_budget.chapters,
            tokens=t.select_budget.tokens,
            directions=tuple(tr.directions),
            translate=tr,
            tiny_max_new_tokens=tr.tiny_max_new_tokens,
            position_bins=params.evaluate.position_bins,
            dtype=params.model.dtype,
            seed=params.seed,
        )


def budget_paragraphs(paragraphs: list[dict], count, chapters: int, tokens: int) -> list[dict]:
    """The start of a book within the budget: its first ``chapters`` chapters, then paragraphs while the
    source tokens stay within ``tokens`` (always at least one paragraph). 0 = no cap of that kind."""
    out, seen, used = [], [], 0
    for p in paragraphs:
        ch = p.get("chapter")
        if ch not in seen:
            if chapters and len(seen) >= chapters:
                break
            seen.append(ch)
        n = count(p["text"])
        if tokens and out and used + n > tokens:
            break
        out.append(p)
        used += n
    return out


def saved_checkpoints(checkpoints: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint the Trainer finished writing, by step."""
    if not Path(checkpoints).is_dir():
        return []
    found = [
        (int(p.name.split("-")[1]), p)
        for p in Path(checkpoints).glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return sorted(found)


def materialize(checkpoint: Path, dest: Path, init_dir: Path, cfg, round_name: str) -> None:
    """A model folder like the round's output, from one saved checkpoint: the checkpoint's weights
    (the adapter, or the 16-bit weights DeepSpeed gathered on save) without optimizer state, finished
    as the round's output is (booktrans.json, adapter merged when the round merges)."""
    from ..model import load_tokenizer
    from . import config as _config
    from .output import finish_output

    init = read_info(init_dir)
    continued = cfg.method in ("lora", "qlora") and cfg.chain == "continue" and init.kind == "adapter"
    spec = _config.sparse_spec(cfg, round_name, base_config(init_dir))
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for p in sorted(Path(checkpoint).iterdir()):
        if p.is_file() and p.name not in _NOT_MODEL and not p.name.startswith("rng_state"):
            shutil.copy2(p, dest / p.name)
    if cfg.method == "full" and not any(dest.glob("*.safetensors")) and not any(dest.glob("*.bin")):
        raise BooktransError(
            f"round {round_name}: {checkpoint} holds no model weights (under ZeRO-3 the config must "
            f"set stage3_gather_16bit_weights_on_model_save: true); cannot score it"
        )
    finish_output(dest, init_dir, init, cfg, round_name, continued, load_tokenizer(init_dir), spec)


def score_model(model_dir: Path, books: list[ValidBook], sc: SelectConfig, omission_cfg=None, translator=None) -> dict:
    """Translate the validation books with ``model_dir`` within the budget and score them: per
    direction (``<src>-<tgt>_chrf`` ...) chrF, omission (dropped-sentence) rate, length ratio and the
    source sentences and tokens scored, and the overall numbers the
    criteria compare (chrF averaged over directions, omission rate over all source sentences, length
    ratio weighted by source sentences)."""
    from ..evaluate import corpus_scores
    from ..evaluate.book import BookEvalConfig, evaluate_book
    from ..evaluate.omission import OmissionConfig
    from ..translate import TranslateConfig
    from ..translate.engines import is_tiny, local_context, local_tokenizer, open_local_engine, token_counter
    from ..translate.parts import chapter_units, rows_of
    from ..translate.schedule import translate_units

    tok = local_tokenizer(model_dir)
    cap = sc.tiny_max_new_tokens if is_tiny(model_dir) else 0
    tcfg = TranslateConfig.from_params(sc.translate, local_context(model_dir), cap)
    count = token_counter(tok)
    engine = open_local_engine(model_dir, "transformers", tok, tcfg.context, sc.dtype, tcfg.repetition_penalty, sc.seed)
    ecfg = BookEvalConfig(position_bins=sc.position_bins, omission=omission_cfg or OmissionConfig())
    directions, all_src, all_drop, ratio_w = {}, 0, 0.0, []
    for direction in sc.directions:
        src, tgt = direction.split("-")
        sources = {b.id: budget_paragraphs(b.paragraphs[src], count, sc.chapters, sc.tokens) for b in books}
        units = [u for b in books for u in chapter_units(b.id, direction, sources[b.id], count, tcfg)]
        rows = rows_of(units, translate_units(engine, units, tcfg, count))
        hyps, refs, n_src, dropped, ratios, tokens = [], [], 0, 0.0, [], 0
        for b in books:
            ev = evaluate_book(
                rows[b.id],
                sources[b.id],
                b.beads,
                src,
                tgt,
                f"{b.id}.{direction} (validation)",
                cfg=ecfg,
                translator=translator,
            )
            hyps += [s["mt"] for s in ev["segments"]]
            refs += [s["ref"] for s in ev["segments"]]
            m = ev["metrics"]
            n_src += m["source_sentences"]
            dropped += m["omission_rate"] * m["source_sentences"]
            if m["length_ratio"] is not None:
                ratios.append((m["length_ratio"], m["source_sentences"]))
            tokens += sum(count(p["text"]) for p in sources[b.id])
        chrf = corpus_scores(hyps, refs, tgt)["chrf"] if hyps else 0.0
        ratio = (
            round(sum(r * w for r, w in ratios) / sum(w for _, w in ratios), 4)
            if ratios and sum(w for _, w in ratios)
            else None
        )
        directions[direction] = {
            "chrf": chrf,
            "omission_rate": round(dropped / n_src, 4) if n_src else 0.0,
            "length_ratio": ratio,
            "source_sentences": n_src,
            "source_tokens": tokens,
        }
        all_src += n_src
        all_drop += dropped
        if ratio is not None:
            ratio_w.append((ratio, n_src))
    del engine  # one checkpoint's weights at a time on the device
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {
        "chrf": round(sum(d["chrf"] for d in directions.values()) / len(directions), 4),
        "omission_rate": round(all_drop / all_src, 4) if all_src else 0.0,
        "length_ratio": round(sum(r * w for r, w in ratio_w) / sum(w for _, w in ratio_w), 4)
        if ratio_w and sum(w for _, w in ratio_w)
        else None,
        # flat keys (zh-en_chrf, ...), as DVC plots read the rows of reports/train/<round>-checkpoints.json
        **{f"{d}_{k}": v for d, m in directions.items() for k, v in m.items()},
    }


def rank_key(row: dict, criterion: str) -> tuple:
    """Smaller is better: chrf = highest chrF, then the later step; omission = lowest dropped rate,
    then highest chrF, then the later step."""
    if criterion == "omission":
        return (row["omission_rate"], -row["chrf"], -row["step"])
    return (-row["chrf"], -row["step"])


def select_round(
    out_dir: Path,
    init_dir: Path,
    checkpoints: Path,
    cfg,
    round_name: str,
    books: list[ValidBook],
    sc: SelectConfig,
    report: Path,
    omission_cfg=None,
    translator=None,
    *,
    final_step: int,
) -> dict:
    """Score every checkpoint of the round (and the final weights at ``out_dir``), put the best by
    ``sc.criterion`` at ``out_dir``, write ``report`` and record the choice in the model's
    booktrans.json. Runs in one process after training. Returns the report."""
    out_dir, init_dir = Path(out_dir), Path(init_dir)
    final_step = int(final_step)
    steps = [] if sc.criterion == "last" else [(s, p) for s, p in saved_checkpoints(checkpoints) if s != final_step]
    reason = None
    if sc.criterion == "last":
        reason = "criterion last: the final weights are kept unscored"
    elif not books:
        reason = "no validation books (split: valid in the manifest): the last checkpoint is kept"
        log.warning("round %s: %s", round_name, reason)
    rows: list[dict] = []
    if reason:
        rows = [{"step": s, "chrf": None, "omission_rate": None, "length_ratio": None} for s, _ in steps]
        rows.append({"step": final_step, "chrf": None, "omission_rate": None, "length_ratio": None})
        chosen = {"step": final_step}
    else:
        candidates = {}
        try:
            for step, folder in steps:
                dest = out_dir.with_name(f".{out_dir.name}.step-{step}")
                materialize(folder, dest, init_dir, cfg, round_name)
                candidates[step] = dest
            candidates[final_step] = out_dir
            for step in sorted(candidates):
                log.info("round %s: scoring step %d on %d validation book(s)", round_name, step, len(books))
                scores = score_model(candidates[step], books, sc, omission_cfg, translator)
                rows.append({"step": step, **scores})
                log.info(
                    "round %s step %d: chrF %.2f, dropped %.1f%%, length ratio %s",
                    round_name,
                    step,
                    scores["chrf"],
                    100 * scores["omission_rate"],
                    scores["length_ratio"],
                )
            chosen = min(rows, key=lambda r: rank_key(r, sc.criterion))
            if candidates[chosen["step"]] != out_dir:
                replace_dir(candidates[chosen["step"]], out_dir)
        finally:
            for dest in candidates.values():
                if dest != out_dir and dest.exists():
                    shutil.rmtree(dest)
    selection = {
        "criterion": sc.criterion,
        "step": chosen["step"],
        "final_step": final_step,
        "scores": None if reason else {k: v for k, v in chosen.items() if k != "step"},
    }
    if reason:
        selection["reason"] = reason
    if not reason:
        selection["budget"] = {"chapters": sc.chapters, "tokens": sc.tokens, "books": sorted(b.id for b in books)}
    info = read_info(out_dir)
    info.extra["selection"] = selection
    write_info(out_dir, info)
    doc = {"round": round_name, "criterion": sc.criterion, "chosen_step": chosen["step"], "checkpoints": rows}
    if reason:
        doc["reason"] = reason
    write_json(report, doc)
    if not reason:
        log.info(
            "round %s: step %d chosen by %s (of steps %s)",
            round_name,
            chosen["step"],
            sc.criterion,
            ", ".join(str(r["step"]) for r in rows),
        )
    return doc
