"""Meters of what a training step allocates, on any device, the CPU included: torch dispatch modes
that see every tensor an operator returns (forward and backward alike).

``PeakTensorMemory`` counts every tensor by its storage until the storage is freed, so its peak is the
largest sum of live tensor bytes: what a GPU's caching allocator reports as ``max_memory_allocated``
minus fragmentation. ``LargestVocabTensor`` records the most rows of any vocabulary-wide tensor (the
logits). A round turns them on with ``TrainConfig.extra["measure"]``; booktrans.train.memory measures
single steps with them against the planner. This module imports nothing of the planner, so the train
stage's code dependencies stay clear of it.
"""

from __future__ import annotations


def _mode():
    import torch
    from torch.multiprocessing.reductions import StorageWeakRef
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class PeakTensorMemory(TorchDispatchMode):
        """Largest sum of live tensor bytes while active, the storages of ``held`` included."""

        def __init__(self, held=()) -> None:
            super().__init__()
            self.live: dict[int, tuple] = {}
            self.current = 0
            for t in held:  # tensors alive before the step (weights, optimizer state): counted once
                self._add(t)
            self.peak = self.current

        def _add(self, t) -> bool:
            # Storages are keyed by their StorageImpl address. The weak reference kept in ``live`` pins
            # that address until a sweep drops it, so a freed storage's address is never taken by a new
            # one while its entry is here (tests/test_plan_memory.py). A storage already here may have
            # grown in place (``resize_``, an ``out=`` operator): its entry takes the new size.
            st = t.untyped_storage()
            ref = StorageWeakRef(st)
            size = st.nbytes()
            before = self.live.get(ref.cdata, (None, 0))[1]
            if size == before:  # counted already (or empty)
                return False
            self.live[ref.cdata] = (ref, size)
            self.current += size - before
            if size < before:
                return False
            # ``current`` also holds storages freed since the last sweep, so it can only be too high;
            # it needs the (costly) exact count only when it would raise the peak
            if self.current > getattr(self, "peak", 0):
                self._sweep()
            return True

        def _sweep(self) -> None:
            for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
                self.current -= self.live.pop(key)[1]

        def reset(self, held=()) -> None:
            """Start a new peak from what is alive now, the storages of ``held`` added (tensors made
            before the mode was entered, or outside it: weights loaded before, ZeRO-3's partitions)."""
            self._sweep()
            for t in held:
                self._add(t)
            self._sweep()
            self.peak = self.current

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            grew = False
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor) and not t.is_meta:
                    grew = self._add(t) or grew
            if grew and self.current > self.peak:
                self.peak = self.current
            return out

    return PeakTensorMemory


def PeakTensorMemory(held=()):  # noqa: N802 - a class made on first use (torch is imported lazily)
    """Count the peak of live tensor bytes inside ``with PeakTensorMemory(held) as m:`` (``m.peak``)."""
    return _mode()(held)


def held_tensors(model, optimizer=None) -> list:
    """The tensors a training process holds between steps: the model's parameters, their gradients
    and buffers, each ZeRO-3 parameter's partition (``ds_tensor``), and the optimizer's state (every
    wrapper's, DeepSpeed's included). A meter entered after they were made counts them from ``PeakTensorMemory.reset``;
    a storage reached twice (a parameter that is a view of DeepSpeed's flat buffer) is counted once."""
    import torch

    out = []
    for p in list(model.parameters()) + list(model.buffers()):
        out.append(p)
        if isinstance(getattr(p, "grad", None), torch.Tensor):
            out.append(p.grad)
        if isinstance(getattr(p, "ds_tensor", None), torch.Tensor):
            out.append(p.ds_tensor)
    seen, opt = set(), optimizer
    while opt is not None and id(opt) not in seen:  # accelerate's wrapper, DeepSpeed's, torch's
        seen.add(id(opt))
        state = getattr(opt, "state", None)
        for entry in state.values() if isinstance(state, dict) else ():
            if isinstance(entry, dict):
                out.extend(v for v in entry.values() if isinstance(v, torch.Tensor))
        opt = getattr(opt, "optimizer", None)
    return [t for t in out if isinstance(t, torch.Tensor) and not t.is_meta]


def _vocab_mode():
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class LargestVocabTensor(TorchDispatchMode):
        """The largest vocabulary-wide tensor any operator creates while active: ``rows`` is its
        number of elements over the vocabulary (rows of logits, of their fp32 copy, softmax or
        gradient), ``shape`` its shape. Views are skipped (the head's transposed weight is one);
        so is anything whose last dimension is not the vocabulary. A dispatch mode sees what a
        forward hook on the head would miss: the upcast, the softmax, the logits' gradient in the
        backward pass (autograd runs under the mode that was active in the forward pass) and any
        kernel that reads the head's weight directly."""

        def __init__(self, vocab: int) -> None:
            super().__init__()
            self.vocab = int(vocab)
            self.rows = 0
            self.shape: list[int] | None = None

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if not func.is_view:
                for t in tree_flatten(out)[0]:
                    if isinstance(t, torch.Tensor) and t.dim() >= 2 and t.shape[-1] == self.vocab:
                        rows = t.numel() // self.vocab
                        if rows > self.rows:
                            self.rows, self.shape = rows, list(t.shape)
            return out

    return LargestVocabTensor


def LargestVocabTensor(vocab: int):  # noqa: N802 - a class made on first use (torch is imported lazily)
    """``with LargestVocabTensor(V) as m:`` ... ``m.rows``: the most rows of any vocabulary-wide tensor
    created inside (a training round turns it on with ``TrainConfig.extra["measure"]`` holding
    ``"logits"``; the summary reports ``measured.largest_logits_rows`` for training and evaluation)."""
    return _vocab_mode()(vocab)
