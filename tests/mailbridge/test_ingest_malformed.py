"""Property test: malformed MIME through process_message always ends in a defined outcome."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbridge.ingest import OUTCOMES, process_message

HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "MIME-Version",
    "Auto-Submitted",
    "Return-Path",
    "Date",
    "X-Junk",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "multipart/mixed; boundary=b",
            'multipart/alternative; boundary="b"',
            "multipart/report; report-type=delivery-status; boundary=b",
            "message/rfc822",
            "text/plain; charset=windows-1251",
            "text/html; charset=x-unknown",
            "text/plain; charset=utf-7",
            "application/octet-stream; name*=utf-8''%D1%84.pdf",
            "base64",
            "quoted-printable",
            "x-uuencode",
            "attachment; filename==?utf-8?B?0YTQsNC50Ls=?=",
            "=?koi8-r?B?8NLJ18XU?= <a@b.c>",
            "<a@b>",
            "<>",
            "auto-replied",
            '"Broken <x@y.z>',
            "[HD#26-000001] Re: тест",
            "",
        ]
    ),
    st.text(max_size=60),
)
BODY_LINES = st.one_of(
    st.sampled_from(
        ["--b", "--b--", "Content-Type: text/plain", "", "=C3=A9=", "begin 644 f.txt", "end"]
    ),
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)


@st.composite
def malformed_mail(draw) -> bytes:
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), VALUES), max_size=12))
    lines = [f"{name}: {value}" for name, value in headers]
    separator = draw(st.sampled_from(["\r\n", "\n"]))
    body = draw(st.lists(BODY_LINES, max_size=20))
    text = separator.join(lines) + separator * 2 + separator.join(body)
    raw = text.encode("utf-8", "surrogateescape")
    if draw(st.booleans()):
        raw += draw(st.binary(max_size=200))
    return raw


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=malformed_mail())
def test_malformed_mime_ends_in_a_defined_outcome(raw):
    outcome = process_message(raw)
    assert outcome.outcome in OUTCOMES
    # Nothing in the pipeline should fail on it: quarantine is for our faults.
    assert outcome.outcome != "quarantined", outcome.reason
    assert process_message(raw).outcome in ("duplicate", outcome.outcome)


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes_end_in_a_defined_outcome(raw):
    outcome = process_message(raw)
    assert outcome.outcome in OUTCOMES
    assert outcome.outcome != "quarantined", outcome.reason
