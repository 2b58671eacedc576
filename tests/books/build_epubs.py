"""How the EPUB excerpts here were made from public repository snapshots (run once, by hand):

    python tests/books/build_epubs.py /path/to/mirrors

Each EPUB keeps the real files' own markup (XHTML, OPF, navigation); only whole stories or sections
are left out, and the manifest, spine and navigation lose the entries of what was left out. The
sources, commits and licences are in README.md beside this file.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).parent


def git_show(repo: Path, path: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"HEAD:{path}"], check=True, capture_output=True
    ).stdout


def write_epub(out: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(out, "w") as z:
        info = zipfile.ZipInfo("mimetype", date_time=(2026, 1, 1, 0, 0, 0))
        z.writestr(info, b"application/epub+zip", compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)


def sherlock(mirrors: Path) -> None:
    """Standard Ebooks' Adventures of Sherlock Holmes: two of its twelve stories; its own toc.xhtml
    (a story nests its parts I, II, III), imprint and uncopyright."""
    repo = mirrors / "standardebooks+arthur-conan-doyle_the-adventures-of-sherlock-holmes" / "repo"
    keep = ["titlepage", "imprint", "a-scandal-in-bohemia", "a-case-of-identity", "uncopyright"]
    opf = git_show(repo, "src/epub/content.opf").decode()
    opf = re.sub(r'\s*<item href="(?:text/(?!(?:%s)\.xhtml)[^"]+|images/[^"]+)"[^>]*/>' % "|".join(keep), "", opf)
    opf = re.sub(r'\s*<itemref idref="(?!(?:%s)\.xhtml)[^"]+"/>' % "|".join(keep), "", opf)
    opf = re.sub(r'\s*<meta property="se:word-count">.*?</meta>', "", opf)
    toc = git_show(repo, "src/epub/toc.xhtml").decode()
    toc = re.sub(r'\s*<li>\s*<a href="text/(?!(?:%s)\.xhtml)[^"]+">[^<]*</a>\s*</li>' % "|".join(keep), "", toc)
    members = {
        "META-INF/container.xml": git_show(repo, "src/META-INF/container.xml"),
        "epub/content.opf": opf.encode(),
        "epub/toc.xhtml": toc.encode(),
    }
    for css in ("core", "local", "se"):
        members[f"epub/css/{css}.css"] = git_show(repo, f"src/epub/css/{css}.css")
    for name in keep:
        members[f"epub/text/{name}.xhtml"] = git_show(repo, f"src/epub/text/{name}.xhtml")
    write_epub(HERE / "sherlock-holmes-excerpt.en.epub", members)


_CONTAINER = b"""<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>
"""


def taylor(mirrors: Path) -> None:
    """Project Gutenberg #20171, Gov. Bob Taylor's Tales, from its HTML edition: the book as one XHTML
    document (its own markup: the contents table of links to anchors, h2 headings for lectures and
    their sections alike), up to the seventh section of the first lecture, the licence's start kept. The
    navigation names only the title page, as an EPUB made without reading the contents does."""
    repo = (
        mirrors
        / (
            "GITenberg+Gov.-Bob.-Taylor-s-Tales--13--The-fiddle-and-the-bow----The-paradise-of-fools----"
            "Visions-and-__20171"
        )
        / "repo"
        / ".git"
    )
    html = git_show(repo, "20171-h/20171-h.htm").decode("latin-1")
    start = html.index('<a name="h2H_4_0010"')  # "The Candy Pulling": the excerpt stops here
    start = html.rfind("<h2", 0, start)
    end = html.index("*** END OF")
    end = html.rfind("<pre", 0, end) if html.rfind("<pre", 0, end) > start else end
    tail = html[end:]
    tail = tail[: tail.index("Section 1.")] + "</pre>\n</body>\n</html>\n" if "Section 1." in tail else tail
    body = html[:start] + tail
    body = body.replace("charset=iso-8859-1", "charset=utf-8")
    body = re.sub(r"<!DOCTYPE[^>]*>", "", body, count=1, flags=re.S)
    body = '<?xml version="1.0" encoding="utf-8"?>\n' + body
    body = re.sub(r"<img [^>]*>", "", body)
    opf = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:identifier id="id">http://www.gutenberg.org/20171</dc:identifier>
<dc:title>Gov. Bob. Taylor's Tales</dc:title><dc:language>en</dc:language>
<meta property="dcterms:modified">2026-01-01T00:00:00Z</meta>
</metadata>
<manifest>
<item id="book" href="20171-h.xhtml" media-type="application/xhtml+xml"/>
<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
</manifest>
<spine><itemref idref="book"/></spine>
</package>
"""
    nav = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><head><title>Contents</title></head>
<body><nav epub:type="toc"><ol><li><a href="20171-h.xhtml">Gov. Bob. Taylor's Tales</a></li></ol></nav></body></html>
"""
    write_epub(
        HERE / "taylor-tales-excerpt.en.epub",
        {
            "META-INF/container.xml": _CONTAINER,
            "OEBPS/content.opf": opf.encode(),
            "OEBPS/nav.xhtml": nav.encode(),
            "OEBPS/20171-h.xhtml": body.encode("utf-8"),
        },
    )


def shishuo(mirrors: Path) -> None:
    """世說新語 as the Ancient-China-Books EPUB sources (Calibre's output, Traditional characters):
    eight of its thirty-six chapters with the book's own OPF and NCX less the other chapters' entries;
    fonts, the cover image and the script left out (the manifest loses their items)."""
    repo = mirrors / "Ancient-China-Books+shishuoxinyu" / "repo"
    keep = ["01", "07", "10", "11", "12", "13", "15", "16"]
    opf = git_show(repo, "OEBPS/content.opf").decode()
    ids = dict(re.findall(r'<item id="([^"]+)" href="Text/(\d+)\.htm"', opf))
    drop = [i for i, n in ids.items() if n not in keep]
    opf = re.sub(r'\s*<item id="(?:%s)" href="Text/[^"]+"[^>]*/>' % "|".join(drop), "", opf)
    opf = re.sub(r'\s*<itemref idref="(?:%s)"/>' % "|".join(drop), "", opf)
    opf = re.sub(r'\s*<item (?:href="OEBPS/cover.jpg" )?id="(?:cover|fsung-2|fsung-f|noto-sc|main.js)"[^>]*/>', "", opf)
    opf = re.sub(r'\s*<meta name="cover" content="cover"/>', "", opf)
    ncx = git_show(repo, "OEBPS/toc.ncx").decode()
    ncx = re.sub(
        r'\s*<navPoint id="num_\d+" playOrder="\d+">\s*<navLabel>\s*<text>[^<]*</text>\s*</navLabel>\s*'
        r'<content src="Text/(?!(?:%s)\.htm)[^"]+"/>\s*</navPoint>' % "|".join(keep),
        "",
        ncx,
    )
    members = {
        "META-INF/container.xml": git_show(repo, "META-INF/container.xml"),
        "OEBPS/content.opf": opf.encode(),
        "OEBPS/toc.ncx": ncx.encode(),
    }
    for css in ("boilerplate", "Layout01"):
        members[f"OEBPS/Styles/{css}.css"] = git_show(repo, f"OEBPS/Styles/{css}.css")
    for n in keep:
        members[f"OEBPS/Text/{n}.htm"] = git_show(repo, f"OEBPS/Text/{n}.htm")
    write_epub(HERE / "shishuoxinyu-excerpt.zh.epub", members)


if __name__ == "__main__":
    root = Path(sys.argv[1])
    sherlock(root)
    taylor(root)
    shishuo(root)
