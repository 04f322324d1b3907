"""Filing limits per person and per institution."""

import pytest

from helpdesk.errors import RateLimited
from tickets import ratelimit
from tickets.models import Ticket
from tickets.ratelimit import Window, estimated_count, seconds_until_allowed

# --- the pure core -------------------------------------------------------------------


@pytest.mark.parametrize(
    "window,expected",
    [
        (Window(current=0, previous=0, elapsed=0.5), 0.0),
        (Window(current=3, previous=0, elapsed=0.9), 3.0),
        (Window(current=0, previous=10, elapsed=0.0), 10.0),
        (Window(current=0, previous=10, elapsed=0.5), 5.0),
        (Window(current=2, previous=10, elapsed=0.75), 4.5),
    ],
)
def test_estimated_count(window, expected):
    assert estimated_count(window) == pytest.approx(expected)


@pytest.mark.parametrize(
    "window,limit,expected",
    [
        # Room left: no wait.
        (Window(current=1, previous=0, elapsed=0.1), 5, 0),
        (Window(current=0, previous=8, elapsed=0.5), 5, 0),
        # The current hour is full: wait for it to end.
        (Window(current=5, previous=0, elapsed=0.5), 5, 1800 + 720),
        # Full because of the previous hour's weight: wait until it shrinks.
        (Window(current=0, previous=10, elapsed=0.0), 5, 2160),
        (Window(current=4, previous=4, elapsed=0.5), 5, 1800),
    ],
)
def test_seconds_until_allowed(window, limit, expected):
    assert seconds_until_allowed(window, limit) == pytest.approx(expected, abs=1)


def test_the_wait_is_enough():
    window = Window(current=3, previous=6, elapsed=0.2)
    wait = seconds_until_allowed(window, 5)
    later = Window(current=3, previous=6, elapsed=0.2 + wait / 3600)
    assert estimated_count(later) + 1 <= 5 + 1e-9


# --- counting in the cache -----------------------------------------------------------


@pytest.fixture
def limits(settings):
    settings.HELPDESK = {
        **settings.HELPDESK,
        "RATE_PER_PERSON_HOUR": 2,
        "RATE_PER_INSTITUTION_HOUR": 3,
    }


def test_the_person_limit(cast, limits):
    now = 1_800_000_000.0
    for _ in range(2):
        ratelimit.check_filing_allowed(cast.teacher_a, cast.school_a.pk, now=now)
        ratelimit.record_filing(cast.teacher_a, cast.school_a.pk, now=now)
    with pytest.raises(RateLimited) as error:
        ratelimit.check_filing_allowed(cast.teacher_a, cast.school_a.pk, now=now)
    assert error.value.retry_after > 0
    # A colleague is not affected; two hours later the person may file again.
    ratelimit.check_filing_allowed(cast.teacher_a_colleague, cast.school_a.pk, now=now)
    ratelimit.check_filing_allowed(cast.teacher_a, cast.school_a.pk, now=now + 7200)


def test_the_institution_limit(cast, limits):
    now = 1_800_000_000.0
    for person in (cast.teacher_a, cast.teacher_a_colleague, cast.ict_a):
        ratelimit.record_filing(person, cast.school_a.pk, now=now)
    with pytest.raises(RateLimited):
        ratelimit.check_filing_allowed(cast.director_a, cast.school_a.pk, now=now)
    # Another institution is not affected.
    ratelimit.check_filing_allowed(cast.teacher_b, cast.school_b.pk, now=now)


def test_support_staff_are_not_limited(cast, limits):
    for _ in range(5):
        ratelimit.record_filing(cast.expert_x, cast.school_a.pk)
    ratelimit.check_filing_allowed(cast.expert_x, None)


# --- through the form ----------------------------------------------------------------


def test_the_form_says_so_and_keeps_the_text(client, cast, limits):
    client.force_login(cast.teacher_a)
    data = {
        "institution": cast.school_a.pk,
        "competence": cast.diplomas.pk,
        "subject": "Поредна заявка",
        "description": "Текстът остава.",
    }
    assert client.post("/portal/new/", data).status_code == 302
    assert client.post("/portal/new/", data).status_code == 302
    response = client.post("/portal/new/", data)
    html = response.content.decode()
    assert response.status_code == 429
    assert 'data-test="error-summary"' in html
    assert "2" in html  # the limit is named
    assert 'value="Поредна заявка"' in html
    assert "Текстът остава." in html
    assert Ticket.objects.count() == 2


def test_failed_submits_do_not_count(client, cast, limits):
    client.force_login(cast.teacher_a)
    for _ in range(4):
        client.post("/portal/new/", {"institution": cast.school_a.pk, "subject": ""})
    response = client.post(
        "/portal/new/",
        {
            "institution": cast.school_a.pk,
            "competence": cast.diplomas.pk,
            "subject": "Заявка",
            "description": "Текст",
        },
    )
    assert response.status_code == 302
