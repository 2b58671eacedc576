"""Typed exceptions. Library code raises these; stage scripts and the CLI turn them into one-line
messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class BooktransError(Exception):
    """Base class for every error booktrans reports to a user."""


class Stopped(BooktransError):
    """A step stopped on its inputs; the message (several lines: what stopped it, then one line per
    book) is printed as it is, without the ``error:`` prefix."""


class ConfigError(BooktransError):
    """A parameter, profile or manifest entry is wrong; raised before any work is done."""


class ManifestError(ConfigError):
    """The book manifest is malformed."""


class IngestError(BooktransError):
    """A book file cannot be read. ``reason`` is a short machine-friendly status word."""

    def __init__(self, path: str | Path, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        msg = f"{self.path}: {reason}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class ModelError(BooktransError):
    """A model directory or base-model path is missing or unusable."""
