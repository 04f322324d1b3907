"""File sizes are written one way, in the reader's language, by the server and the
browser alike (helpdesk/sizes.py, static/js/uploads.js)."""

import pytest
from django.template import engines
from django.utils import translation

from helpdesk.sizes import format_size, size_format
from helpdesk.uploads import (
    PORTAL_EXTENSIONS,
    PORTAL_TYPES,
    UploadRejected,
    browser_rules,
    check_file,
    check_files,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("size", "bulgarian", "english"),
    [
        (0, "0 Б", "0 B"),
        (1, "1 Б", "1 B"),
        (1023, "1023 Б", "1023 B"),
        (1024, "1 КБ", "1 KB"),
        (1536, "1,5 КБ", "1.5 KB"),
        (10 * 1024 - 1, "10 КБ", "10 KB"),
        (300 * 1024, "300 КБ", "300 KB"),
        (1024 * 1024, "1 МБ", "1 MB"),
        (int(2.5 * 1024 * 1024), "2,5 МБ", "2.5 MB"),
        (10 * 1024 * 1024, "10 МБ", "10 MB"),
        (30 * 1024 * 1024, "30 МБ", "30 MB"),
        (int(12.6 * 1024 * 1024), "13 МБ", "13 MB"),
        (3 * 1024**3, "3 ГБ", "3 GB"),
    ],
)
def test_sizes_in_each_language(size, bulgarian, english):
    with translation.override("bg"):
        assert format_size(size) == bulgarian.replace(" ", NBSP)
    with translation.override("en"):
        assert format_size(size) == english.replace(" ", NBSP)


def test_nonsense_is_zero_bytes():
    with translation.override("en"):
        assert format_size("many") == f"0{NBSP}B"
        assert format_size(-5) == f"0{NBSP}B"


def test_the_filter_in_templates_needs_no_load():
    template = engines["django"].from_string("{{ n|filesize }}")
    with translation.override("bg"):
        assert template.render({"n": 10 * 1024 * 1024}) == f"10{NBSP}МБ"


def test_the_browser_gets_the_same_units_and_decimal_mark():
    with translation.override("bg"):
        assert size_format() == {
            "units": {
                "B": f"%(size)s{NBSP}Б",
                "KB": f"%(size)s{NBSP}КБ",
                "MB": f"%(size)s{NBSP}МБ",
                "GB": f"%(size)s{NBSP}ГБ",
            },
            "decimal": ",",
        }


def test_every_accepted_type_has_its_file_names():
    assert set(PORTAL_EXTENSIONS) == PORTAL_TYPES


def test_browser_rules_are_the_servers_limits(settings):
    settings.HELPDESK = {
        **settings.HELPDESK,
        "MAX_FILE_BYTES": 3 * 1024 * 1024,
        "MAX_FILES": 4,
        "MAX_REQUEST_BYTES": 7 * 1024 * 1024,
    }
    with translation.override("en"):
        rules = browser_rules()
        assert (rules["maxFileBytes"], rules["maxFiles"], rules["maxRequestBytes"]) == (
            3 * 1024 * 1024,
            4,
            7 * 1024 * 1024,
        )
        assert rules["reasons"]["tooBig"] == f"the file is larger than 3{NBSP}MB"
        assert rules["reasons"]["tooMuch"] == f"all files together exceed 7{NBSP}MB"
        assert rules["reasons"]["tooMany"] == "at most 4 files can be attached at once"
        assert ".pdf" in rules["extensions"] and ".exe" not in rules["extensions"]
        assert rules["accept"].split(",") == rules["extensions"]
        # The server refuses with the very words the browser shows.
        with pytest.raises(UploadRejected) as big:
            check_file("scan.png", b"\x89PNG" + b"0" * (3 * 1024 * 1024))
        assert big.value.reason == rules["reasons"]["tooBig"]
        with pytest.raises(UploadRejected) as many:
            check_files([("a.txt", b"a")] * 5)
        assert many.value.reason == rules["reasons"]["tooMany"]
