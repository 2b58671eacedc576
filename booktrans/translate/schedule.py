"""Scheduling: chapters (and chapter titles) are the units of work.

The chunks of one unit are translated in order, each carrying the tail of the previous chunk and its
translation; different units share nothing, so

- a local engine (transformers, vLLM) gets batches of ``batch_size`` chunks from as many different
  units: when a unit ends, the next waiting unit takes its place in the batch (longest units first, so
  the batch stays full until the end);
- a remote engine (an OpenAI-compatible endpoint) runs ``concurrency`` units side by side, each in its
  own thread, one request at a time;
- a finished unit is handed to ``on_unit`` (the caller saves it), and a resumed run skips the units
  it already has: their result does not depend on what else was in the batch's company, save for
  floating-point ties between batch shapes on a GPU.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable

from . import Chunk, TranslateConfig, build_prompt
from .engines import Output, Request

log = logging.getLogger(__name__)


@dataclass
class Unit:
    key: str  # the stream: "<book>.<src>-<tgt>"
    name: str  # "chapter-00003", "title-00003"
    direction: str  # "zh-en" or "en-zh"
    chunks: list[Chunk]

    @property
    def id(self) -> tuple[str, str]:
        return (self.key, self.name)


def _suffix_starts(text: str, lang: str) -> list[int]:
    """Offsets in ``text`` where a sentence starts, ascending."""
    from ..text import split_sentences

    starts, pos = [], len(text)
    for s in reversed(split_sentences(text, lang)):
        i = text.rfind(s, 0, pos)
        if i < 0:
            break
        starts.append(i)
        pos = i
    return sorted(set(starts))


def _tail(text: str, budget: int, count: Callable[[str], int], lang: str) -> str:
    """The longest end of ``text`` within ``budget`` tokens: whole sentences when the last one fits,
    else the end of the last sentence, cut at a character."""
    if budget <= 0 or not text:
        return ""
    if count(text) <= budget:
        return text
    starts = _suffix_starts(text, lang)
    # count(text[i:]) shrinks as i grows: the first sentence start whose tail fits
    k = bisect.bisect_left(starts, True, key=lambda i: count(text[i:]) <= budget)
    if k < len(starts):
        tail = text[starts[k] :].strip()
    else:
        lo, hi = (starts[-1] if starts else 0), len(text)
        while lo < hi:  # the smallest character offset whose tail fits
            mid = (lo + hi) // 2
            if count(text[mid:]) <= budget:
                hi = mid
            else:
                lo = mid + 1
        tail = text[lo:]
        if lang != "zh" and " " in tail:  # do not start in the middle of a word
            tail = tail[tail.index(" ") + 1 :]
        tail = tail.strip()
    while tail and count(tail) > budget:  # a cut can tokenise differently from the whole: shorten until it fits
        tail = tail.split(" ", 1)[1] if lang != "zh" and " " in tail else tail[1:]
    return tail


def carry_tail(
    source: str, translation: str, budget: int, count: Callable[[str], int], src_lang: str, tgt_lang: str
) -> tuple[str, str] | None:
    """The previous chunk and its translation, trimmed to their ends so that together they fit in
    ``budget`` tokens: each side keeps a share of the budget in proportion to its length, so the two
    tails cover about the same stretch of text. None when nothing useful fits."""
    if budget <= 0 or not source.strip() or not translation.strip():
        return None
    ns, nt = count(source), count(translation)
    if ns + nt <= budget:
        return source, translation
    share = max(1, budget * ns // (ns + nt))
    s, t = _tail(source, share, count, src_lang), _tail(translation, budget - share, count, tgt_lang)
    return (s, t) if s and t else None


class _Run:
    """One unit on its way: the next request, and the rows so far."""

    MIN_CARRY = 16  # tokens; less carried context than this is not worth its place in the prompt

    def __init__(
        self, unit: Unit, cfg: TranslateConfig, count: Callable[[str], int], measure: Callable[[list[dict]], int]
    ) -> None:
        self.unit, self.cfg, self.count, self.measure = unit, cfg, count, measure
        self.rows: list[dict] = []
        self._carried = 0

    @property
    def done(self) -> bool:
        return len(self.rows) == len(self.unit.chunks)

    def carry_budget(self, source: str, output: int) -> int:
        """Tokens left for carried context: carry_share of the context, and never more than what the
        prompt without it, the repeated instruction and the output budget leave of the context."""
        alone = self.measure(build_prompt(self.unit.direction, source, None))
        turn = self.measure(build_prompt(self.unit.direction, source, ("", ""))) - alone
        return min(int(self.cfg.context * self.cfg.carry_share), self.cfg.context - alone - turn - output)

    def request(self) -> Request:
        chunk = self.unit.chunks[len(self.rows)]
        src, tgt = self.unit.direction.split("-")
        output = self.cfg.output_budget(self.count(chunk.source))
        previous = None
        if self.rows and self.cfg.carry_share > 0:
            budget = self.carry_budget(chunk.source, output)
            if budget >= self.MIN_CARRY:
                prev = self.rows[-1]
                previous = carry_tail(prev["source"], prev["translation"], budget, self.count, src, tgt)
        self._carried = sum(self.count(x) for x in previous) if previous else 0
        return Request(build_prompt(self.unit.direction, chunk.source, previous), output)

    def accept(self, out: Output) -> int:
        chunk = self.unit.chunks[len(self.rows)]
        self.rows.append(
            {
                "chapter": chunk.chapter,
                "paras": chunk.paras,
                "source": chunk.source,
                "translation": out.text,
                "truncated": out.truncated,
                "stop_reason": out.stop_reason,
                "carried": self._carried,
                "prompt_tokens": out.prompt_tokens,
                "completion_tokens": out.completion_tokens,
                "cached_tokens": out.cached_tokens,
            }
        )
        return self.count(chunk.source)


def matches(unit: Unit, rows: list[dict]) -> bool:
    """Saved rows are of this unit: one per chunk, with the same source text."""
    return len(rows) == len(unit.chunks) and all(r.get("source") == c.source for r, c in zip(rows, unit.chunks))


def pending(units: list[Unit], done: dict[tuple[str, str], list[dict]]) -> list[Unit]:
    """The units that ``done`` does not already hold."""
    return [u for u in units if not (u.id in done and matches(u, done[u.id]))]


def translate_units(
    engine,
    units: list[Unit],
    cfg: TranslateConfig,
    count: Callable[[str], int],
    done: dict[tuple[str, str], list[dict]] | None = None,
    on_unit: Callable[[Unit, list[dict]], None] | None = None,
    progress=None,
) -> dict[tuple[str, str], list[dict]]:
    """Translate every unit; returns (key, name) -> one row per chunk: ``chapter``, ``paras``, ``source``,
    ``translation``, ``truncated``, ``stop_reason``, ``carried`` (tokens of carried context),
    ``prompt_tokens``, ``completion_tokens``, ``cached_tokens``.

    ``count`` gives the tokens of a text (the engine's tokenizer, or an estimate for a remote model).
    ``done`` holds units finished earlier (kept when they match, see ``matches``); ``engine`` may be None
    when nothing is left. ``progress`` (a tqdm bar over source tokens) advances as chunks finish."""
    done = done or {}
    todo = pending(units, done)
    left = {u.id for u in todo}
    results = {u.id: done[u.id] for u in units if u.id not in left}
    if progress is not None and results:
        progress.update(sum(count(c.source) for u in units if u.id in results for c in u.chunks))
    if not todo:
        return results
    runs = [
        _Run(u, cfg, count, engine.prompt_length) for u in sorted(todo, key=lambda u: -len(u.chunks))
    ]  # stable: book order on ties
    if getattr(engine, "parallel", False):
        _run_threads(engine, runs, results, on_unit, progress)
    else:
        _run_batches(engine, runs, cfg.batch_size, results, on_unit, progress)
    return results


def _finish(run: _Run, results: dict, on_unit) -> None:
    results[run.unit.id] = run.rows
    if on_unit is not None:
        on_unit(run.unit, run.rows)


def _run_batches(engine, runs: list[_Run], batch_size: int, results: dict, on_unit, progress) -> None:
    waiting = deque(runs)
    active: list[_Run] = []
    while waiting or active:
        while len(active) < batch_size and waiting:
            active.append(waiting.popleft())
        outs = engine.generate([r.request() for r in active])
        advanced = sum(r.accept(o) for r, o in zip(active, outs))
        if progress is not None:
            progress.update(advanced)
        for r in [r for r in active if r.done]:
            _finish(r, results, on_unit)
        active = [r for r in active if not r.done]


def _run_threads(engine, runs: list[_Run], results: dict, on_unit, progress) -> None:
    waiting = deque(runs)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
            with lock:
                if not waiting:
                    return
                run = waiting.popleft()
            try:
                while not run.done and not stop.is_set():
                    n = run.accept(engine.generate([run.request()])[0])
                    if progress is not None:
                        with lock:
                            progress.update(n)
                if run.done:
                    with lock:
                        _finish(run, results, on_unit)
            except BaseException as exc:  # the first error stops every worker after its current request
                with lock:
                    errors.append(exc)
                stop.set()
                return

    threads = [
        threading.Thread(target=worker, daemon=True, name=f"translate-{k}")
        for k in range(min(getattr(engine, "concurrency", 1), len(runs)))
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except KeyboardInterrupt:  # requests in flight are abandoned; finished units are saved already (atomically)
        stop.set()
        raise
    if errors:
        raise errors[0]
