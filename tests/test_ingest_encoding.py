"""Text files bent the way real ones are: one bad byte in UTF-8, Windows-1252 quotes in English, a
whole book on one line, a wrong code page (mojibake), code-heavy textbooks. Real files from
../shared/data/ingest where present, the sample books otherwise."""

import re

import pytest
from project import ingest_file

from booktrans.errors import IngestError
from booktrans.ingest import encoding


def _text(root, name):
    raw = (root / "data" / "sample" / name).read_bytes()
    return raw.decode("gb18030" if name.endswith(".zh.txt") and raw[:3] != b"\xef\xbb\xbf" else "utf-8").replace(
        "\r\n", "\n"
    )


def _one_bad_byte(data: bytes, at: int) -> bytes:
    """Overwrite the byte at ``at`` (inside a multi-byte character) with 0xFF, as a bad copy does."""
    while data[at] < 0x80:
        at += 1
    return data[:at] + b"\xff" + data[at + 1 :]


def test_utf8_with_one_bad_byte_stays_utf8_and_counts_it(root, tmp_path):
    text = _text(root, "sky-blue.zh.txt")
    good = tmp_path / "good.txt"
    good.write_text(text, encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(_one_bad_byte(text.encode("utf-8"), len(text.encode("utf-8")) // 2))
    a, b = ingest_file(good, "zh"), ingest_file(bad, "zh")
    assert b.report["encoding"] == "utf-8" and b.report["bad_bytes"] >= 1
    assert any("invalid UTF-8" in w for w in b.report["warnings"])
    diff = [(x.text, y.text) for x, y in zip(a.paragraphs, b.paragraphs) if x.text != y.text]
    assert len(a.paragraphs) == len(b.paragraphs) and len(diff) == 1 and "\ufffd" in diff[0][1]


def _typed(root) -> str:
    """An English book as a word processor types it: curly quotes and apostrophes."""
    text = (root / "data" / "sample" / "source" / "lighthouse.en.md").read_text(encoding="utf-8").replace("# ", "")
    text = re.sub(r"(\w)'(\w)", "\\1\u2019\\2", text)
    return re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text)


def test_windows_1252_quotes_in_english_are_read_as_typed(root, tmp_path):
    typed = _typed(root)
    assert typed.count("\u2019") >= 3 and typed.count("\u201c") >= 10
    ref = tmp_path / "utf8.txt"
    ref.write_text(typed, encoding="utf-8")
    want = [x.text for x in ingest_file(ref, "en").paragraphs]
    p = tmp_path / "cp1252.txt"
    p.write_bytes(typed.encode("cp1252"))
    res = ingest_file(p, "en")
    assert res.report["encoding"] == "cp1252" and [x.text for x in res.paragraphs] == want
    # one stray cp1252 apostrophe pasted into a UTF-8 file: the file stays UTF-8, the byte is what it was typed as
    data = typed.encode("utf-8")
    k = data.index("\u2019".encode())
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes(data[:k] + b"\x92" + data[k + 3 :])
    res = ingest_file(mixed, "en")
    assert res.report["encoding"] == "utf-8" and res.report["bad_bytes"] == 1
    assert [x.text for x in res.paragraphs] == want


def test_detection_uses_both_detectors_and_each_covers_for_the_other(root, monkeypatch):
    data = (root / "data" / "sample" / "sky-blue.zh.txt").read_bytes()  # GBK
    got = encoding.decode_text(data, "x", "zh")
    assert got.encoding == "gb18030" and set(got.proposals) == {"chardet", "charset-normalizer"}
    monkeypatch.setattr(encoding.chardet, "detect_all", lambda *a, **k: [])
    assert encoding.decode_text(data, "x", "zh").text == got.text
    monkeypatch.undo()
    monkeypatch.setattr(encoding.charset_normalizer, "from_bytes", lambda *a, **k: [])
    assert encoding.decode_text(data, "x", "zh").text == got.text


def test_mojibake_in_no_language_is_an_error(root, tmp_path):
    """The failure this replaces: a Chinese book read through the wrong code page (Greek cp737)."""
    text = _text(root, "sky-blue.zh.txt")
    p = tmp_path / "greek.txt"
    p.write_text(text.encode("utf-8").decode("cp737"), encoding="utf-8")
    with pytest.raises(IngestError) as exc:
        ingest_file(p, "zh")
    assert exc.value.reason == "no language" and str(p) in str(exc.value)


def test_a_three_million_character_line_is_split_at_sentence_ends_and_nothing_is_lost(root, tmp_path):
    paras = [
        p for p in _text(root, "sky-blue.en.txt").split("\n\n") if p.strip() and not p.startswith(("Chapter", "Why"))
    ]
    line = " ".join(" ".join(p.split()) for p in paras)
    line = " ".join([line] * (3_000_000 // len(line) + 1))
    p = tmp_path / "one-line.txt"
    p.write_text(line + "\n", encoding="utf-8")
    res = ingest_file(p, "en")
    lengths = [len(x.text) for x in res.paragraphs]
    assert len(line) >= 3_000_000 and max(lengths) <= 10_000 and len(lengths) >= 300
    assert all(x.text.endswith((".", '"', "?", "!")) for x in res.paragraphs)  # cut at sentence ends
    assert " ".join(x.text for x in res.paragraphs) == line  # every character is still there
    assert res.report["split_paragraphs"] == 1 and any("split at sentence ends" in w for w in res.report["warnings"])


CODE = '''import statistics
from collections import Counter


def mean(values):
    """Return the arithmetic mean of a non-empty list of numbers."""
    if not values:
        raise ValueError("mean of an empty list")
    total = 0
    for value in values:
        total += value
    return total / len(values)


def describe(values):
    counts = Counter(values)
    most_common, times = counts.most_common(1)[0]
    return {
        "mean": mean(values),
        "median": statistics.median(values),
        "mode": most_common,
        "mode_count": times,
        "spread": max(values) - min(values),
    }


numbers = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
for key, value in describe(numbers).items():
    print(f"{key:>10}: {value}")
print(sorted(numbers, reverse=True))'''


def test_code_heavy_textbook_passes_with_the_per_book_language_override(tmp_path):
    lines = ["Python 编程入门", ""]
    for n in ("一", "二", "三"):
        lines += ["", f"第{n}章 列表与循环", "", "下面的程序计算一组数的平均值，然后把它们从大到小排好。", ""]
        lines += [CODE, "", "运行它，看看输出。", ""]
    p = tmp_path / "python.txt"
    p.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(IngestError, match="wrong language"):
        ingest_file(p, "zh")
    res = ingest_file(p, "zh", check_language=False)
    assert res.report["chapters"] == 4 and any("language_check: false" in w for w in res.report["warnings"])


# ------------------------------------------------------------------ the real GBK novel, bent


@pytest.fixture(scope="module")
def hongloumeng(shared):
    path = shared / "ingest" / "hongloumeng.gbk.txt"
    return path.read_bytes().decode("gb18030"), ingest_file(path, "zh")


def test_real_novel_in_utf8_with_one_bad_byte(tmp_path, hongloumeng):
    text, ref = hongloumeng
    p = tmp_path / "hlm.txt"
    p.write_bytes(_one_bad_byte(text.encode("utf-8"), 700_000))
    res = ingest_file(p, "zh")
    assert res.report["encoding"] == "utf-8" and res.report["bad_bytes"] == 3  # the three bytes of one character
    assert res.report["chapter_titles"] == ref.report["chapter_titles"]
    assert sum(x.text != y.text for x, y in zip(res.paragraphs, ref.paragraphs)) == 1


def test_real_novel_on_one_line_keeps_its_chapters_and_paragraphs(tmp_path, hongloumeng):
    text, ref = hongloumeng
    p = tmp_path / "hlm-one-line.txt"
    p.write_text(text.replace("\r\n", "").replace("\n", ""), encoding="utf-8")
    res = ingest_file(p, "zh")
    assert res.report["chapter_titles"] == ref.report["chapter_titles"]
    assert [(x.chapter, x.text) for x in res.paragraphs] == [(x.chapter, x.text) for x in ref.paragraphs]


def test_real_novel_through_the_wrong_code_page_is_refused(tmp_path, hongloumeng):
    text, _ = hongloumeng
    p = tmp_path / "hlm-greek.txt"
    p.write_text(text.encode("utf-8").decode("cp737"), encoding="utf-8")
    with pytest.raises(IngestError, match="no language"):
        ingest_file(p, "zh")
