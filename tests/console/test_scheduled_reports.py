"""Scheduled reports: subscriptions in the console, the beat task, delivery to a real SMTP server.

A known week: in region X three requests (first response on time for one of
three due, resolution on time for one of two due, ratings 5 and 2), and in
region Y one more that region X's supervisor must not see.
"""

import csv
import datetime
import io
import zoneinfo

import pytest
from django.urls import reverse

from console import scheduled
from console.tasks import send_scheduled_reports
from helpdesk.errors import DomainError, NotAllowed
from mailbridge.outbound import deliver
from tickets import actions, counters
from tickets.models import OutboundMail, ReportSubscription, Ticket

pytestmark = pytest.mark.django_db
SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")
# A Wednesday; the last full week is Monday 2 to Sunday 8 November 2026.
NOW = datetime.datetime(2026, 11, 11, 9, 0, tzinfo=SOFIA)
MONDAY = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=SOFIA)


def at(days, hours=0):
    return MONDAY + datetime.timedelta(days=days, hours=hours)


def _send_to_peer(settings, smtp_peer):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_peer.host
    settings.EMAIL_PORT = smtp_peer.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    smtp_peer.clear()
    return smtp_peer


@pytest.fixture
def known_week(cast, make_ticket):
    def ticket(actor=None, institution=None, **times):
        made = make_ticket(actor=actor or cast.teacher_a, institution=institution or cast.school_a)
        Ticket.objects.filter(pk=made.pk).update(**times)
        counters.rebuild()  # the update above bypasses the domain, and so the counters
        return made

    far = at(60)
    ticket(  # answered and resolved on time, rated 5
        created_at=at(0),
        first_response_due=at(0, 4),
        first_response_at=at(0, 1),
        resolution_due=at(2),
        resolved_at=at(1),
        status="resolved",
        satisfaction=5,
        satisfaction_comment="Бързо.",
    )
    ticket(  # both late, rated 2
        created_at=at(1),
        first_response_due=at(1, 2),
        first_response_at=at(1, 5),
        resolution_due=at(3),
        resolved_at=at(4),
        status="resolved",
        satisfaction=2,
    )
    ticket(  # no answer yet, past its first-response target; resolution not due
        created_at=at(3),
        first_response_due=at(3, 2),
        resolution_due=far,
    )
    ticket(  # another region
        actor=cast.teacher_b,
        institution=cast.school_b,
        created_at=at(0),
        first_response_due=at(0, 4),
        first_response_at=at(0, 1),
        resolution_due=far,
    )
    ticket(created_at=at(-14), first_response_due=at(-14, 1), resolution_due=at(-13))


def test_last_full_period():
    wednesday = datetime.date(2026, 11, 11)
    week = scheduled.last_full_period("weekly", wednesday)
    assert (week.key, week.start, week.end) == (
        "2026-W45",
        datetime.date(2026, 11, 2),
        datetime.date(2026, 11, 8),
    )
    assert scheduled.last_full_period("weekly", datetime.date(2026, 11, 9)).key == "2026-W45"
    month = scheduled.last_full_period("monthly", wednesday)
    assert (month.key, month.start, month.end) == (
        "2026-10",
        datetime.date(2026, 10, 1),
        datetime.date(2026, 10, 31),
    )
    assert scheduled.last_full_period("monthly", datetime.date(2026, 1, 1)).key == "2025-12"


def test_the_weekly_report_arrives_with_the_right_figures(
    cast, known_week, settings, smtp_peer, monkeypatch
):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    peer = _send_to_peer(settings, smtp_peer)
    actions.subscribe_report(actor=cast.supervisor_x, period="weekly")

    assert send_scheduled_reports() == 1
    # The same period is never sent twice.
    assert scheduled.send_due(NOW + datetime.timedelta(hours=1)) == 0
    row = OutboundMail.objects.get(kind="report")
    assert row.recipients == [cast.supervisor_x.email]
    assert deliver([row.pk]) == 1

    received = peer.wait_for(lambda m: cast.supervisor_x.email in m.rcpt_tos)
    message = received.message
    assert "2026-W45" in str(message["Subject"])
    assert message["Auto-Submitted"] == "auto-generated"
    html = message.get_body(("html",)).get_content()
    assert 'data-figure="created">3<' in html
    assert 'data-figure="first">1/3 (33,3 %)' in html
    assert 'data-figure="resolution">1/2 (50,0 %)' in html
    assert 'data-figure="csat">50,0 % (2)' in html
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["report-2026-W45.csv"]
    content = attachments[0].get_content()
    text = content.decode("utf-8-sig") if isinstance(content, bytes) else content.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:2] == ["Компетентност", "Създадени"]
    assert rows[1:] == [
        [cast.diplomas.name, "3", "1", "3", "33,3", "1", "2", "50", "2", "3,5", "50"]
    ]
    row.refresh_from_db()
    assert row.state == OutboundMail.State.SENT


def test_a_national_supervisor_sees_the_country_or_one_region(cast, known_week, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    everything = actions.subscribe_report(actor=cast.supervisor_all, period="weekly")
    region_y = actions.subscribe_report(
        actor=cast.supervisor_all, period="weekly", region=cast.region_y
    )
    week = scheduled.last_full_period("weekly", NOW.date())
    _header, _rows, country = scheduled.report_rows(scheduled.scope_for(everything, week))
    _header, _rows, only_y = scheduled.report_rows(scheduled.scope_for(region_y, week))
    assert (country["created"], country["first_met"], country["first_due"]) == (4, 2, 4)
    assert (only_y["created"], only_y["first_met"], only_y["rated"]) == (1, 1, 0)


@pytest.fixture
def _english():
    # Refusals are checked by their English wording.
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.mark.usefixtures("_english")
def test_subscriptions_are_for_supervisors_and_their_scope(cast):
    with pytest.raises(NotAllowed, match="supervisors"):
        actions.subscribe_report(actor=cast.expert_x, period="weekly")
    with pytest.raises(NotAllowed, match="your region"):
        actions.subscribe_report(actor=cast.supervisor_x, period="weekly", region=cast.region_y)
    with pytest.raises(DomainError, match="weekly or monthly"):
        actions.subscribe_report(actor=cast.supervisor_x, period="daily")
    first = actions.subscribe_report(actor=cast.supervisor_x, period="monthly")
    assert actions.subscribe_report(actor=cast.supervisor_x, period="monthly") == first
    assert ReportSubscription.objects.count() == 1
    assert not actions.unsubscribe_report(actor=cast.supervisor_all, subscription_id=first.pk)
    assert ReportSubscription.objects.count() == 1


def test_the_console_page_subscribes_and_unsubscribes(client, cast):
    url = reverse("console:report_subscriptions")
    client.force_login(cast.expert_x)
    assert client.get(url).status_code == 403
    client.force_login(cast.supervisor_all)
    assert client.get(url).status_code == 200
    assert client.post(url, {"period": "weekly", "region": "x"}).status_code == 400
    assert client.post(url, {"period": "yearly"}).status_code == 400
    response = client.post(url, {"period": "weekly", "region": str(cast.region_x.pk)})
    assert response.status_code == 302
    subscription = ReportSubscription.objects.get(user=cast.supervisor_all)
    assert subscription.region == cast.region_x
    page = client.get(url).content.decode()
    assert cast.region_x.name in page
    response = client.post(reverse("console:report_unsubscribe", args=[subscription.pk]))
    assert response.status_code == 302
    assert not ReportSubscription.objects.exists()
    assert (
        reverse("console:report_subscriptions")
        in client.get(reverse("console:dashboard")).content.decode()
    )
