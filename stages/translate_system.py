"""Stage `translate-system@NAME`: the test books translated by an outside system (translate.systems.NAME).

    python stages/translate_system.py --params params.yaml --system deepseek --text data/text \
        --out reports/translations/deepseek

Writes reports/translations/<system>/ exactly like translate@rN (one row per chunk, summary.json with
tokens and cost), so that evaluate-system@NAME scores it with the rounds' metrics:

- engine openai: an OpenAI-compatible endpoint, chapter by chapter with carried context, resuming from
  build/translate/<system>/<fingerprint>/. Without a key (translate.systems.NAME.key_env, default
  BOOKTRANS_API_KEY then OPENAI_API_KEY) the system is skipped: one warning line, and the folder holds
  only skipped.json (the same bytes every time). Once the key is set: dvc repro -f translate-system@NAME
- engine transformers / vllm: a local model folder that is not a round;
- engine files: translations made elsewhere, data/systems/<name>/<book>.<tgt>.txt|epub|pdf.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from booktrans.errors import BooktransError
from booktrans.ingest import IngestOptions
from booktrans.manifest import load_manifest
from booktrans.params import load
from booktrans.stageutil import run_main, setup_logging
from booktrans.translate.run import translate_system
from booktrans.translate.systems import parse_systems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--system", required=True)
    ap.add_argument("--text", type=Path, default=Path("data/text"))
    ap.add_argument(
        "--systems", type=Path, default=Path("data/systems"), help="translations made elsewhere, one folder per system"
    )
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--scratch", type=Path, default=Path("build/translate"), help="where finished chapters are kept for resuming"
    )
    args = ap.parse_args()
    setup_logging()
    P = load(args.params)
    systems = parse_systems(P.translate.systems, list(P.translate.rounds) + list(P.rounds))
    if args.system not in systems:
        raise BooktransError(
            f"translate.systems has no system {args.system!r} (systems: {', '.join(systems) or 'none'})"
        )
    manifest = P.ingest.manifest
    translate_system(
        args.system,
        systems[args.system],
        load_manifest(manifest),
        manifest,
        args.text,
        args.out,
        P.translate,
        P.model.dtype,
        P.seed,
        args.systems,
        args.scratch,
        ingest=IngestOptions.from_params(P.ingest),
    )
    return 0


if __name__ == "__main__":
    run_main(main)
