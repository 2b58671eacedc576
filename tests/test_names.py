"""Foreign names written in Chinese by their sound, met in the English translation (booktrans.align.names),
and the detector's deeper reading of CC-CEDICT's senses."""

from __future__ import annotations

from booktrans.align import lexicon
from booktrans.align.names import english_skeleton, pinyin_skeleton, skeleton_keys
from booktrans.evaluate.omission import OmissionConfig, source_coverage, table_translator
from booktrans.evaluate.omission.partial import target_keys
from booktrans.evaluate.omission.words import zh_words


def test_a_transliterated_name_is_one_word_that_meets_its_english_spelling():
    """CC-CEDICT lacks 卡赫拉曼马拉什 (Kahramanmaras): longest match cut it into 卡 (card), 赫拉 (Hera), 曼,
    马拉 (Marat) and 什, five words whose glosses no translation holds, a clause's worth of "missing"
    words. The detector's glosser keeps it one word, found by its sound in the English; a sentence of
    ordinary words made of the same characters is not joined."""
    tr = table_translator(None)
    zh = "在土耳其南部城市卡赫拉曼马拉什，一个16岁的少年被成功营救。"
    en = "In the southern Turkish city of Kahramanmaras, a 16-year-old boy was successfully rescued."
    words = zh_words(tr.bags([zh])[0])
    assert not any("hera" in w or "card" in w for w in words)
    name = [w for w in words if all(k.startswith("~") for k in w)]
    assert len(name) == 1 and name[0] & target_keys(en, "zh", tr)
    assert not name[0] & target_keys(en.replace("Kahramanmaras", "Gaziantep"), "zh", tr)
    d, longest = lexicon.load_cedict()
    plain = "他拉着马克思的手说德国特别好"
    assert lexicon.segment(plain, d, longest, join_unknown=True) == lexicon.segment(plain, d, longest)


def test_names_meet_across_the_ways_chinese_writes_sounds():
    """Chinese writes an r or not, ends a syllable in n where English has m, adds a vowel to every
    consonant: the keys meet anyway, and different names do not."""

    def meet(pinyin: str, english: str) -> bool:
        return bool(skeleton_keys(pinyin_skeleton(pinyin.split())) & skeleton_keys(english_skeleton(english)))

    assert meet("bu lin ken", "Blinken")
    assert meet("la fu luo fu", "Lavrov")
    assert meet("ya dang si", "Adams")
    assert meet("ma ke si", "Marks")
    assert meet("ka he la man ma la shi", "Kahramanmaras")
    assert meet("ka te", "Carter") is False  # two consonants say too little to count
    assert not meet("bu lin ken", "Lavrov")
    assert not meet("ya dang si", "Marks")


def test_the_detector_reads_a_sense_further_down_the_entry():
    """基准's sixth sense ends "base line"; "benchmark" comes later. With six senses the benchmark
    clause of a complete translation lacked a word; the detector reads eight."""
    tr = table_translator(None)
    assert any("benchm" in w for w in zh_words(tr.bags(["业绩比较基准"])[0]))
    plain = zh_words(lexicon.CedictGlosser().bags(["业绩比较基准"])[0])
    assert not any("benchm" in w for w in plain)


def test_a_sentence_naming_a_foreign_city_is_not_called_partial():
    """A complete translation of sentences that name foreign places by their sound is not flagged."""
    src = [
        "在土耳其南部城市卡赫拉曼马拉什，救援人员在恶劣的严寒天气条件下继续工作。",
        "美国国务卿布林肯与俄罗斯外长拉夫罗夫在会议期间进行了简短交谈。",
        "当地政府表示，灾区的学校将在下周重新开放。",
    ]
    hyp = (
        "In the southern Turkish city of Kahramanmaras, rescuers kept working in harsh cold weather. "
        "US Secretary of State Blinken and Russian Foreign Minister Lavrov spoke briefly during the meeting. "
        "The local government said schools in the disaster area will reopen next week."
    )
    cov = source_coverage(src, [hyp], "zh", "en", OmissionConfig(), table_translator(None), None)
    assert [line.omitted for line in cov.lines] == [False, False, False]
    assert [line.partial for line in cov.lines] == [False, False, False]
