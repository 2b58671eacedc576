"""The `booktrans` command: each pipeline step on its own, outside DVC, plus project helpers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__
from .errors import BooktransError

# Options whose default is a params.yaml key: None on the command line means "take it from the params
# the commands read" (booktrans.params.for_commands: ./params.yaml in a project, else the packaged
# copy of the project's params.yaml), so no default is written twice.
PARAM_DEFAULTS = {
    "max_paragraph_chars": ("ingest.max_paragraph_chars", lambda p: p.ingest.max_paragraph_chars),
    "resamples": ("compare.resamples", lambda p: p.compare.resamples),
    "compare_seed": ("compare.seed", lambda p: p.compare.seed),
    "drop_cost": ("evaluate.omission.drop_cost", lambda p: p.evaluate.omission.drop_cost),
    "partial_threshold": ("evaluate.omission.partial_threshold", lambda p: p.evaluate.omission.partial_threshold),
    "partial_threshold_ref": (
        "evaluate.omission.partial_threshold_ref",
        lambda p: p.evaluate.omission.partial_threshold_ref,
    ),
    "table_min_prob": ("evaluate.omission.table_min_prob", lambda p: p.evaluate.omission.table_min_prob),
    "source_share": ("translate.source_share", lambda p: p.translate.source_share),
    "carry_share": ("translate.carry_share", lambda p: p.translate.carry_share),
    "max_new_factor": ("translate.max_new_factor", lambda p: p.translate.max_new_factor),
    "batch_size": ("translate.batch_size", lambda p: p.translate.batch_size),
    "repetition_penalty": ("translate.repetition_penalty", lambda p: p.translate.repetition_penalty),
    "doubtful": ("proofread.doubtful", lambda p: p.proofread.doubtful),
    "sample": ("proofread.sample", lambda p: p.proofread.sample),
    "context": ("proofread.context", lambda p: p.proofread.context),
    "seed": ("seed", lambda p: p.seed),
}


def _param_default(dest: str, what: str) -> dict:
    """argparse keywords of an option whose default is the params key PARAM_DEFAULTS[dest]."""
    return {"dest": dest, "default": None, "help": f"{what} (default: {PARAM_DEFAULTS[dest][0]} of params.yaml)"}


def _fill_defaults(args: argparse.Namespace, dests: tuple[str, ...]) -> None:
    """Options left out take their params.yaml value (read once, only when one is needed)."""
    missing = [d for d in dests if getattr(args, d, 0) is None]
    if missing:
        from .params import for_commands

        p = for_commands()
        for d in missing:
            setattr(args, d, PARAM_DEFAULTS[d][1](p))


def _cmd_ingest(args: argparse.Namespace) -> int:
    from .ingest import IngestOptions, ingest_file

    _fill_defaults(args, ("max_paragraph_chars",))

    if not Path(args.path).is_file():  # before the ingest, whose message speaks of the manifest
        raise BooktransError(
            f"{args.path}: no such file" if not Path(args.path).exists() else f"{args.path}: not a file"
        )
    from .params import for_commands

    opts = IngestOptions(
        simplify=for_commands().ingest.simplify,
        max_paragraph_chars=args.max_paragraph_chars,
        check_language=not args.no_lang_check,
        chapter_pattern=args.chapter_pattern,
    )
    result = ingest_file(args.path, args.lang, opts=opts)
    out = sys.stdout
    for p in result.paragraphs:
        out.write(json.dumps(p.to_json(), ensure_ascii=False) + "\n")
    if args.report:
        print(json.dumps(result.report, ensure_ascii=False, sort_keys=True), file=sys.stderr)
    return 0


def _read_lines(path: str) -> list[str]:
    from .errors import BooktransError

    try:
        with open(path, encoding="utf-8") as fh:
            return [line.rstrip("\n").rstrip("\r") for line in fh]
    except FileNotFoundError:
        raise BooktransError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise BooktransError(f"{path}: not UTF-8 text ({exc.reason})") from None


def _cmd_align(args: argparse.Namespace) -> int:
    from .align.evaluate import format_bead
    from .align.sentalign import align_texts
    from .errors import BooktransError
    from .params import for_commands

    langs = {args.src_lang, args.tgt_lang}
    if langs != {"zh", "en"}:
        raise BooktransError("--src-lang and --tgt-lang must be zh and en, one each")
    src, tgt = _read_lines(args.src), _read_lines(args.tgt)
    zh, en = (src, tgt) if args.src_lang == "zh" else (tgt, src)
    translator = None
    if args.translator == "model":
        from .align.model_translator import ModelGlosser

        if not args.model:
            raise BooktransError("--translator model needs --model DIR")
        translator = ModelGlosser(args.model, batch_size=for_commands().align.batch_size)
    out = sys.stdout
    if args.raw:  # paragraphs, one per line: the pipeline's splitter and align_book, one JSON object per bead
        import json

        from .align import FilterConfig, align_book

        def paragraphs(lines: list[str]) -> list[dict]:
            return [
                {"chapter": 1, "title": "", "para": k, "text": t, "loc": f"line {k + 1}"}
                for k, t in enumerate(lines)
                if t.strip()
            ]

        method = {"cedict": "cedict", "model": "model", "gale-church": "gale-church"}[args.translator]
        align = for_commands().align
        beads, _ = align_book(
            paragraphs(zh),
            paragraphs(en),
            method=method,
            translator=translator,
            filters=FilterConfig.from_params(align.filters),
            bootstrap=align.bootstrap,
        )
        for b in beads:
            out.write(json.dumps({"zh": b["zh"], "en": b["en"], "score": b["score"]}, ensure_ascii=False) + "\n")
        return 0
    if args.translator == "gale-church":
        from .align.gale_church import align_lengths

        pairs = [(b.src, b.tgt) for b in align_lengths([len(s) for s in zh], [len(s) for s in en])]
    else:
        (beads,), _ = align_texts([(zh, en)], translator, bootstrap=for_commands().align.bootstrap)
        pairs = [(b.zh, b.en) for b in beads]
    for z, e in pairs:
        s, t = (z, e) if args.src_lang == "zh" else (e, z)
        out.write(format_bead(s, t) + "\n")
    return 0


def _cmd_align_eval(args: argparse.Namespace) -> int:
    from .align.evaluate import evaluate_dirs

    per_file, total = evaluate_dirs(Path(args.gold_dir), Path(args.test_dir))
    print(f"{'file':<16} {'beads':>6} {'gold':>6} {'P':>6} {'R':>6} {'F1':>6}")
    for name, s in per_file.items():
        print(f"{name:<16} {s.test:>6} {s.gold:>6} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}")
    print(
        f"{'total':<16} {total.test:>6} {total.gold:>6} {total.precision:>6.3f} {total.recall:>6.3f} {total.f1:>6.3f}"
    )
    return 0


def _cmd_omissions(args: argparse.Namespace) -> int:
    from .evaluate.omission import OmissionConfig, align_references, source_coverage, table_translator
    from .evaluate.omission.render import html_page, rows, text_report
    from .io import atomic_write_text
    from .text import split_sentences

    if {args.src_lang, args.tgt_lang} != {"zh", "en"}:
        raise BooktransError("--src-lang and --tgt-lang must be zh and en, one each")
    _fill_defaults(args, ("drop_cost", "partial_threshold", "partial_threshold_ref", "table_min_prob"))
    src_lines, hyp = _read_lines(args.src), _read_lines(args.hyp)
    if not any(s.strip() for s in src_lines):
        raise BooktransError(f"{args.src}: no source text")
    if not any(h.strip() for h in hyp):
        raise BooktransError(f"{args.hyp}: the translation is empty (every source line would count as omitted)")
    _check_language(args.src, src_lines, args.src_lang)
    _check_language(args.hyp, hyp, args.tgt_lang)
    if args.format == "html" and not args.output:
        raise BooktransError("--format html writes a page: give it a file with --output PAGE.html")
    # one sentence per line as given, or each line (paragraph) split by the project's splitter
    if args.one_per_line:
        src, where = src_lines, list(range(len(src_lines)))
    else:
        src, where = [], []
        for k, para in enumerate(src_lines):
            for sent in split_sentences(para, args.src_lang):
                src.append(sent)
                where.append(k)
    translator = None  # CC-CEDICT alone
    if args.lexicon:
        from .align.similarity import LexicalTable

        translator = table_translator(LexicalTable.load(args.lexicon), args.table_min_prob)
    refs = None
    if args.ref:
        ref = _read_lines(args.ref)
        if not any(r.strip() for r in ref):
            raise BooktransError(f"{args.ref}: the reference is empty")
        _check_language(args.ref, ref, args.tgt_lang)
        ref = [x for para in ref for x in split_sentences(para, args.tgt_lang)]
        refs = align_references(src, ref, args.src_lang, args.tgt_lang, translator)
    cfg = OmissionConfig(
        drop_cost=args.drop_cost,
        partial_threshold=args.partial_threshold,
        partial_threshold_ref=args.partial_threshold_ref,
    )
    cov = source_coverage(src, hyp, args.src_lang, args.tgt_lang, cfg, translator=translator, references=refs)
    items = rows(cov, src, where, args.tgt_lang)
    dropped = sum(c.omitted for c in cov.lines)
    partial = sum(c.partial for c in cov.lines)
    summary = (
        f"{dropped} of {len(cov.lines)} source sentences dropped ({cov.omission_rate:.1%}), {partial} partial "
        f"({cov.partial_rate:.1%}), {len(cov.added)} of {len(hyp)} translation lines added"
    )
    if args.format == "json":
        text = "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in items)
    elif args.format == "text":
        text = text_report(items) or "nothing flagged\n"
    else:
        text = html_page(items, f"Omissions: {Path(args.hyp).name} against {Path(args.src).name}", summary)
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    print(summary, file=sys.stderr)
    return 0


def _check_language(path: str, lines: list[str], lang: str) -> None:
    from .text import detect_lang

    found = detect_lang("\n".join(lines))
    if found is not None and found != lang:
        raise BooktransError(f"{path}: the text is in {found}, not {lang} as given")


def _cmd_translate(args: argparse.Namespace) -> int:
    from .stageutil import setup_logging
    from .translate.book import open_book_engine, translate_book

    setup_logging()
    _fill_defaults(args, ("source_share", "carry_share", "max_new_factor", "batch_size", "repetition_penalty"))
    open_engine, count, cfg, engine_id, price = open_book_engine(args)
    from .ingest import IngestOptions
    from .params import for_commands

    summary = translate_book(
        Path(args.book),
        args.src_lang,
        args.tgt_lang,
        open_engine,
        count,
        cfg,
        Path(args.out),
        engine_id,
        chapters=args.chapters,
        title=args.title,
        price=price,
        ingest=IngestOptions.from_params(for_commands().ingest),
    )
    u = summary["usage"]
    cost = f", ${u['cost_usd']:.4f}" if "cost_usd" in u else ""
    print(
        f"{args.out}: {', '.join(summary['files'].values())} ({len(summary['chapters']['translated'])} of "
        f"{summary['chapters']['in_book']} chapters; {u['chunks']} chunks, {u['truncated']} cut by the length limit; "
        f"{u['prompt_tokens']} prompt + {u['completion_tokens']} completion tokens{cost})"
    )
    return 0


def _cmd_preflight(args: argparse.Namespace) -> int:
    from .params import load
    from .preflight import check_params

    # launch configs are named from the working folder, as the train stage (run from the project) reads them
    for line in check_params(load(args.params), Path(".")):
        print(line)
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from .profile import apply_profile

    changed = apply_profile(Path(args.profile), Path(args.params))
    for key in changed:
        print(f"set {key}")
    print(f"{args.params}: applied {args.profile} ({len(changed)} keys)")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    from .io import dumps_json
    from .params import load
    from .train.plan import DataCounts, format_plan, plan, plan_summary

    # profiles merged in order: e.g. the cluster profile, then configs/sparse-r5.yaml
    params = load(args.params, args.profile or [])
    root = Path(args.params).resolve().parent
    folder = Path(args.data) if args.data else root / "data" / "sft"
    # --tokens plans that many tokens per round: the built data is not read (nor needed)
    data = {} if args.tokens else {n: DataCounts.read(folder / n / "stats.json", "train") for n in params.rounds}
    # the manifest is project-relative: beside the params file, else in the working folder (a params copy)
    manifest = params.ingest.manifest
    found = next((p for p in (root / manifest, Path(manifest)) if p.is_file()), None)
    result = plan(params, root, data, found, tokens=args.tokens)
    print(dumps_json(plan_summary(result)) if args.json else format_plan(result))
    return 0


def _cmd_proofread(args: argparse.Namespace) -> int:
    from .io import dumps_json, jsonl_lines, read_jsonl
    from .proofread.corrections import apply_corrections, compile_corrections, corrections_document, read_corrections
    from .proofread.select import SelectConfig, build_items
    from .proofread.sheets import read_completed_dir, write_sheets

    _fill_defaults(args, ("doubtful", "sample", "context", "seed"))
    if args.action == "import":
        files, rows = read_completed_dir(args.completed)
        corrections = compile_corrections(rows)
        text = dumps_json(corrections_document(files, corrections))
        if args.out:
            from .io import atomic_write_text

            atomic_write_text(args.out, text)
        else:
            sys.stdout.write(text)
        print(f"{len(files)} sheet(s), {len(corrections)} correction(s)", file=sys.stderr)
        return 0
    path = Path(args.aligned)
    try:
        beads = read_jsonl(path)
    except (OSError, ValueError) as exc:
        raise BooktransError(f"{path}: not an aligned book ({exc})") from None
    book = args.book or path.name.split(".")[0]
    if args.action == "apply":
        fixed, summary = apply_corrections(
            book, beads, read_corrections(args.corrections).get(book, []), args.sample, args.seed
        )
        sys.stdout.write(jsonl_lines(fixed))
        print(dumps_json(summary), file=sys.stderr, end="")
        return 0
    if not any("proofread" in b or "proofread_sample" in b for b in beads):  # not from the align stage: draw the sample
        beads, _ = apply_corrections(book, beads, [], args.sample, args.seed)
    items, summary = build_items(
        book, beads, SelectConfig(doubtful=args.doubtful, sample=args.sample, context=args.context, seed=args.seed)
    )
    sheet = write_sheets(items, Path(args.out), book)
    print(dumps_json({"sheet": sheet, "items": len(items), **summary}), end="")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .evaluate.significance import compare_texts, omission_stats, paired_bootstrap, scorer

    _fill_defaults(args, ("resamples", "compare_seed"))
    ref, hyp_a, hyp_b = _read_lines(args.ref), _read_lines(args.hyp_a), _read_lines(args.hyp_b)
    src = _read_lines(args.src) if args.src else None
    for path, lines in ((args.hyp_a, hyp_a), (args.hyp_b, hyp_b), (args.src, src)):
        if lines is not None and len(lines) != len(ref):
            raise BooktransError(
                f"{path}: {len(lines)} lines, but {args.ref} has {len(ref)}: the files must be "
                f"sentence-parallel (one segment a line)"
            )
    if not ref:
        raise BooktransError(f"{args.ref}: no lines to compare")
    for metric in args.metric or ["bleu", "chrf"] + (["omission"] if src is not None else []):
        if metric == "omission":
            if src is None:
                raise BooktransError("--metric omission needs the source text (--src SRC)")
            sa = omission_stats(src, hyp_a, ref, args.src_lang, args.tgt_lang)
            sb = omission_stats(src, hyp_b, ref, args.src_lang, args.tgt_lang)
            c = paired_bootstrap("omission_rate", sa, sb, scorer("omission_rate"), args.resamples, args.compare_seed)
        else:
            c = compare_texts(ref, hyp_a, hyp_b, args.tgt_lang, metric, args.resamples, args.compare_seed)
        print(json.dumps({"metric": metric, **{k: v for k, v in c.to_dict().items() if k != "metric"}}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="booktrans", description="Whole-book zh<->en translation pipeline: each step on its own."
    )
    ap.add_argument("--version", action="version", version=f"booktrans {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="read a PDF, EPUB or TXT book and print its paragraphs as JSONL")
    p.add_argument("path", help="the book file")
    p.add_argument("--lang", required=True, choices=["zh", "en"], help="the language the edition should be in")
    p.add_argument("--report", action="store_true", help="also print the ingest report (JSON) on stderr")
    p.add_argument("--no-lang-check", action="store_true", help="do not check that the text is in --lang")
    p.add_argument("--chapter-pattern", help="regular expression a whole chapter-heading line matches (for odd books)")
    p.add_argument(
        "--max-paragraph-chars",
        type=int,
        **_param_default("max_paragraph_chars", "split longer paragraphs at sentence ends (characters)"),
    )
    p.set_defaults(fn=_cmd_ingest)

    p = sub.add_parser(
        "align",
        help="align two files of sentences (one per line) and print beads like [0]:[0,1]; "
        "with --raw, two files of paragraphs, printed as JSON beads",
    )
    p.add_argument("src", help="source sentences, one per line (already segmented); with --raw, paragraphs")
    p.add_argument("tgt", help="target sentences, one per line; with --raw, paragraphs")
    p.add_argument(
        "--raw",
        action="store_true",
        help="raw text, one paragraph per line: split with the pipeline's splitter, aligned like a book "
        'chapter, one JSON object per bead: {"zh": [...], "en": [...], "score": s}',
    )
    p.add_argument("--src-lang", required=True, choices=["zh", "en"], help="the language of the source text")
    p.add_argument("--tgt-lang", required=True, choices=["zh", "en"], help="the language of the translation")
    p.add_argument(
        "--translator",
        default="cedict",
        choices=["cedict", "model", "gale-church"],
        help="how the Chinese side is compared with the English (default: cedict, offline)",
    )
    p.add_argument("--model", help="model directory for --translator model")
    p.set_defaults(fn=_cmd_align)

    p = sub.add_parser("align-eval", help="score beads against gold (exact match, null beads included): P, R, F1")
    p.add_argument("gold_dir", help="folder of gold NNN.align files")
    p.add_argument("test_dir", help="folder of test NNN.align files with the same names")
    p.set_defaults(fn=_cmd_align_eval)

    p = sub.add_parser(
        "compare",
        help="is system B better than system A? paired bootstrap of BLEU, chrF and omission rate "
        "on sentence-parallel files: one JSON object per metric",
    )
    p.add_argument("ref", help="the reference translation, one segment a line")
    p.add_argument("hyp_a", metavar="HYP_A", help="system A's translation, line by line parallel to REF (the baseline)")
    p.add_argument(
        "hyp_b", metavar="HYP_B", help="system B's translation, line by line parallel to REF (delta = B - A)"
    )
    p.add_argument("--src", help="the source text, line by line parallel to REF (needed by --metric omission)")
    p.add_argument("--src-lang", required=True, choices=["zh", "en"], help="the language of the source text")
    p.add_argument("--tgt-lang", required=True, choices=["zh", "en"], help="the language of REF, HYP_A and HYP_B")
    p.add_argument(
        "--metric",
        action="append",
        choices=["bleu", "chrf", "omission"],
        help="a metric to compare (repeatable; default: bleu, chrf and omission, omission only with --src)",
    )
    p.add_argument("--resamples", type=int, **_param_default("resamples", "bootstrap resamples"))
    p.add_argument("--seed", type=int, **_param_default("compare_seed", "seed of the resampling"))
    p.set_defaults(fn=_cmd_compare)

    p = sub.add_parser("omissions", help="flag source sentences a translation drops (or translates in part)")
    p.add_argument("src", help="the source text, one paragraph per line (split into sentences; see --one-per-line)")
    p.add_argument("hyp", help="the translation, in any number of lines (it is aligned to SRC)")
    p.add_argument("--src-lang", required=True, choices=["zh", "en"], help="the language of the source text")
    p.add_argument("--tgt-lang", required=True, choices=["zh", "en"], help="the language of the translation")
    p.add_argument(
        "--one-per-line",
        action="store_true",
        help="SRC already holds one sentence per line: keep its lines as they are (line = the line number)",
    )
    p.add_argument(
        "--format",
        choices=["json", "text", "html"],
        default="json",
        help="json: one object per source sentence; text: the flagged sentences only; html: a side-by-side page",
    )
    p.add_argument("--output", metavar="PATH", help="write there instead of stdout (required for --format html)")
    p.add_argument(
        "--ref", help="a human translation of SRC, one paragraph per line (any count): much stronger evidence"
    )
    p.add_argument(
        "--drop-cost",
        type=float,
        **_param_default(
            "drop_cost",
            "evidence a sentence needs against it to count as dropped: higher flags fewer (tuned: docs/evaluate.md)",
        ),
    )
    p.add_argument(
        "--partial-threshold",
        type=float,
        **_param_default(
            "partial_threshold",
            "a translated sentence is partial when the log-odds that a clause of it was cut exceed minus this "
            "(and 3+ words are missing); a Chinese source's model is stricter by its own shift: higher flags more "
            "(tuned: docs/evaluate.md)",
        ),
    )
    p.add_argument(
        "--partial-threshold-ref",
        type=float,
        **_param_default("partial_threshold_ref", "with --ref: the same, for the models that also read the reference"),
    )
    p.add_argument(
        "--table-min-prob",
        type=float,
        **_param_default(
            "table_min_prob", "with --lexicon: entries of the lexical table count from this probability on"
        ),
    )
    p.add_argument(
        "--lexicon",
        metavar="PATH",
        help="a lexical table learned from aligned books (the align stage's data/lexicon.json), used "
        "beside CC-CEDICT as the evaluate stage does (default: CC-CEDICT alone)",
    )
    p.set_defaults(fn=_cmd_omissions)

    p = sub.add_parser(
        "translate", help="translate a book (PDF, EPUB, TXT) into EPUB 3, bilingual EPUB and text, resumably"
    )
    p.add_argument("book", help="the book file")
    p.add_argument("--src-lang", required=True, choices=["zh", "en"], help="the language of the source text")
    p.add_argument("--tgt-lang", required=True, choices=["zh", "en"], help="the language of the translation")
    p.add_argument(
        "--model",
        required=True,
        help="a model folder (models/r4, a Hugging Face checkout), or the model name at --base-url",
    )
    p.add_argument(
        "--out",
        required=True,
        help="output folder: <stem>.<tgt>.epub, <stem>.<tgt>.txt, <stem>.bilingual.epub, <stem>.<tgt>.json",
    )
    p.add_argument(
        "--engine",
        default="auto",
        choices=["auto", "transformers", "vllm", "openai"],
        help="auto = openai with --base-url, else vllm when installed with a GPU, else transformers",
    )
    p.add_argument(
        "--base-url",
        help="an OpenAI-compatible endpoint, e.g. https://api.deepseek.com/v1 (key: BOOKTRANS_API_KEY "
        "or OPENAI_API_KEY)",
    )
    p.add_argument("--chapters", help="only these chapters, e.g. 1-3 or 2,5,7-9 (0 = text before the first heading)")
    p.add_argument("--title", help="title of the translated book (default: the file name)")
    p.add_argument("--context", type=int, help="tokens per request (default: the model's; 16384 for an endpoint)")
    p.add_argument(
        "--source-share", type=float, **_param_default("source_share", "share of the context for one source chunk")
    )
    p.add_argument(
        "--carry-share",
        type=float,
        **_param_default("carry_share", "share for the tail of the previous chunk and its translation"),
    )
    p.add_argument(
        "--max-new-factor", type=float, **_param_default("max_new_factor", "output tokens allowed per source token")
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=0,
        help="cap on output tokens per chunk (default: none; 8192 for an endpoint)",
    )
    p.add_argument("--batch-size", type=int, **_param_default("batch_size", "chunks decoded together by a local model"))
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at once to an endpoint (default 4)")
    p.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for one answer from an endpoint (default 300)"
    )
    p.add_argument(
        "--retries", type=int, default=6, help="retries of a request after 429, 5xx or a timeout (default 6)"
    )
    p.add_argument(
        "--backoff", type=float, default=1.0, help="seconds before the first retry, doubling after each (default 1)"
    )
    p.add_argument(
        "--repetition-penalty",
        type=float,
        **_param_default(
            "repetition_penalty",
            "local models: > 1 discourages repeats, 1.0 = off; the demo's params.yaml says 2.0 for "
            "its tiny model, the cluster profile 1.0",
        ),
    )
    p.add_argument(
        "--price",
        nargs=2,
        type=float,
        metavar=("INPUT", "OUTPUT"),
        help="USD per million input and output tokens, for the cost",
    )
    p.add_argument(
        "--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"], help="local model weights"
    )
    p.set_defaults(fn=_cmd_translate)

    p = sub.add_parser("proofread", help="proofreading sheets of an aligned book; completed sheets into corrections")
    psub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    pe = psub.add_parser(
        "export", help="the beads most likely wrong and a random sample as form.html, sheet.csv, sheet.xlsx"
    )
    pe.add_argument("aligned", help="an aligned book (data/aligned/<book>.jsonl)")
    pe.add_argument("--out", required=True, help="folder for the sheets")
    pe.add_argument("--doubtful", type=int, **_param_default("doubtful", "beads most likely wrong to export"))
    pi = psub.add_parser("import", help="validate completed sheets and print the corrections file (JSON)")
    pi.add_argument("completed", help="a folder of completed sheets (or one file)")
    pi.add_argument("--out", help="write the corrections here instead of stdout")
    pa = psub.add_parser("apply", help="apply corrections to an aligned book: beads on stdout, what applied on stderr")
    pa.add_argument("aligned", help="an aligned book (data/aligned/<book>.jsonl)")
    pa.add_argument("corrections", help="a corrections file (proofread/corrections.json)")
    for q in (pe, pa):
        q.add_argument("--book", help="the book id (default: the file name)")
        q.add_argument("--sample", type=int, **_param_default("sample", "pairs in the random sample"))
        q.add_argument("--seed", type=int, **_param_default("seed", "seed of the random sample's draw"))
    pe.add_argument("--context", type=int, **_param_default("context", "beads shown before and after each one"))
    p.set_defaults(fn=_cmd_proofread)

    p = sub.add_parser(
        "preflight",
        help="check params.yaml (unknown keys, types, base model path, rounds chain, "
        "every round's training settings) before any work",
    )
    p.add_argument("--params", default="params.yaml", help="the parameters file to check (default params.yaml)")
    p.set_defaults(fn=_cmd_preflight)

    p = sub.add_parser("plan", help="tokens, steps, peak GPU memory, GPU-hours and cost of every round, before renting")
    p.add_argument("--params", default="params.yaml", help="the parameters file to plan from (default params.yaml)")
    p.add_argument(
        "--profile",
        action="append",
        help="plan with this profile merged in (params.yaml is not changed); repeat to merge several in order",
    )
    p.add_argument(
        "--data",
        help="the folder of the built datasets, <round>/stats.json in it (data/sft under dvc.yaml; default "
        "data/sft beside the params file)",
    )
    p.add_argument("--tokens", type=int, help="plan for this many training tokens per round instead of --data")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(fn=_cmd_plan)

    p = sub.add_parser("profile", help="cluster profiles")
    psub = p.add_subparsers(dest="action", metavar="ACTION")
    pa = psub.add_parser("apply", help="merge a profile (e.g. configs/cluster-24xh100.yaml) into params.yaml")
    pa.add_argument("profile", help="the profile file (configs/cluster-*.yaml)")
    pa.add_argument("--params", default="params.yaml", help="the parameters file to change (default params.yaml)")
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
    except KeyboardInterrupt:
        print(
            "interrupted; what was finished is kept (booktrans translate goes on from there when run again)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
