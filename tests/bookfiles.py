"""Book files laid out the way real ones arrive, for the ingest tests.

Every EPUB here is written member by member (container, OPF, NCX, EPUB 3 nav, XHTML), with the
markup of the layouts the readers must cope with:

- ``gutenberg_epub``: Project Gutenberg's EPUB 3, as its generator makes it — the whole book in a
  few XHTML files split by size, chapters as ``<div class="chapter"><h2><a id=...>`` with the NCX and
  the nav pointing at those anchors, the header section (``#pg-header``) with the START line, a
  contents table of links, verse as ``<br/>`` lines inside ``<p>``, and the licence section
  (``#pg-footer``) after the END line. ``style="old"`` gives the pre-2020 layout: a ``<pre>`` header,
  ``<a name>`` anchors in front of the headings, the licence as plain paragraphs.
- ``div_br_epub``: the layout of many Chinese EPUBs made from text files: each chapter a heading and
  one ``<div>`` of lines separated by ``<br/>`` (indented with ideographic spaces, or with ``&#160;``
  and a blank ``<br/><br/>`` between paragraphs); ``p_chapters`` keeps some chapters in ``<p>``.
- ``converted_txt_epub``: a text file run through a converter: one ``<div>`` of ``<br/>`` lines holding
  the whole book, chapter titles among them, a table of contents naming only the book.
- ``anchored_epub``: one XHTML file holding every chapter, the table of contents pointing at anchors
  in it (the layout of many commercial EPUBs); headings need not read as chapter headings.

Chapters are given as [(title, [paragraph, ...])]; a paragraph with newlines is verse.
"""

from __future__ import annotations

import html
import zipfile
from pathlib import Path

_CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>
"""


def _xhtml(title: str, body: str, lang: str) -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops" lang="{lang}" '
        f'xml:lang="{lang}">\n<head>\n<meta charset="utf-8"/>\n<title>{html.escape(title)}</title>\n'
        f'<link href="pgepub.css" rel="stylesheet" type="text/css"/>\n</head>\n<body>\n{body}\n</body>\n</html>\n'
    )


def write_epub(
    path: Path,
    title: str,
    lang: str,
    docs: list[tuple[str, str]],
    toc: list[tuple[str, str]],
    nav_depth: list[int] | None = None,
) -> Path:
    """Write an EPUB 3 with NCX: ``docs`` = [(file name, XHTML)], in spine order; ``toc`` =
    [(title, href)] with ``nav_depth`` giving each entry's depth (0 = top) for nested contents."""
    depth = nav_depth or [0] * len(toc)
    manifest = "\n".join(
        f'<item id="item{i}" href="{n}" media-type="application/xhtml+xml"/>' for i, (n, _) in enumerate(docs)
    )
    spine = "\n".join(f'<itemref idref="item{i}"/>' for i in range(len(docs)))
    opf = (
        f'<?xml version="1.0" encoding="utf-8"?>\n<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        f'unique-identifier="id">\n<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        f'<dc:identifier id="id">urn:booktrans:test:{html.escape(title)}</dc:identifier>\n'
        f"<dc:title>{html.escape(title)}</dc:title>\n<dc:language>{lang}</dc:language>\n"
        f'<meta property="dcterms:modified">2026-01-01T00:00:00Z</meta>\n</metadata>\n<manifest>\n{manifest}\n'
        f'<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>\n'
        f'<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>\n</manifest>\n'
        f'<spine toc="ncx">\n{spine}\n</spine>\n</package>\n'
    )

    def ncx_points(k: int, level: int) -> tuple[str, int]:
        out = ""
        while k < len(toc) and depth[k] == level:
            t, href = toc[k]
            inner, nxt = ncx_points(k + 1, level + 1)
            out += (
                f'<navPoint id="np{k}" playOrder="{k + 1}"><navLabel><text>{html.escape(t)}</text></navLabel>'
                f'<content src="{href}"/>{inner}</navPoint>\n'
            )
            k = nxt
        return out, k

    def nav_list(k: int, level: int) -> tuple[str, int]:
        out = ""
        while k < len(toc) and depth[k] == level:
            t, href = toc[k]
            inner, nxt = nav_list(k + 1, level + 1)
            out += f'<li><a href="{href}">{html.escape(t)}</a>{f"<ol>{inner}</ol>" if inner else ""}</li>\n'
            k = nxt
        return out, k

    ncx = (
        f'<?xml version="1.0" encoding="utf-8"?>\n<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">\n'
        f'<head><meta name="dtb:uid" content="urn:booktrans:test"/><meta name="dtb:depth" content="{max(depth) + 1}"/>'
        f"</head>\n<docTitle><text>{html.escape(title)}</text></docTitle>\n"
        f"<navMap>\n{ncx_points(0, 0)[0]}</navMap>\n</ncx>\n"
    )
    nav = _xhtml(title, f'<nav epub:type="toc" id="toc"><h1>Contents</h1><ol>\n{nav_list(0, 0)[0]}</ol></nav>', lang)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), b"application/epub+zip")
        zf.writestr("META-INF/container.xml", _CONTAINER)
        zf.writestr("OEBPS/content.opf", opf)
        zf.writestr("OEBPS/toc.ncx", ncx)
        zf.writestr("OEBPS/nav.xhtml", nav)
        for name, doc in docs:
            zf.writestr(f"OEBPS/{name}", doc)
    return path


def _p(para: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    if "\n" in para:  # verse: one <br/> per line break inside the paragraph
        return f"<p{attr}>" + "<br/>\n".join(html.escape(line.strip()) for line in para.split("\n")) + "</p>"
    return f"<p{attr}>{html.escape(para)}</p>"


GUTENBERG_LICENCE = [
    "Updated editions will replace the previous one\u2014the old editions will be renamed.",
    "Creating the works from print editions not protected by U.S. copyright law means that no one owns a United "
    "States copyright in these works, so the Foundation (and you!) can copy and distribute it in the United States "
    "without permission and without paying copyright royalties.",
    "START: FULL LICENSE",
    "THE FULL PROJECT GUTENBERG LICENSE",
    "PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK",
    "To protect the Project Gutenberg\u2122 mission of promoting the free distribution of electronic works, by using "
    "or distributing this work (or any other work associated in any way with the phrase \u201cProject "
    "Gutenberg\u201d), you agree to comply with all the terms of the Full Project Gutenberg\u2122 License available "
    "with this file or online at www.gutenberg.org/license.",
    "Section 1. General Terms of Use and Redistributing Project Gutenberg\u2122 electronic works",
    "1.A. By reading or using any part of this Project Gutenberg\u2122 electronic work, you indicate that you have "
    "read, understand, agree to and accept all the terms of this license and intellectual property "
    "(trademark/copyright) agreement.",
    "Project Gutenberg\u2122 eBooks are often created from several printed editions, all of which are confirmed as "
    "not protected by copyright in the U.S. unless a copyright notice is included.",
]


def gutenberg_epub(
    path: Path,
    title: str,
    author: str,
    chapters: list[tuple[str, list[str]]],
    ebook_no: int = 99999,
    style: str = "modern",
    per_file: int = 3,
) -> Path:
    """Project Gutenberg's layout; chapter k's anchor is ``chapNN`` (modern) or ``link2HCHNNNN`` (old)."""
    upper = title.upper()
    anchors = [f"chap{k:02d}" if style == "modern" else f"link2HCH{k:04d}" for k in range(1, len(chapters) + 1)]
    if style == "modern":
        header = (
            '<section class="pg-boilerplate pgheader" id="pg-header" lang="en">\n'
            '<h2 id="pg-header-heading" title="">The Project Gutenberg eBook of <span '
            f'id="pg-title">{html.escape(title)}</span>, '
            f'by <span id="pg-author">{html.escape(author)}</span></h2>\n'
            "<div>This ebook is for the use of anyone anywhere in the United States and most other parts of the world "
            "at no cost and with almost no restrictions whatsoever. You may copy it, give it away or re-use it under "
            "the terms of the Project Gutenberg License included with this ebook or online at "
            '<a class="reference external" href="https://www.gutenberg.org">www.gutenberg.org</a>. If you are not '
            "located in the United States, you will have to check the laws of the country where you are located "
            "before using this eBook.</div>\n"
            f'<div class="container" id="pg-machine-header"><p><strong>Title</strong>: {html.escape(title)}</p>\n'
            f'<div id="pg-header-authlist"><p><strong>Author</strong>: {html.escape(author)}</p></div>\n'
            f"<p><strong>Release date</strong>: March 3, 2004 [eBook #{ebook_no}]<br/>\nMost recently updated: "
            "October 30, 2024</p>\n<p><strong>Language</strong>: English</p>\n"
            "<p><strong>Credits</strong>: Produced by the Online Distributed Proofreading Team</p></div>\n"
            '<div id="pg-start-separator"><span>*** START OF THE PROJECT GUTENBERG EBOOK '
            f"{html.escape(upper)} ***</span></div>\n"
            "</section>\n"
        )
        footer = (
            '<section class="pg-boilerplate pgheader" id="pg-footer" lang="en">\n'
            '<div id="pg-end-separator"><span>*** END OF THE PROJECT GUTENBERG EBOOK '
            f"{html.escape(upper)} ***</span></div>\n"
            '<div class="container" id="pg-footer-section">\n'
            + "\n".join(f"<p>{html.escape(t)}</p>" for t in GUTENBERG_LICENCE)
            + "\n</div>\n</section>\n"
        )
        contents = (
            '<div class="chapter"><h2><a id="contents"></a>CONTENTS</h2>\n<table class="toc">\n'
            + "\n".join(
                f'<tr><td><a class="pginternal" href="#{a}">{html.escape(t)}</a></td></tr>'
                for a, (t, _) in zip(anchors, chapters)
            )
            + "\n</table></div>\n"
        )
    else:
        header = (
            "<pre>\nThe Project Gutenberg EBook of " + html.escape(title) + ", by " + html.escape(author) + "\n\n"
            "This eBook is for the use of anyone anywhere at no cost and with\nalmost no restrictions whatsoever.  "
            "You may copy it, give it away or\nre-use it under the terms of the Project Gutenberg License included\n"
            "with this eBook or online at www.gutenberg.org\n\n\nTitle: "
            + html.escape(title)
            + "\n\nAuthor: "
            + html.escape(author)
            + f"\n\nRelease Date: March 3, 2004 [EBook #{ebook_no}]\n\nLanguage: English\n\n\n"
            "*** START OF THIS PROJECT GUTENBERG EBOOK "
            + html.escape(upper)
            + " ***\n\n\n\n\nProduced by David Widger\n"
            "</pre>\n"
        )
        footer = (
            "<pre>\n\n\n\n\nEnd of the Project Gutenberg EBook of "
            + html.escape(title)
            + ", by "
            + html.escape(author)
            + "\n\n*** END OF THIS PROJECT GUTENBERG EBOOK "
            + html.escape(upper)
            + " ***\n\n***** This file should "
            f"be named {ebook_no}-h.htm or {ebook_no}-h.zip *****\n</pre>\n"
            + "\n".join(f"<p>{html.escape(t)}</p>" for t in GUTENBERG_LICENCE)
            + "\n"
        )
        contents = "<h2>CONTENTS</h2>\n" + "\n".join(
            f'<p class="toc"><a href="#{a}" class="pginternal"> {html.escape(t)} </a></p>'
            for a, (t, _) in zip(anchors, chapters)
        )
    title_page = f'<h1>{html.escape(upper)}</h1>\n<p class="center">By {html.escape(author)}</p>\n'
    bodies = []
    for a, (t, paras) in zip(anchors, chapters):
        body = "\n".join(_p(p, "poem" if "\n" in p else "") for p in paras)
        if style == "modern":
            bodies.append(f'<div class="chapter">\n<h2><a id="{a}"></a>{html.escape(t)}</h2>\n{body}\n</div>\n')
        else:
            bodies.append(
                f'<p><a name="{a}" id="{a}"><!-- H2 anchor --></a></p>\n<div style="height: '
                '4em;"><br/><br/><br/><br/></div>\n'
                f"<h2>{html.escape(t)}</h2>\n{body}\n"
            )
    stem = f"{ebook_no * 7919 % 10**19}_{ebook_no}"
    files: list[tuple[str, str]] = []
    first = header + title_page + contents
    groups = [bodies[k : k + per_file] for k in range(0, len(bodies), per_file)]
    where: dict[str, str] = {}
    for g, group in enumerate(groups):
        name = f"{stem}-h-{g}.htm.xhtml"
        text = (first if g == 0 else "") + "".join(group) + (footer if g == len(groups) - 1 else "")
        files.append((name, _xhtml(title, text, "en")))
        for k in range(g * per_file, g * per_file + len(group)):
            where[anchors[k]] = name
    toc = [
        (f"The Project Gutenberg eBook of {title}", f"{files[0][0]}#pg-header" if style == "modern" else files[0][0])
    ]
    toc += [(t, f"{where[a]}#{a}") for a, (t, _) in zip(anchors, chapters)]
    if style == "modern":
        toc.append(("THE FULL PROJECT GUTENBERG LICENSE", f"{files[-1][0]}#pg-footer"))
    return write_epub(path, title, "en", files, toc)


def div_br_epub(
    path: Path,
    title: str,
    chapters: list[tuple[str, list[str]]],
    p_chapters: set[int] = frozenset(),
    style: str = "indent",
) -> Path:
    """One chapter per file; the text a ``<div>`` of ``<br/>`` lines. ``style``: ``indent`` (two
    ideographic spaces in front of each paragraph, one ``<br/>`` between) or ``nbsp`` (four
    ``&#160;`` in front, ``<br/><br/>`` between). Chapters whose index is in ``p_chapters`` use ``<p>``."""
    docs, toc = [], []
    for k, (t, paras) in enumerate(chapters):
        name = f"chapter{k + 1}.html"
        if k in p_chapters:
            body = "\n".join(_p(p) for p in paras)
        elif style == "indent":
            body = (
                '<div class="txt">\n'
                + "<br/>\n".join("\u3000\u3000" + html.escape(p).replace("\n", "<br/>\n\u3000\u3000") for p in paras)
                + "<br/>\n</div>"
            )
        else:
            body = (
                '<div id="content">'
                + "".join(
                    "&#160;&#160;&#160;&#160;" + html.escape(p).replace("\n", "<br/>") + "<br/><br/>" for p in paras
                )
                + "</div>"
            )
        docs.append((name, _xhtml(t, f'<h3 class="chapter-title">{html.escape(t)}</h3>\n{body}', "zh-CN")))
        toc.append((t, name))
    return write_epub(path, title, "zh", docs, toc)


def converted_txt_epub(path: Path, title: str, chapters: list[tuple[str, list[str]]]) -> Path:
    """A text file turned into an EPUB by a converter: the whole book one ``<div>`` in one file, chapter
    titles and indented paragraphs as ``<br/>`` lines, a table of contents naming only the book."""
    lines = []
    for t, paras in chapters:
        lines += ["", html.escape(t), ""] + ["\u3000\u3000" + html.escape(p) for p in paras]
    body = "<div>" + "<br/>\n".join(lines) + "</div>"
    return write_epub(
        path, title, "zh", [("text00000.html", _xhtml(title, body, "zh-CN"))], [(title, "text00000.html")]
    )


def anchored_epub(
    path: Path,
    title: str,
    chapters: list[tuple[str, list[str]]],
    lang: str = "zh",
    parts: list[tuple[int, str]] | None = None,
) -> Path:
    """Every chapter in one file ``text.xhtml``; the contents point at ``#ch<k>`` anchors on the
    headings. ``parts`` = [(first chapter index, part title)] nests the chapters under parts."""
    body, toc, depth = [], [], []
    starts = dict(parts or [])
    for k, (t, paras) in enumerate(chapters):
        if k in starts:
            body.append(f'<h1 id="part{k}">{html.escape(starts[k])}</h1>')
            toc.append((starts[k], f"text.xhtml#part{k}"))
            depth.append(0)
        body.append(f'<h2 id="ch{k + 1}">{html.escape(t)}</h2>')
        body.extend(_p(p) for p in paras)
        toc.append((t, f"text.xhtml#ch{k + 1}"))
        depth.append(1 if parts else 0)
    return write_epub(path, title, lang, [("text.xhtml", _xhtml(title, "\n".join(body), lang))], toc, depth)
