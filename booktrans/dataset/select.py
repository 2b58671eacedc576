"""Choosing a round's training documents: duplicates out, held-out text never in, genres mixed by
weight, and a share of short documents kept in long rounds."""

from __future__ import annotations

import hashlib
import random
import re
from collections import defaultdict

from ..errors import BooktransError

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+")


def doc_key(doc: dict) -> str:
    text = "\x00".join(m["content"] for m in doc["messages"] if m["role"] != "system")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dedupe(docs: list[dict]) -> tuple[list[dict], int]:
    """Drop documents whose instruction, source and target repeat an earlier one. Returns (kept, dropped)."""
    seen: set[str] = set()
    out = []
    for d in docs:
        k = doc_key(d)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out, len(docs) - len(out)


def _ngrams(text: str, zh_n: int, en_n: int) -> set[int]:
    """Hashed n-grams: runs of zh_n Han characters and of en_n English words (8 bytes of blake2b each)."""
    grams: set[int] = set()
    han = "".join(_HAN.findall(text))
    for k in range(len(han) - zh_n + 1):
        grams.add(int.from_bytes(hashlib.blake2b(han[k:k + zh_n].encode(), digest_size=8).digest(), "big"))
    words = [w.lower() for w in _WORD.findall(text)]
    for k in range(len(words) - en_n + 1):
        grams.add(int.from_bytes(hashlib.blake2b(" ".join(words[k:k + en_n]).encode(), digest_size=8).digest(), "big"))
    return grams


class LeakageIndex:
    """Hashed n-grams of the held-out books; a training document that shares any is a leak."""

    def __init__(self, zh_n: int = 12, en_n: int = 8) -> None:
        self.zh_n, self.en_n = zh_n, en_n
        self.owner: dict[int, str] = {}

    def add(self, book: str, text: str) -> None:
        for g in _ngrams(text, self.zh_n, self.en_n):
            self.owner.setdefault(g, book)

    def hits(self, doc: dict) -> set[str]:
        text = "\n".join(m["content"] for m in doc["messages"] if m["role"] != "system")
        return {self.owner[g] for g in _ngrams(text, self.zh_n, self.en_n) if g in self.owner}

    def check(self, docs: list[dict]) -> dict:
        """Raise BooktransError naming the first leaking documents; else return what was checked."""
        leaks = []
        for d in docs:
            books = self.hits(d)
            if books:
                leaks.append(f"{d['meta']['book']} beads {d['meta']['beads']} shares text with held-out {sorted(books)}")
        if leaks:
            raise BooktransError(f"leakage: {len(leaks)} training document(s) contain held-out text: " + "; ".join(leaks[:3]))
        return {"held_out_ngrams": len(self.owner), "documents_checked": len(docs), "leaks": 0}


def mix(docs: list[dict], weights: dict[str, float], count: int, seed: int) -> list[dict]:
    """Pick ``count`` documents (all when 0 or fewer exist) so that genres follow ``weights`` as far as
    the documents available allow; deterministic for a seed, original order kept."""
    if count <= 0 or count >= len(docs):
        return list(docs)
    by_genre: dict[str, list[int]] = defaultdict(list)
    for k, d in enumerate(docs):
        by_genre[d["meta"]["genre"]].append(k)
    for g in by_genre:
        if weights.get(g, 0) < 0:
            raise BooktransError(f"dataset.genre_weights.{g} must not be negative")
    active = {g: float(weights.get(g, 1.0)) for g in by_genre if weights.get(g, 1.0) > 0}
    quota: dict[str, int] = {g: 0 for g in active}
    left = count
    while left > 0 and active:
        total = sum(active.values())
        room = {g: len(by_genre[g]) - quota[g] for g in active}
        share = {g: max(1, int(left * w / total)) if room[g] else 0 for g, w in active.items()}
        given = 0
        for g in sorted(active):
            take = min(share[g], room[g], left - given)
            quota[g] += take
            given += take
        left -= given
        active = {g: w for g, w in active.items() if quota[g] < len(by_genre[g])}
        if given == 0:
            break
    rng = random.Random(seed)
    chosen: list[int] = []
    for g in sorted(quota):
        idx = list(by_genre[g])
        rng.shuffle(idx)
        chosen += idx[:quota[g]]
    return [docs[k] for k in sorted(chosen)]
