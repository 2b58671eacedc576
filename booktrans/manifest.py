"""The book manifest (``data/books.yaml``): one entry per work with both editions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ManifestError

GENRES = ("textbook", "novel", "popsci", "poetry")
SPLITS = ("train", "valid", "test")
REQUIRED = ("id", "title", "genre", "zh", "en", "source", "license", "split")


@dataclass(frozen=True)
class Book:
    id: str
    title: str
    genre: str
    zh: str  # path relative to the project root
    en: str
    source: str
    license: str
    split: str

    def file(self, lang: str) -> str:
        return {"zh": self.zh, "en": self.en}[lang]


def load_manifest(path: str | Path) -> list[Book]:
    """Read and validate the manifest. Raises ManifestError naming the entry and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: not valid YAML ({exc})") from None
    entries = data.get("books") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{path}: expected a top-level 'books:' list with at least one entry")
    books: list[Book] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path}: books[{i}]"
        if not isinstance(entry, dict):
            raise ManifestError(f"{where}: expected a mapping")
        missing = [k for k in REQUIRED if not entry.get(k)]
        if missing:
            raise ManifestError(f"{where} ({entry.get('id', '?')}): missing {', '.join(missing)}")
        book = Book(**{k: str(entry[k]) for k in REQUIRED})
        if book.id in seen:
            raise ManifestError(f"{where}: duplicate id {book.id!r}")
        if not book.id.replace("-", "").replace("_", "").isalnum():
            raise ManifestError(f"{where}: id {book.id!r} may hold only letters, digits, - and _")
        if book.genre not in GENRES:
            raise ManifestError(f"{where} ({book.id}): genre {book.genre!r} not one of {GENRES}")
        if book.split not in SPLITS:
            raise ManifestError(f"{where} ({book.id}): split {book.split!r} not one of {SPLITS}")
        seen.add(book.id)
        books.append(book)
    return books
