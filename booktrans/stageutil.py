"""Glue shared by the stage scripts: logging, and turning library errors into one line on stderr and
an exit code (no tracebacks for bad input). Params are loaded with booktrans.params.load."""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from .errors import BooktransError, Stopped

EXIT_BAD_INPUT = 2


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
