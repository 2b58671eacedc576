"""The planner's formulas against hand calculations (docs/train.md, "Planning a run")."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from project import hardware, train_config

from booktrans.train.plan import GIB, Arch, activation_bytes, memory_per_gpu, model_flops_per_token, plan_round

# hidden 8, 2 layers, MLP 16, vocab 10, 2 heads of 4, 1 KV head, untied, q/k/v biases
ARCH = Arch(hidden=8, layers=2, intermediate=16, vocab=10, heads=2, kv_heads=1)


def test_parameter_counts_by_hand():
    # per layer: q 64 + k 32 + v 32 + o 64 + gate 128 + up 128 + down 128 = 576; biases 8+4+4; norms 2x8
    assert ARCH.params() == 10 * 8 * 2 + 2 * (576 + 16 + 16) + 8 == 1384
    assert ARCH.matmul_params() == 2 * 576 + 80
    assert ARCH.lora_params(2, ("q_proj", "v_proj")) == 2 * (2 * (8 + 8) + 2 * (8 + 4)) == 112
    assert ARCH.extra_params(("embed_tokens", "norm")) == 80 + 5 * 8


def test_qwen25_7b_parameter_count_matches_the_published_size(root):
    arch = Arch.from_config(json.loads((root / "configs/models/qwen2.5-7b.json").read_text()))
    assert 7.6e9 < arch.params() < 7.65e9  # published: 7.61B


def test_memory_per_gpu_by_hand():
    """Each part of the estimate on a small shape (the activation counts themselves are measured against
    real steps in tests/test_plan_memory.py)."""
    cfg = train_config(
        context=100,
        lora_r=2,
        target_modules=("q_proj", "v_proj"),
        gradient_checkpointing=True,
        loss="chunked",
        loss_chunk=20,
        dtype="bfloat16",
    )
    hw = hardware(gpus=4, zero_stage=3, overhead_gib=0, fragmentation=0, reduce_bucket=10)
    m = memory_per_gpu(ARCH, cfg, hw, 0.5)
    # DeepSpeed bf16: weights and adapters in bf16, sharded 4 ways under ZeRO-3; gradients bf16; fp32
    # master copy + Adam moments = 12 bytes per trained weight
    assert m["weights"] == (1384 * 2 + 2 * 112) / 4
    assert m["gradients"] == 2 * 112 / 4 and m["optimizer"] == 12 * 112 / 4
    per = activation_bytes(ARCH, cfg, 0.5)
    assert per["layer"] == 8 * 2  # each layer's input, in bf16
    assert m["activations"] == (2 * per["layer"] + per["fixed"]) * 100
    # the loss chunk (20 rows, vocabulary 10, 14 bytes an entry) is smaller than one layer's work here
    assert m["working"] == max(per["work"] * 100, 20 * 10 * 14)
    assert m["gather"] == 1384 * 2 + 2 * 112  # ZeRO-3: every weight stays gathered (below max_live_parameters)
    capped = memory_per_gpu(ARCH, cfg, replace(hw, max_live_parameters=100), 0.5)
    assert capped["gather"] == 2 * 100
    assert m["communication"] == 2 * 2 * 10  # double-buffered reduce bucket
    # one process without DeepSpeed: nothing sharded, no communication, fp32 adapters and Adam in torch
    one = memory_per_gpu(
        ARCH, cfg, hardware(gpus=1, zero_stage=0, deepspeed=False, overhead_gib=0, fragmentation=0), 0.5
    )
    assert one["weights"] == 1384 * 2 + 4 * 112 and one["gradients"] == 4 * 112 and one["optimizer"] == 8 * 112
    assert one["communication"] == 0 and one["gather"] == 0
    # sequence parallelism divides the tokens each GPU holds; the target side of a translation
    # document (half of the row) is the last slice's whole: that GPU is priced
    sp_cfg = train_config(**{**cfg.__dict__, "sequence_parallel": 2})
    sp = memory_per_gpu(ARCH, sp_cfg, hw, 0.5)
    sp_per = activation_bytes(ARCH, sp_cfg, 1.0)
    assert sp["activations"] == (2 * sp_per["layer"] + sp_per["fixed"]) * 50 < m["activations"]
    assert sp["working"] == max(sp_per["work"] * 50, 20 * 10 * 14)
    # ZeRO-2 keeps whole weights and no all-gather bucket (measured); full fine-tuning trains all
    full = memory_per_gpu(
        ARCH,
        train_config(context=100, method="full", dtype="bfloat16"),
        hardware(gpus=4, zero_stage=2, overhead_gib=0, fragmentation=0, allgather_bucket=100),
        0.5,
    )
    assert full["weights"] == 1384 * 2 and full["gradients"] == 2 * 1384 / 4 and full["optimizer"] == 12 * 1384 / 4
    assert full["communication"] == 2 * 2 * 64
    # fragmentation and the CUDA context come on top
    frag = memory_per_gpu(
        ARCH, cfg, hardware(gpus=4, zero_stage=3, overhead_gib=1.5, fragmentation=0.05, reduce_bucket=10), 0.5
    )
    assert frag["total"] == pytest.approx(m["total"] * 1.05 + 1.5 * GIB)


def test_flops_steps_hours_and_cost_by_hand():
    lora = train_config(context=100, gradient_checkpointing=True)
    fwd_mm, fwd_attn = 2 * 1232, 2 * 2 * 8 * 100
    # model FLOPs: recomputation under gradient checkpointing is not counted (MFU's definition)
    assert model_flops_per_token(ARCH, lora) == 2 * fwd_mm + 3 * fwd_attn
    assert model_flops_per_token(ARCH, train_config(context=100, method="full")) == 3 * fwd_mm + 3 * fwd_attn
    hw = hardware(gpus=4, peak_tflops=2.0, mfu=0.5, price_per_gpu_hour=3.0)
    r = plan_round(
        ARCH,
        train_config(context=100, epochs=2, grad_accum=2, gradient_checkpointing=True),
        hw,
        tokens=1000,
        documents=10,
        label_share=0.5,
    )
    assert r["steps"] == 3  # ceil(10 documents x 2 epochs / (1 x 2 x 4 GPUs))
    hours = 2000 * model_flops_per_token(ARCH, lora) / (4 * 2e12 * 0.5) / 3600
    assert r["hours"] == pytest.approx(hours) and r["gpu_hours"] == pytest.approx(4 * hours)
    assert r["cost"] == pytest.approx(4 * hours * 3.0)
    packed = plan_round(ARCH, train_config(context=100, packing=True, epochs=1), hw, 1000, 40, 0.5)
    assert packed["rows"] == 10 and packed["steps"] == 3


def test_make_plan_prints_every_round_of_the_cluster_profile(root):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "booktrans.cli",
            "plan",
            "--params",
            str(root / "params.yaml"),
            "--profile",
            str(root / "configs/cluster-24xh100.yaml"),
            "--tokens",
            "30000000",
        ],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "7.62B parameters" in out and "24 GPU(s) x 80 GiB" in out and "$1.00 per GPU-hour" in out
    rows = [
        line.split()
        for line in out.splitlines()
        if line.startswith("r") and line.split()[0] in ("r1", "r2", "r3", "r4")
    ]
    assert [r[1] for r in rows] == ["8192", "65536", "131072", "131072"]
    assert all(r[3] == "2" for r in rows)  # the LoRA rounds run on ZeRO-2
    assert all(r[9] == "yes" for r in rows)  # every round fits in 80 GB as configured
    assert "never checkpoint" not in out  # save_steps is a share of each round's steps
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "booktrans.cli",
            "plan",
            "--params",
            str(root / "params.yaml"),
            "--profile",
            str(root / "configs/cluster-24xh100.yaml"),
            "--tokens",
            "1000",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=root,
    )
    data = json.loads(res.stdout)
    assert set(data["rounds"]) == {"r1", "r2", "r3", "r4"} and data["rounds"]["r3"]["memory_gib"] < 80


def test_a_plan_that_cannot_fit_says_so():
    arch = Arch(hidden=3584, layers=28, intermediate=18944, vocab=152064, heads=28, kv_heads=4)
    full_one_gpu = memory_per_gpu(
        arch,
        train_config(context=8192, method="full", gradient_checkpointing=True, dtype="bfloat16"),
        hardware(gpus=1, zero_stage=0),
        0.5,
    )
    assert full_one_gpu["total"] > 80 * GIB  # 16 bytes per parameter alone is ~122 GB


def test_a_round_that_would_never_checkpoint_is_flagged(root):
    import yaml

    from booktrans.params import from_dict
    from booktrans.profile import merged_params
    from booktrans.train.plan import format_plan, plan

    params = merged_params(root / "configs/cluster-24xh100.yaml", yaml.safe_load((root / "params.yaml").read_text()))
    params["train"]["save_steps"] = 100  # the old profile: rounds 3 and 4 have ~20 steps
    out = format_plan(plan(from_dict(params), root, tokens=30_000_000))
    assert "warning: r3 has 20 steps and train.save_steps is 100: it would never checkpoint" in out


@pytest.fixture(scope="module")
def built(tmp_path_factory, sample_paragraphs, tiny_base, root):
    """Round r1's dataset built by the dataset stage's code from the sample books (aligned here), twice: in
    documents of 256 tokens (the demo's r1), where the system prompt and instruction take a large part, and
    of 1024 tokens. {"short" | "long": the folder holding r1/stats.json}."""
    from dataclasses import replace

    from project import P, align_book

    from booktrans.dataset.build import RoundData, build_round_data
    from booktrans.io import write_jsonl
    from booktrans.manifest import load_manifest
    from booktrans.model import load_tokenizer

    tmp = tmp_path_factory.mktemp("built")
    books = [b for b in load_manifest(root / "data/books.yaml") if b.split in ("train", "valid")]
    for b in books:
        beads, _ = align_book(sample_paragraphs[(b.id, "zh")], sample_paragraphs[(b.id, "en")])
        write_jsonl(tmp / "aligned" / f"{b.id}.jsonl", beads)
    tok = load_tokenizer(tiny_base)
    out = {}
    for name, context in (("short", 256), ("long", 1024)):
        spec = replace(RoundData.from_params(P, "r1"), context=context, short_share=0.0)
        build_round_data("r1", books, tmp / "aligned", tok, spec, tmp / name / "r1", tmp / name / "cards")
        out[name] = tmp / name
    return out


def _stats(folder) -> dict:
    return json.loads((folder / "r1" / "stats.json").read_text(encoding="utf-8"))


def test_booktrans_plan_reads_the_dataset_stages_counts_from_the_folder_it_is_given(root, built):
    data = built["short"]
    cmd = [sys.executable, "-m", "booktrans.cli", "plan", "--params", str(root / "params.yaml"), "--json"]
    res = subprocess.run([*cmd, "--data", str(data)], capture_output=True, text=True, check=True)
    rounds = json.loads(res.stdout)["rounds"]
    assert rounds["r1"]["tokens"] == _stats(data)["train"]["tokens"] > 0
    assert all("tokens" not in rounds[r] for r in rounds if r != "r1")  # not built: memory only, no hours
    (data / "r2").mkdir()
    (data / "r2" / "stats.json").write_text(json.dumps({"train": {"documents": 3}}), encoding="utf-8")
    res = subprocess.run([*cmd, "--data", str(data)], capture_output=True, text=True)
    assert res.returncode == 2 and str(data / "r2" / "stats.json") in res.stderr and "tokens" in res.stderr
    # a stats.json from before labelled tokens were counted: rebuild, rather than a share made up
    (data / "r2" / "stats.json").write_text(json.dumps({"train": {"documents": 3, "tokens": 900}}), encoding="utf-8")
    res = subprocess.run([*cmd, "--data", str(data)], capture_output=True, text=True)
    assert res.returncode == 2 and "no target_tokens" in res.stderr and "dvc repro dataset@" in res.stderr
    (data / "r2" / "stats.json").unlink()


def test_the_reports_estimate_comes_from_the_round_summaries_it_depends_on(root, built, tmp_path):
    """The report stage depends on reports/rounds/, not on data/sft/: the planner gets its counts from there."""
    from booktrans.params import load
    from booktrans.report.build import planned_cost

    params = load(root / "params.yaml")
    stats = _stats(built["long"])
    (tmp_path / "r1.json").write_text(json.dumps({"round": "r1", "data": stats, "loss": []}), encoding="utf-8")
    got = planned_cost(params, tmp_path, root)["rounds"]
    assert got["r1"]["tokens"] == stats["train"]["tokens"] and all("tokens" not in got[r] for r in got if r != "r1")
    assert planned_cost(params, tmp_path / "absent", root)["rounds"]["r1"].get("tokens") is None


def test_the_loss_is_planned_for_the_datas_own_share_of_labelled_tokens(root, built):
    """Short documents are mostly prompt and source: the dataset counts a smaller share of labelled tokens,
    and the planner gives the same round's loss and activations less memory for them. Without data (a
    round not built, or --tokens) it takes plan.label_share."""
    from dataclasses import replace

    from project import P

    from booktrans.errors import ConfigError
    from booktrans.train.plan import DataCounts, plan

    counts = {d: DataCounts.read(folder / "r1" / "stats.json", "train") for d, folder in built.items()}
    short, long = counts["short"].label_share, counts["long"].label_share
    print(f"labelled share: {short:.3f} in 256-token documents, {long:.3f} in 1024-token ones")
    assert short < 0.9 * long < 0.9 * 0.5  # neither is the half the planner used to assume
    planned = {d: plan(P, root, {"r1": c})["rounds"]["r1"] for d, c in counts.items()}
    assert planned["short"]["label_share"] == short
    mem = {d: planned[d]["memory"] for d in planned}
    assert mem["short"]["total"] < mem["long"]["total"]
    assert mem["short"]["activations"] + mem["short"]["working"] < mem["long"]["activations"] + mem["long"]["working"]
    assert all(mem["short"][k] == mem["long"][k] for k in ("weights", "gradients", "optimizer"))  # the loss's terms
    # no data: the declared share; planned at the data's share, it gives what the data gave
    declared = replace(P, plan=replace(P.plan, label_share=long))
    unbuilt = plan(declared, root)["rounds"]["r1"]
    assert "missing" in unbuilt and unbuilt["memory"] == mem["long"]
    asked = plan(declared, root, tokens=10**6)["rounds"]["r1"]
    assert asked["memory"] == mem["long"] and asked["label_share"] == long
    with pytest.raises(ConfigError, match=r"plan.label_share is 0; a share is in \(0, 1\]"):
        plan(replace(P, plan=replace(P.plan, label_share=0)), root, tokens=10**6)
