"""The planner's memory per GPU against measurement: peak tensor memory of real forward + backward
steps of small Qwen2-architecture models on the CPU, built and fed by the training code itself
(booktrans.train.rounds.build_model, its collator, the chunked loss), at several sequence lengths, LoRA and
full, fp32 and bf16, with and without gradient checkpointing.

The ACTIVATIONS table in booktrans/train/plan.py was counted on one shape (hidden 96, MLP 352, KV width 48,
3 and 5 layers, 768 tokens); every shape below differs from it in width, MLP ratio, heads, layers,
vocabulary and length, so this test reports on data the table was not read from.
"""

from __future__ import annotations

import json

import pytest
from project import P

from booktrans.train.memory import measure_step
from booktrans.train.plan import GIB

# (hidden, MLP, layers, heads, KV heads, vocabulary), tokens, method, dtype, checkpointing
CASES = [
    ((128, 448, 4, 4, 2, 3000), 512, "lora", "float32", True),
    ((128, 448, 4, 4, 2, 3000), 2048, "lora", "float32", True),
    ((128, 448, 4, 4, 2, 3000), 1024, "full", "float32", True),
    ((160, 576, 3, 5, 1, 2500), 1536, "lora", "bfloat16", True),
    ((160, 576, 3, 5, 1, 2500), 768, "full", "bfloat16", True),
    ((64, 256, 6, 4, 2, 2000), 1024, "lora", "float32", False),
    ((64, 256, 6, 4, 2, 2000), 512, "full", "bfloat16", False),
]


@pytest.mark.parametrize("shape, tokens, method, dtype, checkpointing", CASES)
def test_planned_memory_is_within_15_percent_of_the_measured_peak(
    tmp_path, shape, tokens, method, dtype, checkpointing, record_property
):
    measured, planned = measure_step(tmp_path, shape, tokens, method, dtype, checkpointing, params=P)
    ratio = planned["total"] / measured
    record_property("memory", json.dumps({"measured_mib": measured / 2**20, "planned_mib": planned["total"] / 2**20}))
    assert 0.85 <= ratio <= 1.15, (
        f"planned {planned['total'] / 2**20:.2f} MiB, measured {measured / 2**20:.2f} MiB",
        {k: round(v / 2**20, 2) for k, v in planned.items()},
    )
    assert planned["total"] < 80 * GIB


def test_the_meter_counts_live_storages_once_and_forgets_freed_ones():
    import torch

    from booktrans.train.meters import PeakTensorMemory

    held = torch.zeros(256)  # 1 KiB before the step
    with PeakTensorMemory([held]) as meter:
        a = torch.ones(1000)  # 4,000 bytes
        view = a[10:20].t()  # a view: no new storage
        b = torch.ones(2000) + 1  # the ones are freed at once; b stays: 8,000
        del a, view
        c = torch.ones(500)  # 2,000
        held.add_(1)  # in place: nothing new
    assert meter.peak == 1024 + 4000 + 8000 + 8000  # ones(2000) and b were alive together
    del b, c


def test_the_meter_counts_a_storage_that_grows_in_place_at_its_new_size():
    """A tensor resized in place keeps its storage (the same address), now larger: the meter counts the
    bytes it holds, not the size it was first seen at (it counted 4,000 bytes here before)."""
    import torch

    from booktrans.train.meters import PeakTensorMemory

    with PeakTensorMemory() as meter:
        a = torch.empty(1000)  # 4,000 bytes
        a.resize_(5000)  # the same storage, 20,000 bytes
        grown = a.untyped_storage().nbytes()
        b = torch.empty(0)
        torch.cat([a[:100], a[:100]], out=b)  # an out= operator fills an empty tensor: 800 bytes
    assert grown == 20_000 and meter.peak == 20_000 + 800
    del a, b


def test_a_freed_storage_keeps_its_address_until_a_sweep_forgets_it():
    """The meter keys storages by address. A freed storage's entry would count a new storage at the
    same address as already seen, so the weak reference the entry keeps pins the address: no storage
    made before the next sweep lands there; the sweep (at a new peak) drops the entry and counts
    exactly what is alive, and every new storage is then counted at its own size. (Whether the
    allocator reuses the address after the sweep is its own choice, so the test does not wait for it:
    an earlier version did and was skipped when it did not happen.)"""
    import torch

    from booktrans.train.meters import PeakTensorMemory

    with PeakTensorMemory() as meter:
        first = torch.empty(30_000)  # 120,000 bytes: the peak the small storages below stay under
        del first
        a = torch.empty(1000)  # 4,000 bytes
        address = a.untyped_storage()._cdata
        del a
        assert address in meter.live and meter.live[address][0].expired()
        made = [torch.empty(10) for _ in range(2000)]  # 40 bytes each, no new peak: none may take a's address
        assert meter.peak == 120_000 and meter.current == 84_000 and address in meter.live
        assert all(t.untyped_storage()._cdata != address for t in made)
        del made
        big = torch.empty(40_000)  # 160,000 bytes, a new peak: the sweep forgets a and the 2,000 small ones
        assert address not in meter.live
        assert meter.current == 160_000 and meter.peak == 160_000
        t = torch.empty(3000)  # 12,000 bytes, wherever it lands
        assert meter.live[t.untyped_storage()._cdata][1] == 12_000
        assert meter.current == 172_000 and meter.peak == 172_000
    del big, t


def test_a_reset_meter_starts_its_peak_from_what_is_alive_and_counts_held_storages_once():
    """How a round meters a phase (booktrans.train.trainer, ``extra.measure: [memory]``): the meter is
    reset when training or evaluation begins, with the weights and optimizer state as held tensors.
    Weights that are views of one flat buffer (as DeepSpeed's ZeRO-1/2 lays them out) count once, a
    storage made before the meter (not seen by it) is counted from the reset, and the earlier peak
    is forgotten."""
    import torch

    from booktrans.train.meters import PeakTensorMemory, held_tensors

    flat = torch.zeros(3000)  # 12,000 bytes, made before the meter
    model = torch.nn.Linear(10, 100)  # weight 1,000 and bias 100 elements, then views of ``flat``
    with torch.no_grad():
        model.weight.data = flat[:1000].view(100, 10)
        model.bias.data = flat[1000:1100]
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(2, 10)).sum().backward()
    opt.step()  # Adam's state: 2 x 1,100 elements (and two step counters); the gradients stay
    meter = PeakTensorMemory()
    with meter:
        big = torch.ones(50_000)  # 200,000 bytes: the first phase's peak
        del big
        meter.reset(held_tensors(model, opt))
        held = meter.current
        x = torch.ones(1000)  # 4,000 bytes
    state = sum(v.untyped_storage().nbytes() for s in opt.state.values() for v in s.values())
    assert state >= 2 * 4400
    assert held == 12_000 + 4400 + state  # the flat buffer once, the two gradients, Adam's state
    assert meter.peak == held + 4000 < 200_000
    del x
