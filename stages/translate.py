"""Stage `translate@rN`: translate the held-out (test) books whole with round N's model (r0 = base).

    python stages/translate.py --params params.yaml --round r1 --model models/r1 --text data/text \
        --out reports/translations/r1

Chunks every chapter to the model's context (read from the model directory), carries the tail of the
previous chunk and its translation, fills each batch with chunks of different chapters and decodes
greedily with transformers or vLLM (translate.engine). Writes reports/translations/<round>/<book>.<src>-<tgt>.jsonl,
one chunk per line (chapter, source paragraph ids, source, translation, truncated, stop_reason,
carried tokens, token counts), and summary.json (per book and direction: truncated chunks, stop
reasons, chunks with carried context, tokens).

Every finished chapter is also saved under build/translate/<round>/<fingerprint>/ (outside DVC); a run
that was stopped resumes there chapter by chapter. The fingerprint covers the model files, the
translate params and the source texts, so nothing stale is ever reused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging
from booktrans.translate.run import translate_round


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--round", required=True)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--scratch", type=Path, default=Path("build/translate"), help="where finished chapters are kept for resuming"
    )
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    manifest = P.ingest.manifest
    translate_round(
        args.round,
        args.model,
        load_manifest(manifest),
        manifest,
        args.text,
        args.out,
        P.translate,
        P.model.dtype,
        P.seed,
        args.scratch,
    )
    return 0


if __name__ == "__main__":
    run_main(main)
