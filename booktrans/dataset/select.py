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
        grams.add(int.from_bytes(hashlib.blake2b(han[k : k + zh_n].encode(), digest_size=8).digest(), "big"))
    words = [w.lower() for w in _WORD.findall(text)]
    for k in range(len(words) - en_n + 1):
        grams.add(
            int.from_bytes(hashlib.blake2b(" ".join(words[k : k + en_n]).encode(), digest_size=8).digest(), "big")
        )
    return grams


_RANK = {"train": 0, "valid": 1, "test": 2}


class LeakageIndex:
    """Hashed n-grams of the held-out books: validation books and test books. A document leaks when
    it shares an n-gram with a book of a later split than its own — a training document with a
    validation or test book, a validation document with a test book (never with its own book)."""

    def __init__(self, zh_n: int = 12, en_n: int = 8) -> None:
        self.zh_n, self.en_n = zh_n, en_n
        self.owner: dict[int, str] = {}
        self.split_of: dict[str, str] = {}

    def add(self, book: str, text: str, split: str = "test") -> None:
        if split not in ("valid", "test"):
            raise ValueError(f"only held-out books (valid, test) are indexed, not {split!r}")
        self.split_of[book] = split
        for g in _ngrams(text, self.zh_n, self.en_n):
            # a gram of both a validation and a test book belongs to the test book (the stricter one)
            old = self.owner.get(g)
            if old is None or _RANK[split] > _RANK[self.split_of[old]]:
                self.owner[g] = book

    def hits(self, doc: dict) -> set[str]:
        text = "\n".join(m["content"] for m in doc["messages"] if m["role"] != "system")
        own, rank = doc["meta"]["book"], _RANK[doc["meta"].get("split", "train")]
        found = {self.owner[g] for g in _ngrams(text, self.zh_n, self.en_n) if g in self.owner}
        return {b for b in found if b != own and _RANK[self.split_of[b]] > rank}

    def check(self, docs: list[dict]) -> dict:
        """Raise BooktransError naming the first leaking documents; else return what was checked."""
        leaks = []
        for d in docs:
            books = self.hits(d)
            if books:
                named = sorted(f"{b} ({self.split_of[b]})" for b in books)
                leaks.append(
                    f"{d['meta'].get('split', 'train')} document {d['meta']['book']} beads {d['meta']['beads']} "
                    f"shares text with held-out {named}"
                )
        if leaks:
            raise BooktransError(f"leakage: {len(leaks)} document(s) contain held-out text: " + "; ".join(leaks[:3]))
        held = {s: sorted(b for b, x in self.split_of.items() if x == s) for s in ("valid", "test")}
        return {
            "held_out_ngrams": len(self.owner),
            "documents_checked": len(docs),
            "leaks": 0,
            "held_out_books": {s: len(b) for s, b in held.items()},
        }


def book_shingles(zh_text: str, en_text: str, zh_n: int = 5, en_n: int = 3) -> set[str]:
    """Shingles of one book for near-duplicate detection: runs of zh_n Han characters and en_n words."""
    han = "".join(_HAN.findall(zh_text))
    out = {han[k : k + zh_n] for k in range(len(han) - zh_n + 1)}
    words = [w.lower() for w in _WORD.findall(en_text)]
    out |= {" ".join(words[k : k + en_n]) for k in range(len(words) - en_n + 1)}
    return out


def near_duplicates(
    books: dict[str, tuple[str, set[str]]], threshold: float = 0.5, num_perm: int = 128, seed: int = 1
) -> list[dict]:
    """Pairs of books in different splits whose shingle sets are near-duplicates: MinHash LSH
    (datasketch) finds candidates above ``threshold`` estimated Jaccard similarity, and each candidate
    is confirmed with the exact Jaccard of the two sets. ``books``: id -> (split, shingles).
    Returns [{"books": [a, b], "splits": [sa, sb], "jaccard": j}] sorted by book ids."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    signatures = {}
    for book in sorted(books):
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch([s.encode("utf-8") for s in sorted(books[book][1])])
        lsh.insert(book, m)
        signatures[book] = m
    found = []
    for book in sorted(books):
        for other in sorted(lsh.query(signatures[book])):
            if other <= book or books[other][0] == books[book][0]:
                continue
            a, b = books[book][1], books[other][1]
            j = len(a & b) / len(a | b) if a | b else 0.0
            if j >= threshold:
                found.append(
                    {"books": [book, other], "splits": [books[book][0], books[other][0]], "jaccard": round(j, 4)}
                )
    return found


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
        chosen += idx[: quota[g]]
    return [docs[k] for k in sorted(chosen)]
