"""Tests for mailbridge.reference (pure)."""

from __future__ import annotations

import pytest

from mailbridge.reference import find_reference, format_subject_tag, strip_reply_prefixes


@pytest.mark.parametrize(
    ("reference", "tag"),
    [("26-000123", "[HD#26-000123]"), ("27-1234567", "[HD#27-1234567]")],
)
def test_format_subject_tag(reference, tag):
    assert format_subject_tag(reference) == tag


@pytest.mark.parametrize("reference", ["", "26-123", "2026-000123", "26-00012a", " 26-000123"])
def test_format_subject_tag_rejects_what_is_not_a_reference(reference):
    with pytest.raises(ValueError):
        format_subject_tag(reference)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[HD#26-000123] Проблем с вход", "26-000123"),
        ("Проблем с вход [HD#26-000123]", "26-000123"),
        ("RE: [HD#26-000123] Проблем", "26-000123"),
        ("Re: Fwd: AW: Отг: ОТГ: Препр.: Fw: [HD#26-000123] x", "26-000123"),
        ("[hd#26-000123]", "26-000123"),
        ("[Hd # 26-000123]", "26-000123"),
        ("[HD # 26 - 000123]", "26-000123"),
        ("HD#26-000123 without brackets", "26-000123"),
        ("(HD#26-000123)", "26-000123"),
        ("[HD#26-0001234567]", "26-0001234567"),
        ("Отг.: Заявка HD#27-000001: благодаря", "27-000001"),
        ("[HD№26-000123]", "26-000123"),
        # still RFC 2047 encoded (a client that quoted the raw header)
        ("=?utf-8?Q?Re:_[HD#26-000123]_=D0=92=D1=85=D0=BE=D0=B4?=", "26-000123"),
        ("=?utf-8?Q?Re:_=5BHD=2326-000123=5D?=", "26-000123"),
        ("=?utf-8?B?UmU6IFtIRCMyNi0wMDAxMjNdINCS0YXQvtC0?=", "26-000123"),
        ("=?utf-8?B?UmU6IFtIRCMyNi0w?= =?utf-8?B?MDAxMjNd?=", "26-000123"),
        # the first tag wins
        ("[HD#26-000123] Fwd: [HD#25-000999]", "26-000123"),
    ],
)
def test_find_reference(subject, expected):
    assert find_reference(subject) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "Проблем с вход",
        "26-000123 без етикет",
        "[HD#26-12345]",
        "[HD#2026-000123]",
        "CHD#26-000123",
        "[Ticket#11545]",
        "тел. 02-1234567",
    ],
)
def test_find_reference_finds_nothing(subject):
    assert find_reference(subject) is None


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Проблем", "Проблем"),
        ("RE: Fwd: AW: Проблем", "Проблем"),
        ("Отг: ОТГ: Препр.: Fw: Проблем", "Проблем"),
        ("Отг.: Проблем", "Проблем"),
        ("re : FW:Проблем", "Проблем"),
        ("Re[2]: Проблем", "Проблем"),
        ("WG: SV: Antw: Problem", "Problem"),
        ("  Проблем  ", "Проблем"),
        ("Проблем: Re: вътре", "Проблем: Re: вътре"),
        ("Regarding login", "Regarding login"),
        ("Reference: x", "Reference: x"),
        ("", ""),
    ],
)
def test_strip_reply_prefixes(subject, expected):
    assert strip_reply_prefixes(subject) == expected
