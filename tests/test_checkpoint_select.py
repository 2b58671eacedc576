"""Checkpoint selection inside a round (train.select): every checkpoint a round saves is translated on
the validation book (the sample's sky-blue, split: valid) within a fixed budget, scored with the
evaluate stage's chrF / omission / length ratio, and the best by the criterion becomes the round's
model. The tiny model's numbers mean nothing as quality; what is checked is which weights land in
the output and that the recorded scores are the ones those weights produce."""

import json
import logging
from pathlib import Path

import pytest
import yaml
from project import checkpoint_select, train_config
from safetensors.torch import load_file

from booktrans.errors import ConfigError
from booktrans.model import read_info
from booktrans.params import load
from booktrans.train import train_round, validate
from booktrans.train.select import SelectConfig, ValidBook, budget_paragraphs, score_model, select_round
from booktrans.translate import TranslateConfig, build_prompt
from booktrans.translate.engines import token_counter
from booktrans.translate.parts import chapter_units

ROOT = Path(__file__).resolve().parents[1]
TRANSLATE = load(ROOT / "params.yaml").translate
BUDGET = 64  # source tokens per book and direction


@pytest.fixture(scope="module")
def valid_book(sample_paragraphs):
    from project import align_book

    zh, en = sample_paragraphs[("sky-blue", "zh")], sample_paragraphs[("sky-blue", "en")]
    beads, _ = align_book(zh, en)
    return ValidBook("sky-blue", {"zh": zh, "en": en}, beads)


def _docs(book: ValidBook, tiny_base) -> list[dict]:
    """Training documents made of the validation opening itself (a test arrangement: it makes the
    checkpoints differ on what they are scored on)."""
    from booktrans.model import load_tokenizer

    count = token_counter(load_tokenizer(tiny_base))
    cfg = TranslateConfig.from_params(TRANSLATE, 256, 48)
    docs = []
    for direction, src, tgt in (("zh-en", "zh", "en"), ("en-zh", "en", "zh")):
        for u in chapter_units("v", direction, budget_paragraphs(book.paragraphs[src], count, 0, BUDGET), count, cfg):
            for c in u.chunks:
                ref = " ".join(t for b in book.beads if set(b[f"{src}_para"]) & set(c.paras) for t in b[tgt])
                docs.append(
                    {"messages": build_prompt(direction, c.source, None) + [{"role": "assistant", "content": ref}]}
                )
    return docs


def _sc(criterion: str) -> SelectConfig:
    return checkpoint_select(criterion=criterion, tokens=BUDGET)


def _round(tmp_path, tiny_base, book, criterion, **kw) -> tuple[Path, dict, dict]:
    steps = kw.pop("max_steps", 6)
    cfg = train_config(context=256, max_steps=steps, save_steps=2, select=criterion, **kw)
    out = tmp_path / "models" / "r1"
    summary = train_round(
        tiny_base, out, _docs(book, tiny_base), [], cfg, "r1", tmp_path / "scratch", keep_checkpoints=True
    )
    ckpts = Path(summary["checkpoints"])
    kept = {int(p.name.split("-")[1]): p for p in ckpts.glob("checkpoint-*")}
    # a selecting round keeps every checkpoint, not the last two (the Trainer also saves the final step)
    assert sorted(kept) == sorted({*range(2, steps + 1, 2), steps})
    return out, summary, {"cfg": cfg, "ckpts": ckpts, "kept": kept}


def _weights(d: Path) -> dict:
    name = "adapter_model.safetensors" if (d / "adapter_model.safetensors").exists() else "model.safetensors"
    return load_file(str(d / name))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def test_full_round_keeps_the_checkpoint_with_the_best_chrf_and_records_it(tmp_path, tiny_base, valid_book):
    out, summary, r = _round(tmp_path, tiny_base, valid_book, "chrf", method="full", learning_rate=1e-2)
    report = tmp_path / "reports" / "r1-checkpoints.json"
    doc = select_round(
        out, tiny_base, r["ckpts"], r["cfg"], "r1", [valid_book], _sc("chrf"), report, final_step=summary["steps"]
    )
    rows = {row["step"]: row for row in doc["checkpoints"]}
    assert sorted(rows) == [2, 4, 6]
    assert len({row["chrf"] for row in rows.values()}) > 1, rows  # the checkpoints translate differently
    chosen = doc["chosen_step"]
    assert rows[chosen]["chrf"] == max(row["chrf"] for row in rows.values())
    for row in rows.values():
        for d in ("zh-en", "en-zh"):
            assert 0 < row[f"{d}_source_tokens"] <= BUDGET and row[f"{d}_chrf"] is not None  # the fixed budget held
    # the weights at models/r1 are the chosen checkpoint's, and they give the recorded scores again
    assert _same(_weights(out), _weights(r["kept"][chosen]))
    if chosen != 6:
        assert not _same(_weights(out), _weights(r["kept"][6]))
    again = score_model(out, [valid_book], _sc("chrf"))
    assert again == {k: v for k, v in rows[chosen].items() if k != "step"}
    sel = read_info(out).extra["selection"]
    assert sel["step"] == chosen and sel["criterion"] == "chrf" and sel["scores"]["chrf"] == rows[chosen]["chrf"]
    assert sel["budget"] == {"chapters": 0, "tokens": BUDGET, "books": ["sky-blue"]}
    assert read_info(out).kind == "full" and (out / "tokenizer.json").exists()
    assert json.loads(report.read_text())["checkpoints"][0]["step"] == 2
    assert not list(out.parent.glob(".r1.step-*"))  # candidate folders are cleaned up


def test_lora_round_by_omission_breaks_ties_by_chrf_and_lands_the_adapter(tmp_path, tiny_base, valid_book):
    out, summary, r = _round(tmp_path, tiny_base, valid_book, "omission", learning_rate=2e-2, lora_r=4, lora_alpha=8)
    report = tmp_path / "r1-checkpoints.json"
    doc = select_round(
        out, tiny_base, r["ckpts"], r["cfg"], "r1", [valid_book], _sc("omission"), report, final_step=summary["steps"]
    )
    rows = doc["checkpoints"]
    chosen = next(row for row in rows if row["step"] == doc["chosen_step"])
    lowest = min(row["omission_rate"] for row in rows)
    assert chosen["omission_rate"] == lowest
    assert chosen["chrf"] == max(row["chrf"] for row in rows if row["omission_rate"] == lowest)
    assert _same(_weights(out), _weights(r["kept"][chosen["step"]]))
    info = read_info(out)
    assert info.kind == "adapter" and (out / info.base).resolve() == tiny_base.resolve()
    assert info.extra["selection"]["criterion"] == "omission"
    # the same inputs give the same report, byte for byte
    first = report.read_bytes()
    out2, summary2, r2 = _round(
        tmp_path / "again", tiny_base, valid_book, "omission", learning_rate=2e-2, lora_r=4, lora_alpha=8
    )
    select_round(
        out2,
        tiny_base,
        r2["ckpts"],
        r2["cfg"],
        "r1",
        [valid_book],
        _sc("omission"),
        tmp_path / "again.json",
        final_step=summary2["steps"],
    )
    assert (tmp_path / "again.json").read_bytes() == first

    def same_but_base(d):
        return {k: v for k, v in json.loads((d / "booktrans.json").read_text()).items() if k != "base"}

    assert same_but_base(out2) == same_but_base(out)  # base: the path to r0, which differs between the two folders


def test_without_validation_books_the_round_says_so_once_and_keeps_the_last(tmp_path, tiny_base, valid_book, caplog):
    out, summary, r = _round(tmp_path, tiny_base, valid_book, "chrf", max_steps=3, learning_rate=2e-2)
    final = _weights(out)
    with caplog.at_level(logging.WARNING):
        doc = select_round(
            out,
            tiny_base,
            r["ckpts"],
            r["cfg"],
            "r1",
            [],
            _sc("chrf"),
            tmp_path / "rep.json",
            final_step=summary["steps"],
        )
    said = [rec for rec in caplog.records if "no validation books" in rec.getMessage()]
    assert len(said) == 1 and "last checkpoint is kept" in said[0].getMessage()
    assert doc["chosen_step"] == 3 and [row["step"] for row in doc["checkpoints"]] == [2, 3]
    assert all(row["chrf"] is None for row in doc["checkpoints"])
    assert _same(_weights(out), final)
    assert read_info(out).extra["selection"]["step"] == 3


def test_last_keeps_the_final_weights_unscored(tmp_path, tiny_base, valid_book):
    cfg = train_config(context=256, max_steps=3, save_steps=2, learning_rate=2e-2)
    out = tmp_path / "r1"
    summary = train_round(
        tiny_base, out, _docs(valid_book, tiny_base), [], cfg, "r1", tmp_path / "s", keep_checkpoints=True
    )
    final = _weights(out)
    doc = select_round(
        out,
        tiny_base,
        Path(summary["checkpoints"]),
        cfg,
        "r1",
        [valid_book],
        _sc("last"),
        tmp_path / "rep.json",
        final_step=summary["steps"],
    )
    assert doc["chosen_step"] == 3 and _same(_weights(out), final)
    assert read_info(out).extra["selection"] == {
        "criterion": "last",
        "step": 3,
        "final_step": 3,
        "scores": None,
        "reason": "criterion last: the final weights are kept unscored",
    }


def test_a_wrong_criterion_or_budget_stops_the_round_naming_the_key(tiny_base):
    from booktrans.model.store import base_config
    from booktrans.train.select import check_select

    with pytest.raises(ConfigError, match=r"round r2: train.select: 'best' is not one of last, chrf, omission"):
        validate(train_config(context=128, select="best"), "r2", base_config(tiny_base))
    with pytest.raises(ConfigError, match="train.select_budget needs chapters or tokens > 0"):
        check_select("chrf", "round r1: train", {"chapters": 0, "tokens": 0})
    with pytest.raises(ConfigError, match="train.select_budget.tokens"):
        check_select("chrf", "round r1: train", {"tokens": -5})


def test_the_budget_takes_whole_paragraphs_from_the_first_chapters(valid_book, tiny_base):
    from booktrans.model import load_tokenizer

    count = token_counter(load_tokenizer(tiny_base))
    zh = valid_book.paragraphs["zh"]
    one = budget_paragraphs(zh, count, 1, 0)
    assert one and {p["chapter"] for p in one} == {zh[0]["chapter"]}
    some = budget_paragraphs(zh, count, 0, BUDGET)
    assert some == zh[: len(some)] and sum(count(p["text"]) for p in some) <= BUDGET < sum(
        count(p["text"]) for p in zh[: len(some) + 1]
    )


def test_make_plan_shows_what_scoring_the_checkpoints_costs(root):
    """The checkpoints counted are those a round saves: every save_steps and the final step (steps 2, 3
    for 3 steps saved every 2, as test_without_validation_books... sees the Trainer keep)."""
    from booktrans.params import from_dict
    from booktrans.train.plan import format_plan, plan

    params = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    params["train"].update(save_steps=2, select_budget={"chapters": 0, "tokens": 100})
    params["rounds"] = {
        "r1": {**params["rounds"]["r1"], "max_steps": 3},
        "r2": {**params["rounds"]["r2"], "max_steps": 6, "select": "omission"},
        "r3": {**params["rounds"]["r3"], "max_steps": 6, "select": "last"},
    }
    text = format_plan(plan(from_dict(params), root, manifest=root / "data" / "books.yaml", tokens=10_000))
    assert (
        "checkpoint scoring, r1 (select chrf): 2 checkpoint(s) x 1 validation book(s) x 2 "
        "direction(s) x 100 tokens = 400 source tokens "
        "translated, up to 600 generated"
    ) in text
    assert "r2 (select omission): 3 checkpoint(s)" in text and "r3 (select" not in text


def _project(tmp_path, tiny_base, book, sample_paragraphs, select):
    import shutil

    from booktrans.align.similarity import LexicalTable

    proj = tmp_path / "proj"
    shutil.copytree(tiny_base, proj / "models" / "r0")
    (proj / "data" / "sft" / "r1").mkdir(parents=True)
    (proj / "data" / "sft" / "r1" / "train.jsonl").write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _docs(book, tiny_base)), encoding="utf-8"
    )
    (proj / "data" / "sft" / "r1" / "valid.jsonl").write_text("", encoding="utf-8")
    (proj / "data" / "text").mkdir()
    (proj / "data" / "aligned").mkdir()
    shutil.copy(ROOT / "data" / "books.yaml", proj / "data" / "books.yaml")
    for lang in ("zh", "en"):
        (proj / "data" / "text" / f"sky-blue.{lang}.jsonl").write_text(
            "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in sample_paragraphs[("sky-blue", lang)]),
            encoding="utf-8",
        )
    (proj / "data" / "aligned" / "sky-blue.jsonl").write_text(
        "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in book.beads), encoding="utf-8"
    )
    LexicalTable().save(proj / "data" / "lexicon.json")
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["train"].update(save_steps=2, select=select)
    params["rounds"] = {
        "r1": {**params["rounds"]["r1"], "context": 256, "init": "r0", "learning_rate": 2e-2, "max_steps": 4}
    }
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return proj


def _stage(proj):
    from stagecmd import run_stage

    return run_stage("train@r1", proj, env={"PYTHONHASHSEED": "0"}, timeout=300)


def test_the_train_stage_selects_in_one_process_and_leaves_no_checkpoints(
    tmp_path, tiny_base, valid_book, sample_paragraphs
):
    proj = _project(tmp_path, tiny_base, valid_book, sample_paragraphs, "omission")
    res = _stage(proj)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((proj / "reports" / "train" / "r1-checkpoints.json").read_text())
    assert report["criterion"] == "omission" and [r["step"] for r in report["checkpoints"]] == [2, 4]
    assert read_info(proj / "models" / "r1").extra["selection"]["step"] == report["chosen_step"]
    assert f"step {report['chosen_step']} chosen by omission" in res.stderr
    assert not any((proj / "build" / "checkpoints" / "r1").iterdir())  # scored, then removed
    # a validation book whose alignment is missing stops the round, before training, with the file's name
    (proj / "data" / "aligned" / "sky-blue.jsonl").unlink()
    before = (proj / "models" / "r1" / "adapter_model.safetensors").read_bytes()
    res = _stage(proj)
    assert res.returncode == 2 and "data/aligned/sky-blue.jsonl: missing; validation book sky-blue" in res.stderr
    assert (
        "step 1/4" not in res.stderr and (proj / "models" / "r1" / "adapter_model.safetensors").read_bytes() == before
    )
