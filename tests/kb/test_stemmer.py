"""The light Bulgarian stemmer: inflected forms of a word share one stem.

Pure tests: run with ``-p no:django``.
"""

import pytest

from helpdesk.stemming import stem, stemmed_text, stems, words


@pytest.mark.parametrize(
    "forms",
    [
        ("диплома", "дипломата", "дипломи", "дипломите"),
        ("документ", "документа", "документът", "документи", "документите"),
        ("изображение", "изображението", "изображения", "изображенията"),
        ("институция", "институцията", "институции", "институциите"),
        ("ученик", "ученика", "ученикът", "ученици", "учениците"),
        ("система", "системата", "системи", "системите"),
        ("делегиране", "делегирането"),
        ("сканирано", "сканираното", "сканиран", "сканирана", "сканираната"),
        ("файл", "файла", "файлът", "файлове", "файловете"),
        ("училище", "училището", "училища", "училищата"),
        ("място", "мястото"),
        ("работа", "работата"),
        ("diploma", "diplomas"),
        ("entry", "entries"),
    ],
)
def test_inflected_forms_share_a_stem(forms):
    assert len({stem(form) for form in forms}) == 1, {form: stem(form) for form in forms}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("ДИПЛОМАТА", "диплом"),
        ("дни", "дни"),  # too short to strip
        ("код", "код"),
        ("2206409", "2206409"),
        ("ѝ", "и"),
        ("class", "class"),  # a double s is not a plural
    ],
)
def test_stem_of_single_words(word, expected):
    assert stem(word) == expected


@pytest.mark.parametrize(
    ("first", "second"),
    [("диплома", "дело"), ("ученик", "учител"), ("права", "правила")],
)
def test_different_words_keep_different_stems(first, second):
    assert stem(first) != stem(second)


def test_words_split_on_punctuation_and_underscore():
    assert words("edu.mon.bg, вход_в-системата!") == ["edu", "mon", "bg", "вход", "в", "системата"]


def test_stems_keep_word_order_for_phrases():
    assert stems("Сканираното изображение") == ["сканиран", "изображен"]
    assert stemmed_text("Сканираното  изображение.") == "сканиран изображен"


# One word for each Bulgarian suffix, longest suffixes first as the stemmer tries them.
@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("файловете", "файл"),  # -овете
        ("институцията", "институк"),  # -ията, then ц folds to к
        ("изображението", "изображен"),  # -ието
        ("институциите", "институк"),  # -иите
        ("дипломите", "диплом"),  # -ите
        ("дипломата", "диплом"),  # -ата
        ("мястото", "мяст"),  # -ото
        ("училището", "училищ"),  # -ето
        ("земята", "зем"),  # -ята
        ("първият", "първ"),  # -ият
        ("файлове", "файл"),  # -ове
        ("институция", "институк"),  # -ия
        ("институции", "институк"),  # -ии
        ("изображение", "изображен"),  # -ие
        ("документът", "документ"),  # -ът
        ("учителят", "учител"),  # -ят
        ("дипломи", "диплом"),  # -и
        ("диплома", "диплом"),  # -а
        ("земя", "зем"),  # -я, leaving the shortest stem allowed
        ("място", "мяст"),  # -о
        ("училище", "училищ"),  # -е
        ("градъ", "град"),  # -ъ, as in the old spelling
        ("моята", "моят"),  # -ята would leave two letters: -а is taken instead
        ("ученици", "ученик"),
    ],
)
def test_each_bulgarian_suffix(word, expected):
    assert stem(word) == expected


@pytest.mark.parametrize("word", ["дни", "код", "5ц", "12ц", "ѝ"])
def test_words_of_three_characters_or_fewer_stay_whole(word):
    assert stem(word) == word.replace("ѝ", "и")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("classes", "class"),
        ("addresses", "address"),
        ("ponies", "pony"),  # -ies leaving three letters
        ("ties", "tie"),  # -ies would leave one: only the s goes
        ("cats", "cat"),
        ("bus", "bus"),
        ("glass", "glass"),
        ("diploma", "diploma"),
    ],
)
def test_english_plurals(word, expected):
    assert stem(word) == expected


@pytest.mark.parametrize("text", ["", None, " ,.!_ "])
def test_no_words(text):
    assert words(text) == []
    assert stemmed_text(text) == ""
