"""Stage `base`: the untouched base model, round r0.

    python stages/base.py --params params.yaml --text data/text --out models/r0

With model.base: tiny, trains a byte-level BPE tokenizer on the training books' text and builds a
small random-initialised Qwen2 model from a config (CPU demo; its translations mean nothing). With a
local path, checks the checkout and writes a pointer (nothing is copied). Writes models/r0/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.manifest import load_manifest
from booktrans.model.store import build_base
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, default=Path("models/r0"))
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    base, tiny = P.model.base, None
    if base == "tiny":  # torch and transformers are imported only for the tiny model
        from booktrans.model.tiny import TinyConfig

        tiny = TinyConfig.from_params(P.model.tiny, P.seed)
    build_base(base, P.model.context, load_manifest(P.ingest.manifest), args.text, args.out, tiny)
    return 0


if __name__ == "__main__":
    run_main(main)
