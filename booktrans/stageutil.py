"""Glue shared by the stage scripts: logging, params loading, and turning library errors into one
line on stderr and an exit code (no tracebacks for bad input)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable

from .errors import BooktransError, Stopped

EXIT_BAD_INPUT = 2


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The params file as a plain mapping, checked by booktrans.params first (unknown keys, types) and
    completed from the packaged defaults. Stages move to ``booktrans.params.load`` (typed records)."""
    from .params import checked_dict

    return checked_dict(path)


def get(params: dict, dotted: str, default: Any = ...) -> Any:
    cur: Any = params
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            if default is ...:
                raise BooktransError(f"params.yaml: missing key {dotted!r}")
            return default
        cur = cur[part]
    return cur


def run_main(fn: Callable[[], int | None]) -> None:
    """Run a stage's main(); library errors become one line on stderr and exit status 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        code = fn()
    except Stopped as exc:
        print(exc, file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except BooktransError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)
