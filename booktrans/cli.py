"""The `booktrans` command: each pipeline step on its own, outside DVC, plus project helpers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import BooktransError


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import ingest_file

    result = ingest_file(args.path, args.lang, check_language=not args.no_lang_check)
    out = sys.stdout
    for p in result.paragraphs:
        out.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")
    if args.report:
        print(json.dumps(result.report, ensure_ascii=False, sort_keys=True), file=sys.stderr)
    return 0


def _cmd_preflight(args: argparse.Namespace) -> int:
    from .preflight import check_params
    from .stageutil import load_params

    for line in check_params(load_params(args.params)):
        print(line)
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from .profile import apply_profile

    changed = apply_profile(Path(args.profile), Path(args.params))
    for key in changed:
        print(f"set {key}")
    print(f"{args.params}: applied {args.profile} ({len(changed)} keys)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="booktrans", description="Whole-book zh<->en translation pipeline: each step on its own.")
    ap.add_argument("--version", action="version", version=f"booktrans {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="read a PDF, EPUB or TXT book and print its paragraphs as JSONL")
    p.add_argument("path", help="the book file")
    p.add_argument("--lang", required=True, choices=["zh", "en"], help="the language the edition should be in")
    p.add_argument("--report", action="store_true", help="also print the ingest report (JSON) on stderr")
    p.add_argument("--no-lang-check", action="store_true", help="do not check that the text is in --lang")
    p.set_defaults(fn=_cmd_ingest)

    p = sub.add_parser("preflight", help="check params.yaml (base model path, rounds chain) before any work")
    p.add_argument("--params", default="params.yaml")
    p.set_defaults(fn=_cmd_preflight)

    p = sub.add_parser("profile", help="cluster profiles")
    psub = p.add_subparsers(dest="action", metavar="ACTION")
    pa = psub.add_parser("apply", help="merge a profile (e.g. configs/cluster-24xh100.yaml) into params.yaml")
    pa.add_argument("profile")
    pa.add_argument("--params", default="params.yaml")
    pa.set_defaults(fn=_cmd_profile)
    return ap


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return args.fn(args)
    except BooktransError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
