"""Every kind of bad book gets one clear error naming the file and the reason; nothing crashes."""

import subprocess
import sys
import zipfile

import pymupdf
import pytest
from project import ingest_file

from booktrans.errors import IngestError


def _pdf_with_text(path, text="The island had no trees, only grey rock and the white tower.", pages=1):
    doc = pymupdf.open()
    for _ in range(pages):
        doc.new_page().insert_text((72, 100), text, fontname="helv", fontsize=11)
    doc.save(path)
    return path


def _error(path, lang="en") -> IngestError:
    with pytest.raises(IngestError) as exc:
        ingest_file(path, lang)
    assert str(path) in str(exc.value)
    return exc.value


def test_encrypted_pdf(tmp_path):
    p = tmp_path / "locked.pdf"
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 100), "secret text", fontname="helv")
    doc.save(p, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    assert _error(p).reason == "encrypted"


def test_image_only_pdf_needs_ocr_with_page_numbers(tmp_path):
    p = tmp_path / "scan.pdf"
    doc = pymupdf.open()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 64, 64), False)
    pix.clear_with(200)
    for _ in range(3):
        doc.new_page().insert_image(pymupdf.Rect(50, 50, 400, 400), pixmap=pix)
    doc.save(p)
    err = _error(p)
    assert err.reason == "needs OCR" and "1-3" in err.detail


def test_truncated_pdf_is_repaired_or_refused_never_a_crash(tmp_path, root):
    data = (root / "data/sample/night-train.en.pdf").read_bytes()
    p = tmp_path / "truncated.pdf"
    p.write_bytes(data[: len(data) // 2])
    try:
        res = ingest_file(p, "en")
    except IngestError as exc:
        assert str(p) in str(exc)
    else:
        assert res.paragraphs and any("repaired" in w for w in res.report["warnings"])


def test_garbage_and_empty_pdfs(tmp_path):
    bad = tmp_path / "garbage.pdf"
    bad.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 10)
    assert _error(bad).reason in ("corrupted PDF", "no text")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    assert _error(empty).reason == "empty file"
    txt = tmp_path / "not-a-pdf.pdf"
    txt.write_text("hello")
    assert _error(txt).reason == "corrupted PDF"


def _epub_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), b"application/epub+zip")
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_drm_epub(tmp_path):
    p = _epub_zip(
        tmp_path / "drm.epub", {"META-INF/container.xml": b"<container/>", "META-INF/encryption.xml": b"<encryption/>"}
    )
    assert _error(p).reason == "encrypted"


def test_zip_bomb_is_refused(tmp_path):
    p = _epub_zip(
        tmp_path / "bomb.epub", {"META-INF/container.xml": b"<container/>", "OEBPS/a.xhtml": b"\0" * (30 << 20)}
    )
    assert _error(p).reason == "zip bomb"


def test_zip_with_path_escaping_the_archive(tmp_path):
    p = _epub_zip(tmp_path / "escape.epub", {"META-INF/container.xml": b"<container/>", "../../etc/passwd": b"x"})
    assert _error(p).reason == "unsafe archive"


def test_zip_that_is_not_an_epub(tmp_path):
    p = _epub_zip(tmp_path / "photos.epub", {"photo.jpg": b"\xff\xd8\xff"})
    assert _error(p).reason == "not an EPUB"


def test_binary_file_named_txt(tmp_path):
    p = tmp_path / "program.txt"
    p.write_bytes(bytes(range(256)) * 64)
    assert _error(p).reason == "binary file"


def test_unsupported_extension(tmp_path):
    p = tmp_path / "book.docx"
    p.write_bytes(b"PK")
    assert _error(p).reason == "unsupported format"


def test_edition_in_the_wrong_language(tmp_path):
    p = _pdf_with_text(tmp_path / "english.pdf")
    assert _error(p, "zh").reason == "wrong language"


def test_same_traditional_text_in_big5_utf8_and_utf16_ingests_identically(tmp_path):
    text = (
        "第一章 歸來\n\n寶玉聽了，便知是黛玉的聲音。這裡是台灣，我們說繁體中文。\n\n他們走進了院子，看見滿地的落葉。\n"
    )
    results = []
    for enc in ("big5", "utf-8", "utf-16"):
        p = tmp_path / f"book-{enc}.txt"
        p.write_bytes(text.encode(enc))
        res = ingest_file(p, "zh")
        results.append([(x.chapter, x.title, x.text) for x in res.paragraphs])
    assert results[0] == results[1] == results[2]
    assert results[0][0] == (1, "第一章 歸來", "寶玉聽了，便知是黛玉的聲音。這裡是台灣，我們說繁體中文。")


def test_traditional_to_simplified_is_optional(tmp_path):
    p = tmp_path / "trad.txt"
    p.write_bytes("第一章 歸來\n\n這裡是台灣，我們說繁體中文。乾隆年間，天氣乾燥。\n".encode("big5"))
    assert ingest_file(p, "zh").paragraphs[0].text.startswith("這裡是台灣")
    simple = ingest_file(p, "zh", simplify=True)
    assert simple.paragraphs[0].text == "这里是台湾，我们说繁体中文。乾隆年间，天气干燥。"
    assert simple.paragraphs[0].title == "第一章 归来"


def test_normalisation_removes_invisible_characters_and_fixes_width(tmp_path):
    p = tmp_path / "messy.txt"
    p.write_text("\ufeffChapter 1 Ｔｈｅ Ｓｔａｒｔ\r\n\r\nShe\u200b said\u00a0hello，world！\r\n", encoding="utf-8")
    res = ingest_file(p, "en")
    assert res.paragraphs[0].title == "Chapter 1 The Start"
    assert res.paragraphs[0].text == "She said hello,world!"


def test_cli_reports_a_bad_file_in_one_line_with_status_2(tmp_path):
    p = tmp_path / "scan.epub"
    p.write_bytes(b"PK\x03\x04 broken")
    res = subprocess.run(
        [sys.executable, "-m", "booktrans.cli", "ingest", str(p), "--lang", "zh"], capture_output=True, text=True
    )
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and str(p) in res.stderr and "Traceback" not in res.stderr


def test_two_column_page_is_read_left_column_first(tmp_path):
    p = tmp_path / "columns.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=800)
    page.insert_text((50, 60), "Chapter 1 Two Columns", fontname="helv", fontsize=16)
    left = ["The left column starts here and", "goes on down the page until it", "ends at the bottom of the left."]
    right = ["Then the right column begins at", "the top again and continues to", "its own end at the bottom."]
    for i, (a, b) in enumerate(zip(left, right)):
        page.insert_text((50, 120 + 14 * i), a, fontname="helv", fontsize=11)
        page.insert_text((320, 120 + 14 * i), b, fontname="helv", fontsize=11)
    doc.save(p)
    text = " ".join(x.text for x in ingest_file(p, "en").paragraphs)
    assert text.index("ends at the bottom of the left.") < text.index("Then the right column begins")


def test_pdf_contents_page_and_footnotes_are_dropped_counted_and_kept_apart(tmp_path):
    p = tmp_path / "book.pdf"
    doc = pymupdf.open()
    toc = doc.new_page(width=420, height=595)
    toc.insert_text((50, 60), "Contents", fontname="helv", fontsize=14)
    for k, (t, n) in enumerate((("Chapter 1 The Island", 2), ("Chapter 2 The Storm", 3), ("Chapter 3 Morning", 4))):
        toc.insert_text((50, 100 + 20 * k), f"{t} " + "." * 40 + f" {n}", fontname="helv", fontsize=11)
    body = doc.new_page(width=420, height=595)
    body.insert_text((50, 60), "Chapter 1 The Island", fontname="helv", fontsize=16)
    body.insert_text(
        (50, 100), "The island had no trees, only grey rock and a white tower.1", fontname="helv", fontsize=11
    )
    body.insert_text((50, 500), "1 The tower was built in 1882 by the harbour office.", fontname="helv", fontsize=8)
    doc.save(p)
    res = ingest_file(p, "en")
    texts = [x.text for x in res.paragraphs]
    assert texts == ["The island had no trees, only grey rock and a white tower.1"]
    assert res.report["dropped"]["contents"] >= 3 and res.report["dropped"]["notes"] == 1
    assert res.notes == ["1 The tower was built in 1882 by the harbour office."]


def test_epub_footnotes_are_kept_apart_and_the_cover_is_skipped(tmp_path):
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("notes-test")
    book.set_title("Notes")
    book.set_language("en")
    cover = epub.EpubHtml(title="Cover", file_name="cover.xhtml", lang="en")
    cover.content = "<html><body><p>A Book With Notes</p></body></html>"
    ch = epub.EpubHtml(title="Chapter 1", file_name="ch1.xhtml", lang="en")
    ch.content = (
        '<html xmlns:epub="http://www.idpf.org/2007/ops"><body><h1>Chapter 1 The Island</h1>'
        "<p>The island had no trees, only grey rock and a white tower on it.</p>"
        '<aside epub:type="footnote"><p>The tower was built in 1882.</p></aside></body></html>'
    )
    for item in (cover, ch):
        book.add_item(item)
    book.toc = [ch]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", cover, ch]
    p = tmp_path / "notes.epub"
    epub.write_epub(str(p), book, {})
    res = ingest_file(p, "en")
    assert [x.text for x in res.paragraphs] == ["The island had no trees, only grey rock and a white tower on it."]
    assert res.report["dropped"]["notes"] == 1 and res.report["dropped"]["front_matter"] == 2
    assert res.notes == ["The tower was built in 1882."]
