"""A content-addressed cache of ingested editions, so that adding or changing one book re-reads only
that book. The key covers the file's bytes, the language, the options, the ingest code and the
versions of the parsing libraries: any change to those reads the file again."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

from ..io import atomic_write_text
from .model import IngestResult, Paragraph

_PACKAGES = ("pymupdf", "ebooklib", "chardet", "charset-normalizer", "lxml", "opencc")
_CODE_DIRS = ("ingest", "text")


def code_fingerprint() -> str:
    """Hash of the ingest and text source files and of the parsing libraries' versions."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parents[1]
    for d in _CODE_DIRS:
        for f in sorted((pkg / d).glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    for name in _PACKAGES:
        try:
            h.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name}=absent".encode())
    return h.hexdigest()[:16]


class IngestCache:
    def __init__(self, directory: str | Path, options: dict) -> None:
        self.dir = Path(directory)
        self.salt = json.dumps({"code": code_fingerprint(), **options}, sort_keys=True)

    def key(self, path: str | Path, lang: str, options: dict | None = None) -> str:
        """The cache key of one edition; ``options`` are its per-book choices (chapter pattern, ...)."""
        h = hashlib.sha256(self.salt.encode())
        h.update(lang.encode())
        h.update(json.dumps(options or {}, sort_keys=True).encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def get(self, key: str) -> IngestResult | None:
        f = self.dir / f"{key}.json"
        if not f.exists():
            return None
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            return IngestResult(
                paragraphs=[Paragraph(**p) for p in data["paragraphs"]],
                report=data["report"],
                notes=data.get("notes", []),
            )
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is read again

    def put(self, key: str, result: IngestResult) -> None:
        data = {"paragraphs": [p.to_json() for p in result.paragraphs], "report": result.report, "notes": result.notes}
        atomic_write_text(self.dir / f"{key}.json", json.dumps(data, ensure_ascii=False, sort_keys=True))
