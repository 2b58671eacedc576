"""The cluster's training path, run for real: two processes over gloo, started by `accelerate launch`
with the project's accelerate and DeepSpeed configs (configs/accelerate/cpu-2x-zero{2,3}.yaml point at
configs/deepspeed/zero{2,3}.json, the files the 24-GPU run uses), on the tiny model.

Every launch costs ~20 s of process start-up on 2 cores, so each launch trains several rounds and
several tests read what one launch wrote. Tolerances: losses and gradient norms to 1e-5 relative
(fp32; only the order of reductions differs between one process and two); weights to 2e-5 absolute
after the same steps (Adam's first steps move each weight by about the learning rate, so a gradient
component that differs in its last bits moves its weight by a few 1e-7).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
import yaml
from memjobs import JOBS, label_share, memory_base, memory_jobs
from project import P, checkpoint_select, train_keywords
from safetensors.torch import load_file
from stagecmd import run_stage

from booktrans.model import read_info
from booktrans.params import from_dict
from booktrans.train import TrainConfig, config_for, train_round

pytestmark = pytest.mark.multiprocess

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    "岛上没有树。",
    "梅从六岁起就住在那里，她的母亲在灯塔工作。",
    "灯塔每晚都亮着。",
    "船在黎明时到达，带来了信件和面粉。",
    "她数着海浪。",
    "风从北方吹来，整夜不停。",
    "冬天，港口结了冰。",
    "孩子们在沙滩上捡贝壳，一直到天黑。",
]
TARGETS = [
    "The island had no trees.",
    "Mei had lived there since she was six; her mother worked at the lighthouse.",
    "The lighthouse was lit every night.",
    "The boat arrived at dawn, bringing letters and flour.",
    "She counted the waves.",
    "The wind came from the north and did not stop all night.",
    "In winter the harbour froze.",
    "The children picked up shells on the beach until it was dark.",
]
BASE = train_keywords(context=128, learning_rate=5e-3, max_steps=2, lora_r=4, lora_alpha=8, save_steps=0, select="last")


ULYSSES = {"loss_chunk": 4, "extra": {"measure": ["logits"]}}


def _docs(n=8):
    return [
        {
            "messages": [
                {"role": "system", "content": "You translate."},
                {"role": "user", "content": "Translate into English.\n\n" + s},
                {"role": "assistant", "content": t},
            ]
        }
        for s, t in list(zip(SOURCES, TARGETS))[:n]
    ]


def _env(extra: dict | None = None) -> dict:
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.update(extra or {})
    return env


def _launch(config: str, spec: dict, work: Path, timeout=420) -> subprocess.CompletedProcess:
    """accelerate launch of tests/mp_round.py with one of the project's accelerate configs."""
    (work / "summaries").mkdir(parents=True, exist_ok=True)
    spec = {"summaries": str(work / "summaries"), "jobs": spec}
    path = work / "spec.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("accelerate")),
            "launch",
            "--config_file",
            config,
            str(ROOT / "tests" / "mp_round.py"),
            str(path),
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _summary(work: Path, job: str, rank: int) -> dict:
    return json.loads((work / "summaries" / f"{job}.rank{rank}.json").read_text(encoding="utf-8"))


def _job(work: Path, name: str, docs: Path, base: Path, **config) -> dict:
    return {
        "base": str(base),
        "out": str(work / name),
        "scratch": str(work / f"scratch-{name}"),
        "docs": str(docs),
        "config": {**BASE, **config},
    }


def _weights(directory: Path) -> dict:
    name = "adapter_model.safetensors" if (directory / "adapter_model.safetensors").exists() else "model.safetensors"
    return load_file(str(directory / name))


def _assert_same_weights(a: Path, b: Path, atol=2e-5):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    assert all(t.numel() > 0 for t in wa.values()), "empty tensors saved"
    for k in wa:
        assert wa[k].shape == wb[k].shape, k
        assert torch.allclose(wa[k], wb[k], atol=atol, rtol=0), (k, float((wa[k] - wb[k]).abs().max()))


def _assert_longlora_trained(out: Path, base_dir: Path) -> dict:
    """The adapter in ``out`` holds whole trained copies of exactly the embeddings, the final norm and
    every layer's norms (LongLoRA's trainables): non-empty, the base's shapes, moved from the base."""
    saved = _weights(out)
    base = load_file(str(base_dir / "model.safetensors"))
    layers = json.loads((base_dir / "config.json").read_text())["num_hidden_layers"]
    full = {k.removeprefix("base_model.model."): t for k, t in saved.items() if "lora_" not in k}
    norms = {f"model.layers.{i}.{n}.weight" for i in range(layers) for n in NORMS}
    assert set(full) == {"model.embed_tokens.weight", "model.norm.weight"} | norms
    for k, t in full.items():
        assert t.numel() > 0 and t.shape == base[k].shape, k
        assert not torch.equal(t, base[k]), f"{k} was not trained"
    return saved


def _losses(summary: dict) -> list[float]:
    """Each optimizer step's loss from the round's own record (full precision, every process's targets)."""
    return [r["loss"] for r in summary["step_records"]]


def _grad_norms(summary: dict) -> list[float]:
    return [r["grad_norm"] for r in summary["step_records"]]


def _rows_read(summary: dict) -> dict[int, dict[int, float]]:
    """{step: {row: sum of the row's cross-entropies}} from a rank's micro-batches of one row each."""
    seen: dict[int, dict[int, float]] = {}
    for m in summary["micro_batches"]:
        assert len(m["rows"]) == 1, m
        seen.setdefault(m["step"], {})[m["rows"][0]] = m["loss_sum"]
    return seen


def _single(tiny_base, tmp: Path, name: str, docs, valid=(), **config) -> dict:
    """The same round in this process: one process, no DeepSpeed."""
    return train_round(
        tiny_base, tmp / name, docs, list(valid), TrainConfig(**{**BASE, **config}), "r1", tmp / f"s-{name}"
    )


@pytest.fixture(scope="module")
def docs_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("docs") / "docs.json"
    p.write_text(json.dumps(_docs(), ensure_ascii=False), encoding="utf-8")
    return p


def _valid():
    """Three validation documents: on two processes accelerate's even_batches reads one of them twice."""
    return _docs()[5:]


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("valid") / "valid.json"
    p.write_text(json.dumps(_valid(), ensure_ascii=False), encoding="utf-8")
    return p


# ---------------------------------------------------------------------------------------------------
# ZeRO-2: LoRA and full fine-tuning against one process with the same global batch; accumulation
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def memory_data(tmp_path_factory):
    """The planner's check against DeepSpeed's peaks: a base model and documents of real text (memjobs)."""
    return memory_base(tmp_path_factory.mktemp("memory"), P.seed)


@pytest.fixture(scope="module")
def zero2(tiny_base, docs_file, valid_file, memory_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("zero2")
    jobs = {
        "lora": {**_job(work, "lora", docs_file, tiny_base), "valid": str(valid_file)},
        "full": _job(work, "full", docs_file, tiny_base, method="full", learning_rate=1e-3),
    }
    for loss in ("chunked", "standard"):  # per process: 4 rows at once, or 1 row x 4 accumulated micro-steps
        jobs[f"b4a1-{loss}"] = _job(work, f"b4a1-{loss}", docs_file, tiny_base, loss=loss, batch_size=4, max_steps=1)
        jobs[f"b1a4-{loss}"] = _job(work, f"b1a4-{loss}", docs_file, tiny_base, loss=loss, grad_accum=4, max_steps=1)
    jobs.update(memory_jobs(work, memory_data, BASE))  # the planner's check (end of this file)
    # Ulysses degree 2 in the same launch (ZeRO-2: the cluster's LoRA rounds; ZeRO-3 with Ulysses is
    # checked by tests/test_smoke_cluster.py): one start of two processes less
    # (with the logits meter on and a loss chunk shorter than a slice's targets)
    sp = _job(work, "sp", docs_file, tiny_base, sequence_parallel=2, max_steps=4, **ULYSSES)
    jobs["sp"] = {**sp, "valid": str(valid_file)}
    # then a round without it in the same processes (DeepSpeed's sequence-parallel state undone)
    jobs["after-sp"] = _job(work, "after-sp", docs_file, tiny_base, loss="chunked", grad_accum=4, max_steps=1)
    res = _launch("configs/accelerate/cpu-2x-zero2.yaml", jobs, work)
    assert res.returncode == 0, res.stderr[-4000:]
    return work, res


@pytest.fixture(scope="module")
def zero3(tiny_base, docs_file, stage_project, memory_data, tmp_path_factory):
    work = tmp_path_factory.mktemp("zero3")
    jobs = {
        "lora": _job(work, "lora", docs_file, tiny_base),
        "full": _job(work, "full", docs_file, tiny_base, method="full", learning_rate=1e-3),
        # a full round that keeps a checkpoint per step for its choice (scored after the launch)
        "full-select": {
            **_job(
                work,
                "full-select",
                docs_file,
                tiny_base,
                method="full",
                learning_rate=1e-2,
                max_steps=3,
                save_steps=1,
                select="chrf",
            ),
            "keep": True,
        },
        "stage-ref": _stage_job(stage_project, work / "stage-ref", work / "stage-ref-scratch"),
        **_after_lora_jobs(work, docs_file, tiny_base),  # after "lora": merges under ZeRO-3 (end of this file)
        **memory_jobs(work, memory_data, BASE),  # the planner's check (end of this file)
    }
    res = _launch("configs/accelerate/cpu-2x-zero3.yaml", jobs, work)
    assert res.returncode == 0, res.stderr[-4000:]
    return work, res


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
@pytest.mark.parametrize("method", ["lora", "full"])
def test_two_processes_train_what_one_process_trains_with_the_same_global_batch(
    stage, method, request, tiny_base, tmp_path
):
    """Per step, the two ranks read different rows, together the rows one process reads in its two
    accumulated micro-batches, and each row's loss is the one process's; the step's loss and gradient
    norm (full precision, from the round's record) and the weights agree."""
    work, _ = request.getfixturevalue(stage)
    extra = {"method": "full", "learning_rate": 1e-3} if method == "full" else {}
    valid = _valid() if (stage, method) == ("zero2", "lora") else ()
    # 1 row x 2 micro-batches: the same global batch as 2 processes x 1 row, with a record per row
    one = _single(tiny_base, tmp_path, method, _docs(), valid, grad_accum=2, **extra)
    two = [_summary(work, method, r) for r in (0, 1)]
    assert two[0]["layout"] == {
        "world_size": 2,
        "zero_stage": int(stage[-1]),
        "sequence_parallel": 1,
        "data_parallel": 2,
    }
    ref, ranks = _rows_read(one), [_rows_read(t) for t in two]
    assert sorted(ref) == [1, 2] and sorted(ranks[0]) == sorted(ranks[1]) == [1, 2]
    for step, rows in ref.items():
        a, b = ranks[0][step], ranks[1][step]
        assert len(a) == len(b) == 1 and not a.keys() & b.keys(), (step, a, b)  # different rows
        assert a.keys() | b.keys() == rows.keys()  # together the one process's rows
        for row, loss_sum in {**a, **b}.items():
            assert loss_sum == pytest.approx(rows[row], rel=1e-5), (step, row)
    for t in two:  # every rank records the global step (sum and count reduced over the processes)
        assert _losses(t) == pytest.approx(_losses(one), rel=1e-5)
        assert _grad_norms(t) == pytest.approx(_grad_norms(one), rel=1e-5)
        assert [r["targets"] for r in t["step_records"]] == [r["targets"] for r in one["step_records"]]
    if valid:  # token-weighted over the three rows, the one read twice counted once
        assert two[0]["eval_targets"] == two[1]["eval_targets"] == one["eval_targets"] > 0
        assert two[0]["eval_loss"] == two[1]["eval_loss"] == pytest.approx(one["eval_loss"], rel=1e-5)
    _assert_same_weights(work / method, tmp_path / method)  # saved, non-empty, loads, equal


def _step_one(summary_or_log) -> tuple[float, float]:
    return summary_or_log["loss"], summary_or_log["grad_norm"]


def test_a_full_zero3_round_of_two_processes_is_scored_after_they_exit_and_keeps_the_best(
    zero3, tiny_base, sample_paragraphs, tmp_path
):
    """Checkpoint choice on a full round trained by two ZeRO-3 processes: every saved checkpoint is
    scored in one process after both ranks have exited, and the weights left at the round's output
    are the ones that scored best (scoring them again gives the recorded scores)."""
    from project import align_book

    from booktrans.train.select import ValidBook, score_model, select_round

    work, _ = zero3
    summary = _summary(work, "full-select", 0)
    zh, en = sample_paragraphs[("sky-blue", "zh")], sample_paragraphs[("sky-blue", "en")]
    book = ValidBook("sky-blue", {"zh": zh, "en": en}, align_book(zh, en)[0])
    sc = checkpoint_select(criterion="chrf", tokens=32)
    out = tmp_path / "r1"
    shutil.copytree(work / "full-select", out)
    cfg = TrainConfig(
        **{**BASE, "method": "full", "learning_rate": 1e-2, "max_steps": 3, "save_steps": 1, "select": "chrf"}
    )
    doc = select_round(
        out,
        tiny_base,
        Path(summary["checkpoints"]),
        cfg,
        "r1",
        [book],
        sc,
        tmp_path / "rep.json",
        final_step=summary["steps"],
    )
    rows = {r["step"]: r for r in doc["checkpoints"]}
    assert sorted(rows) == [1, 2, 3] and all(r["chrf"] is not None for r in rows.values())
    chosen = doc["chosen_step"]
    assert rows[chosen]["chrf"] == max(r["chrf"] for r in rows.values())
    assert read_info(out).extra["selection"]["step"] == chosen
    assert _weights(out).keys() == _weights(work / "full").keys()  # whole 16-bit weights, not ZeRO-3 shards
    assert score_model(out, [book], sc) == {k: v for k, v in rows[chosen].items() if k != "step"}


def test_accumulation_gives_the_loss_and_gradients_of_one_big_batch_with_deepspeed(zero2):
    """(4 rows, 1 micro-step) and (1 row, 4 micro-steps) per process, ZeRO-2 over two processes: the
    step's loss and gradient norm agree, for the chunked loss and transformers' loss alike."""
    work, res = zero2
    for loss in ("chunked", "standard"):
        big = _summary(work, f"b4a1-{loss}", 0)
        acc = _summary(work, f"b1a4-{loss}", 0)
        assert _losses(big) == pytest.approx(_losses(acc), rel=1e-5)
        assert big["grad_norms"][0] == pytest.approx(acc["grad_norms"][0], rel=1e-5)
        assert [m["shape"][0] for m in big["micro_batches"]] == [4]
        assert [m["shape"][0] for m in acc["micro_batches"]] == [1, 1, 1, 1]
    # and the two loss implementations agree with each other
    assert _summary(work, "b1a4-chunked", 0)["grad_norms"][0] == pytest.approx(
        _summary(work, "b1a4-standard", 0)["grad_norms"][0], rel=1e-5
    )


class _Grads:
    """Every trained weight's gradient just before the first optimizer step (a TrainerCallback)."""

    @staticmethod
    def make():
        from transformers import TrainerCallback

        class Grads(TrainerCallback):
            grads: dict = {}

            def on_pre_optimizer_step(self, args, state, control, model=None, **kw):
                if not self.grads:
                    self.grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}

        return Grads()


@pytest.mark.parametrize("loss", ["chunked", "standard"])
def test_accumulation_gives_the_loss_and_gradients_of_one_big_batch_in_one_process(tiny_base, tmp_path, loss):
    seen = {}
    for name, extra in (("big", {"batch_size": 4}), ("acc", {"grad_accum": 4})):
        grads = _Grads.make()
        seen[name] = (
            train_round(
                tiny_base,
                tmp_path / name,
                _docs(4),
                [],
                TrainConfig(**{**BASE, "loss": loss, "max_steps": 1, **extra}),
                "r1",
                tmp_path / f"s-{name}",
                callbacks=[grads],
            ),
            grads.grads,
        )
    (big, big_grads), (acc, acc_grads) = seen["big"], seen["acc"]
    assert _losses(big) == pytest.approx(_losses(acc), rel=1e-5)
    assert big["grad_norms"][0] == pytest.approx(acc["grad_norms"][0], rel=1e-5)
    assert big_grads.keys() == acc_grads.keys() and len(big_grads) > 10
    for k in big_grads:
        assert torch.allclose(big_grads[k], acc_grads[k], rtol=1e-4, atol=1e-8), k
    # the step's loss is the token-weighted mean over the four documents, not four times it
    assert 5 < _losses(big)[0] < 10  # ln(vocabulary of 2,000) = 7.6 for a random model
    # and it is the token-weighted mean of the four rows' cross-entropies
    assert _losses(big)[0] == pytest.approx(
        sum(m["loss_sum"] for m in acc["micro_batches"]) / sum(m["targets"] for m in acc["micro_batches"]), rel=1e-6
    )


# ---------------------------------------------------------------------------------------------------
# Ulysses sequence parallelism, degree 2
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ulysses(zero2):
    return zero2  # the "sp" job of the ZeRO-2 launch


def test_ulysses_splits_every_row_between_the_two_ranks_and_trains_like_one_process(ulysses, tiny_base, tmp_path):
    """Degree 2 on 2 processes (one data-parallel group) against one process on the same documents in
    the same order: each rank holds half of every row, positions continue across the halves, a row of
    odd length is padded by one masked token, and the loss, gradient norm and adapter agree."""
    from booktrans.model import load_tokenizer
    from booktrans.train import encode_example

    work, res = ulysses
    one = _single(tiny_base, tmp_path, "one", _docs(), _valid(), max_steps=4, **ULYSSES)
    ranks = [_summary(work, "sp", r) for r in (0, 1)]
    assert ranks[0]["layout"] == {"world_size": 2, "zero_stage": 2, "sequence_parallel": 2, "data_parallel": 1}
    lengths = {len(encode_example(d["messages"], load_tokenizer(tiny_base), 128)["input_ids"]) for d in _docs()}
    assert any(n % 2 for n in lengths)  # some documents do not split evenly
    odd_steps = 0
    for whole, a, b in zip(one["micro_batches"], ranks[0]["micro_batches"], ranks[1]["micro_batches"]):
        n = whole["shape"][1]  # the row as one process holds it
        half = (n + n % 2) // 2
        assert a["shape"] == b["shape"] == [1, half]
        assert a["rows"] == b["rows"] == whole["rows"]  # both ranks of the group read the same row
        assert a["positions"] == [0, half - 1] and b["positions"] == [half, 2 * half - 1]
        assert a["targets"] + b["targets"] == whole["targets"]  # padding carries no label, nothing is lost
        # each rank's cross-entropy is its own slice's: the two add up to the whole row's
        assert a["loss_sum"] + b["loss_sum"] == pytest.approx(whole["loss_sum"], rel=1e-5)
        assert all((m["loss_sum"] > 0) == (m["targets"] > 0) for m in (a, b))
        odd_steps += n % 2
    assert odd_steps > 0 and len(ranks[0]["micro_batches"]) == 4
    for r in ranks:
        assert _losses(r) == pytest.approx(_losses(one), rel=1e-5)
        assert _grad_norms(r) == pytest.approx(_grad_norms(one), rel=1e-5)  # not scaled by the degree
        # evaluation reads whole rows, different ones on the two ranks (one of the three twice)
        assert r["eval_targets"] == one["eval_targets"] > 0
        assert r["eval_loss"] == pytest.approx(one["eval_loss"], rel=1e-5)
        # no vocabulary-wide tensor longer than a loss chunk, in training (slices) or evaluation (whole rows)
        assert 0 < r["measured"]["largest_logits_rows"]["train"] <= 4
        assert 0 < r["measured"]["largest_logits_rows"]["eval"] <= 4
    assert max(m["targets"] for m in ranks[1]["micro_batches"]) > 4
    _assert_same_weights(work / "sp", tmp_path / "one")
    assert "sequence parallel 2: rank 1 holds" in res.stderr


# ---------------------------------------------------------------------------------------------------
# A rank killed mid-round; the train stage itself, launched as on the cluster
# ---------------------------------------------------------------------------------------------------

_AUDIT = """
import json, os, sys, threading
_root = os.environ["BOOKTRANS_AUDIT_ROOT"]
_busy = threading.local()
_log = os.path.join(os.environ["BOOKTRANS_AUDIT_DIR"], "%d.jsonl" % os.getpid())
_watch = ("open", "os.rename", "os.replace", "os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree", "os.symlink")

def _hook(event, args):
    if event not in _watch or not args or getattr(_busy, "on", False):
        return
    if event == "open" and (len(args) < 2 or not isinstance(args[1], str) or not set(args[1]) & set("wax+")):
        return
    paths = [os.fsdecode(a) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
    hits = [p for p in paths if os.path.abspath(p).startswith(_root)]
    if hits:
        _busy.on = True
        try:
            with open(_log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"rank": os.environ.get("RANK"), "event": event, "path": hits[0]}) + "\\n")
        finally:
            _busy.on = False

sys.addaudithook(_hook)
"""


@pytest.fixture(scope="module")
def stage_project(tiny_base, tmp_path_factory, sample_paragraphs):
    """A project folder laid out as `dvc repro train@r1` sees it, with the cluster's launcher settings
    scaled to this machine: launcher accelerate, ZeRO-3 over two CPU processes; the round selects its
    checkpoint by chrF on the sample's validation book (ingested text, alignment, an empty lexical table)."""
    from project import align_book

    from booktrans.align.similarity import LexicalTable

    proj = tmp_path_factory.mktemp("project")
    (proj / "configs").symlink_to(ROOT / "configs")
    (proj / "data" / "text").mkdir(parents=True)
    (proj / "data" / "aligned").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "books.yaml", proj / "data" / "books.yaml")
    for lang in ("zh", "en"):
        (proj / "data" / "text" / f"sky-blue.{lang}.jsonl").write_text(
            "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in sample_paragraphs[("sky-blue", lang)]),
            encoding="utf-8",
        )
    beads, _ = align_book(sample_paragraphs[("sky-blue", "zh")], sample_paragraphs[("sky-blue", "en")])
    (proj / "data" / "aligned" / "sky-blue.jsonl").write_text(
        "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in beads), encoding="utf-8"
    )
    LexicalTable().save(proj / "data" / "lexicon.json")
    shutil.copytree(tiny_base, proj / "models" / "r0")
    (proj / "data" / "sft" / "r1").mkdir(parents=True)
    (proj / "data" / "sft" / "r1" / "train.jsonl").write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _docs(6)), encoding="utf-8"
    )
    (proj / "data" / "sft" / "r1" / "valid.jsonl").write_text(
        json.dumps(_docs(8)[7], ensure_ascii=False) + "\n", encoding="utf-8"
    )
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["train"].update(
        launcher="accelerate",
        accelerate_config="configs/accelerate/cpu-2x-zero3.yaml",
        save_steps=2,
        lora={**params["train"]["lora"], "r": 4, "alpha": 8, "dropout": 0.1},
        select="chrf",
        select_budget={"chapters": 0, "tokens": 64},
    )
    params["rounds"] = {
        "r1": {
            **params["rounds"]["r1"],
            "context": 128,
            "init": "r0",
            "learning_rate": 5e-3,
            "epochs": 1,
            "max_steps": 5,
        }
    }
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (proj / "params-1proc.yaml").write_text(
        yaml.safe_dump({**params, "train": {**params["train"], "launcher": "python"}}, sort_keys=False),
        encoding="utf-8",
    )
    return proj, params


def _stage_job(stage_project, out: Path, scratch: Path) -> dict:
    """A mp_round job training exactly what the stage trains (same settings, documents and start)."""
    proj, params = stage_project
    docs = proj / "docs.json"
    docs.write_text(json.dumps(_docs(6), ensure_ascii=False), encoding="utf-8")
    return {
        "base": str(proj / "models" / "r0"),
        "out": str(out),
        "docs": str(docs),
        "scratch": str(scratch),
        "config": asdict(config_for(from_dict(params), "r1")),
        "keep": True,
    }


def _stage(proj: Path, params_file: str = "params.yaml", env: dict | None = None) -> subprocess.CompletedProcess:
    return run_stage("train@r1", proj, "--params", params_file, env=_env(env), timeout=420)


@pytest.fixture(scope="module")
def killed_and_resumed(stage_project, tmp_path_factory):
    """Rank 1 is SIGKILLed after optimizer step 3 (last checkpoint: step 2; a copy of it without the
    state the Trainer writes last stands for a save the kill cut off); a restart on one process
    is refused; the stage started again as `dvc repro` would, on two processes, resumes."""
    proj, params = stage_project
    work = tmp_path_factory.mktemp("kill")
    job = {
        **_stage_job(stage_project, proj / "models" / "r1", proj / "build" / "checkpoints" / "r1"),
        "kill_rank": 1,
        "kill_step": 3,
    }
    killed = _launch("configs/accelerate/cpu-2x-zero3.yaml", {"killed": job}, work)
    left = sorted(str(p.relative_to(proj)) for p in (proj / "build" / "checkpoints" / "r1").rglob("*") if p.is_file())
    killed.left = left  # what the killed run left behind, before the restarts below
    killed.had_output = (proj / "models" / "r1").exists()
    # a later save cut off by the kill: a folder without the trainer_state.json the Trainer writes last
    done = next((proj / "build" / "checkpoints" / "r1").glob("*/checkpoint-2"))
    cut = done.with_name("checkpoint-3")
    shutil.copytree(done, cut)
    (cut / "trainer_state.json").unlink()
    other_world = _stage(proj, "params-1proc.yaml")
    audit = work / "audit"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(_AUDIT, encoding="utf-8")
    resumed = _stage(
        proj,
        env={"PYTHONPATH": str(audit), "BOOKTRANS_AUDIT_DIR": str(audit), "BOOKTRANS_AUDIT_ROOT": str(proj.resolve())},
    )
    return proj, work, killed, other_world, resumed


def test_a_killed_rank_stops_the_round_without_an_output(killed_and_resumed):
    proj, work, killed, _, _ = killed_and_resumed
    assert killed.returncode != 0
    assert "Signal 9 (SIGKILL)" in killed.stderr or "exitcode  : -9" in killed.stderr
    assert not killed.had_output  # nothing half-written where DVC looks
    shards = [p for p in killed.left if "/checkpoint-2/global_step2/" in p and p.endswith("optim_states.pt")]
    assert len(shards) == 2  # DeepSpeed's sharded optimizer state, one file per rank
    assert not any("/checkpoint-4/" in p for p in killed.left)  # killed after step 3, before the next save


def test_a_restart_on_another_number_of_processes_stops_with_one_line(killed_and_resumed):
    _, _, _, other_world, _ = killed_and_resumed
    assert other_world.returncode == 2
    err = [line for line in other_world.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and "written by 2 process(es) (ZeRO stage 3), but this run has 1" in err[0], err
    assert "holds a checkpoint at step 2 " in err[0]  # the last finished one, not the cut-off step 3
    assert "restart with the same layout to resume, or delete that folder" in err[0]


def test_the_restarted_stage_resumes_from_the_sharded_checkpoint_and_ends_with_the_same_weights(
    killed_and_resumed, zero3
):
    """Dropout is on (0.1), so the restored per-rank random states matter as well as the shards."""
    proj, work, _, _, resumed = killed_and_resumed
    ref, _ = zero3
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "accelerate launch --config_file configs/accelerate/cpu-2x-zero3.yaml" in resumed.stderr
    assert "resuming from" in resumed.stderr and "checkpoint-2" in resumed.stderr
    assert "checkpoint-3 was not finished" in resumed.stderr  # the cut save is skipped, named
    # select: chrf scored every checkpoint (2, 4 and the final 5) after both ranks had exited, and the
    # weights at models/r1 are those of the chosen step in the uninterrupted reference run
    report = json.loads((proj / "reports" / "train" / "r1-checkpoints.json").read_text())
    assert [r["step"] for r in report["checkpoints"]] == [2, 4, 5]
    assert all(r["chrf"] is not None and r["omission_rate"] is not None for r in report["checkpoints"])
    chosen = report["chosen_step"]
    assert max(report["checkpoints"], key=lambda r: (r["chrf"], r["step"]))["step"] == chosen
    assert read_info(proj / "models" / "r1").extra["selection"]["step"] == chosen
    _assert_same_weights(
        proj / "models" / "r1", next((ref / "stage-ref-scratch").glob(f"*/checkpoint-{chosen}")), atol=1e-6
    )
    if chosen == 5:
        _assert_same_weights(proj / "models" / "r1", ref / "stage-ref", atol=1e-6)
    history = json.loads((proj / "reports" / "train" / "r1.json").read_text())
    # the written history: the round's record of each step, the steps before the kill restored with the state
    assert [h["loss"] for h in history] == pytest.approx(_losses(_summary(ref, "stage-ref", 0)), rel=1e-6)
    assert not any((proj / "build" / "checkpoints" / "r1").iterdir())  # removed after success


def test_only_rank_zero_writes_the_stages_outputs(killed_and_resumed):
    proj, work, _, _, resumed = killed_and_resumed
    events = [json.loads(line) for f in (work / "audit").glob("*.jsonl") for line in f.read_text().splitlines()]
    outputs = [e for e in events if "/models/" in e["path"] or "/reports/" in e["path"]]
    # rank 0, or the launching process (no RANK) that scores the checkpoints once both ranks have exited
    assert {e["rank"] for e in outputs} == {"0", None}, [e for e in outputs if e["rank"] not in ("0", None)][:5]
    assert any(e["rank"] is None and "r1-checkpoints.json" in e["path"] for e in outputs)
    assert any(e["event"] in ("os.rename", "os.replace") and "/models/" in e["path"] for e in outputs)
    assert any("reports/train" in e["path"] for e in outputs)
    assert any(e["rank"] == "1" for e in events)  # rank 1 ran under the audit too (its checkpoint shards)


# ---------------------------------------------------------------------------------------------------
# Merging under ZeRO-3: chain: merge and a full round after a LoRA round; LongLoRA's trainables
# ---------------------------------------------------------------------------------------------------

NORMS = ("input_layernorm", "post_attention_layernorm")
YARN = {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 64}
AFTER_LORA = {  # job: (its start: the ZeRO-3 launch's "lora" adapter, or None for the tiny base; its settings)
    "merge": ("lora", {"chain": "merge"}),
    "full-after-lora": ("lora", {"method": "full", "learning_rate": 1e-3}),
    "lora-longlora": (None, {"trainable": ["embed_tokens", "norm"], "rope_scaling": YARN}),
}


def _after_lora_jobs(work: Path, docs: Path, tiny_base: Path) -> dict:
    """Jobs of the ZeRO-3 launch that run after its "lora" job; the merging ones keep their checkpoints
    (and so the merged weights they started from, ``<checkpoints>/start``)."""
    return {
        name: {**_job(work, name, docs, work / init if init else tiny_base, **config), "keep": init is not None}
        for name, (init, config) in AFTER_LORA.items()
    }


@pytest.fixture(scope="module")
def after_lora_one(zero3, tiny_base, tmp_path_factory):
    """The same rounds in this process from the same starts (2 rows per step: the global batch)."""
    work, _ = zero3
    tmp = tmp_path_factory.mktemp("after-lora-one")
    summaries = {
        name: _single(work / init if init else tiny_base, tmp, name, _docs(), batch_size=2, **config)
        for name, (init, config) in AFTER_LORA.items()
    }
    return tmp, summaries


def _assert_whole_like_the_base(directory: Path, tiny_base: Path):
    """Every tensor of the saved full model is there, non-empty, with the base model's shape."""
    base, saved = load_file(str(tiny_base / "model.safetensors")), _weights(directory)
    assert saved.keys() == base.keys()
    for k, t in saved.items():
        assert t.numel() > 0 and t.shape == base[k].shape, (k, t.shape)


def _start(work: Path, job: str) -> Path:
    """The merged weights the job started from, written by rank 0 into its (kept) checkpoint folder."""
    return Path(_summary(work, job, 0)["checkpoints"]) / "start"


def test_chain_merge_under_zero3_writes_whole_merged_weights_equal_to_one_process(zero3, after_lora_one, tiny_base):
    """A LoRA round with chain: merge from the previous round's adapter, two ZeRO-3 processes (the old
    code failed adding the adapter into empty weight shards, then hung reloading the model on rank 0
    inside ZeRO-3's partitioned init): its output is whole merged weights equal to one process's, and
    it started from the adapter merged on whole weights, as this process merges it."""
    from booktrans.model import load_model

    work, _ = zero3
    one_dir, one = after_lora_one
    info = read_info(work / "merge")
    assert info.kind == "full" and info.extra["method"] == "lora"
    _assert_whole_like_the_base(work / "merge", tiny_base)
    _assert_same_weights(work / "merge", one_dir / "merge")
    two = _summary(work, "merge", 0)
    assert _losses(two) == pytest.approx(_losses(one["merge"]), rel=1e-5)
    assert _grad_norms(two) == pytest.approx(_grad_norms(one["merge"]), rel=1e-5)
    start = _start(work, "merge")
    assert read_info(start).kind == "full"
    merged_here, _ = load_model(work / "lora", dtype="float32", merge_adapters=True)
    expected = merged_here.state_dict()
    written = _weights(start)
    for k, t in written.items():
        assert torch.allclose(t, expected[k], atol=1e-7, rtol=0), k
    # the lora adapter is in it (not the bare base), and the round's own adapter in the output
    base = load_file(str(tiny_base / "model.safetensors"))
    key = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(written[key], base[key], atol=1e-4)
    assert not torch.allclose(_weights(work / "merge")[key], written[key], atol=1e-4)


def test_a_full_round_after_a_lora_round_under_zero3_starts_from_the_merged_weights(zero3, after_lora_one, tiny_base):
    """Full fine-tuning from a LoRA round's adapter, two ZeRO-3 processes: step 1's loss is one
    process's and not that of a full round from the bare base (the adapter was merged, not dropped nor
    added into empty shards); the saved weights are whole and equal to one process's."""
    work, _ = zero3
    one_dir, one = after_lora_one
    two = _summary(work, "full-after-lora", 0)
    assert two["layout"]["zero_stage"] == 3 and two["layout"]["world_size"] == 2
    assert _losses(two) == pytest.approx(_losses(one["full-after-lora"]), rel=1e-5)
    assert _grad_norms(two) == pytest.approx(_grad_norms(one["full-after-lora"]), rel=1e-5)
    from_base = _summary(work, "full", 0)  # the same full round from the tiny base, same launch
    assert abs(two["history"][0]["loss"] - from_base["history"][0]["loss"]) > 1e-3
    # the merge job's first step ran the same merged model (its new adapter starts at zero)
    assert two["history"][0]["loss"] == pytest.approx(_summary(work, "merge", 0)["history"][0]["loss"], rel=1e-5)
    assert read_info(work / "full-after-lora").kind == "full"
    _assert_whole_like_the_base(work / "full-after-lora", tiny_base)
    _assert_same_weights(work / "full-after-lora", one_dir / "full-after-lora")
    a, b = _weights(_start(work, "full-after-lora")), _weights(_start(work, "merge"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # one merge, written the same way


def test_longlora_trainables_under_zero3_are_saved_whole_and_equal_to_one_process(zero3, after_lora_one, tiny_base):
    """LoRA with the embeddings and every norm trained in full (LongLoRA) and YaRN, two ZeRO-3
    processes: peft's full copies of those modules are made from gathered weights, trained, and saved
    whole, equal to one process's."""
    work, _ = zero3
    one_dir, one = after_lora_one
    saved = _assert_longlora_trained(work / "lora-longlora", tiny_base)
    assert any("lora_A" in k for k in saved)
    _assert_same_weights(work / "lora-longlora", one_dir / "lora-longlora")
    two = _summary(work, "lora-longlora", 0)
    assert _losses(two) == pytest.approx(_losses(one["lora-longlora"]), rel=1e-5)
    assert _grad_norms(two) == pytest.approx(_grad_norms(one["lora-longlora"]), rel=1e-5)
    assert read_info(work / "lora-longlora").extra["rope_scaling"] == YARN


def test_the_merged_start_is_written_once_and_leaves_the_random_state_alone(zero3, tmp_path):
    """One process: the merged starting weights are written once (a resumed round reuses them), and
    merging draws no random numbers the round would otherwise draw (peft initialises an adapter's
    layers before loading them), so the new adapter is the same whether the folder was reused or not."""
    from dataclasses import replace

    from booktrans.train.output import merged_start
    from booktrans.train.trainer import training_args

    work, _ = zero3
    cfg = TrainConfig(**{**BASE, "chain": "merge"})
    args = training_args(cfg, tmp_path / "ck")
    torch.manual_seed(1)
    before = torch.get_rng_state()
    start = merged_start(work / "lora", cfg, tmp_path / "ck", args)
    assert torch.equal(torch.get_rng_state(), before)
    assert start == tmp_path / "ck" / "start" and read_info(start).kind == "full"
    written = (start / "model.safetensors").stat().st_mtime_ns
    assert merged_start(work / "lora", cfg, tmp_path / "ck", args) == start
    assert (start / "model.safetensors").stat().st_mtime_ns == written
    assert not list((tmp_path / "ck").glob(".start.*"))  # no temporary folder left beside it
    # a round that keeps training the adapter, or starts from full weights, loads its start as it is
    assert merged_start(work / "lora", replace(cfg, chain="continue"), tmp_path / "c2", args) == work / "lora"
    assert merged_start(work / "full", cfg, tmp_path / "c3", args) == work / "full"


def test_zero3_off_switches_zero3_loading_off_for_the_block_only(tiny_base):
    """The switch rank 0 merges under: inside it transformers sees no ZeRO-3 setting and loads whole
    weights; on leaving it the round's ZeRO-3 setting (the DeepSpeed plugin's) is live again."""
    from types import SimpleNamespace

    from transformers.integrations import HfDeepSpeedConfig, is_deepspeed_zero3_enabled, unset_hf_deepspeed_config

    from booktrans.model import load_model
    from booktrans.train.output import zero3_off

    live = HfDeepSpeedConfig(json.loads((ROOT / "configs/deepspeed/zero3.json").read_text(encoding="utf-8")))
    args = SimpleNamespace(deepspeed_plugin=SimpleNamespace(dschf=live))
    try:
        assert is_deepspeed_zero3_enabled()
        with zero3_off(args):
            assert not is_deepspeed_zero3_enabled()
            model, _ = load_model(tiny_base, dtype="float32")
        assert is_deepspeed_zero3_enabled()
        assert all(p.numel() > 0 and not hasattr(p, "ds_id") for p in model.parameters())
        with pytest.raises(RuntimeError), zero3_off(args):  # put back when the block fails too
            raise RuntimeError
        assert is_deepspeed_zero3_enabled()
        with zero3_off(None):  # no DeepSpeed plugin: nothing changes
            assert is_deepspeed_zero3_enabled()
    finally:
        unset_hf_deepspeed_config()


# ---------------------------------------------------------------------------------------------------
# The planner's memory per GPU against the peaks of these DeepSpeed runs (jobs of the launches above)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["zero2", "zero3"])
@pytest.mark.parametrize("job", list(JOBS))
def test_planned_memory_per_gpu_is_within_15_percent_of_deepspeed_peaks(
    stage, job, request, memory_data, record_property
):
    """booktrans.train.plan.memory_per_gpu, asked for the launch's processes, ZeRO stage and DeepSpeed
    buckets (from the project's accelerate and DeepSpeed configs) with no overhead or fragmentation
    (tensor bytes only) and the documents' own share of labelled tokens, is within 15% of the
    largest peak of live tensor bytes any rank measured (booktrans.train.memory.PeakTensorMemory over
    the whole of training, then over the evaluation), for LoRA, full fine-tuning and Ulysses degree 2
    (whose last slice holds every target token of a translation document)."""
    from dataclasses import replace

    from booktrans.model.store import base_config
    from booktrans.train.plan import Arch, launch_hardware, launch_layout, memory_per_gpu

    work, _ = request.getfixturevalue(stage)
    base, docs, _ = memory_data
    accelerate = ROOT / "configs" / "accelerate" / f"cpu-2x-{stage}.yaml"
    hw = replace(launch_hardware(P.plan, *launch_layout(accelerate, ROOT)), overhead_gib=0, fragmentation=0)
    assert (hw.gpus, hw.zero_stage, hw.deepspeed) == (2, int(stage[-1]), True)
    share = label_share(base, docs)
    assert 0.3 < share < 0.7, share  # real translation documents: about half of each row is the target
    ranks = [_summary(work, job, r) for r in (0, 1)]
    assert [r["layout"]["sequence_parallel"] for r in ranks] == [JOBS[job].get("sequence_parallel", 1)] * 2
    assert all(r["valid_documents"] == 1 and r["eval_targets"] > 0 for r in ranks)
    cfg = TrainConfig(**memory_jobs(work, memory_data, BASE)[job]["config"])
    planned = memory_per_gpu(Arch.from_config(base_config(base)), cfg, hw, share)
    for phase in ("train", "eval"):
        measured = max(r["measured"]["peak_bytes"][phase] for r in ranks)
        ratio = planned[phase] / measured
        record_property(f"{phase}_measured_mib", round(measured / 2**20, 2))
        record_property(f"{phase}_planned_mib", round(planned[phase] / 2**20, 2))
        assert 0.85 <= ratio <= 1.15, (phase, ratio, measured, {k: round(v / 2**20, 2) for k, v in planned.items()})


def test_a_round_without_sequence_parallelism_after_one_with_it_trains_as_before(zero2):
    """The ZeRO-2 launch runs b1a4-chunked before the Ulysses round and the same round again after it
    (after-sp): DeepSpeed's sequence-parallel groups and state are undone when a round ends, so the
    second run neither fails nor trains differently."""
    work, _ = zero2
    for rank in (0, 1):
        before, after = _summary(work, "b1a4-chunked", rank), _summary(work, "after-sp", rank)
        assert after["layout"]["sequence_parallel"] == 1 and after["layout"]["data_parallel"] == 2
        assert _losses(after) == pytest.approx(_losses(before), rel=1e-6)
        assert _grad_norms(after) == pytest.approx(_grad_norms(before), rel=1e-6)
        ra, rb = _rows_read(after), _rows_read(before)
        assert {s: sorted(r) for s, r in ra.items()} == {s: sorted(r) for s, r in rb.items()}
        assert all(ra[s][row] == pytest.approx(rb[s][row], rel=1e-6) for s in rb for row in rb[s])
