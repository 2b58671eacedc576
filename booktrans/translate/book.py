"""A book in, a translated book out: ``booktrans translate BOOK --src-lang zh --tgt-lang en --model M --out DIR``.

The book is read by the project's ingest (PDF, EPUB, TXT in any encoding), its chapters (and their
titles) are translated with resume, and three files are written into DIR:

- ``<stem>.<tgt>.epub``   EPUB 3: one XHTML document per chapter with its translated title, a
  navigation document and an NCX listing every titled chapter;
- ``<stem>.<tgt>.txt``    the translation as text: titles and paragraphs separated by blank lines;
- ``<stem>.bilingual.epub`` every source paragraph followed by its translation;

plus ``<stem>.<tgt>.json``: chapters and paragraphs translated, truncated chunks, stop reasons,
tokens and cost, and what the ingest dropped. Finished chapters are kept in ``<stem>.<tgt>.parts/``:
the same command run again goes on from there.
"""

from __future__ import annotations

import html
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BooktransError
from ..io import atomic_write_bytes, atomic_write_text, write_json
from . import Chunk, TranslateConfig
from .parts import PartStore, chapter_units, fingerprint, run_units, usage
from .schedule import Unit

log = logging.getLogger(__name__)

LANG_TAGS = {"zh": "zh-CN", "en": "en"}
_BLANK = re.compile(r"\n\s*\n")


def parse_chapters(spec: str | None, available: list[int]) -> list[int]:
    """``"1-3"``, ``"2,5,7-9"`` -> the chapters of the book among them, in order. Chapter numbers are
    those of the ingest: 0 is what comes before the first heading, 1 the first titled chapter."""
    if not spec:
        return list(available)
    wanted: set[int] = set()
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise BooktransError(f"--chapters {spec!r}: give numbers and ranges like 1-3 or 2,5,7-9")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if b < a:
            raise BooktransError(f"--chapters {spec!r}: the range {a}-{b} runs backwards")
        wanted.update(range(a, b + 1))
    chosen = [c for c in available if c in wanted]
    if not chosen:
        raise BooktransError(
            f"--chapters {spec!r}: the book has chapters {available[0]}-{available[-1]}; none of them chosen"
        )
    return chosen


@dataclass
class Chapter:
    number: int
    title: str  # source title ("" before the first heading)
    translated_title: str
    blocks: list[tuple[list[str], list[str]]] = field(default_factory=list)  # (source paragraphs, their translation)
    level: int = 1  # 1 = top of the book's contents, 2 = inside a part (a story's section)
    part: str = ""  # source title of the part holding it
    translated_part: str = ""


def split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _BLANK.split(text) if p.strip()]


def pair_paragraphs(source: list[str], pieces: list[str]) -> list[tuple[list[str], list[str]]]:
    """Source paragraphs with the translated paragraphs that render them: one to one when the counts
    agree, else by Gale-Church on lengths (paragraphs merged or split by the translator); translated
    pieces matched to nothing join the block before them."""
    if len(source) == len(pieces):
        return [([s], [t]) for s, t in zip(source, pieces)]
    if not pieces:
        return [(list(source), [])]
    from ..align.gale_church import align_lengths

    blocks: list[tuple[list[str], list[str]]] = []
    for b in align_lengths([len(s) for s in source], [len(t) for t in pieces]):
        src, tgt = [source[i] for i in b.src], [pieces[j] for j in b.tgt]
        if not src and blocks:
            blocks[-1][1].extend(tgt)
        else:
            blocks.append((src, tgt))
    return blocks


def assemble(
    paragraphs: list[dict],
    chosen: list[int],
    rows: list[dict],
    titles: dict[int, str],
    parts: dict[str, str] | None = None,
) -> list[Chapter]:
    """Chapters of source paragraphs paired with translated paragraphs, from the translated chunks;
    ``parts`` maps a part's source title to its translation."""
    text = {p["para"]: p["text"] for p in paragraphs}
    first = {}
    for p in paragraphs:
        first.setdefault(p["chapter"], p)
    parts = parts or {}
    chapters = {
        c: Chapter(
            c,
            first[c]["title"] if c in first else "",
            titles.get(c, ""),
            level=first[c].get("level", 1) if c in first else 1,
            part=first[c].get("part", "") if c in first else "",
            translated_part=parts.get(first[c].get("part", ""), "") if c in first else "",
        )
        for c in chosen
    }
    # a paragraph longer than one chunk spans several rows (the next row starts where the last ended)
    groups: list[tuple[int, list[int], list[str]]] = []
    for r in rows:
        if groups and r["paras"] and groups[-1][1] and r["paras"][0] == groups[-1][1][-1]:
            groups[-1][1].extend(r["paras"][1:])
            groups[-1][2].append(r["translation"])
        else:
            groups.append((r["chapter"], list(r["paras"]), [r["translation"]]))
    for chapter, paras, translations in groups:
        pieces = [p for t in translations for p in split_paragraphs(t)]
        if len(paras) == 1:
            pieces = ["\n\n".join(pieces)] if pieces else []
        chapters[chapter].blocks += pair_paragraphs([text[p] for p in paras], pieces)
    return [chapters[c] for c in chosen]


def _xhtml_paragraph(text: str, cls: str = "", lang: str = "") -> str:
    attrs = (f' class="{cls}"' if cls else "") + (f' lang="{lang}" xml:lang="{lang}"' if lang else "")
    lines = [html.escape(x.strip()) for x in text.split("\n") if x.strip()]
    return f"<p{attrs}>{'<br/>'.join(lines)}</p>"


_CSS = (
    "body{line-height:1.5} h1{font-size:1.4em} .source{margin-bottom:.2em} "
    ".translation{color:#333;margin-top:0;margin-bottom:1em;padding-left:.8em;border-left:2px solid #bbb}"
)


def write_epub(
    path: Path, chapters: list[Chapter], title: str, lang: str, identifier: str, bilingual_from: str | None = None
) -> None:
    """An EPUB 3 of ``chapters`` (translated; or bilingual when ``bilingual_from`` names the source
    language), deterministic: fixed identifier, modification time and zip timestamps."""
    import datetime

    from ebooklib import epub

    from ..io import deterministic_zip

    book = epub.EpubBook()
    book.set_identifier(identifier)
    book.set_title(title)
    book.set_language(LANG_TAGS.get(lang, lang))
    if bilingual_from:
        book.add_metadata("DC", "language", LANG_TAGS.get(bilingual_from, bilingual_from))
    book.add_metadata("DC", "contributor", "booktrans (machine translation)")
    css = epub.EpubItem(uid="style", file_name="style/book.css", media_type="text/css", content=_CSS.encode())
    book.add_item(css)
    items, toc = [], []
    open_part: tuple[str, list] | None = None  # the part whose chapters are being listed under it
    for ch in chapters:
        shown = ch.translated_title or ch.title
        item = epub.EpubHtml(
            title=shown or title, file_name=f"chapter-{ch.number:04d}.xhtml", lang=LANG_TAGS.get(lang, lang)
        )
        item.add_item(css)
        parts = []
        if bilingual_from and ch.title:
            parts.append(
                f'<h1>{html.escape(ch.title)}</h1><p class="translation">{html.escape(ch.translated_title)}</p>'
            )
        elif shown:
            parts.append(f"<h1>{html.escape(shown)}</h1>")
        for src, tgt in ch.blocks:
            if bilingual_from:
                src_tag = LANG_TAGS.get(bilingual_from, bilingual_from)
                parts += [_xhtml_paragraph(s, "source", src_tag) for s in src]
                parts += [_xhtml_paragraph(t, "translation") for t in tgt]
            else:
                parts += [_xhtml_paragraph(t) for t in tgt]
        item.content = (
            f"<html><head><title>{html.escape(shown or title)}</title></head><body>{''.join(parts)}</body></html>"
        )
        book.add_item(item)
        items.append(item)
        # the navigation nests as the book does: a part (a story) holds the chapters (sections) inside it
        if ch.part and (ch.level >= 2 or ch.title == ch.part):
            if open_part is None or open_part[0] != ch.part:
                plabel = (
                    f"{ch.part} / {ch.translated_part}"
                    if bilingual_from and ch.translated_part
                    else (ch.translated_part or ch.part)
                )
                open_part = (ch.part, [])
                toc.append((epub.Section(plabel, item.file_name), open_part[1]))
            if ch.level >= 2 and ch.title:
                label = f"{ch.title} / {ch.translated_title}" if bilingual_from and ch.translated_title else shown
                open_part[1].append(epub.Link(item.file_name, label, f"toc-{ch.number}"))
            continue
        open_part = None
        if ch.title:  # the untitled opening before the first heading is read, not listed
            label = f"{ch.title} / {ch.translated_title}" if bilingual_from and ch.translated_title else shown
            toc.append(epub.Link(item.file_name, label, f"toc-{ch.number}"))
    # a part none of whose chapters has a title of its own is listed as a plain entry
    book.toc = [
        epub.Link(t[0].href, t[0].title, f"toc-part-{k}") if isinstance(t, tuple) and not t[1] else t
        for k, t in enumerate(toc)
    ]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav"] + items
    buf = io.BytesIO()
    epub.write_epub(buf, book, {"mtime": datetime.datetime(2026, 1, 1), "epub3_pages": False})
    atomic_write_bytes(path, deterministic_zip(buf.getvalue()))


def render_text(chapters: list[Chapter]) -> str:
    out = []
    for ch in chapters:
        if ch.translated_title or ch.title:
            out.append(ch.translated_title or ch.title)
        out += [t for _, tgt in ch.blocks for t in tgt]
    return "\n\n".join(out) + "\n"


def translate_book(
    book: Path,
    src: str,
    tgt: str,
    open_engine,
    count,
    cfg: TranslateConfig,
    out_dir: Path,
    engine_id: dict,
    chapters: str | None = None,
    title: str | None = None,
    price: dict | None = None,
    stop_after: int = 0,
    *,
    ingest,
) -> dict:
    """Translate one book file; see the module docstring. ``engine_id`` names the engine and model
    for the resume fingerprint (never a key); ``ingest`` (booktrans.ingest.IngestOptions) reads the
    book; returns the summary written to ``<stem>.<tgt>.json``."""
    from ..ingest import ingest_file

    book = Path(book)
    if {src, tgt} != {"zh", "en"}:
        raise BooktransError("--src-lang and --tgt-lang must be zh and en, one each")
    result = ingest_file(book, src, ingest)
    paragraphs = [p.to_json() for p in result.paragraphs]
    available = sorted({p["chapter"] for p in paragraphs})
    chosen = parse_chapters(chapters, available)
    keep = set(chosen)
    selected = [p for p in paragraphs if p["chapter"] in keep]
    direction = f"{src}-{tgt}"
    stem = book.stem
    key = f"{stem}.{direction}"
    units = chapter_units(key, direction, selected, count, cfg)
    title_of = {p["chapter"]: p["title"] for p in selected}
    units += [Unit(key, f"title-{c:05d}", direction, [Chunk(c, [], title_of[c])]) for c in chosen if title_of.get(c)]
    part_first: dict[str, int] = {}  # each part's title is translated once, with its first chapter's number
    for p in selected:
        if p.get("part") and p["part"] not in title_of.values():
            part_first.setdefault(p["part"], p["chapter"])
    units += [Unit(key, f"part-{c:05d}", direction, [Chunk(c, [], t)]) for t, c in part_first.items()]
    settings = {
        "engine": engine_id,
        "context": cfg.context,
        "source_share": cfg.source_share,
        "carry_share": cfg.carry_share,
        "max_new_factor": cfg.max_new_factor,
        "max_new_tokens": cfg.max_new_tokens,
        "repetition_penalty": cfg.repetition_penalty,
        "direction": direction,
    }
    out_dir = Path(out_dir)
    store = PartStore(out_dir / f"{stem}.{tgt}.parts" / fingerprint(settings, book.read_bytes()))
    try:
        results = run_units(open_engine, units, cfg, count, store, f"translate {book.name}", stop_after)
    except BooktransError as exc:
        kept = sum(1 for u in units if (store.folder / u.key / f"{u.name}.jsonl").exists())
        raise BooktransError(
            f"{exc}; {kept} of {len(units)} chapters and titles done so far are kept in {store.folder}, "
            f"run the same command again to go on"
        ) from None
    body = [u for u in units if u.name.startswith("chapter-")]
    rows = [r for u in body for r in results[u.id]]
    titles = {u.chunks[0].chapter: results[u.id][0]["translation"] for u in units if u.name.startswith("title-")}
    part_titles = {u.chunks[0].source: results[u.id][0]["translation"] for u in units if u.name.startswith("part-")}
    part_titles.update({title_of[c]: titles[c] for c in titles if title_of.get(c) and title_of[c] not in part_titles})
    assembled = assemble(selected, chosen, rows, titles, part_titles)
    book_title = title or stem
    ident = f"booktrans-{fingerprint(settings, book.read_bytes(), chosen)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "epub": out_dir / f"{stem}.{tgt}.epub",
        "txt": out_dir / f"{stem}.{tgt}.txt",
        "bilingual": out_dir / f"{stem}.bilingual.epub",
    }
    write_epub(files["epub"], assembled, book_title, tgt, ident)
    write_epub(files["bilingual"], assembled, book_title, tgt, ident + "-bilingual", bilingual_from=src)
    atomic_write_text(files["txt"], render_text(assembled))
    title_rows = [results[u.id][0] for u in units if u.name.startswith(("title-", "part-"))]
    summary = {
        "book": str(book),
        "direction": direction,
        "engine": engine_id,
        "chapters": {"in_book": len(available), "translated": chosen},
        "paragraphs": {"in_book": len(paragraphs), "translated": len(selected)},
        "ingest": {"dropped": result.report.get("dropped", {}), "notes_not_translated": len(result.notes)},
        "usage": usage(rows + title_rows, price),
        "files": {k: v.name for k, v in files.items()},
    }
    write_json(out_dir / f"{stem}.{tgt}.json", summary)
    if result.notes:
        log.warning(
            "%s: %d notes (footnotes, endnotes) were kept apart by the ingest and are not translated",
            book,
            len(result.notes),
        )
    return summary


def open_book_engine(args) -> tuple:
    """From the CLI's options: (a function that opens the engine, a token counter, the config, what
    identifies engine and model for resuming, the price). Nothing heavy is loaded until the engine
    is opened; a missing model folder is reported here, before any work."""
    from . import TranslateConfig
    from .engines import (
        EngineError,
        check_model_dir,
        choose_engine,
        local_context,
        local_tokenizer,
        open_local_engine,
        token_counter,
    )

    engine = args.engine
    if engine == "auto" and args.base_url:
        engine = "openai"
    if engine == "openai":
        from .api import OpenAIEngine, estimate_tokens, find_key

        if not args.base_url:
            raise EngineError("--engine openai needs --base-url (the endpoint, e.g. https://api.deepseek.com/v1)")
        key, variable = find_key()
        context = args.context or 16384
        cap = args.max_new_tokens or 8192
        cfg = TranslateConfig(
            context,
            args.source_share,
            args.carry_share,
            args.max_new_factor,
            cap,
            args.batch_size,
            max_paragraphs=0,
            repetition_penalty=1.0,
        )  # an endpoint is sent no penalty

        def open_api():
            return OpenAIEngine(
                args.base_url,
                args.model,
                key,
                variable,
                concurrency=args.concurrency,
                timeout=args.timeout,
                retries=args.retries,
                backoff=args.backoff,
                max_tokens=cap,
            )

        OpenAIEngine(args.base_url, args.model).close()  # checks the URL before any work
        price = {"input": args.price[0], "output": args.price[1]} if args.price else None
        return (
            open_api,
            estimate_tokens,
            cfg,
            {"engine": "openai", "base_url": args.base_url, "model": args.model},
            price,
        )
    if args.base_url:
        raise EngineError(f"--base-url is for the openai engine, not {engine}")
    from ..io import tree_digest

    check_model_dir(args.model)
    engine = choose_engine(engine)
    tok = local_tokenizer(args.model)
    cfg = TranslateConfig(
        args.context or local_context(args.model),
        args.source_share,
        args.carry_share,
        args.max_new_factor,
        args.max_new_tokens,
        args.batch_size,
        max_paragraphs=0,
        repetition_penalty=args.repetition_penalty,
    )
    merged = Path(args.out) / f".merged-{fingerprint(tree_digest(args.model))}"

    def open_local():
        return open_local_engine(args.model, engine, tok, cfg.context, args.dtype, cfg.repetition_penalty, 0, merged)

    identity = {
        "engine": engine,
        "model": str(args.model),
        "dtype": args.dtype,
        "weights": tree_digest(args.model).hex(),
    }
    return open_local, token_counter(tok), cfg, identity, None
