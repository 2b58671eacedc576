from booktrans.text import detect_lang, length, normalize, split_sentences
from booktrans.text.headings import parse_heading, roman_number, zh_number


def test_chinese_sentences_keep_closing_quotes_with_their_sentence():
    text = "“灯，”他立刻问，“点亮了吗？”“六点钟就点亮了，”梅说。他闭上眼睛，笑了！"
    assert split_sentences(text, "zh") == [
        "“灯，”他立刻问，“点亮了吗？”",
        "“六点钟就点亮了，”梅说。",
        "他闭上眼睛，笑了！",
    ]


def test_chinese_sentences_end_inside_quotations_as_the_gold_splits_do():
    # MAC-Dev's gold lines end inside quotations (韦小宝……说道：“皮人是死的，有什么好玩？)
    text = "他说：“我来了。你呢？”然后坐下。"
    assert split_sentences(text, "zh") == ["他说：“我来了。", "你呢？”", "然后坐下。"]


def test_a_stray_quotation_mark_does_not_swallow_the_paragraph():
    text = "他说：‘不要走。我们一起回去。" + "她点点头。" * 50
    assert len(split_sentences(text, "zh")) == 52


def test_chinese_ellipsis_is_a_pause_unless_a_quotation_or_paragraph_ends_with_it():
    assert split_sentences("他……他走了。", "zh") == ["他……他走了。"]
    assert split_sentences("真的吗？！我不信……走吧。", "zh") == ["真的吗？！", "我不信……走吧。"]
    assert split_sentences("“不过…… 不过……”他走了。我等着……", "zh") == ["“不过…… 不过……”", "他走了。", "我等着……"]


def test_english_abbreviations_initials_and_decimals_do_not_split():
    text = "Dr. Smith paid $3.50 at 5 p.m. on Jan. 5. He left. J. R. R. Tolkien wrote it."
    assert split_sentences(text, "en") == [
        "Dr. Smith paid $3.50 at 5 p.m. on Jan. 5.",
        "He left.",
        "J. R. R. Tolkien wrote it.",
    ]


def test_short_english_sentences_after_words_that_look_like_abbreviations():
    assert split_sentences("She said no. Nobody argued.", "en") == ["She said no.", "Nobody argued."]
    assert split_sentences("5 p.m. The sun set.", "en") == ["5 p.m.", "The sun set."]
    assert split_sentences("He said he didn't. She had no idea.", "en") == ["He said he didn't.", "She had no idea."]
    assert split_sentences("'Come on then: let's see—' 'At you!'", "en") == ["'Come on then: let's see—'", "'At you!'"]


def test_english_quotes_stay_with_their_sentence():
    text = '"Why do ships need us?" she asked. "Because the sea is large."'
    assert split_sentences(text, "en") == ['"Why do ships need us?" she asked.', '"Because the sea is large."']


def test_verse_lines_are_sentences():
    assert split_sentences("细雨夜里走过山岗，\n没有人听见它来。", "zh") == ["细雨夜里走过山岗，", "没有人听见它来。"]


def test_normalize_removes_invisible_characters_and_sets_punctuation_width():
    assert normalize("Ａ１\u200b　hello,世界 ,好", "zh") == "A1 hello，世界，好"
    assert normalize("Ｈｅｌｌｏ，ｗｏｒｌｄ！\u00ad", "en") == "Hello,world!"
    # NFC: a decomposed é becomes one code point
    assert normalize("cafe\u0301", "en") == "caf\u00e9"


def test_headings():
    assert parse_heading("第一百二十回 甄士隐详说太虚情", "zh")[0] == 120
    assert parse_heading("第三章 乘法原理", "zh")[0] == 3
    assert parse_heading("Chapter 12: The Storm", "en")[0] == 12
    assert parse_heading("IV. Winter Fire", "en")[0] == 4
    assert parse_heading("他走进第三章的世界，看见了很多东西。", "zh") is None
    assert parse_heading("12 apples are red.", "en") is None
    assert zh_number("十五") == 15 and zh_number("一百零八") == 108 and roman_number("XLII") == 42


def test_language_and_length_units():
    assert detect_lang("岛上没有树，只有灰色的岩石和一座白塔，塔立在岩石上。") == "zh"
    assert detect_lang("The island had no trees, only grey rock and the white tower that stood on it.") == "en"
    assert detect_lang("42") is None
    assert length("岛上 没有树。", "zh") == 6
    assert length("The island's tower stood.", "en") == 4


def test_more_english_segmentation_cases():
    assert split_sentences("Mr. and Mrs. Smith went to the U.S. office. It was closed.", "en") == [
        "Mr. and Mrs. Smith went to the U.S. office.",
        "It was closed.",
    ]
    assert split_sentences("Pi is about 3.14. No. 5 is next.", "en") == ["Pi is about 3.14.", "No. 5 is next."]
    assert split_sentences("Wait... What did you say?' she asked. He left!", "en") == [
        "Wait...",
        "What did you say?' she asked.",
        "He left!",
    ]


def test_chinese_semicolon_and_closing_brackets():
    assert split_sentences("第一，要勤奋；第二，要谦虚。", "zh") == ["第一，要勤奋；第二，要谦虚。"]
    # a parenthesis closing after the full stop stays with its sentence
    assert split_sentences("（这是注释。）接着说。", "zh") == ["（这是注释。）", "接着说。"]
