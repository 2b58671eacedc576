"""The book manifest (``data/books.yaml``): one entry per work with both editions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ManifestError

GENRES = ("textbook", "novel", "popsci", "poetry")
SPLITS = ("train", "valid", "test")
REQUIRED = ("id", "title", "genre", "zh", "en", "source", "license", "split")
OPTIONAL = ("chapter_pattern", "language_check", "skip_gates")


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
    # per-book overrides for odd books (all optional):
    chapter_pattern: tuple[tuple[str, str], ...] = ()  # (lang, regex a whole chapter-heading line matches)
    language_check: bool = True  # false: an edition may read as the other language (a code-heavy textbook)
    skip_gates: bool = False  # true: this book's gate flags are recorded but do not stop a stage

    def file(self, lang: str) -> str:
        return {"zh": self.zh, "en": self.en}[lang]

    def pattern(self, lang: str) -> str | None:
        return dict(self.chapter_pattern).get(lang)


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
        unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            raise ManifestError(
                f"{where} ({entry['id']}): unknown field(s) {', '.join(unknown)} "
                f"(optional fields: {', '.join(OPTIONAL)})"
            )
        book = Book(**{k: str(entry[k]) for k in REQUIRED}, **_overrides(entry, f"{where} ({entry['id']})"))
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


def _overrides(entry: dict, where: str) -> dict:
    """The optional per-book fields, checked."""
    out: dict = {}
    pattern = entry.get("chapter_pattern")
    if pattern is not None:
        patterns = {"zh": pattern, "en": pattern} if isinstance(pattern, str) else pattern
        if (
            not isinstance(patterns, dict)
            or set(patterns) - {"zh", "en"}
            or not all(isinstance(v, str) and v for v in patterns.values())
        ):
            raise ManifestError(
                f"{where}: chapter_pattern must be a regular expression, or a mapping of zh and/or en to one"
            )
        for lang, rx in patterns.items():
            try:
                re.compile(rx)
            except re.error as exc:
                raise ManifestError(
                    f"{where}: chapter_pattern for {lang} is not a valid regular expression ({exc})"
                ) from None
        out["chapter_pattern"] = tuple(sorted(patterns.items()))
    for key in ("language_check", "skip_gates"):
        if key in entry:
            if not isinstance(entry[key], bool):
                raise ManifestError(f"{where}: {key} must be true or false, not {entry[key]!r}")
            out[key] = entry[key]
    return out
